"""
=========================================
Exposure control: "auto", or stops
=========================================

:func:`skdce.enhance` takes ``exposure="auto"`` (the default: decided for
the scene), ``"model"`` (the model's curves and black point, no stops added) or a number of stops
more or less than ``"auto"``: ``+1`` makes middle grey twice as bright in
linear light, ``-1`` half as bright. The stops are applied after the
model's curves, as a few more steps of the same LE curve with one uniform
alpha each (:mod:`skdce.tone`), so black stays black, white stays white and
the tones between keep their order.

The input is a scikit-image sample darkened as a camera would record it:
about 3.3 stops less light in linear light, with shot noise (300 photons at
full scale) and read noise (:func:`skdce.data.darken`).
"""

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
from skimage.transform import downscale_local_mean

import skdce
from skdce.data import darken
from skdce.tone import (
    AUTO_EXPOSURE_LIGHT,
    AUTO_EXPOSURE_MAX,
    AUTO_EXPOSURE_TARGETS,
    AUTO_EXPOSURE_WHITE,
    BLACK_QUANTILE,
    EXPOSURE_RANGE,
    MIDDLE_GREY,
    WHITE_AREA,
    WHITE_RAMP,
    auto_exposure,
    black_lift,
    check_exposure,
    exposure_alphas,
    finish_tone,
    model_black_lift,
)

photo = skimage.data.astronaut()[::2, ::2]  # (256, 256, 3) uint8, public domain (NASA)
dark = darken(photo, gain=0.1, photons=300, read_noise=0.004)

results = {e: skdce.enhance(dark, exposure=e) for e in ("model", -1.0, "auto", 1.0)}
fig, axes = plt.subplots(1, 6, figsize=(19, 4))
panels = ([(dark, "low-light input")] + [(img, f"exposure={e!r}") for e, img in results.items()]
          + [(photo / 255.0, "the photo it was made from")])
for ax, (img, title) in zip(axes, panels):
    ax.imshow(img)
    ax.set_title(f"{title}\nmean {img.mean():.2f}")
    ax.set_axis_off()
fig.tight_layout()

# %%
# How "auto" decides
# ------------------
# A well-exposed photo's bright tones reach near white whatever it shows: a
# dark cabinet has bright edges, a white wall is bright. So a result whose
# highlights stay dull after the curves is under-exposed as a whole.
# :func:`skdce.tone.auto_exposure` measures the 90th percentile of the
# luminance on the network's small copy, after the curves and the black
# point, and finds the fewest stops (at most
# :data:`skdce.tone.AUTO_EXPOSURE_MAX`) that bring it up to the level of
# :data:`skdce.tone.AUTO_EXPOSURE_TARGETS`, which three in four well-exposed
# photos reach (fitted on photos, never on a reference of a dark image). A
# photo whose highlights are there already gets no stops, and neither does a
# scene whose input holds a light of its own (its brightest part at least
# :data:`skdce.tone.AUTO_EXPOSURE_LIGHT` times its median: a lamp at night, a
# window), nor does one that already reaches white over some area: its
# exposure uses the whole range. A pixel of a 512-pixel copy of the input
# counts as white across a ramp of :data:`skdce.tone.WHITE_RAMP` around
# :data:`skdce.tone.AUTO_EXPOSURE_WHITE`, and the stops go from all to none as
# the white area grows across :data:`skdce.tone.WHITE_AREA` (0.05% to 0.2% of
# the picture: not a glint, but a lamp or a window). Here by hand, on an
# 8x-smaller copy of the model's result (the small copies stand in for the
# 512-pixel one):

curves_only = results["model"]
small = downscale_local_mean(curves_only, (8, 8, 1)).astype(np.float32)[None]
good = downscale_local_mean(photo / 255.0, (8, 8, 1)).astype(np.float32)[None]
(q, level), = AUTO_EXPOSURE_TARGETS
for name, img in (("the model's result", small), ("the photo", good)):
    print(f"{name}: {q}th percentile {np.percentile(img.mean(axis=-1), q):.3f} (level {level}), "
          f"auto exposure {auto_exposure(img)[0]:+.2f} stops (at most {AUTO_EXPOSURE_MAX})")
small_input = downscale_local_mean(dark, (8, 8, 1)).astype(np.float32)[None]
lamp = small_input * 0.4  # the scene darker still, as at night...
lamp[0, 2, 3] = 1.0  # ...with a lamp in it: one bright box of the small copy
window = small_input.copy()
window[0, 2:4, 3:5] = 0.97  # the dark input with a white window (0.4% of the copy): no lamp, but white
for name, img in (("the dark input", small_input), ("a darker input with a lamp", lamp),
                  ("the dark input with a white window", window)):
    y = img.mean(axis=-1)
    white = np.clip((y - AUTO_EXPOSURE_WHITE + WHITE_RAMP / 2) / WHITE_RAMP, 0, 1).mean()
    print(f"{name}: brightest / median {y.max() / np.median(y):.1f} (light at {AUTO_EXPOSURE_LIGHT:g}), "
          f"white area {100 * white:.2f}% (stops from all to none across {100 * WHITE_AREA[0]:g}-"
          f"{100 * WHITE_AREA[1]:g}%), auto exposure {auto_exposure(small, small_input=img)[0]:+.2f} stops")

