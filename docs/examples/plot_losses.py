"""
===========================================
The four loss terms, before and after
===========================================

Zero-DCE is trained with a loss of four *zero-reference* terms, which need no
well-exposed reference image (see :doc:`/user_guide/losses`). Here they are
computed with :mod:`skdce.losses` on a low-light image before enhancement
(the input compared with itself, with all alphas zero: the identity curve) and
after the curves of the default model, ``zero-dce++`` (its curves alone,
without the black point and auto exposure that :func:`skdce.enhance` adds).
"""

import matplotlib.pyplot as plt
import numpy as np

import skdce
from skdce.data import low_light_sample
from skdce.losses import (
    DEFAULT_WEIGHTS,
    LossTerms,
    adaptive_color_loss,
    adaptive_exposure_loss,
    color_constancy_loss,
    exposure_control_loss,
    exposure_target,
    illumination_smoothness_loss,
    spatial_consistency_loss,
    zero_reference_loss,
)

dark = low_light_sample("rocket")[::2, ::2]  # (214, 320, 3) uint8
alphas = skdce.estimate_curves(dark)  # (H, W, 3): zero-dce++'s one shared curve (zero-dce gives (H, W, 24))
bright = skdce.apply_le_curves(dark, alphas)
identity = np.zeros_like(alphas)  # alpha = 0 everywhere: LE(x) = x

before = zero_reference_loss(dark, dark, identity)
after = zero_reference_loss(bright, dark, alphas)
print("weights:", DEFAULT_WEIGHTS)
print("before:", before)
print("after: ", after)

# %%
# The weighted terms
# ------------------
# :func:`~skdce.losses.zero_reference_loss` returns a
# :class:`~skdce.losses.LossTerms` named tuple; each term is already
# multiplied by its weight in :data:`~skdce.losses.DEFAULT_WEIGHTS`.
# Before enhancement the spatial and smoothness terms are zero by definition
# (nothing changed, all alphas are equal), and the exposure term is large:
# the input is far darker than the target level. Enhancement lowers the
# exposure term and pays for it in the other three; the weights set the
# balance.

names = LossTerms._fields[1:]
pos = np.arange(len(names))
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(pos - 0.2, [getattr(before, n) for n in names], 0.4, label="before (identity)")
ax.bar(pos + 0.2, [getattr(after, n) for n in names], 0.4, label="after (zero-dce++ curves)")
ax.set_xticks(pos, names)
ax.set_yscale("symlog", linthresh=1e-3)
ax.set_ylabel("weighted loss")
ax.legend()
fig.tight_layout()

# %%
# Exposure control: patch means against the level E
# -------------------------------------------------
# :func:`~skdce.losses.exposure_control_loss` averages the image over
# channels and 16x16 patches, and penalises the squared distance of each
# patch mean from the level ``E = 0.6``.


