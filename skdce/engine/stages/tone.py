"""Stage: the tone steps after the curves (black point, exposure); their one home.

Both are global per image and cheap: an affine map per channel and a few
uniform curve steps, applied in place to the enhanced image
(:mod:`skdce.tone` explains them to users and is their public face).
Side by side:

* the host code: :func:`black_lift`, :func:`auto_exposure` and
  :func:`noise_limit` (measured on the network's small copy),
  :func:`exposure_alphas` and :func:`finish_tone`;
* the torch twins used in training: :func:`torch_black_lift`, :func:`torch_remove_lift`;
* the float64 oracle: :func:`reference_finish_tone`.

No ONNX builder: the fused graph's output is finished on the host (a few
passes over the result, as on the host path).
"""

from __future__ import annotations

import math

import numpy as np

from ..._base.validate import check_image_arg, check_real
from ..workers import run_tasks
from .boxes import small_size

__all__ = ["BLACK_QUANTILE", "MIDDLE_GREY", "EXPOSURE_RANGE", "AUTO_EXPOSURE_TARGETS", "AUTO_EXPOSURE_MAX",
           "AUTO_EXPOSURE_LIGHT", "AUTO_EXPOSURE_WHITE", "WHITE_RAMP", "WHITE_AREA", "WHITE_SIZE", "NOISE_LIFT_LIMIT",
           "black_lift", "auto_exposure", "lit_by_a_light", "white_areas", "white_share", "white_size",
           "curve_slope", "noise_limit", "total_exposure",
           "exposure_alphas", "exposure_slope", "finish_tone", "noise_stretch", "reference_finish_tone",
           "torch_black_lift", "torch_remove_lift"]

#: The tone that stands for the scene's black: each channel's 1st percentile.
BLACK_QUANTILE = 0.01
#: 18% reflectance in linear light, the photographer's middle grey (0.459 in sRGB).
MIDDLE_GREY = 0.18
_GAMMA = 2.2
#: Exposure changes allowed, in stops: +2 takes middle grey to 0.72 in linear light.
EXPOSURE_RANGE = (-4.0, 2.0)
#: The largest lift taken out of a channel's black.
MAX_LIFT = 0.5
#: Auto exposure's highlights: ``(percentile, level)`` pairs of luminance (the channel mean, sRGB, on a
#: 64-pixel copy) that three in four well-exposed photos reach (the 25th percentile over the 300 photos of
#: LOL's ``unpaired-normal/`` and the 143 SICE photos with a mean in [0.3, 0.65]; ``benchmarks/fit_exposure.py``).
#: The 90th percentile was chosen against the 97th and the 90th-or-99th on the tuning half and our darkenings
#: (``weights/README.md``, "Auto exposure").
AUTO_EXPOSURE_TARGETS = ((90, 0.634),)
#: The most stops auto exposure adds.
AUTO_EXPOSURE_MAX = 1.5
#: A scene whose input holds a light (the small copy's brightest luminance at least this many times its
#: median, in sRGB: over 7 stops in linear light) is anchored by it: a lamp at night, a window, the sky.
#: Auto exposure adds nothing to it. A darkened photo keeps its ratio (under 6 for the LOL references and
#: under 4 for our darkenings), so its exposures are all treated alike.
AUTO_EXPOSURE_LIGHT = 10.0
#: An input that already reaches white over some area uses the whole range of its exposure, so it is not
#: under-exposed: auto exposure adds nothing to it (a dim room with a white wall or window, a low-key photo with
#: its highlights: a launch pad at dusk with its lamps). A box of :func:`white_areas`' copy counts as white from
#: ``AUTO_EXPOSURE_WHITE - WHITE_RAMP / 2`` (not at all) to ``AUTO_EXPOSURE_WHITE + WHITE_RAMP / 2`` (wholly),
#: linearly between. Near white, not a tuned level (0.79 in linear light); a photo darkened by 2.3 stops or more
#: brings white to 0.48.
AUTO_EXPOSURE_WHITE = 0.9
#: The width of :data:`AUTO_EXPOSURE_WHITE`'s ramp.
WHITE_RAMP = 0.1
#: Auto exposure keeps all its stops up to the first white area (a share of the picture, :func:`white_areas`)
#: and none from the second, linearly between (:func:`white_share`): around 0.1% of the picture, where a photo's
#: white point is read for levels, so a glint or a few hot pixels do not count and a lamp of 0.2% (22x22 pixels at
#: 600x400) does. Ramps in level and in area, not switches: a light crossing either does not jump the exposure,
#: in a still, as it moves across the frame or from one video frame to the next.
WHITE_AREA = (0.0005, 0.002)
#: :func:`white_areas` reads a box copy of the input this many pixels on its longer side (boxes of 1.2 pixels on
#: a 600x400 photo, 7.8 at 12 MP): fine enough that a lamp's area does not depend on where it falls on the boxes.
WHITE_SIZE = 512
#: Under auto exposure the curves stretch the input's noise (its standard deviation times their slope at a
#: region's level) to at most this: a region whose signal sits in its noise (a night sky) is not lifted into a
#: grey grain. Chosen on the tuning half and our darkenings (``weights/README.md``, "The noise limit").
NOISE_LIFT_LIMIT = 0.15


