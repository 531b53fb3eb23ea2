"""
=============================
Enhance a low-light image
=============================

:func:`skdce.enhance` takes a dark image and returns it brightened by the
Zero-DCE curves of a bundled model. Here the input is a scikit-image sample
photograph darkened by :func:`skdce.data.low_light_sample`, so we can also
look at the well-exposed original.
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data

import skdce
from skdce.data import low_light_sample

dark = low_light_sample("chelsea")  # (300, 451, 3) uint8
print(dark.shape, dark.dtype)

# %%
# The bundled models and the facts recorded for each
# ---------------------------------------------------
# :func:`skdce.list_models` names them (the default first);
# :func:`skdce.get_model` returns a :class:`skdce.ModelInfo` record.

print(skdce.list_models())
info = skdce.get_model("zero-dce")
print(f"{info.name}: {info.iterations} iterations, {info.n_maps} alpha maps, "
      f"shared curve: {info.shared_curve}, file: {info.path.name}")

# %%
# Enhance
# -------
# uint8 input is scaled by 255; the result is float32 in [0, 1], with the
# same shape.

bright = skdce.enhance(dark)
print(bright.shape, bright.dtype, float(bright.min()), float(bright.max()))

# %%
# Before and after, with the original for reference
# -------------------------------------------------

original = skimage.data.chelsea()
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for ax, img, title in zip(
    axes, (dark, bright, original), ("low-light input", "skdce.enhance", "original (reference)")
):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# Histograms
# ----------
# The curves stretch the dark end of the range: the input's values are
# crowded near 0, the output's spread over the range. Every curve is
# monotonic, so the order of the pixel values is kept.

fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
bins = np.linspace(0, 1, 65)
for ax, img, title in zip(axes, (dark / 255.0, bright), ("low-light input", "enhanced")):
    for channel, color in enumerate("rgb"):
        values = img[..., channel].ravel()
        ax.hist(values, bins=bins, color=color, histtype="step", label=color.upper())
    ax.set_title(title)
    ax.set_xlabel("value")
axes[0].set_ylabel("pixels")
axes[0].legend()
fig.tight_layout()

plt.show()
