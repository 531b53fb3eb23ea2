"""
=====================================
A night scene: lights and a dark sky
=====================================

A night photo is not an underexposed day photo: the goal is that its sky
stays dark and neutral and its lights stay lights, not lifted into a grey,
coloured haze. The bundled model does not reach that goal yet: it lifts this
sky about threefold, with green and purple blotches of amplified noise, and
the warm lamps clip to white. Here a night scene is made from scikit-image's ``rocket``
sample (a launch pad at dusk, photographed by SpaceX and released into
the public domain) in linear light: the whole scene is darkened about 5
stops, the sky 3 stops more, a few warm lamps are added at full
brightness, and shot and read noise come last, as in a camera
(:func:`skdce.data.darken`).
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
from skimage.color import rgb2lab

import skdce
from skdce.data import darken

photo = skimage.data.rocket()[::2, ::2] / 255.0  # (214, 320, 3), sRGB in [0, 1]
h, w = photo.shape[:2]
lin = photo**2.2  # linear light

# the sky: where blue dominates, above the horizon (the towers and the rocket are grey)
rows = np.arange(h)[:, None]
sky = (rows < 0.8 * h) & (photo[..., 2] > photo[..., 0] + 0.1)
scene = lin * 0.03
scene[sky] *= 0.12

# a few warm lamps: small Gaussian spots that reach full scale
yy, xx = np.mgrid[:h, :w]
for y, x in ((188, 37), (186, 74), (196, 95), (198, 180), (196, 215), (205, 28), (205, 225)):
    spot = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 2.0**2))
    scene += spot[..., None] * np.array([1.0, 0.75, 0.4])
night = darken(np.clip(scene, 0, 1) ** (1 / 2.2), gain=1.0, photons=300, read_noise=0.004)

out = skdce.enhance(night)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
titles = ("night input", "skdce.enhance", "the dusk photo it was made from")
for ax, img, title in zip(axes, (night, out, photo), titles):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# The sky: lifted less than the curves alone would
# -------------------------------------------------
# The sky's mean (sRGB) and its chroma, the distance from grey in CIELAB
# (``sqrt(a**2 + b**2)`` of the sky's mean colour), before and after. A
# lifted, tinted sky shows up here as a large mean and chroma; a model that
# took the scene for night would keep the mean near the input's and the
# chroma near 0. The bundled model does not: with the defaults the sky's mean
# about triples (0.036 to 0.104) and its chroma rises from 0.2 to 1.7, which
# the figure shows as a dim, blotchy sky with green and purple patches.
# ``exposure="model"`` shows what the network's curves alone make of the sky
# (a mean of 0.24): under the default ``exposure="auto"`` the curves may
# stretch the input's noise only so far (:func:`skdce.tone.noise_limit`), and
# this sky is mostly noise, so it is lifted far less than that, though still
# well above the input.


def sky_stats(img):
    mean = img[sky].mean(axis=0)
    _, a, b = rgb2lab(mean.reshape(1, 1, 3)).ravel()
    return mean.mean(), np.hypot(a, b)


curves_alone = skdce.enhance(night, exposure="model")
for name, img in (("input", night), ("enhanced", out), ("model", curves_alone)):
    level, chroma = sky_stats(img)
    print(f"sky {name:>8}: mean {level:.3f}, chroma {chroma:.1f}")
print(f"whole image: mean {night.mean():.3f} -> {out.mean():.3f}")

# %%
# Why the sky is not lifted further: the noise limit
# --------------------------------------------------
# The network's curve, at the sky's level, has a slope of several: it would
# stretch the sky's noise that many times. Under ``exposure="auto"`` the
# curves may stretch the input's noise (its standard deviation, as the
# denoiser estimates it) to at most ``NOISE_LIFT_LIMIT``, so the sky's
# alphas are lowered until they do not (:func:`skdce.tone.noise_limit`,
# computed on the network's small copy).

from skdce.denoise import estimate_noise  # noqa: E402
from skdce.tone import NOISE_LIFT_LIMIT, curve_slope  # noqa: E402

sigma = estimate_noise(night)
alphas = skdce.estimate_curves(night)  # the network's maps, before any limit
slope = curve_slope(night[sky].mean(), alphas[sky].mean(), 8)
print(f"noise {sigma:.3f}; the curves' slope at the sky's level {slope:.1f}: "
      f"noise stretched to {sigma * slope:.2f}, the limit is {NOISE_LIFT_LIMIT}")

# %%
# The lights
# ----------
# A crop around the lamps, and the profile through two of them: the lamps
# stay the brightest things, but their warm colour is lost: a core of
# (0.97, 0.91, 0.68) in the input clips to white (1, 1, 0.99), the clipped
# area widens, and their dark surroundings are lifted, noise included.

crop = (slice(165, 214), slice(0, 120))
print("a lamp's core (row 188, column 37): input", night[188, 37].round(2), "enhanced", out[188, 37].round(2))
fig, axes = plt.subplots(1, 3, figsize=(13, 3))
axes[0].imshow(night[crop])
axes[0].set_title("lamps, input")
axes[1].imshow(out[crop])
axes[1].set_title("lamps, enhanced")
for ax in axes[:2]:
    ax.set_axis_off()
for img, label in ((night, "input"), (out, "enhanced")):
    axes[2].plot(img[186, :120].mean(axis=-1), label=label)
axes[2].set(xlabel="column (row 186)", ylabel="mean of R, G, B", ylim=(0, 1))
axes[2].legend()
fig.tight_layout()

plt.show()