def black_lift(small, small_enhanced) -> np.ndarray:
    """``(N, C)`` lift of each channel's black by the curves.

    Parameters
    ----------
    small, small_enhanced : (N, h, w, C) ndarray
        The downscaled input the network saw and its curves' result.

    Returns
    -------
    (N, C) float64 ndarray
        ``percentile(after, 1) - percentile(before, 1)`` per channel, clipped
        to [0, 0.5] (linear interpolation, as ``torch.quantile``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.tone import black_lift
    >>> x = np.linspace(0, 0.2, 100).reshape(1, 10, 10, 1)
    >>> black_lift(x, x).tolist()  # curves that did nothing lifted nothing
    [[0.0]]
    """
    n, c = small.shape[0], small.shape[-1]
    before = np.percentile(np.asarray(small, np.float64).reshape(n, -1, c), 100 * BLACK_QUANTILE, axis=1)
    after = np.percentile(np.asarray(small_enhanced, np.float64).reshape(n, -1, c), 100 * BLACK_QUANTILE, axis=1)
    return np.clip(after - before, 0.0, MAX_LIFT)


def _highlights(y: np.ndarray, targets) -> np.ndarray:
    """How far the best-placed target percentile of ``(N, P)`` luminances ``y`` is above its level (< 0: below)."""
    return np.max([np.percentile(y, q, axis=1) - level for q, level in targets], axis=0)


