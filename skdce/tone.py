"""The tone stages after the curves: the black point and the exposure control.

Both are global per image and cheap: an affine map per channel and a few
uniform curve steps, applied in place to the enhanced image.

* **Black point.** The LE curve maps 0 to 0, but its slope there is
  ``(1 + a) ** 8``: the near-blacks of a dark photo (its noise floor, the
  shadows of a black cabinet) are lifted into a grey haze, and unequally per
  channel, so they turn olive. :func:`black_lift` measures how far the curves
  lifted each channel's black (the 1st percentile) on the small, box-averaged
  copy the network saw, where the noise is averaged away: the scene's black,
  not its noise. :func:`finish_tone` takes that lift back out,
  ``(y - d) / (1 - d)``, so the black stays where the scene had it and white
  stays white. A well-exposed photo, whose curves are near the identity, is
  left as it is. Models trained with it (``black_point`` in their manifest
  entry) saw the same step in training (:func:`skdce.train.model.lift_torch`).
* **Exposure.** ``exposure="auto"`` keeps the model's choice; a number ``e``
  asks for ``e`` stops more (or less) at middle grey. It is applied as more
  LE steps with one uniform alpha each (:func:`exposure_alphas`), so the
  result stays monotonic, in [0, 1], with black at 0 and white at 1.
"""

from __future__ import annotations

import math

import numpy as np

from ._base.validate import check_real
from .engine.workers import run_tasks

__all__ = ["BLACK_QUANTILE", "MIDDLE_GREY", "EXPOSURE_RANGE", "black_lift", "model_black_lift", "exposure_alphas",
           "finish_tone", "check_exposure"]

#: The tone that stands for the scene's black: each channel's 1st percentile.
BLACK_QUANTILE = 0.01
#: 18% reflectance in linear light, the photographer's middle grey (0.459 in sRGB).
MIDDLE_GREY = 0.18
_GAMMA = 2.2
#: Exposure changes allowed, in stops: +2 takes middle grey to 0.72 in linear light.
EXPOSURE_RANGE = (-4.0, 2.0)


def check_exposure(exposure) -> float:
    """``"auto"`` -> 0.0 (the model's exposure), else a number of stops in :data:`EXPOSURE_RANGE`."""
    if isinstance(exposure, str) and exposure == "auto":
        return 0.0
    lo, hi = EXPOSURE_RANGE
    return check_real("exposure", exposure, lo=lo, hi=hi, hint="'auto' keeps the model's exposure; a number asks "
                      "for that many stops brighter (positive) or darker (negative) at middle grey.")


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
    return np.clip(after - before, 0.0, 0.5)


def model_black_lift(image, *, model=None, strength=1.0, channel_axis=-1, providers="auto", num_threads=None):
    """``(C,)`` the lift :func:`skdce.enhance` takes out of ``image``'s blacks (zeros for models without it).

    For pipelines that apply the curves themselves (:mod:`skdce.video`):
    ``finish_tone(apply_le_curves(x, a)[None], model_black_lift(x)[None])``
    is what ``enhance(x, denoise=0)`` returns. Costs one run of the network on
    the model's small copy of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.tone import model_black_lift
    >>> lift = model_black_lift(np.full((32, 48, 3), 0.05, np.float32))
    >>> lift.shape, bool(np.all(lift >= 0))
    ((3,), True)
    """
    from .engine.host import _Prepared

    p = _Prepared(image, model, channel_axis, providers, num_threads, None, "auto", strength)
    if p.src.shape[0] != 1:
        raise ValueError(f"image has shape {np.shape(image)}; model_black_lift takes one image, not a batch.")
    if not (p.shared and p.info.black_point):
        return np.zeros(p.n_color)
    p.small_maps()
    return p.lifts[0]


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


def finish_tone(image: np.ndarray, lift=None, exposure: float = 0.0, *, num_threads=None) -> np.ndarray:
    """Take the black's lift out and apply the exposure steps, in place.

    Parameters
    ----------
    image : (N, H, W, C) ndarray
        Enhanced images in [0, 1], float32 or float64 (modified in place).
    lift : (N, C) array_like, optional
        From :func:`black_lift`; None leaves the black point alone.
    exposure : float, optional
        Stops at middle grey (:func:`exposure_alphas`); 0 changes nothing.
    num_threads : int, optional
        Worker threads (row bands run side by side).

    Returns
    -------
    ndarray
        ``image``.
    """
    alphas = exposure_alphas(exposure)
    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"image has dtype {image.dtype}; finish_tone works in place on float32 or float64 images "
                        f"in [0, 1] (e.g. image.astype(np.float32) / 255 for uint8, or the result of apply_le_curves).")
    if lift is None and not alphas:
        return image
    n, h = image.shape[:2]
    dt = image.dtype.type
    if lift is not None:
        lift = np.asarray(lift, np.float64)
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
        if alphas:
            t = np.empty_like(y)
            for a in alphas:  # y += a * y * (1 - y)
                np.subtract(dt(1), y, out=t)
                np.multiply(t, y, out=t)
                np.multiply(t, dt(a), out=t)
                np.add(y, t, out=y)
            np.clip(y, dt(0), dt(1), out=y)

    run_tasks(band, [(b, r0) for b in range(n) for r0 in range(0, h, _ROWS)], num_threads)
    return image
