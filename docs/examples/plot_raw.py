"""
==========================================
Camera RAW: lifting shadows from 14 bits
==========================================

A camera that shoots in low light keeps 12 to 14 bits per pixel in its RAW
file; the JPEG it saves beside it keeps 8. Lifting the shadows of the JPEG
stretches its few dark levels into visible bands; lifting them from the RAW
file, developed to 16 bits by :func:`skdce.io.read_raw`, keeps the gradients
smooth.

skdce ships no RAW files, so this example makes one: a clean photograph taken
to linear light, lit by a lamp that falls off towards the corners, exposed
five stops under (1/32 of the light), and written as
the 14-bit Bayer mosaic of a synthetic camera by :func:`skdce.data.write_dng`.
LibRaw then develops it like any camera's file. The camera's JPEG is the same
development rounded to 8 bits. See :doc:`/user_guide/raw`.
"""

import datetime
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import skimage.data

import skdce
from skdce.data import write_dng
from skdce.io import read_image, read_raw, write_image


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.maximum(x, 0) ** (1 / 2.4) - 0.055)


clean = skimage.data.chelsea()[:300, :450] / 255.0
yy, xx = np.mgrid[-1:1:300j, -1:1:450j]
lamp = np.clip(1 - 0.45 * (xx**2 + yy**2), 0.05, 1)[..., None]  # a lamp's falloff: darker towards the corners
scene = srgb_to_linear(clean) * lamp / 32  # five stops under, in linear light

folder = Path(tempfile.mkdtemp())
dng = write_dng(folder / "cat.dng", scene, pattern="BGGR", bits=14, black_level=512, gains=(0.5, 1.0, 0.7),
                make="skdce", model="synthetic", exposure_time=1 / 15, iso=6400,
                datetime=datetime.datetime(2026, 12, 4, 21, 30))

# %%
# Developing the RAW file
# -----------------------
# :func:`~skdce.io.read_raw` asks LibRaw for the camera white balance,
# demosaicing and the colour matrix in linear light, then the sRGB curve, in
# 16 bits, with no brightening: the picture stays as dark as it was shot.

raw, meta = read_raw(dng)
print(raw.dtype, raw.shape, f"mean {raw.mean():.3f}")
print(meta.capture)

# The camera's JPEG: the same development, 8 bits.
jpeg, _ = read_image(write_image(folder / "cat.jpg", np.round(raw * 255).astype(np.uint8), quality=95))


def shadow_levels(image):
    """How many distinct values the darkest quarter of the green channel holds."""
    green = image[..., 1]
    return len(np.unique(green[green < np.quantile(green, 0.25)]))


print(f"distinct levels in the darkest quarter: RAW {shadow_levels(raw)}, JPEG {shadow_levels(jpeg)}")

# %%
# Enhancing both
# --------------
# The same curves brighten both. Measured against the curves applied to the
# exposure before any rounding (``linear_to_srgb(scene)``, float), the RAW
# path loses only the demosaicing error; the 8-bit path adds its rounding and
# the JPEG's compression, which the curves amplify in the shadows.

from_raw = skdce.enhance(raw)
from_jpeg = skdce.enhance(jpeg)
reference = skdce.enhance(linear_to_srgb(scene).astype(np.float32))


def psnr(image):
    return 10 * np.log10(1 / np.mean((image - reference) ** 2))


print(f"PSNR against the unrounded exposure: RAW path {psnr(from_raw):.1f} dB, JPEG path {psnr(from_jpeg):.1f} dB")

crop = (slice(0, 80), slice(330, 450))  # a dark, smooth corner of the wall
fig, axes = plt.subplots(2, 3, figsize=(10, 5.6), gridspec_kw={"width_ratios": [1, 1, 0.8]})
low, high = np.quantile(from_raw[crop], [0.01, 0.99])  # one contrast stretch for both crops
rows = [("8-bit JPEG", jpeg / 255.0, from_jpeg), ("14-bit RAW", raw, from_raw)]
for row, (label, dark, bright) in enumerate(rows):
    axes[row, 0].imshow(dark)
    axes[row, 0].set_title(f"{label}, as shot")
    axes[row, 1].imshow(bright)
    axes[row, 1].set_title(f"{label}, enhanced")
    axes[row, 1].add_patch(plt.Rectangle((crop[1].start, crop[0].start), 120, 80, fill=False, color="yellow"))
    axes[row, 2].imshow(np.clip((bright[crop] - low) / (high - low), 0, 1))
    axes[row, 2].set_title("shadow crop, stretched")
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()

# %%
# On the command line
# -------------------
# ``skdce enhance cat.dng -o out/`` does the same and writes a 16-bit TIFF
# with an sRGB profile and the camera's make, model, exposure, ISO and
# capture time; ``--format png|jpg|webp`` picks another format.
