"""The non-reference losses of Zero-DCE as NumPy functions: four terms, their variants, their weighted sum.

The four terms of the paper are :func:`spatial_consistency_loss`,
:func:`exposure_control_loss`, :func:`color_constancy_loss` and
:func:`illumination_smoothness_loss`. skdce adds variants of two of them: an
exposure term toward a target derived from the input
(:func:`exposure_target`, :func:`adaptive_exposure_loss`) and colour terms
weighted by how dark the input was (:func:`adaptive_color_loss`,
:func:`prior_color_loss`). :func:`zero_reference_loss` is the weighted sum of
one term of each kind.

These are the *oracle*: they compute in float64 and follow the definitions of
the reference implementation released with the paper [1]_, which differ from
the paper's equations in places (each docstring says where). The torch twins
in :mod:`skdce.train.losses` are tested equal to them.

Images are channel-last by default, ``(H, W, 3)`` or batches ``(N, H, W, 3)``,
float in [0, 1] or unsigned integer (scaled by the dtype's maximum). Batches are
averaged the way the reference does.

References
----------
.. [1] C. Guo, C. Li, J. Guo, C. C. Loy, J. Hou, S. Kwong, R. Cong,
   "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement",
   CVPR 2020.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ._base.image import check_unit_range, compute_dtype, image_layout, to_float
from ._base.validate import check_image_arg, check_int, check_real

__all__ = [
    "DEFAULT_WEIGHTS",
    "LossTerms",
    "spatial_consistency_loss",
    "exposure_control_loss",
    "exposure_target",
    "adaptive_exposure_loss",
    "color_constancy_loss",
    "adaptive_color_loss",
    "prior_color_loss",
    "COLOR_PRIOR",
    "illumination_smoothness_loss",
    "zero_reference_loss",
]

#: Weights of the reference implementation (Zero-DCE): the total is
#: ``spatial*L_spa + exposure*L_exp + color*L_col + smoothness*L_tvA``.
DEFAULT_WEIGHTS = {"spatial": 1.0, "exposure": 10.0, "color": 5.0, "smoothness": 200.0}


class LossTerms(NamedTuple):
    """The weighted total and its four weighted terms."""

    total: float
    spatial: float
    exposure: float
    color: float
    smoothness: float


def _rgb64(image, name: str, channel_axis) -> np.ndarray:
    """Return ``image`` as float64 ``(N, H, W, 3)``."""
    check_image_arg(image, name, "skdce.losses")
    arr = np.asarray(image)
    layout = image_layout(arr, channel_axis, name)
    if layout.n_channels != 3:
        raise ValueError(
            f"{name} has {layout.n_channels} channels; the losses take RGB images with 3 channels "
            f"(drop an alpha channel, or stack a gray image to RGB with np.repeat(gray[..., None], 3, -1))."
        )
    return layout.to_nhwc(to_float(arr, name)).astype(np.float64)


def _pair64(enhanced, original, channel_axis) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_rgb64` of an output and its input, which must have the same shape."""
    e = _rgb64(enhanced, "enhanced", channel_axis)
    o = _rgb64(original, "original", channel_axis)
    if e.shape != o.shape:
        raise ValueError(f"enhanced and original must have the same shape, got {e.shape} and {o.shape}.")
    return e, o


def _pool(gray: np.ndarray, size: int, name: str, size_name: str = "patch_size") -> np.ndarray:
    """Average ``(N, H, W)`` over non-overlapping ``size x size`` patches (floor, like AvgPool2d)."""
    n, h, w = gray.shape
    size = check_int(size_name, size, min=1, hint="e.g. 16.")
    if h < size or w < size:
        raise ValueError(
            f"{name} is {h}x{w} pixels, smaller than one {size}x{size} patch; "
            f"pass a larger image or a smaller patch size."
        )
    hh, ww = h // size, w // size
    return gray[:, : hh * size, : ww * size].reshape(n, hh, size, ww, size).mean(axis=(2, 4))


