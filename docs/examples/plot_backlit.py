"""
=============================================
A backlit scene: what the default model does
=============================================

Against the light, the subject is dark and the background well exposed or
bright. A global curve cannot fix that: lifting the subject enough burns the
background. Zero-DCE's curves are per pixel, and skdce's models see the
illumination of the whole image and of each half (see
:ref:`sphx_glr_auto_examples_plot_mixed_lighting.py`), so a curve *could*
lift the dark part and leave the bright part alone. The bundled default does
not: its curve is nearly the same across the frame (a strong smoothness
term chose that, because LOL's references are one global change of
exposure; ``weights/README.md``), so the cup comes up a little and the table
behind it moves more. This page measures that honestly; it is a known
limit, not a solved case.

The backlit scene is made from scikit-image's ``coffee`` sample (Rachel
Michetti, CC0) in linear light: the cup and saucer (an ellipse with a soft
edge) get about 4.5 stops less light, the table behind them half a stop
more; shot and read noise come last, as in a camera
(:func:`skdce.data.darken`).
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
from scipy.ndimage import gaussian_filter

import skdce
from skdce.data import darken

photo = skimage.data.coffee()[::2, ::2] / 255.0  # (200, 300, 3), sRGB in [0, 1]
h, w = photo.shape[:2]
yy, xx = np.mgrid[:h, :w]
subject = (((xx - 140) / 105) ** 2 + ((yy - 105) / 92) ** 2 < 1).astype(float)
weight = gaussian_filter(subject, 4)  # 1 on the subject, 0 on the background, a soft edge

lin = photo**2.2
gain = 0.045 * weight + 1.4 * (1 - weight)
backlit = darken(np.clip(lin * gain[..., None], 0, 1) ** (1 / 2.2), gain=1.0, photons=300, read_noise=0.004)
out = skdce.enhance(backlit)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
for ax, img, title in zip(axes, (backlit, out, photo), ("backlit input", "skdce.enhance", "original")):
    ax.imshow(img)
    ax.contour(subject, levels=[0.5], colors="w", linewidths=0.6, linestyles="--")
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# Subject and background
# ----------------------
# The mean (sRGB) inside the ellipse and outside it (a 10-pixel band at the
# edge left out). Ideally the subject comes up toward the original and the
# background moves little. With the bundled model (the numbers are those of
# the model this page was built with) the subject gains less than the
# background does: about +0.04 against +0.09 when this was written.

inside = weight > 0.99
outside = weight < 0.01
print(f"{'':>9} {'subject':>8} {'background':>11}")
for name, img in (("input", backlit), ("enhanced", out), ("original", photo)):
    print(f"{name:>9} {img[inside].mean():8.3f} {img[outside].mean():11.3f}")

# %%
# What a user can do today
# ------------------------
# ``exposure`` adds stops to the whole picture (see
# :ref:`sphx_glr_auto_examples_plot_exposure.py`): the subject comes up,
# and so does the background, toward white. It is the global trade-off this
# scene is about, offered as a control.

for stops in (0.5, 1.0):
    brighter = skdce.enhance(backlit, exposure=stops)
    print(f"exposure {stops:+.1f}: subject {brighter[inside].mean():.3f}, background {brighter[outside].mean():.3f}")

# %%
# The tone curve each region got
# ------------------------------
# Output against input tone, pixel by pixel (the mean of R, G and B), for a
# sample of the subject's and the background's pixels. Where their tones
# overlap, the two regions' points fall on about one curve: the network's
# curve hardly depends on where a pixel is. A model that lifted the subject
# alone would put the subject's points above the background's.

rng = np.random.default_rng(0)
fig, ax = plt.subplots(figsize=(5, 4.5))
for mask, label in ((inside, "subject"), (outside, "background")):
    idx = rng.choice(np.flatnonzero(mask), 1500, replace=False)
    ax.plot(backlit.mean(-1).ravel()[idx], out.mean(-1).ravel()[idx], ".", ms=2, alpha=0.5, label=label)
ax.plot([0, 1], [0, 1], "k", lw=0.5)
ax.set(xlabel="input (sRGB)", ylabel="enhanced (sRGB)", xlim=(0, 1), ylim=(0, 1), aspect="equal")
ax.legend(markerscale=5)
fig.tight_layout()

plt.show()