def auto_exposure(small_finished, targets=None, max_stops: float = AUTO_EXPOSURE_MAX, small_input=None,
                  light: float | None = None, whites=None) -> np.ndarray:
    """``(N,)`` stops that bring each image's highlights up to a well-exposed photo's (0 where they are there).

    A well-exposed photo's bright tones reach near white whatever its subject
    (a dark cabinet has bright edges, a white wall is bright), so a photo
    whose highlights stay dim after the curves is under-exposed as a whole,
    while a night scene whose lamps are bright is left as the curves made it.
    The stops are the fewest (bisection, to 0.01 stop) after which the
    luminance percentile of :data:`AUTO_EXPOSURE_TARGETS` reaches its level,
    at most ``max_stops``; they are applied by :func:`finish_tone`'s uniform
    curve steps, so black stays black.

    A scene whose input holds a light (``small_input``'s brightest luminance
    at least ``light`` times its median, :data:`AUTO_EXPOSURE_LIGHT` by
    default) gets none: its lamps or windows anchor the exposure, and a night
    is not brightened further. Nor, by a ramp (:func:`white_share`), does one
    that already reaches white over some area (``whites``, the inputs'
    :func:`white_areas`, around :data:`WHITE_AREA`): it uses its whole range.

    Parameters
    ----------
    small_finished : (N, h, w, C) ndarray
        The network's small copies after the curves and the black point, in [0, 1].
    small_input : (N, h, w, C) ndarray, optional
        The small copies before the curves (the network's input), in [0, 1].
    whites : (N,) ndarray, optional
        The inputs' :func:`white_areas` (without them, ``small_input``'s stand in; with neither, none).

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.engine.stages.tone import auto_exposure
    >>> dim = np.linspace(0, 0.5, 300).reshape(1, 10, 10, 3)
    >>> bright = np.linspace(0, 1, 300).reshape(1, 10, 10, 3)
    >>> auto_exposure(np.concatenate([dim, bright])).tolist()
    [1.08, 0.0]
    """
    targets = AUTO_EXPOSURE_TARGETS if targets is None else targets
    x = np.asarray(small_finished, np.float64)

    def short(b, e):  # how far image b's highlights stay below their levels after e stops (> 0: short)
        y = reference_finish_tone(x[b : b + 1], None, e).mean(axis=-1).reshape(1, -1)
        return -_highlights(y, targets)[0]

    lit = np.zeros(len(x), bool) if small_input is None else lit_by_a_light(small_input, light)
    if whites is None and small_input is not None:
        whites = white_areas(small_input)
    share = np.ones(len(x)) if whites is None else white_share(whites)
    stops = np.zeros(len(x))
    for b in range(len(x)):
        if lit[b] or share[b] == 0 or short(b, 0.0) <= 0:
            continue
        lo, hi = 0.0, float(max_stops)
        if short(b, hi) > 0:
            stops[b] = hi
        else:
            while hi - lo > 0.005:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if short(b, mid) > 0 else (lo, mid)
            stops[b] = math.ceil(hi * 100 - 1e-9) / 100  # to 0.01 stop, never below the level
        if share[b] < 1:
            stops[b] = round(stops[b] * share[b], 2)
    return stops


def curve_slope(level, alpha, iterations: int) -> np.ndarray:
    """The slope of ``iterations`` LE steps of one ``alpha`` at ``level`` (arrays broadcast; float64).

    One step ``y + a y (1 - y)`` has slope ``1 + a (1 - 2 y)``; the steps' is
    their product along the way (:func:`skdce.curve_gain` for whole maps).
    """
    y = np.array(level, np.float64)
    a = np.asarray(alpha, np.float64)
    slope = np.ones(np.broadcast_shapes(y.shape, a.shape))
    for _ in range(iterations):
        slope *= 1 + a * (1 - 2 * y)
        y = y + a * y * (1 - y)
    return slope


def noise_limit(maps, small, sigma: float, iterations: int, limit: float | None = None) -> np.ndarray:
    """``(h, w)`` factors in (0, 1] for the positive alphas of ``maps`` that keep the noise they lift in bounds.

    Where the curves' slope at a region's level (the luminance of ``small``,
    the network's box-averaged copy) times the input's noise ``sigma``
    exceeds ``limit`` (:data:`NOISE_LIFT_LIMIT`), the mean of the region's
    alphas is lowered to the largest that stays within it (bisection), and
    all its channels' positive alphas are scaled alike, so the curves' colour
    balance is kept. A region whose signal sits in its noise (a night sky
    under a few lamps) then stays dark instead of turning into a grey, coloured
    grain; a clean dark photo (``sigma`` small) is not touched.

    Parameters
    ----------
    maps : (h, w, c) ndarray
        The finished alpha maps (one curve shared by the iterations).
    small : (h, w, c) ndarray
        The small copy they were estimated on, in [0, 1].
    sigma : float
        The input's noise level (:func:`~skdce.engine.stages.noise.filter_noise_level`), finite and >= 0;
        0: no limit.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.engine.stages.tone import noise_limit
    >>> maps, small = np.full((2, 2, 3), 0.8), np.full((2, 2, 3), 0.03)
    >>> noise_limit(maps, small, 0.001, 8).round(2).tolist()  # clean: the curves as they are
    [[1.0, 1.0], [1.0, 1.0]]
    >>> bool(noise_limit(maps, small, 0.05, 8).max() < 0.5)  # noisy: lifted far less
    True
    """
    check_real("sigma", sigma, lo=0, hint="the input's noise level; 0 for no limit.")
    limit = NOISE_LIFT_LIMIT if limit is None else limit
    a = np.asarray(maps, np.float64).mean(axis=-1)
    factor = np.ones(a.shape, np.float32)
    if sigma <= 0:
        return factor
    x = np.clip(np.asarray(small, np.float64).mean(axis=-1), 0.0, 1.0)
    most = limit / sigma
    over = (a > 0) & (curve_slope(x, np.maximum(a, 0.0), iterations) > most)
    if not over.any():
        return factor
    x, a_over = x[over], a[over]
    lo, hi = np.zeros_like(a_over), a_over.copy()
    for _ in range(30):  # the slope grows with alpha at any level below 1/2 (where it can exceed 1)
        mid = 0.5 * (lo + hi)
        within = curve_slope(x, mid, iterations) <= most
        lo, hi = np.where(within, mid, lo), np.where(within, hi, mid)
    factor[over] = lo / a_over
    return factor


