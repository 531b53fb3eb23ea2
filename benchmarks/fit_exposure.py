"""Fit auto exposure's highlight levels from well-exposed photos (no reference pairs).

Run: python benchmarks/fit_exposure.py [--lol ../shared/data/lol] [--sice ../shared/data/sice] [--quantile 25]

For every well-exposed photo the recipes may use as inputs (every image of
``lol/unpaired-normal/`` and the SICE photos whose mean lies in [0.3, 0.65],
as ``fit_color_prior.py`` selects them), it measures percentiles of the
luminance (the channel mean in sRGB) on a 64-pixel copy, the size at which
``skdce.enhance`` measures them (:func:`skdce.engine.stages.tone.auto_exposure`).
It prints, for each percentile, the level that ``--quantile`` percent of the
photos stay below: with 25, three in four well-exposed photos reach it, so
auto exposure leaves them alone. ``AUTO_EXPOSURE_TARGETS`` holds the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

PERCENTILES = (50, 75, 90, 97, 99)


def luminance_percentiles(path: Path) -> tuple[np.ndarray, float]:
    im = Image.open(path).convert("RGB")
    scale = 64 / max(im.size)
    small = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BOX)
    y = np.asarray(small, np.float64).mean(axis=-1) / 255.0
    return np.percentile(y, PERCENTILES), float(np.asarray(im, np.float64).mean() / 255.0)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", default=str(root.parent / "shared" / "data" / "lol"))
    p.add_argument("--sice", default=str(root.parent / "shared" / "data" / "sice"))
    p.add_argument("--quantile", type=float, default=25.0)
    args = p.parse_args()
    rows = [luminance_percentiles(f)[0] for f in sorted((Path(args.lol) / "unpaired-normal").iterdir())]
    n_lol = len(rows)
    for f in sorted((Path(args.sice) / "images").iterdir()):
        levels, mean = luminance_percentiles(f)
        if 0.3 <= mean <= 0.65:
            rows.append(levels)
    x = np.array(rows)
    print(f"# {len(x)} well-exposed photos ({n_lol} unpaired-normal, {len(x) - n_lol} SICE)")
    for q, col in zip(PERCENTILES, x.T, strict=True):
        quartiles = np.percentile(col, [25, 50, 75])
        print(f"luminance percentile {q:2d}: level {np.percentile(col, args.quantile):.3f} at the {args.quantile:g}th "
              f"percentile of the photos (quartiles {quartiles[0]:.3f} / {quartiles[1]:.3f} / {quartiles[2]:.3f})")


if __name__ == "__main__":
    main()