def spatial_consistency_loss(enhanced, original, *, pool_size=4, channel_axis=-1) -> float:
    """Spatial consistency loss ``L_spa``: keep the contrast between neighbouring regions.

    Parameters
    ----------
    enhanced, original : (H, W, 3) or (N, H, W, 3) ndarray
        The enhanced image and the input it came from, same shape.
    pool_size : int, optional
        Side of the averaged regions (4 in the reference).
    channel_axis : int, optional
        Axis of the colour channels.

    Returns
    -------
    float
        The loss.

    Notes
    -----
    Both images are averaged over channels and over ``pool_size`` square regions
    (remainders dropped). With ``D = Y - I`` the difference of the pooled
    enhanced and original images, the loss is the mean over regions ``i`` of
    ``sum_j (D_i - D_j)**2`` over the four neighbours ``j``.

    Differences from the paper's equation (3), following the reference code:
    the signed differences are compared, not their absolute values
    (``((Y_i - Y_j) - (I_i - I_j))**2`` instead of ``(|Y_i - Y_j| - |I_i - I_j|)**2``),
    and the region grid is zero-padded, so a border region's missing neighbour
    counts as a region of value 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import spatial_consistency_loss
    >>> img = np.full((8, 8, 3), 0.2)
    >>> spatial_consistency_loss(img, img)
    0.0
    """
    e, o = _pair64(enhanced, original, channel_axis)
    d = _pool(e.mean(axis=-1), pool_size, "enhanced", "pool_size") - _pool(o.mean(axis=-1), pool_size, "original",
                                                                          "pool_size")
    p = np.pad(d, ((0, 0), (1, 1), (1, 1)))
    h, w = d.shape[1:]
    total = np.zeros_like(d)
    for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
        total += (d - p[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]) ** 2
    return float(total.mean())


def exposure_control_loss(enhanced, *, level=0.6, patch_size=16, channel_axis=-1) -> float:
    """Exposure control loss ``L_exp``: pull patch means toward a well-exposed level.

    Parameters
    ----------
    enhanced : (H, W, 3) or (N, H, W, 3) ndarray
        The enhanced image.
    level : float, optional
        The well-exposedness level ``E`` (0.6 in the paper).
    patch_size : int, optional
        Side of the non-overlapping patches (16 in the paper).
    channel_axis : int, optional
        Axis of the colour channels.

    Returns
    -------
    float
        The loss.

    Notes
    -----
    ``mean_k (Y_k - E)**2`` over the ``patch_size`` square patches ``k`` of the
    channel-averaged image (remainders dropped). The paper's equation (4) uses
    ``|Y_k - E|``; the reference code squares the difference, as here.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import exposure_control_loss
    >>> round(exposure_control_loss(np.full((16, 16, 3), 0.5)), 6)
    0.01
    """
    level = check_real("level", level, hint="e.g. 0.6.")
    e = _rgb64(enhanced, "enhanced", channel_axis)
    return float(((_pool(e.mean(axis=-1), patch_size, "enhanced") - level) ** 2).mean())


def _context64(context, image: np.ndarray) -> np.ndarray:
    """``context`` as float64 ``(N, H, W)`` in [0, 1], checked against the ``(N, H, W, 3)`` image it describes.

    The dtype policy of images: unsigned integers are scaled by their maximum,
    floats must be finite and in [0, 1]; other dtypes raise ``TypeError``.
    """
    check_image_arg(context, "context", "skdce.losses")
    ctx = np.asarray(context)
    dtype = compute_dtype(ctx.dtype, "context")
    if ctx.dtype.kind == "u":  # as to_float scales images
        ctx = ctx.astype(dtype) * dtype.type(1.0 / np.iinfo(ctx.dtype).max)
    else:
        check_unit_range(ctx, "context", fix="a context is a brightness in [0, 1]; compute it with "
                                              "skdce.illumination_context(original).")
    ctx = ctx.astype(np.float64)
    ctx = ctx[None] if ctx.ndim == 2 else ctx
    if ctx.shape != image.shape[:3]:
        raise ValueError(f"context has shape {np.shape(context)}; it must match the image's {image.shape[1:3]} pixels.")
    return ctx


def _check_levels(level, level_high, knee=None) -> None:
    """``0 < level < level_high < 1`` and, unless None, ``0 < knee < level``."""
    hint = "the levels must satisfy 0 < level < level_high < 1."
    level = check_real("level", level, lo=0, hi=1, lo_open=True, hi_open=True, hint=hint)
    check_real("level_high", level_high, lo=level, hi=1, lo_open=True, hi_open=True, hint=hint)
    if knee is not None:
        check_real("knee", knee, lo=0, hi=level, lo_open=True, hi_open=True,
                   hint=f"0 < knee < level={level!r}, or None (a hard knee at level).")


