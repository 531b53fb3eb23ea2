"""
=======================================
Noise: what the curves amplify, removed
=======================================

A curve that lifts the shadows lifts their noise with it: where the curve's
slope is ``g``, noise of standard deviation ``s`` comes out as about
``g * s``. :func:`skdce.enhance` therefore denoises by default
(``denoise=1.0``): it estimates ``s`` once from the input
(:func:`skdce.denoise.estimate_noise`), computes the slope of the curve at
every pixel (:func:`skdce.curve_gain`), and filters the enhanced image with
the two-stage guided filter :func:`skdce.denoise.guided_denoise`, its
strength set per pixel by ``denoise * s * sqrt(g**2 - 1)``, the noise the
curve added (none where ``g <= 1``). ``denoise=0`` skips the filter,
bit for bit. See :doc:`/user_guide/denoising`.

The input is a scikit-image sample darkened by
:func:`skdce.data.low_light_sample`, whose low-light model adds Poisson shot
noise and Gaussian read noise (:func:`skdce.data.darken`), so no extra noise
is needed.
"""

import matplotlib.pyplot as plt
import numpy as np

import skdce
from skdce.data import low_light_sample
from skdce.denoise import DENOISE_HALO, estimate_noise, filter_noise_level, guided_denoise

dark = low_light_sample("astronaut")[::2, ::2]  # (256, 256, 3) uint8, noisy
print(dark.shape, dark.dtype)

# %%
# Three strengths
# ---------------
# ``denoise=0`` is the curves alone, ``1`` the default, ``2`` filters for
# twice the estimated noise. The bottom row zooms into the face, where noise
# and lost detail are easiest to judge.

strengths = (0.0, 1.0, 2.0)
results = {d: skdce.enhance(dark, denoise=d) for d in strengths}
zoom = (slice(20, 110), slice(60, 150))

fig, axes = plt.subplots(2, 4, figsize=(13, 6.6))
for column, (img, title) in enumerate(
    [(dark, "input")] + [(results[d], f"denoise={d:g}") for d in strengths]
):
    axes[0, column].imshow(img)
    axes[0, column].set_title(title)
    axes[1, column].imshow(img[zoom])
    axes[1, column].set_title(f"{title} (zoom)")
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()

# %%
# The noise the curves amplify
# ----------------------------
# :func:`skdce.denoise.estimate_noise` measures the input's noise from the
# image alone (Immerkaer's operator, which is blind to smooth content, and a
# median, which edges and texture do not inflate).
# :func:`skdce.curve_gain` is the exact slope of the iterated curve at each
# pixel: the factor by which the curve stretches small differences, noise
# included. :func:`skdce.enhance` steers the filter with the slope of the
# mean of the R, G and B curves at the mean of the R, G and B input values,
# and with the level of :func:`skdce.denoise.filter_noise_level`: the same
# estimate, read further (through a JPEG's blocks, raised where the channels
# share their noise, at least the 8-bit rounding). The map is computed here
# for the full-resolution ``zero-dce`` model, whose
# :func:`skdce.estimate_curves` gives 24 maps (8 iterations x RGB) and which
# has no black point or auto exposure after its curves, so the two steps by
# hand can be checked against :func:`skdce.enhance` below. (The default
# ``zero-dce++`` shares one curve of 3 maps across the iterations and adds
# those tone steps after the filter.)

print(f"estimated noise of the input: {estimate_noise(dark):.4f} (on the [0, 1] scale)")
sigma = filter_noise_level(dark)
print(f"the level enhance's denoiser is steered by: {sigma:.4f}")

alphas = skdce.estimate_curves(dark, model="zero-dce")  # (H, W, 24)
mean_alphas = alphas.reshape(alphas.shape[:2] + (8, 3)).mean(axis=-1)  # (H, W, 8): one map per iteration
gray = dark.mean(axis=-1) / 255.0
gain = skdce.curve_gain(gray, mean_alphas, channel_axis=None)  # (H, W)
noise_map = sigma * np.sqrt(np.maximum(gain**2 - 1, 0))  # denoise=1: the noise the curve added
print(f"curve gain: median {np.median(gain):.2f}, max {gain.max():.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
im0 = axes[0].imshow(gain, cmap="magma")
axes[0].set_title("curve_gain (slope of the curve)")
im1 = axes[1].imshow(noise_map, cmap="viridis")
axes[1].set_title("noise map: estimate_noise x sqrt(gain^2 - 1)")
for ax, im, label in zip(axes, (im0, im1), ("gain", "noise std the curves added")):
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.85, label=label)
fig.tight_layout()

# %%
# The two steps by hand
# ---------------------
# ``zero-dce``'s plain curves (``denoise=0``) filtered by
# :func:`skdce.denoise.guided_denoise` with this noise map give
# ``skdce.enhance(dark, model="zero-dce")``, up to float32 rounding. A
# pixel of the filter's output depends only on pixels at most
# ``DENOISE_HALO`` away, so the tiles of a large image, computed with that
# much extra context, join exactly.

by_hand = guided_denoise(skdce.enhance(dark, model="zero-dce", denoise=0), noise_map)
enhanced = skdce.enhance(dark, model="zero-dce")
print('max difference to enhance(dark, model="zero-dce"):', float(np.abs(by_hand - enhanced).max()))
print("DENOISE_HALO:", DENOISE_HALO, "pixels")

# %%
# How much each strength removes
# ------------------------------
# The noise estimated in each output. The curves alone multiply the input's
# noise; each step of ``denoise`` removes more of it (and, at high
# strengths, fine texture with it).

for d in strengths:
    print(f"denoise={d:g}: estimated noise of the output {estimate_noise(results[d]):.4f}")

plt.show()
