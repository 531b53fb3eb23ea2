"""Fit the colour prior of the training recipes from well-exposed photos (no reference pairs).

Run: python benchmarks/fit_color_prior.py [--lol ../shared/data/lol] [--sice ../shared/data/sice]

The prior is a Gaussian on the log-chromaticity of an image's mean colour in
linear light, ``(log(R/G), log(B/G))`` of the channel means of ``srgb ** 2.2``,
fitted to the well-exposed photos the recipes may use as inputs: every image
of ``lol/unpaired-normal/`` and the SICE photos whose mean lies in
[0.3, 0.65] (neither dark nor over-exposed). It prints the ``color_prior``
table that the recipes in ``weights/`` carry.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def log_chroma(path: Path) -> tuple[np.ndarray, float]:
    srgb = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0
    means = (srgb**2.2).reshape(-1, 3).mean(axis=0) + 1e-6
    return np.log([means[0] / means[1], means[2] / means[1]]), float(srgb.mean())


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", default=str(root.parent / "shared" / "data" / "lol"))
    p.add_argument("--sice", default=str(root.parent / "shared" / "data" / "sice"))
    args = p.parse_args()
    rows = [log_chroma(f)[0] for f in sorted((Path(args.lol) / "unpaired-normal").iterdir())]
    for f in sorted((Path(args.sice) / "images").iterdir()):
        chroma, mean = log_chroma(f)
        if 0.3 <= mean <= 0.65:
            rows.append(chroma)
    x = np.array(rows)
    mean, cov = x.mean(axis=0), np.cov(x.T)
    print(f"# {len(x)} well-exposed photos")
    print("[color_prior]")
    print(f"mean = [{mean[0]:.4f}, {mean[1]:.4f}]")
    print(f"cov = [[{cov[0, 0]:.5f}, {cov[0, 1]:.5f}], [{cov[1, 0]:.5f}, {cov[1, 1]:.5f}]]")


if __name__ == "__main__":
    main()