COLOR_TERMS = ("grey-world", "adaptive", "prior")


def _check_color(color, context) -> None:
    if color not in COLOR_TERMS:
        raise ValueError(f"color={color!r} is unknown; use one of {COLOR_TERMS}.")
    if color in ("adaptive", "prior") and context is None:
        raise ValueError(f"color={color!r} weighs each image by its darkness: pass the input's context too.")


def _lift_gamma(c, level, level_high, knee, xp):
    """Per-patch exponent of :func:`exposure_target` (``xp``: numpy or torch, so both twins share one formula)."""
    if knee is None:
        lifted = level
    else:  # soft knee: full lift below ``knee``, fading (quadratically) to none at ``level``
        w = xp.clip((level - c) / (level - knee), 0.0, 1.0) ** 2
        lifted = c + (level - c) * w
    return xp.where(
        c < level, xp.log(lifted + 0 * c) / xp.log(c),
        xp.where(c > level_high, np.log(level_high) / xp.log(c), 1.0 + 0 * c),
    )


def exposure_target(original, context, *, level=0.43, level_high=0.7, patch_size=16, channel_axis=-1,
                    knee=None) -> np.ndarray:
    """The exposure each patch should reach, derived from the input alone.

    Parameters
    ----------
    original : (H, W, 3) or (N, H, W, 3) ndarray
        The input image.
    context : (H, W) or (N, H, W) ndarray
        Its illumination context in [0, 1] (:func:`skdce.illumination_context`):
        how bright the surroundings of each pixel are. Float in [0, 1] or
        unsigned integer (scaled by its dtype's maximum), as images.
    level, level_high : float, optional
        The well-exposed range ``[level, level_high]``.
    patch_size : int, optional
        Side of the non-overlapping patches.
    channel_axis : int, optional
        Axis of the colour channels of ``original``.
    knee : float, optional
        Where the lift starts to fade. ``None`` (the default): every patch
        with ``c < level`` is lifted all the way to ``level``. With
        ``0 < knee < level``, surroundings darker than ``knee`` are lifted
        to ``level`` and those between ``knee`` and ``level`` only part of the
        way, ``c + (level - c) * w`` with ``w = ((level - c) / (level -
        knee)) ** 2``, so a dim but well-exposed photo is barely changed.

    Returns
    -------
    (N, H // patch_size, W // patch_size) ndarray
        Target mean of each patch of the channel-averaged image.

    Notes
    -----
    With ``m`` a patch's input mean and ``c`` its mean context, the target is
    ``m ** gamma``: ``gamma = log(level) / log(c)`` where ``c < level`` (dark
    surroundings are lifted so that their level reaches ``level``, the
    darker parts of the patch more than the brighter: a tone curve, not a
    flat fill), ``log(level_high) / log(c)`` where ``c > level_high``
    (over-exposed surroundings are lowered), and 1 in between: a
    well-exposed region is its own target. Zero-DCE's exposure loss pulls
    every patch to one level, which is what makes a network trained with it
    blow out good photos and flatten mixed lighting.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import exposure_target
    >>> img = np.full((16, 16, 3), 0.5)
    >>> float(exposure_target(img, np.full((16, 16), 0.5))[0, 0, 0])  # well exposed: kept
    0.5
    >>> dark = np.full((16, 16, 3), 0.1)
    >>> round(float(exposure_target(dark, np.full((16, 16), 0.1), level=0.43)[0, 0, 0]), 6)
    0.43
    """
    _check_levels(level, level_high, knee)
    return _exposure_target(_rgb64(original, "original", channel_axis), context, level, level_high, patch_size, knee)


def _exposure_target(o: np.ndarray, context, level, level_high, patch_size, knee) -> np.ndarray:
    """:func:`exposure_target` of the float64 ``(N, H, W, 3)`` input ``o`` (levels already checked)."""
    ctx = _context64(context, o)
    m = np.clip(_pool(o.mean(axis=-1), patch_size, "original"), 1e-4, 1.0)
    c = np.clip(_pool(ctx, patch_size, "context"), 1e-3, 0.999)
    return m ** _lift_gamma(c, level, level_high, knee, np)


