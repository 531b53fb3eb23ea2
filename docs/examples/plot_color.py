"""
=================================================
Colour: a prior from photos against grey world
=================================================

Zero-DCE's colour loss is *grey world*: the mean of R, G and B should be
equal. Dark scenes are often warm (tungsten light, a fire, a cat on a red
blanket), and grey world pulls them to grey, which leaves them green-cyan.
:func:`skdce.losses.prior_color_loss` replaces it with a prior learned from
well-exposed photos, :data:`skdce.losses.COLOR_PRIOR`: a Gaussian on the
log-chromaticity ``(log(R/G), log(B/G))`` of an image's mean colour in
linear light. Photos are on average a little warm, and they vary more from
warm to cool than from green to magenta; the prior says both.

The image is scikit-image's ``chelsea`` (a cat indoors, Stefan van der Walt,
CC0), a warm indoor photo, darkened in linear light with shot and read
noise (:func:`skdce.data.darken`) and enhanced.
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data

import skdce
from skdce.data import darken
from skdce.losses import COLOR_PRIOR, adaptive_color_loss, color_constancy_loss, prior_color_loss

photo = skimage.data.chelsea()[::2, ::2]  # (150, 226, 3) uint8
dark = darken(photo, gain=0.06, photons=300, read_noise=0.004)
out = skdce.enhance(dark)
# The losses weight the colour term by how dark the input was, read from its
# illumination context (:func:`skdce.illumination_context`, what the network
# sees beside the image: the brightness of the whole image and of its halves,
# the grids of ``skdce.context.CONTEXT_GRIDS``).
context = skdce.illumination_context(dark)


def chromaticity(img):
    """(log(R/G), log(B/G)) of the mean colour in linear light, as the losses see it."""
    j = (np.clip(img, 0, 1) ** 2.2).reshape(-1, 3).mean(axis=0) + 1e-6
    return np.log(j[0] / j[1]), np.log(j[2] / j[1])


def balance(img, t):
    """White balance in linear light: t = 1 leaves the colour, t = 0 is grey world."""
    lin = np.clip(img, 0, 1) ** 2.2
    j = lin.reshape(-1, 3).mean(axis=0)
    gains = (j[1] / j) ** (1 - t)
    return np.clip(lin * gains, 0, 1) ** (1 / 2.2)


# %%
# The three colour losses along a white balance
# ---------------------------------------------
# The enhanced image is white-balanced from its own colour (``t = 1``) to
# grey (``t = 0``). :func:`skdce.losses.color_constancy_loss` (Zero-DCE's,
# on sRGB means) and :func:`skdce.losses.adaptive_color_loss` (grey world in
# linear light, weighted by the input's darkness) are smallest at grey. The
# prior is smallest where the path comes closest to the photos' mean colour
# (in its metric): a little warm, not grey. The prior is a pull toward
# typical photos, so a scene as warm as this one (about 3 sigma out) is
# pulled most of the way; a well-exposed input is not pulled at all, as the
# losses are weighted by the input's darkness.

ts = np.linspace(0, 1.2, 49)
losses = {
    "color_constancy_loss": [color_constancy_loss(balance(out, t)) for t in ts],
    "adaptive_color_loss": [adaptive_color_loss(balance(out, t), context) for t in ts],
    "prior_color_loss": [prior_color_loss(balance(out, t), context) for t in ts],
}
t_prior = ts[int(np.argmin(losses["prior_color_loss"]))]
fig, ax = plt.subplots(figsize=(6, 3.8))
for name, values in losses.items():
    values = np.asarray(values)
    ax.plot(ts, values / values.max(), label=name)
ax.axvline(1, color="k", lw=0.5, ls=":")
ax.set(xlabel="t (0: grey world, 1: as enhanced)", ylabel="loss / its largest value")
ax.legend()
fig.tight_layout()
print(f"prior's best balance: t = {t_prior:.2f}")
for name, values in losses.items():
    print(f"{name:>21}: at t=0 {values[0]:.4f}, at t=1 {values[np.argmin(np.abs(ts - 1))]:.4f}")

# %%
# The prior's ellipse
# -------------------
# The prior's mean and its 1, 2 and 3 sigma ellipses in
# ``(log(R/G), log(B/G))``, with the balance path of the enhanced image, the
# point grey world wants (the origin), and where the original photo, the
# dark input and ``skdce.enhance``'s result land (with the bundled model
# this page was built with).

mean = np.asarray(COLOR_PRIOR["mean"])
cov = np.asarray(COLOR_PRIOR["cov"])
values, vectors = np.linalg.eigh(cov)
circle = np.stack([np.cos(np.linspace(0, 2 * np.pi, 100)), np.sin(np.linspace(0, 2 * np.pi, 100))])
fig, ax = plt.subplots(figsize=(6, 5.5))
for k in (1, 2, 3):
    ring = mean[:, None] + vectors @ (k * np.sqrt(values)[:, None] * circle)
    ax.plot(*ring, color="tab:blue", lw=1.5 / k, label="COLOR_PRIOR, 1-3 sigma" if k == 1 else None)
ax.plot(*mean, "+", color="tab:blue", ms=12)
path = np.array([chromaticity(balance(out, t)) for t in ts])
ax.plot(*path.T, color="0.6", lw=1, label="white balance path, t = 0 to 1.2")
ax.plot(0, 0, "s", color="0.4", label="grey world")
for img, marker, label in ((photo / 255, "o", "original"), (dark, "v", "dark input"), (out, "*", "skdce.enhance")):
    ax.plot(*chromaticity(img), marker, ms=10, label=label)
ax.plot(*chromaticity(balance(out, t_prior)), "D", label=f"prior's best balance (t = {t_prior:.2f})")
ax.set(xlabel="log(R / G)", ylabel="log(B / G)", aspect="equal")
inverse = np.linalg.inv(cov)
for img, label in ((photo / 255, "original"), (out, "skdce.enhance")):
    u = np.asarray(chromaticity(img)) - mean
    print(f"{label:>14}: {np.sqrt(u @ inverse @ u):.1f} sigma from the prior's mean")
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()

# %%
# The pictures
# ------------

fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
panels = ((dark, "dark input"), (out, "skdce.enhance"), (balance(out, 0), "grey world (t = 0)"),
          (balance(out, t_prior), f"prior's best (t = {t_prior:.2f})"))
for ax, (img, title) in zip(axes, panels):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

plt.show()