# %%
# What a number of stops means
# ----------------------------
# :func:`skdce.tone.check_exposure` turns the argument into stops added to
# auto exposure's: ``"auto"`` and ``"model"`` are 0, numbers must lie in
# :data:`skdce.tone.EXPOSURE_RANGE`. :func:`skdce.tone.exposure_alphas` gives
# the alphas of the extra LE steps: one step per started stop, each taking
# middle grey (:data:`skdce.tone.MIDDLE_GREY`, 18% in linear light) exactly
# to the next level.

print(f"EXPOSURE_RANGE = {EXPOSURE_RANGE} stops, MIDDLE_GREY = {MIDDLE_GREY} "
      f"(sRGB {MIDDLE_GREY ** (1 / 2.2):.3f})")
print(f"check_exposure('auto') = {check_exposure('auto')}, check_exposure(1.5) = {check_exposure(1.5)}")
try:
    check_exposure(3)
except ValueError as err:
    print(f"check_exposure(3): ValueError: {err}")
for stops in (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0):
    print(f"exposure {stops:+.1f}: alphas {[round(a, 3) for a in exposure_alphas(stops)]}")

# %%
# The exposure curves
# -------------------
# :func:`skdce.tone.finish_tone` applies the steps, in place, to
# ``(N, H, W, C)`` images; here to a ramp of all input tones. Each curve is
# monotonic and keeps 0 and 1; the dots mark where middle grey goes
# (``MIDDLE_GREY * 2 ** stops`` in linear light).

ramp = np.linspace(0, 1, 256, dtype=np.float32)
grey = MIDDLE_GREY ** (1 / 2.2)
fig, ax = plt.subplots(figsize=(5, 4.5))
for stops in (-2.0, -1.0, 0.0, 1.0, 2.0):
    curve = finish_tone(ramp.reshape(1, 1, -1, 1).copy(), exposure=stops).ravel()
    (line,) = ax.plot(ramp, curve, label=f"{stops:+.0f} stops")
    ax.plot(grey, (MIDDLE_GREY * 2**stops) ** (1 / 2.2), "o", color=line.get_color())
ax.axvline(grey, color="k", lw=0.5, ls=":")
ax.set(xlabel="tone after the model's curves (sRGB)", ylabel="output (sRGB)", aspect="equal")
ax.legend()
fig.tight_layout()

# %%
# The black point
# ---------------
# The LE curve keeps 0 at 0, but its slope there is ``(1 + a) ** 8``: a dark
# photo's near-blacks (its noise floor, deep shadows) are lifted into a grey
# haze. :func:`skdce.tone.black_lift` measures how far the curves lifted each
# channel's black, its :data:`skdce.tone.BLACK_QUANTILE` quantile, on a
# small box-averaged copy (where the noise is averaged away), and
# :func:`skdce.tone.finish_tone` takes a lift ``d`` out with
# ``(y - d) / (1 - d)``. :func:`skdce.enhance` does this itself for models
# trained with it, taking out the model's ``black_point`` share of the lift:
# half of it for the bundled ``zero-dce++`` (``black_point`` 0.5). Here the
# whole lift is taken out by hand on the curves alone, to show the step. The lift is
# measured on the small copy and taken out of the full-size image, whose
# noise is not averaged away: the pixels whose noise lay below the scene's
# black go to 0 (the spike on the left of the histogram).

small = downscale_local_mean(dark, (4, 4, 1)).astype(np.float32)  # the box-averaged copy
small_curved = skdce.apply_le_curves(small, skdce.estimate_curves(small))
lift = black_lift(small[None], small_curved[None])  # (1, 3): one lift per channel
q = 100 * BLACK_QUANTILE
for name, img in (("input", small), ("curves", small_curved)):
    print(f"{name:>6}: 1st percentile R, G, B = {np.round(np.percentile(img.reshape(-1, 3), q, axis=0), 3)}")
print(f"lift per channel: {np.round(lift[0], 3)}")

# the same lift taken out of the full-size result of the curves
curved = skdce.apply_le_curves(dark, skdce.estimate_curves(dark))
finished = finish_tone(curved[None].copy(), lift)[0]
fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
for ax, img, title in zip(axes, (curved, finished), ("curves alone", "black lift taken out")):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
for img, label in ((curved, "curves alone"), (finished, "black lift taken out")):
    axes[2].hist(img.mean(axis=-1).ravel(), bins=100, range=(0, 0.5), histtype="step", label=label)
axes[2].set(xlabel="mean of R, G, B", ylabel="pixels", title="the dark tones")
axes[2].legend()
fig.tight_layout()

plt.show()

# %%
# What :func:`skdce.enhance` takes out for the bundled model
# (:func:`skdce.tone.model_black_lift`: one run of the network on its own
# small copy of the image), for pipelines that apply the curves themselves:
# half the lift (``black_point`` 0.5), so about half of the lift printed
# above.

print("lift taken out by enhance():", np.round(model_black_lift(dark), 4))
