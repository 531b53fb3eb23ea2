"""Stage: the tone steps after the curves (black point, exposure); their one home.

Both are global per image and cheap: an affine map per channel and a few
uniform curve steps, applied in place to the enhanced image
(:mod:`skdce.tone` explains them to users and is their public face).
Side by side:

* the host code: :func:`black_lift` (measured on the network's small copy),
  :func:`exposure_alphas` and :func:`finish_tone`;
* the torch twins used in training: :func:`torch_black_lift`, :func:`torch_remove_lift`;
* the float64 oracle: :func:`reference_finish_tone`.

No ONNX builder: the fused graph's output is finished on the host (a few
passes over the result, as on the host path).
"""

from __future__ import annotations

import math

import numpy as np

from ..._base.validate import check_real
from ..workers import run_tasks

__all__ = ["BLACK_QUANTILE", "MIDDLE_GREY", "EXPOSURE_RANGE", "black_lift", "exposure_alphas", "finish_tone",
           "noise_stretch", "reference_finish_tone", "torch_black_lift", "torch_remove_lift"]

#: The tone that stands for the scene's black: each channel's 1st percentile.
BLACK_QUANTILE = 0.01
#: 18% reflectance in linear light, the photographer's middle grey (0.459 in sRGB).
MIDDLE_GREY = 0.18
_GAMMA = 2.2
#: Exposure changes allowed, in stops: +2 takes middle grey to 0.72 in linear light.
EXPOSURE_RANGE = (-4.0, 2.0)
#: The largest lift taken out of a channel's black.
MAX_LIFT = 0.5


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


def noise_stretch(lift) -> float:
    """How much :func:`finish_tone` stretches an image's noise at most: ``1 / (1 - d)``, ``d`` its largest lift.

    The denoiser removes that much more, so that the noise per unit of
    brightness does not grow with the black point (darkened photos,
    ``benchmarks/eval_darkened.py``: 0.0366 without, 0.0293 with, against
    0.0299 of the previous default). ``lift`` None (no black point): 1.
    """
    return 1.0 if lift is None else float(1.0 / (1.0 - np.max(lift)))


def reference_finish_tone(image, lift=None, exposure: float = 0.0) -> np.ndarray:
    """The oracle: :func:`finish_tone` in float64 on a copy, formula by formula."""
    y = np.array(image, np.float64)
    if lift is not None:
        d = np.asarray(lift, np.float64)[:, None, None, :]
        y = np.maximum((y - d) / (1 - d), 0)
    for a in exposure_alphas(exposure):
        y = y + a * y * (1 - y)
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