def total_exposure(exposure: float, stops):
    """The stops :func:`finish_tone` applies: the user's ``exposure`` plus auto exposure's ``stops`` (a number,
    an ``(N,)`` array, or None for none), kept in :data:`EXPOSURE_RANGE`."""
    if stops is None:
        return exposure
    total = np.clip(exposure + np.asarray(stops, np.float64), *EXPOSURE_RANGE)
    return float(total) if total.ndim == 0 else total


def lit_by_a_light(small_input, light: float | None = None) -> np.ndarray:
    """``(N,)`` whether each ``(N, h, w, C)`` small input holds a light of its own: its brightest luminance at
    least ``light`` (:data:`AUTO_EXPOSURE_LIGHT` by default) times its median (:func:`auto_exposure` adds
    nothing to such a scene)."""
    light = AUTO_EXPOSURE_LIGHT if light is None else light
    x = np.asarray(small_input, np.float64)
    y = x.mean(axis=-1).reshape(len(x), -1)
    return y.max(axis=1) >= light * np.maximum(np.median(y, axis=1), 1e-3)


def white_size(h: int, w: int) -> tuple[int, int]:
    """The ``(h, w)`` of :func:`white_areas`' box copy of an ``h`` x ``w`` image (the image's own, if smaller)."""
    return small_size(h, w, max(1.0, max(h, w) / WHITE_SIZE))


def white_areas(copy) -> np.ndarray:
    """``(N,)`` the share of each image that is white: the mean over its ``(N, h, w, C)`` box copy at
    :func:`white_size` of how white each box's luminance (channel mean) is, 0 below
    :data:`AUTO_EXPOSURE_WHITE`'s ramp, 1 above it, linear across its :data:`WHITE_RAMP`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.engine.stages.tone import white_areas
    >>> x = np.full((1, 100, 100, 3), 0.25); x[0, :4, :4] = 1.0  # a white lamp: 0.16% of the picture
    >>> white_areas(x).round(5).tolist()
    [0.0016]
    >>> x[0, :4, :4] = 0.9  # at the level: counted half
    >>> white_areas(x).round(5).tolist()
    [0.0008]
    """
    y = np.asarray(copy, np.float32).mean(axis=-1, dtype=np.float64).reshape(len(copy), -1)
    bottom = AUTO_EXPOSURE_WHITE - 0.5 * WHITE_RAMP
    return np.clip((y - bottom) / WHITE_RAMP, 0.0, 1.0).mean(axis=1)


def white_share(areas) -> np.ndarray:
    """``(N,)`` the share of auto exposure's stops that inputs with white :func:`white_areas` ``areas`` keep: 1 up
    to the first :data:`WHITE_AREA`, 0 from the second, linear between.

    Examples
    --------
    >>> from skdce.engine.stages.tone import white_share
    >>> white_share([0.0, 0.0005, 0.001, 0.002, 0.01]).round(3).tolist()
    [1.0, 1.0, 0.667, 0.0, 0.0]
    """
    lo, hi = WHITE_AREA
    return np.clip((hi - np.asarray(areas, np.float64)) / (hi - lo), 0.0, 1.0)