def adaptive_exposure_loss(enhanced, original, context, *, level=0.43, level_high=0.7, patch_size=16,
                           channel_axis=-1, knee=None) -> float:
    """Exposure control toward :func:`exposure_target`: ``mean_k (Y_k - T_k)**2``.

    Parameters are those of :func:`exposure_target`, plus ``enhanced`` (the
    output, of the same shape as ``original``). No reference image enters: the
    target is a function of the input and its context.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import adaptive_exposure_loss
    >>> img = np.full((16, 16, 3), 0.5)
    >>> adaptive_exposure_loss(img, img, np.full((16, 16), 0.5))
    0.0
    """
    _check_levels(level, level_high, knee)
    e, o = _pair64(enhanced, original, channel_axis)
    target = _exposure_target(o, context, level, level_high, patch_size, knee)
    return float(((_pool(e.mean(axis=-1), patch_size, "enhanced") - target) ** 2).mean())


def color_constancy_loss(enhanced, *, channel_axis=-1) -> float:
    """Colour constancy loss ``L_col``: the grey-world assumption.

    Parameters
    ----------
    enhanced : (H, W, 3) or (N, H, W, 3) ndarray
        The enhanced image.
    channel_axis : int, optional
        Axis of the colour channels.

    Returns
    -------
    float
        The loss, averaged over the batch.

    Notes
    -----
    With ``J_p`` the mean of channel ``p`` over the image, the loss of one image is
    ``sqrt((J_R - J_G)**4 + (J_R - J_B)**4 + (J_G - J_B)**4)``. The paper's
    equation (5) sums the squared differences ``(J_p - J_q)**2`` without a square
    root; the reference code raises them to the 4th power and takes the square
    root, as here.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import color_constancy_loss
    >>> img = np.zeros((4, 4, 3)); img[..., 0] = 0.5
    >>> round(color_constancy_loss(img), 6)
    0.353553
    """
    m = _rgb64(enhanced, "enhanced", channel_axis).mean(axis=(1, 2))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    return float(np.sqrt((r - g) ** 4 + (r - b) ** 4 + (g - b) ** 4).mean())


#: The sRGB transfer approximated as a power law, as :func:`skdce.data.darken` does.
SRGB_GAMMA = 2.2


def _check_darkness_level(level) -> float:
    """The ``level`` of the colour terms: in (0, 1), as :func:`exposure_target`'s (0 would divide by zero)."""
    return check_real("level", level, lo=0, hi=1, lo_open=True, hi_open=True,
                      hint="the exposure level of exposure_target, e.g. 0.43.")


def _grey_world_terms(means):
    r, g, b = means[:, 0], means[:, 1], means[:, 2]
    return (r - g) ** 4 + (r - b) ** 4 + (g - b) ** 4


def adaptive_color_loss(enhanced, context, *, level=0.43, channel_axis=-1) -> float:
    """Grey world in linear light, weighted by how dark the input was.

    Parameters
    ----------
    enhanced : (H, W, 3) or (N, H, W, 3) ndarray
        The enhanced image (sRGB values in [0, 1]).
    context : (H, W) or (N, H, W) ndarray
        The input's illumination context (as in :func:`exposure_target`).
    level : float, optional
        The exposure level of :func:`exposure_target`, in (0, 1): a context
        mean at or above it counts as well exposed (darkness 0).
    channel_axis : int, optional
        Axis of the colour channels of ``enhanced``.

    Returns
    -------
    float
        The loss, averaged over the batch.

    Notes
    -----
    :func:`color_constancy_loss` applies the grey-world assumption to the
    sRGB values of every image. Two things are wrong with that for inputs of
    many exposures: the assumption is about light, so the channel means are
    taken in linear light (``J_p = mean(enhanced_p ** 2.2)``); and a
    well-exposed photo's colour is the photographer's, not a cast to remove,
    so each image's term is weighted by its darkness
    ``d = clip(1 - mean(context) / level, 0, 1)``: ``d * sqrt(sum (J_p - J_q)**4)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import adaptive_color_loss
    >>> red = np.zeros((4, 4, 3)); red[..., 0] = 0.5
    >>> adaptive_color_loss(red, np.full((4, 4), 0.5))  # well exposed: its colour is kept
    0.0
    >>> round(adaptive_color_loss(red, np.zeros((4, 4))), 6)  # dark: pulled to grey
    0.066986
    """
    level = _check_darkness_level(level)
    e = _rgb64(enhanced, "enhanced", channel_axis)
    ctx = _context64(context, e)
    darkness = np.clip(1.0 - ctx.mean(axis=(1, 2)) / level, 0.0, 1.0)
    means = (np.clip(e, 0.0, 1.0) ** SRGB_GAMMA).mean(axis=(1, 2))
    return float((darkness * np.sqrt(_grey_world_terms(means))).mean())


