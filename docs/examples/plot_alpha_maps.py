"""
=======================================
The alpha maps of each iteration
=======================================

:func:`skdce.enhance` is two steps: the network estimates per-pixel curve
parameters (*alpha maps*), then the curve ``LE(x) = x + a x (1 - x)`` is
applied with them, iteration after iteration. :func:`skdce.estimate_curves`
returns the maps and :func:`skdce.apply_le_curves` applies them, so each step
can be inspected.

For the ``zero-dce`` model the maps have 24 channels: iteration ``i`` (counted
from 0) uses maps ``[3 i : 3 i + 3]``, one for each of R, G and B.
"""

import matplotlib.pyplot as plt
import numpy as np

import skdce
from skdce.data import low_light_sample

dark = low_light_sample("coffee")[::2, ::2]  # (200, 300, 3) uint8; smaller is faster
alphas = skdce.estimate_curves(dark, model="zero-dce")
print(alphas.shape, alphas.dtype)

# %%
# One map per iteration
# ---------------------
# Shown here: the mean of the R, G and B maps of each iteration. Positive
# alphas brighten, negative ones darken; the network can use different
# curves in different regions and at different iterations (see
# :doc:`plot_mixed_lighting` for an image whose halves need different
# curves).

per_iter = alphas.reshape(alphas.shape[:2] + (8, 3))  # (H, W, iteration, channel)
limit = float(np.abs(per_iter.mean(axis=-1)).max())
fig, axes = plt.subplots(2, 4, figsize=(12, 4.6))
for i, ax in enumerate(axes.ravel()):
    im = ax.imshow(per_iter[:, :, i].mean(axis=-1), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"iteration {i + 1}")
    ax.set_axis_off()
fig.colorbar(im, ax=axes, shrink=0.8, label="alpha (mean of R, G, B)")

# %%
# The image after each iteration
# ------------------------------
# Applying only the first ``k`` triples of maps gives the image after ``k``
# iterations. Pass ``n_iter=k``: a single triple of maps (``k = 1``) would
# otherwise be taken as a shared curve and applied 8 times, the Zero-DCE++
# convention.

fig, axes = plt.subplots(1, 5, figsize=(14, 2.6))
for ax, k in zip(axes, (0, 1, 2, 4, 8)):
    step = skdce.apply_le_curves(dark, alphas[..., : 3 * k], n_iter=k) if k else dark
    ax.imshow(step)
    ax.set_title("input" if k == 0 else f"after {k} iteration{'s' if k > 1 else ''}")
    ax.set_axis_off()
fig.tight_layout()

# %%
# The mean alpha of each channel and iteration
# --------------------------------------------

fig, ax = plt.subplots(figsize=(6, 3))
for channel, color in enumerate("rgb"):
    mean_alpha = per_iter[:, :, :, channel].mean(axis=(0, 1))
    ax.plot(range(1, 9), mean_alpha, "o-", color=color, label=color.upper())
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="iteration", ylabel="mean alpha")
ax.legend()
fig.tight_layout()

# %%
# The two steps are exactly ``enhance``
# -------------------------------------
# At ``strength=1`` and without denoising (``denoise=0``; by default
# :func:`skdce.enhance` also removes the noise the curves amplify, see
# :doc:`plot_denoise`), :func:`skdce.enhance` equals
# ``apply_le_curves(image, estimate_curves(image))`` for the same model.

two_steps = skdce.apply_le_curves(dark, alphas)
plain = skdce.enhance(dark, model="zero-dce", denoise=0)
print("max difference to skdce.enhance:", float(np.abs(two_steps - plain).max()))

plt.show()