def exposure_slope(exposure: float, level: float = 0.0) -> float:
    """The slope at ``level`` of :func:`exposure_alphas`'s steps: how much they stretch the noise there.

    At black (the default) it is the largest, ``prod(1 + a)``, for a positive exposure.
    """
    y, slope = float(level), 1.0
    for a in exposure_alphas(exposure):
        slope *= 1 + a * (1 - 2 * y)
        y = y + a * y * (1 - y)
    return slope


def exposure_alphas(exposure: float) -> list[float]:
    """Uniform alphas of the LE steps that move middle grey by ``exposure`` stops.

    One step per started stop; step ``i`` takes middle grey from
    ``(0.18 * 2 ** (e * i / k)) ** (1 / 2.2)`` to the next such level exactly
    (``LE(m) = m + a * m * (1 - m)`` solved for ``a``), so every alpha lies in
    [-1, 1] and the curve stays monotonic.

    Examples
    --------
    >>> from skdce.tone import exposure_alphas
    >>> exposure_alphas(0.0)
    []
    >>> [round(a, 3) for a in exposure_alphas(1.0)]
    [0.684]
    """
    e = check_real("exposure", exposure, lo=EXPOSURE_RANGE[0], hi=EXPOSURE_RANGE[1])
    k = math.ceil(abs(e))
    levels = [(MIDDLE_GREY * 2 ** (e * i / k)) ** (1 / _GAMMA) for i in range(k + 1)] if k else []
    return [(m1 - m0) / (m0 * (1 - m0)) for m0, m1 in zip(levels, levels[1:])]


#: Rows per task of :func:`finish_tone` (a few MiB of float32 RGB at camera widths).
_ROWS = 64


def _as_float64(value, name: str) -> np.ndarray:
    """``np.asarray(value, np.float64)``, with a ``TypeError`` naming ``name`` for what is not numbers."""
    try:
        return np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be numbers (an array_like of floats).") from None