#: A Gaussian prior on the log-chromaticity ``(log(R/G), log(B/G))`` of an image's
#: mean colour in linear light, fitted to 443 well-exposed photos (the 300 of
#: LOL's ``unpaired-normal/`` and the SICE photos with a mean in [0.3, 0.65]) by
#: ``benchmarks/fit_color_prior.py``: photographs are on average warm (red above
#: green, blue below it), not grey.
COLOR_PRIOR = {"mean": (0.0718, -0.1067), "cov": ((0.02072, -0.01166), (-0.01166, 0.04299))}


def _check_prior(prior) -> tuple[np.ndarray, np.ndarray]:
    prior = COLOR_PRIOR if prior is None else prior
    try:
        mean = np.asarray(prior["mean"], np.float64)
        cov = np.asarray(prior["cov"], np.float64)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"color_prior={prior!r} must be a mapping with 'mean' (2 numbers) and 'cov' (2x2).") from None
    if (mean.shape != (2,) or cov.shape != (2, 2) or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(cov))
            or abs(cov[0, 1] - cov[1, 0]) > 1e-9 * np.abs(cov).max()  # eigvalsh reads one triangle only
            or np.linalg.eigvalsh(cov)[0] <= 0):
        raise ValueError(f"color_prior={prior!r} needs a finite 2-vector 'mean' and a symmetric positive-definite "
                         f"2x2 'cov'.")
    return mean, np.linalg.inv(cov)


def prior_color_loss(enhanced, context, *, level=0.43, prior=None, channel_axis=-1) -> float:
    """The colour of well-exposed photos as a prior, weighted by how dark the input was.

    Parameters
    ----------
    enhanced : (H, W, 3) or (N, H, W, 3) ndarray
        The enhanced image (sRGB values in [0, 1]).
    context : (H, W) or (N, H, W) ndarray
        The input's illumination context (as in :func:`exposure_target`).
    level : float, optional
        The exposure level of :func:`exposure_target`, in (0, 1): a context
        mean at or above it counts as well exposed (darkness 0).
    prior : dict, optional
        ``{"mean": (2,), "cov": (2, 2)}``, the Gaussian of the log-chromaticity;
        default :data:`COLOR_PRIOR`.
    channel_axis : int, optional
        Axis of the colour channels of ``enhanced``.

    Returns
    -------
    float
        The loss, averaged over the batch.

    Notes
    -----
    With ``J`` the channel means in linear light (``mean(enhanced ** 2.2)``)
    and ``u = (log(J_R / J_G), log(J_B / J_G))``, the term is the squared
    Mahalanobis distance ``d * (u - mu)^T S^-1 (u - mu) / 2`` to the prior,
    weighted as :func:`adaptive_color_loss` by the input's darkness ``d``.
    Grey world (``mu = 0``, isotropic) pulls every dark scene to grey and
    leaves warm indoor scenes green-cyan; the prior is learned from
    well-exposed photos, and its covariance lets a scene depart from the mean
    along the directions photos do (warm to cool) more than across them
    (green to magenta).

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import prior_color_loss
    >>> grey = np.full((4, 4, 3), 0.5)
    >>> prior_color_loss(grey, np.full((4, 4), 0.5))  # well exposed: its colour is kept
    0.0
    >>> round(prior_color_loss(grey, np.zeros((4, 4))), 4)  # dark and grey: a little too cool
    0.1847
    """
    mean, inv = _check_prior(prior)
    level = _check_darkness_level(level)
    e = _rgb64(enhanced, "enhanced", channel_axis)
    ctx = _context64(context, e)
    darkness = np.clip(1.0 - ctx.mean(axis=(1, 2)) / level, 0.0, 1.0)
    j = (np.clip(e, 0.0, 1.0) ** SRGB_GAMMA).mean(axis=(1, 2)) + 1e-6
    u = np.stack([np.log(j[:, 0] / j[:, 1]), np.log(j[:, 2] / j[:, 1])], axis=-1) - mean
    return float((darkness * 0.5 * np.einsum("ni,ij,nj->n", u, inv, u)).mean())


