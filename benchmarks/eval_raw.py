"""Measure what the RAW path keeps that the 8-bit path loses, side by side in one run.

Run: python benchmarks/eval_raw.py [--model zero-dce-int8]

Each scene is written as a Bayer DNG by ``skdce.data.write_dng`` (camera
gains 0.5, 1, 0.7; black level 512 at 14 bits, 256 at 12) and developed by
``skdce.io.read_raw`` (16 bits). Three inputs go through ``skdce.enhance``:

- RAW: the 16-bit development;
- 8-bit PNG: the same development rounded to 8 bits;
- 8-bit JPEG: the same, saved as a quality-95 JPEG (what a camera saves).

Each output is scored by PSNR against ``skdce.enhance`` of the exposure
itself, in float and never rounded (``linear_to_srgb(scene)``): what is left
is the demosaicing error (the same in all three) plus the rounding and
compression of each path, amplified by the curves. "shadows": the pixels
whose exposure is in the darkest quarter. "levels": distinct green values of
the input in those pixels. Scenes: a smooth dusk sky (0.2-3% of full scale,
bluish) at 14 and 12 bits, 8-px borders left out; scikit-image's chelsea at
1/16 of the light and astronaut at 3%, no noise.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

import skdce
from skdce.data import write_dng
from skdce.io import read_raw


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.maximum(x, 0) ** (1 / 2.4) - 0.055)


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - b) ** 2))


def scenes():
    h, w = 256, 384
    yy, xx = (g[..., None] for g in np.mgrid[0:h, 0:w] / np.array([h, w], float)[:, None, None])
    sky = (0.002 + 0.028 * (1 - yy) * (0.6 + 0.4 * xx)) * np.array([0.7, 0.85, 1.0])
    yield "dusk sky, 14-bit", sky, 14, 8
    yield "dusk sky, 12-bit", sky, 12, 8
    chelsea = skimage.data.chelsea()[:300, :450] / 255.0
    yield "chelsea, 1/16 of the light", srgb_to_linear(chelsea) / 16, 14, 0
    yield "astronaut, 3% of the light", srgb_to_linear(skimage.data.astronaut() / 255.0) * 0.03, 14, 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="skdce model name (default: skdce's default)")
    args = parser.parse_args()
    options = {} if args.model is None else {"model": args.model}
    folder = Path(tempfile.mkdtemp())
    print(f"{'scene':30s} {'path':6s} {'PSNR dB':>8s} {'shadows':>8s} {'levels':>7s}")
    for name, scene, bits, border in scenes():
        dng = write_dng(folder / "s.dng", scene, bits=bits, black_level=512 if bits == 14 else 256,
                        gains=(0.5, 1.0, 0.7), overwrite=True)
        raw, _ = read_raw(dng)
        buffer = io.BytesIO()
        Image.fromarray(np.round(raw * 255).astype(np.uint8)).save(buffer, "JPEG", quality=95)
        inputs = {
            "RAW": raw,
            "PNG8": (np.round(raw * 255) / 255).astype(np.float32),
            "JPEG8": np.asarray(Image.open(buffer)).astype(np.float32) / 255,
        }
        exposure = linear_to_srgb(scene).astype(np.float32)
        reference = skdce.enhance(exposure, **options)
        inner = (slice(border, -border or None),) * 2
        luma = exposure.mean(-1)
        shadows = (luma < np.quantile(luma, 0.25))[inner]
        for path, image in inputs.items():
            out = skdce.enhance(image, **options)[inner]
            levels = len(np.unique(np.round(image[inner][..., 1][shadows] * 65535)))
            print(f"{name:30s} {path:6s} {psnr(out, reference[inner]):8.2f} "
                  f"{psnr(out[shadows], reference[inner][shadows]):8.2f} {levels:7d}")


if __name__ == "__main__":
    main()