def finish_tone(image: np.ndarray, lift=None, exposure: float = 0.0, *, num_threads=None) -> np.ndarray:
    """Take the black's lift out and apply the exposure steps, in place.

    Parameters
    ----------
    image : (N, H, W, C) ndarray
        Enhanced images in [0, 1], float32 or float64 (modified in place).
    lift : (N, C) array_like, optional
        From :func:`black_lift`; None leaves the black point alone.
    exposure : float or (N,) array_like, optional
        Stops at middle grey (:func:`exposure_alphas`), one for all images or
        one each; 0 changes nothing.
    num_threads : int, optional
        Worker threads (row bands run side by side).

    Returns
    -------
    ndarray
        ``image``.
    """
    if not isinstance(image, np.ndarray):
        check_image_arg(image, "image", "finish_tone")
        raise TypeError(f"image is a {type(image).__name__}; finish_tone works in place on an ndarray: pass "
                        f"x = np.asarray(image, np.float32) and use x (or the array it returns).")
    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"image has dtype {image.dtype}; finish_tone works in place on float32 or float64 images "
                        f"in [0, 1] (e.g. image.astype(np.float32) / 255 for uint8, or the result of apply_le_curves).")
    if image.ndim != 4:
        raise ValueError(f"image has shape {image.shape}; finish_tone takes a batch (N, H, W, C) (for one "
                         f"(H, W, C) image pass image[None]).")
    if not image.flags.writeable:
        raise ValueError("image is read-only; finish_tone works in place and needs a writable array: pass "
                         "image.copy() (or np.array(image)) and use the array it returns.")
    n, h = image.shape[:2]
    stops = _as_float64(exposure, "exposure")
    if stops.shape not in ((), (1,), (n,)):
        raise ValueError(f"exposure has shape {stops.shape}; finish_tone takes one number for all {n} images or "
                         f"one per image, shape ({n},).")
    stops = np.broadcast_to(stops, (n,))
    alphas = [exposure_alphas(float(e)) for e in stops]
    if lift is None and not any(alphas):
        return image
    dt = image.dtype.type
    if lift is not None:
        lift = _as_float64(lift, "lift")
        if lift.shape != (n, image.shape[-1]):
            raise ValueError(f"lift has shape {lift.shape}; finish_tone takes an (N, C) = {(n, image.shape[-1])} "
                             f"array, one row per image (for one image's model_black_lift(x), pass it as lift[None]).")
        if not np.all((lift >= 0) & (lift < 1)):
            raise ValueError(f"lift must hold values in [0, 1) (the lift of each channel's black, from black_lift or "
                             f"model_black_lift); got {lift.tolist()}.")
        scale = (1.0 / (1.0 - lift)).astype(image.dtype)
        shift = (-lift / (1.0 - lift)).astype(image.dtype)

    def band(task):
        b, r0 = task
        y = image[b, r0 : r0 + _ROWS]
        if lift is not None and np.any(lift[b] > 0):
            np.multiply(y, scale[b], out=y)
            np.add(y, shift[b], out=y)
            np.maximum(y, dt(0), out=y)
        if alphas[b]:
            t = np.empty_like(y)
            for a in alphas[b]:  # y += a * y * (1 - y)
                np.subtract(dt(1), y, out=t)
                np.multiply(t, y, out=t)
                np.multiply(t, dt(a), out=t)
                np.add(y, t, out=y)
            np.clip(y, dt(0), dt(1), out=y)

    run_tasks(band, [(b, r0) for b in range(n) for r0 in range(0, h, _ROWS)], num_threads)
    return image


def noise_stretch(lift, stops: float = 0.0) -> float:
    """How much :func:`finish_tone` stretches an image's noise: ``1 / (1 - d)`` times :func:`exposure_slope`.

    ``d`` is the largest lift (the black point's stretch), ``stops`` the
    exposure steps after it. The denoiser removes that much more, so that the
    noise per unit of brightness does not grow with the black point (darkened photos,
    ``benchmarks/eval_darkened.py``: 0.0366 without, 0.0293 with, against
    0.0299 of the previous default) or the exposure. ``lift`` None (no black point): 1.
    """
    stretch = 1.0 if lift is None else float(1.0 / (1.0 - np.max(lift)))
    return stretch * (exposure_slope(stops) if stops > 0 else 1.0)


def reference_finish_tone(image, lift=None, exposure=0.0) -> np.ndarray:
    """The oracle: :func:`finish_tone` in float64 on a copy, formula by formula."""
    y = np.array(image, np.float64)
    if lift is not None:
        d = np.asarray(lift, np.float64)[:, None, None, :]
        y = np.maximum((y - d) / (1 - d), 0)
    for b, e in enumerate(np.broadcast_to(np.asarray(exposure, np.float64), (len(y),))):
        for a in exposure_alphas(float(e)):
            y[b] = y[b] + a * y[b] * (1 - y[b])
    return np.clip(y, 0, 1)


# ---- the torch twins (skdce.train) ----


def torch_black_lift(small, small_enhanced):
    """``(N, C)`` :func:`black_lift` of NCHW tensors (``torch.quantile`` interpolates linearly, as NumPy)."""
    import torch

    n, c = small.shape[:2]
    before = torch.quantile(small.reshape(n, c, -1), BLACK_QUANTILE, dim=2)
    after = torch.quantile(small_enhanced.reshape(n, c, -1), BLACK_QUANTILE, dim=2)
    return (after - before).clamp(0.0, MAX_LIFT)


def torch_remove_lift(image, lift):
    """``(y - d) / (1 - d)`` per channel, floored at 0: the lifted black back to black, white kept."""
    d = lift[:, :, None, None]
    return ((image - d) / (1.0 - d)).clamp(min=0.0)
