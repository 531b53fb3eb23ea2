"""
==========================================
Synthetic low-light images
==========================================

skdce ships no photographs. Its sample images are scikit-image's bundled
images darkened by :func:`skdce.data.darken`, a simple camera-like low-light
model:

1. go to linear light with a display gamma (``x**gamma``),
2. scale by the exposure ``gain`` (0.12 is about 3 stops darker),
3. add Poisson shot noise for ``photons`` photo-electrons at full scale and
   Gaussian read noise of standard deviation ``read_noise``,
4. clip to [0, 1] and go back to display values (``**(1 / gamma)``).

:func:`skdce.data.low_light_sample` applies it with the defaults to the
images named in :data:`skdce.data.SAMPLES`, deterministically.
"""

import matplotlib.pyplot as plt
import skimage.data

import skdce
from skdce.data import SAMPLES, darken, low_light_sample

print(SAMPLES)

fig, axes = plt.subplots(2, len(SAMPLES), figsize=(3 * len(SAMPLES), 4.4))
for column, name in enumerate(SAMPLES):
    dark = low_light_sample(name)
    axes[0, column].imshow(dark)
    axes[0, column].set_title(name)
    axes[1, column].imshow(skdce.enhance(dark[::2, ::2]))
for ax in axes.ravel():
    ax.set_axis_off()
for row, label in enumerate(("low_light_sample", "enhanced")):
    ax = axes[row, 0]
    ax.text(-0.1, 0.5, label, transform=ax.transAxes, rotation=90, va="center", ha="right")
fig.tight_layout()

# %%
# Exposure and noise
# ------------------
# Less light (a smaller ``gain``) and fewer photons make a darker and noisier
# image. The noise is seeded: the same ``seed`` gives the same image.

crop = skimage.data.astronaut()[30:230, 140:340]
settings = [
    dict(gain=0.5, photons=None, read_noise=0.0),
    dict(gain=0.12, photons=None, read_noise=0.0),
    dict(gain=0.12, photons=400.0, read_noise=0.004),
    dict(gain=0.03, photons=100.0, read_noise=0.004),
]
fig, axes = plt.subplots(2, len(settings), figsize=(3 * len(settings), 6.2))
for column, kwargs in enumerate(settings):
    dark = darken(crop, seed=1, **kwargs)
    axes[0, column].imshow(dark)
    axes[0, column].set_title("\n".join(f"{k}={v}" for k, v in kwargs.items()), fontsize="small")
    axes[1, column].imshow(skdce.enhance(dark))
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()

plt.show()