def illumination_smoothness_loss(alphas, *, channel_axis=-1) -> float:
    """Illumination smoothness loss ``L_tvA`` of the curve parameter maps.

    Parameters
    ----------
    alphas : (H, W, K) or (N, H, W, K) ndarray
        The alpha maps (K = 24 for Zero-DCE, 3 for Zero-DCE++): float, values
        in [-1, 1] (integer dtypes raise ``TypeError``, values outside
        [-1, 1], NaN and empty arrays ``ValueError``).
    channel_axis : int, optional
        Axis of the K maps.

    Returns
    -------
    float
        The loss.

    Notes
    -----
    ``2 * (sum(dy**2) / ((H - 1) W) + sum(dx**2) / (H (W - 1))) / N``, with ``dy``
    and ``dx`` the vertical and horizontal differences of neighbouring alphas,
    summed over all K maps (the normalisation divides by the pixel count of one
    map only). The paper's equation (6) instead averages
    ``(|grad_x A| + |grad_y A|)**2`` over iterations and channels; the reference
    code computes the squared total variation with this scaling, as here.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import illumination_smoothness_loss
    >>> a = np.zeros((2, 2, 1)); a[1] = 1.0
    >>> illumination_smoothness_loss(a)
    2.0
    """
    return _smoothness(_alphas64(alphas, channel_axis))


