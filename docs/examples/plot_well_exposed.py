"""
==================================
A well-exposed photo: what is kept
==================================

Low-light enhancement should not spoil a photo that needs none. skdce's
models see an illumination context of the whole image besides the pixels
(see :doc:`/user_guide/curves`) and are trained toward an exposure target
derived from the input: dark surroundings are lifted, well-exposed regions
kept, over-exposed ones lowered. On a well-exposed photo the curves should
then stay close to the identity (alphas near 0).

Here a well-exposed scikit-image sample goes through :func:`skdce.enhance`
unchanged; the difference and the PSNR of the output against the input
(scikit-image's ``skimage.metrics.peak_signal_noise_ratio``) say how much
of the photo was kept. The numbers are those of the bundled model this page
was built with.
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
from skimage.metrics import peak_signal_noise_ratio

import skdce

photo = skimage.data.coffee()[::2, ::2]  # (200, 300, 3) uint8, well exposed
original = photo / 255.0
out = skdce.enhance(photo)

psnr = peak_signal_noise_ratio(original, out.astype(np.float64), data_range=1.0)
print(f"PSNR of the output against the input: {psnr:.1f} dB")
print(f"mean value: input {original.mean():.3f}, output {out.mean():.3f}")

# %%
# Input, output and their difference
# ----------------------------------
# The difference is the output minus the input, averaged over R, G and B:
# red where the output is brighter, blue where it is darker.

difference = (out - original).mean(axis=-1)
limit = max(float(np.abs(difference).max()), 1e-3)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
axes[0].imshow(photo)
axes[0].set_title("input (well exposed)")
axes[1].imshow(out)
axes[1].set_title(f"skdce.enhance (PSNR {psnr:.1f} dB)")
im = axes[2].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[2].set_title("output - input")
fig.colorbar(im, ax=axes[2], shrink=0.85)
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# The curves the model chose
# --------------------------
# The mean alpha of each iteration over the photo (mean of the R, G and B
# maps of :func:`skdce.estimate_curves`), against the same for a darkened
# copy of the photo (:func:`skdce.data.darken`). An alpha of 0 is the
# identity curve.

from skdce.data import darken  # noqa: E402

dark = darken(photo)
per_iteration = {}
for name, img in (("well exposed", photo), ("darkened", dark)):
    alphas = skdce.estimate_curves(img, model="zero-dce")  # 24 maps: one RGB triple per iteration
    per_iteration[name] = alphas.reshape(alphas.shape[:2] + (8, 3)).mean(axis=(0, 1, 3))
    print(f"{name}: mean alpha {per_iteration[name].mean():+.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
for name, values in per_iteration.items():
    ax.plot(range(1, 9), values, "o-", label=name)
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="iteration", ylabel="mean alpha")
ax.legend()
fig.tight_layout()

# %%
# A low-key photo
# ---------------
# A dusk scene is dark on purpose. scikit-image's ``rocket`` (a launch pad at
# dusk, mean 0.26) has lamps that reach white over 0.18% of the picture: an
# exposure that uses the whole range is not under-exposed, so auto exposure
# adds little to it (:data:`skdce.tone.AUTO_EXPOSURE_WHITE`: an eighth of its
# stops; without the rule it came out at 0.50). What is left is mostly the
# curves' own lift of the dusk, which ``exposure="model"`` shows alone.

from skdce.tone import AUTO_EXPOSURE_WHITE  # noqa: E402

dusk = skimage.data.rocket()  # (427, 640, 3) uint8, public domain (NASA)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
axes[0].imshow(dusk)
axes[0].set_title(f"input, mean {dusk.mean() / 255:.2f}")
for ax, exposure in zip(axes[1:], ("auto", "model"), strict=True):
    result = skdce.enhance(dusk, exposure=exposure)
    keep = peak_signal_noise_ratio(dusk / 255.0, result.astype(np.float64), data_range=1.0)
    ax.imshow(result)
    ax.set_title(f"exposure={exposure!r}: mean {result.mean():.2f}, {keep:.1f} dB")
    print(f"rocket, exposure={exposure!r}: mean {result.mean():.3f}, PSNR against the input {keep:.1f} dB "
          f"(white at {AUTO_EXPOSURE_WHITE:g})")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

plt.show()
