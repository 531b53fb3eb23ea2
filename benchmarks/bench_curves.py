"""Time apply_le_curves on a 12-megapixel float32 image against np.copyto.

Run: python benchmarks/bench_curves.py [--repeats 7] [--height 3000 --width 4000]

Prints medians over repeats and the ratio of each case to a plain
``np.copyto`` of the same image (the memory-bandwidth yardstick), all measured
side by side in one run, plus the largest deviation from the straightforward
formula evaluated in float64. The 24 per-iteration maps (1.15 GB at 12
megapixels) are read once per call, so that case is bound by their size.
"""

from __future__ import annotations

import argparse

import numpy as np

from skdce import apply_le_curves

from _timing import median_time


def naive(x, maps):
    """The straightforward NumPy loop (image-sized temporaries every step)."""
    for a in maps:
        x = x + a * x * (1 - x)
    return x


def max_error(out, img, maps, rows=256):
    """Max |out - formula in float64|, in row chunks to bound memory."""
    worst = 0.0
    for r in range(0, img.shape[0], rows):
        x = img[r : r + rows].astype(np.float64)
        for a in maps:
            a = a[r : r + rows].astype(np.float64) if np.ndim(a) == 3 else a
            x = x + a * x * (1 - x)
        worst = max(worst, float(np.abs(out[r : r + rows] - x).max()))
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--naive", action="store_true", help="also time the naive NumPy loop (slow, memory hungry)")
    args = p.parse_args()

    rng = np.random.default_rng(0)
    shape = (args.height, args.width, 3)
    img = rng.random(shape, dtype=np.float32)
    shared = rng.uniform(-1, 1, shape).astype(np.float32)
    per_iter = rng.uniform(-1, 1, shape[:2] + (24,)).astype(np.float32)
    per_maps = [per_iter[..., 3 * i : 3 * i + 3] for i in range(8)]
    # the same maps stored map-major, as estimate_curves returns them (a view of (24, H, W) memory)
    planar = np.moveaxis(np.ascontiguousarray(np.moveaxis(per_iter, -1, 0)), 0, -1)
    out = np.empty_like(img)
    print(f"image {args.height}x{args.width}x3 float32 ({img.size * 4 / 1e6:.0f} MB), 8 iterations, "
          f"median of {args.repeats}")

    cases = {
        "np.copyto (yardstick)": lambda: np.copyto(out, img),
        "shared map, out=": lambda: apply_le_curves(img, shared, out=out),
        "shared map, new output": lambda: apply_le_curves(img, shared),
        "8 per-iteration maps, out=": lambda: apply_le_curves(img, per_iter, out=out),
        "8 per-iteration maps, new output": lambda: apply_le_curves(img, per_iter),
        "8 per-iteration maps, map-major, new": lambda: apply_le_curves(img, planar),
    }
    if args.naive:
        cases["naive loop, shared map"] = lambda: naive(img, [shared] * 8)
    for fn in cases.values():  # warm up: page in buffers, start threads
        fn()
    results = {name: median_time(fn, args.repeats) for name, fn in cases.items()}
    base = results["np.copyto (yardstick)"]
    for name, t in results.items():
        print(f"{name:36s} {t * 1e3:9.1f} ms   ratio {t / base:6.1f}x")

    err_shared = max_error(apply_le_curves(img, shared), img, [shared] * 8)
    err_per = max_error(apply_le_curves(img, per_iter), img, per_maps)
    err_planar = max_error(apply_le_curves(img, planar), img, per_maps)
    print(f"max |error| vs float64 formula: shared {err_shared:.2e}, per-iteration {err_per:.2e}, "
          f"map-major {err_planar:.2e}")


if __name__ == "__main__":
    main()
