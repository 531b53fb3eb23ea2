"""The compiled guided filter (skdce/native/_gfilter.c) against the NumPy/scipy denoise_block.

Run: python benchmarks/bench_denoise.py [--repeats 5]

Side by side in one run, medians over repeats, with the ratio (NumPy time /
compiled time): one thread (the compiled filter on the whole block, NumPy's
``denoise_block``) and all threads (``denoise_bands``, either way), on float32
blocks of 1, 3 and 12 megapixels with a per-pixel noise map, as
``skdce.enhance`` hands them over.
"""

from __future__ import annotations

import argparse

import numpy as np

from skdce.engine.stages import guided

from _timing import median_time

PARAMS = (guided.LUMA_RADIUS, guided.COLOR_RADIUS, guided.LUMA_EPS, guided.COLOR_EPS, guided.COLOR_KEEP)


def block(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y = np.clip(0.3 + 0.1 * rng.standard_normal((h, w, 3), dtype=np.float32), 0, 1)
    noise = (0.05 * rng.random((h, w), dtype=np.float32)).astype(np.float32)
    return y, noise


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    gf = guided._gfilter
    if gf is None:
        raise SystemExit("skdce was built without its compiled guided filter (skdce.native._gfilter)")

    def bands(compiled, y, noise):
        guided._gfilter = gf if compiled else None
        try:
            return guided.denoise_bands(y, noise)
        finally:
            guided._gfilter = gf

    for h, w in [(866, 1155), (1500, 2000), (3000, 4000)]:
        y, noise = block(h, w)
        out = np.empty_like(y)
        t_np1 = median_time(lambda: guided.denoise_block(y, noise), args.repeats)
        t_c1 = median_time(lambda: gf.denoise(y, noise, out, 0, h, *PARAMS), args.repeats)
        t_np = median_time(lambda: bands(False, y, noise), args.repeats)
        t_c = median_time(lambda: bands(True, y, noise), args.repeats)
        print(f"{h * w / 1e6:4.1f} MP {w}x{h}: 1 thread numpy {t_np1 * 1e3:6.0f} ms, compiled {t_c1 * 1e3:5.0f} ms "
              f"({t_np1 / t_c1:4.1f}x); all threads numpy {t_np * 1e3:6.0f} ms, compiled {t_c * 1e3:5.0f} ms "
              f"({t_np / t_c:4.1f}x)")


if __name__ == "__main__":
    main()