def _alphas64(alphas, channel_axis) -> np.ndarray:
    """``alphas`` as float64 ``(N, H, W, K)``: float maps of at least 2x2 pixels, values finite and in [-1, 1]."""
    a = np.asarray(alphas)
    if a.dtype.kind != "f":
        raise TypeError(f"alphas has dtype {a.dtype}; pass a float array of alpha maps in [-1, 1] "
                        f"(the curve parameters a network outputs, not integers or an image).")
    if channel_axis is None or a.ndim not in (3, 4):
        raise ValueError(
            f"alphas has shape {a.shape}; pass (H, W, K) or (N, H, W, K) maps with channel_axis "
            f"naming the K axis."
        )
    channel_axis = check_int("channel_axis", channel_axis, hint="the axis of the K maps, e.g. -1.")
    if not -a.ndim <= channel_axis < a.ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for alphas with {a.ndim} dimensions; "
                         f"name the axis of the K maps, e.g. -1.")
    if a.size == 0:
        raise ValueError(f"alphas is empty (shape {a.shape}); pass at least one map of at least 2x2 pixels.")
    a = np.moveaxis(a, channel_axis, -1).astype(np.float64)
    if a.ndim == 3:
        a = a[None]
    n, h, w, _ = a.shape
    if h < 2 or w < 2:
        raise ValueError(f"alphas maps are {h}x{w}; the smoothness loss needs at least 2x2 pixels.")
    lo, hi = float(a.min()), float(a.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("alphas contains NaN or inf; pass finite alpha maps in [-1, 1].")
    if lo < -1 or hi > 1:
        raise ValueError(f"alphas has values in [{lo:.6g}, {hi:.6g}], outside [-1, 1]; pass the curve parameters "
                         f"(tanh outputs in [-1, 1]), not scaled or integer maps.")
    return a


def _smoothness(a: np.ndarray) -> float:
    """:func:`illumination_smoothness_loss` of checked float64 ``(N, H, W, K)`` maps."""
    n, h, w, _ = a.shape
    dh = ((a[:, 1:] - a[:, :-1]) ** 2).sum() / ((h - 1) * w)
    dw = ((a[:, :, 1:] - a[:, :, :-1]) ** 2).sum() / (h * (w - 1))
    return float(2 * (dh + dw) / n)


def _check_weights(weights) -> dict:
    """:data:`DEFAULT_WEIGHTS` updated by ``weights``: known keys, each a finite number >= 0 (kept as given)."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights={weights!r} ({type(weights).__name__}) must be a dict of loss weights, "
                        f"e.g. {{'smoothness': 100}}; valid keys are {sorted(DEFAULT_WEIGHTS)}.")
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"weights has unknown keys {sorted(unknown, key=repr)}; valid keys are "
                         f"{sorted(DEFAULT_WEIGHTS)}.")
    for key, value in weights.items():
        check_real(f"weights[{key!r}]", value, lo=0,
                   hint=f"a loss weight is a number >= 0 (default {DEFAULT_WEIGHTS[key]:g}; 0 drops the term).")
    return {**DEFAULT_WEIGHTS, **weights}


def _nhw(image, name: str, channel_axis) -> tuple:
    """The ``(N, H, W)`` of ``image`` in skdce's layouts (its shape only; the values are checked where used)."""
    check_image_arg(image, name, "skdce.losses")
    arr = np.asarray(image)
    return image_layout(arr, channel_axis, name).to_nhwc(arr).shape[:3]


def zero_reference_loss(
    enhanced,
    original,
    alphas,
    *,
    weights=None,
    level=0.6,
    patch_size=16,
    channel_axis=-1,
    context=None,
    level_high=0.7,
    knee=None,
    color="grey-world",
    color_prior=None,
) -> LossTerms:
    """The weighted training loss of Zero-DCE.

    Parameters
    ----------
    enhanced, original : (H, W, 3) or (N, H, W, 3) ndarray
        Enhanced image and its input.
    alphas : (H, W, K) or (N, H, W, K) ndarray
        The alpha maps that produced ``enhanced``, at its size (as
        :func:`illumination_smoothness_loss` takes them).
    weights : dict, optional
        Overrides of :data:`DEFAULT_WEIGHTS` (keys ``spatial``, ``exposure``,
        ``color``, ``smoothness``), each a finite number >= 0.
    level, patch_size : float, int, optional
        Passed to :func:`exposure_control_loss` (or :func:`adaptive_exposure_loss`).
        With ``context``, ``level`` (default 0.6) is passed to the adaptive
        exposure term and to the ``"adaptive"`` and ``"prior"`` colour terms
        too, whose own default is 0.43: pass ``level=0.43`` for theirs. The
        torch twin (``skdce.train.losses.zero_reference_loss``) and
        ``skdce.train.config.TrainConfig`` (``level = 0.6``) do the same.
    channel_axis : int, optional
        Axis of the channels of all three arrays.
    context : (H, W) or (N, H, W) ndarray, optional
        The input's illumination context: with it the exposure term is
        :func:`adaptive_exposure_loss` (skdce's models), without it the
        fixed-level :func:`exposure_control_loss` (the paper's).
    level_high, knee : float, optional
        Upper end of the well-exposed range and the lift's knee
        (:func:`exposure_target`; adaptive term only).
    color : {"grey-world", "adaptive", "prior"}, optional
        The colour term: :func:`color_constancy_loss` (the paper's),
        :func:`adaptive_color_loss` or :func:`prior_color_loss` (both need ``context``).
    color_prior : dict, optional
        The prior of :func:`prior_color_loss` (default :data:`COLOR_PRIOR`).

    Returns
    -------
    LossTerms
        ``(total, spatial, exposure, color, smoothness)``, each term already weighted.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.losses import zero_reference_loss
    >>> img = np.full((16, 16, 3), 0.6)
    >>> round(zero_reference_loss(img, img, np.zeros((16, 16, 24))).total, 12)
    0.0
    """
    wt = _check_weights(weights)
    _check_color(color, context)
    a = _alphas64(alphas, channel_axis)
    images = _nhw(enhanced, "enhanced", channel_axis)
    if a.shape[:3] != images:
        raise ValueError(
            f"alphas has shape {np.shape(alphas)}, {a.shape[:3]} as (N, H, W); it must match enhanced's {images}: "
            f"pass the alpha maps that produced enhanced, at its size (upsample Zero-DCE++'s small maps)."
        )
    spa = wt["spatial"] * spatial_consistency_loss(enhanced, original, channel_axis=channel_axis)
    if context is None:
        exp = wt["exposure"] * exposure_control_loss(
            enhanced, level=level, patch_size=patch_size, channel_axis=channel_axis
        )
    else:
        exp = wt["exposure"] * adaptive_exposure_loss(
            enhanced, original, context, level=level, level_high=level_high, patch_size=patch_size,
            channel_axis=channel_axis, knee=knee,
        )
    if color == "adaptive":
        col = wt["color"] * adaptive_color_loss(enhanced, context, level=level, channel_axis=channel_axis)
    elif color == "prior":
        col = wt["color"] * prior_color_loss(enhanced, context, level=level, prior=color_prior,
                                             channel_axis=channel_axis)
    else:
        col = wt["color"] * color_constancy_loss(enhanced, channel_axis=channel_axis)
    tv = wt["smoothness"] * _smoothness(a)
    return LossTerms(spa + exp + col + tv, spa, exp, col, tv)