def patch_means(image, size=16):
    gray = np.asarray(image, dtype=np.float64).mean(axis=-1)
    h, w = (gray.shape[0] // size) * size, (gray.shape[1] // size) * size
    return gray[:h, :w].reshape(h // size, size, w // size, size).mean(axis=(1, 3))


fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, img, title in zip(axes, (dark / 255.0, bright), ("before", "after")):
    im = ax.imshow(patch_means(img) - 0.6, cmap="RdBu_r", vmin=-0.6, vmax=0.6)
    ax.set_title(f"{title}: L_exp = {exposure_control_loss(img):.3f}")
    ax.set_axis_off()
fig.colorbar(im, ax=axes, label="patch mean - E")

# %%
# The adaptive exposure target of skdce's models
# ----------------------------------------------
# One level for every patch lifts a dark scene, but it also pulls a
# well-exposed photo toward 0.6 and flattens mixed lighting. skdce's models
# are trained instead toward :func:`~skdce.losses.exposure_target`, a target
# per patch derived from the input and its illumination context ``c`` (how
# bright the surroundings are; see :doc:`/user_guide/curves`): a patch of
# mean ``m`` should reach ``m ** gamma``, with ``gamma`` chosen so that dark
# surroundings (``c < level``) are lifted to ``level``, over-exposed ones
# (``c > level_high``) lowered to ``level_high``, and well-exposed ones kept
# (``gamma = 1``). :func:`~skdce.losses.adaptive_exposure_loss` is the squared
# distance to that target.
#
# The curves below are the target of a uniform 16x16 patch of mean ``m`` in
# surroundings of brightness ``c``, with the bundled ``zero-dce++`` recipe's
# ``level=0.41``, ``level_high=0.7`` and ``knee=0.25`` (``weights/zero-dce++.toml``;
# ``zero-dce`` was trained with ``level=0.42``); the lift fades out between the
# knee and the level, so dim but well-exposed surroundings, ``c = 0.3``, are
# barely lifted.

m = np.linspace(0.01, 0.99, 50)
fig, ax = plt.subplots(figsize=(5, 3.6))
for c in (0.05, 0.15, 0.3, 0.5, 0.85):
    target = [exposure_target(np.full((16, 16, 3), v), np.full((16, 16), c), level=0.41, knee=0.25)[0, 0, 0]
              for v in m]
    ax.plot(m, target, label=f"c = {c:g}")
ax.plot(m, np.full_like(m, 0.6), "k--", lw=0.8, label="fixed level E = 0.6")
ax.set(xlabel="patch mean of the input m", ylabel="target patch mean", xlim=(0, 1), ylim=(0, 1))
ax.legend(fontsize="small", title="surroundings")
fig.tight_layout()

# %%
# On a well-exposed gray image (its own context: the average of a uniform
# image is itself) the fixed-level loss asks for a change, the adaptive one
# does not:

gray = np.full((32, 32, 3), 0.5)
print("exposure_control_loss: ", exposure_control_loss(gray))
print("adaptive_exposure_loss:", adaptive_exposure_loss(gray, gray, np.full((32, 32), 0.5)))

# %%
# Colour constancy: the channel means
# -----------------------------------
# :func:`~skdce.losses.color_constancy_loss` compares the mean of R, G and B
# over the whole image (grey-world assumption).

fig, ax = plt.subplots(figsize=(5, 3))
for offset, img, title in ((-0.2, dark / 255.0, "before"), (0.2, bright, "after")):
    means = np.asarray(img).reshape(-1, 3).mean(axis=0)
    ax.bar(np.arange(3) + offset, means, 0.4, color=["tab:red", "tab:green", "tab:blue"],
           alpha=0.5 if title == "before" else 1.0,
           label=f"{title}: L_col = {color_constancy_loss(img):.4f}")
ax.set_xticks(range(3), ["R", "G", "B"])
ax.set_ylabel("channel mean")
ax.legend(fontsize="small")
fig.tight_layout()

# %%
# :func:`~skdce.losses.adaptive_color_loss` takes the channel means in linear
# light and weighs each image by how dark its input was, so the colour of a
# well-exposed photo is left to the photographer. The same warm cast costs
# the most in a dark input and nothing in a well-exposed one:

cast = np.zeros((32, 32, 3)) + [0.6, 0.45, 0.35]
for c in (0.02, 0.2, 0.45):
    print(f"context {c:4.2f}: adaptive_color_loss = {adaptive_color_loss(cast, np.full((32, 32), c), level=0.45):.5f}")

# %%
# Spatial consistency and illumination smoothness
# -----------------------------------------------
# :func:`~skdce.losses.spatial_consistency_loss` compares how much each 4x4
# region changed with how much its neighbours changed: a uniform brightening
# costs nothing, a change of local contrast does.
# :func:`~skdce.losses.illumination_smoothness_loss` is computed on the alpha
# maps and penalises their gradients, so that neighbouring pixels get similar
# curves. Both are shown as maps: the change of brightness ``D`` of each 4x4
# region, and the gradient magnitude of the alphas (summed over the 3 maps,
# colour scale clipped at its 99th percentile).

change = patch_means(bright, 4) - patch_means(dark / 255.0, 4)
gy, gx = np.gradient(alphas, axis=(0, 1))
grad = np.sqrt(gx**2 + gy**2).sum(axis=-1)
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
im0 = axes[0].imshow(change, cmap="magma")
axes[0].set_title(f"D = Y - I (4x4 regions); L_spa = {spatial_consistency_loss(bright, dark):.2e}",
                  fontsize="medium")
im1 = axes[1].imshow(grad, cmap="viridis", vmax=np.percentile(grad, 99))
axes[1].set_title(f"|grad alphas|; L_tvA = {illumination_smoothness_loss(alphas):.2e}",
                  fontsize="medium")
for ax, im in zip(axes, (im0, im1)):
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.8)

plt.show()
