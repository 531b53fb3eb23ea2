"""
=======================================
Strength: from no change to full
=======================================

``strength`` scales the curves' alphas: ``0`` returns the input unchanged,
``1`` (the default) the model's result, and values up to ``2`` a stronger
enhancement. The scaled alphas are clipped to [-1, 1], so every strength keeps
the output in [0, 1] and monotonic in the input.

Denoising is turned off here (``denoise=0``) to show the curves alone: with
the default ``denoise=1``, :func:`skdce.enhance` also filters the noise the
curves amplify (see :doc:`plot_denoise`). At ``strength=0`` the curve is the
identity (slope 1 everywhere), it adds no noise, and the input comes back
unchanged with the default ``denoise=1`` too.
"""

import matplotlib.pyplot as plt
import numpy as np

import skdce
from skdce.data import low_light_sample

dark = low_light_sample("astronaut")[::2, ::2]  # (256, 256, 3) uint8
strengths = [0.0, 0.25, 0.5, 0.75, 1.0]
results = [skdce.enhance(dark, strength=s, denoise=0) for s in strengths]

fig, axes = plt.subplots(1, len(strengths), figsize=(14, 3.1))
for ax, s, img in zip(axes, strengths, results):
    ax.imshow(img)
    ax.set_title(f"strength={s:g}")
    ax.set_axis_off()
fig.tight_layout()

# %%
# ``strength=0`` is the identity (returned as float in [0, 1]):

print("strength=0 equals the input:", np.allclose(results[0], dark / 255.0, atol=1e-6))
print("and with the default denoise=1:", np.allclose(skdce.enhance(dark, strength=0), dark / 255.0, atol=1e-6))

# %%
# Strength is not a blend
# -----------------------
# Lowering the strength shrinks every per-pixel curve instead of mixing the
# output with the input linearly. The transfer plot below shows, for a sample
# of pixels, the output value against the input value of the red channel at
# each strength; the points spread because every pixel has its own curve.

rng = np.random.default_rng(0)
pick = rng.choice(dark[..., 0].size, 3000, replace=False)
x = dark[..., 0].ravel()[pick] / 255.0
fig, ax = plt.subplots(figsize=(5, 4.4))
for s, img in zip(strengths, results):
    ax.scatter(x, img[..., 0].ravel()[pick], s=2, label=f"{s:g}")
ax.plot([0, 1], [0, 1], "k", lw=0.5)
ax.set(xlabel="input (red)", ylabel="output (red)", xlim=(0, 1), ylim=(0, 1))
ax.legend(title="strength", markerscale=4)
fig.tight_layout()

# %%
# Mean brightness against strength
# ---------------------------------

more = np.linspace(0, 1, 9)
means = [float(skdce.enhance(dark, strength=s, denoise=0).mean()) for s in more]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(more, means, "o-")
ax.set(xlabel="strength", ylabel="mean output value")
fig.tight_layout()

plt.show()
