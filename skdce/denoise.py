"""Noise-aware enhancement: estimate the input's noise, remove what the curves amplify.

A curve that lifts the shadows lifts their noise with them: where the curve's
slope (:func:`skdce.curve_gain`) is ``g``, noise of standard deviation ``s``
comes out as about ``g * s``. :func:`skdce.enhance` therefore estimates ``s``
once from the whole input (:func:`estimate_noise`) and filters its output with
a strength set per pixel by the noise the curve *added*,
``s * sqrt(g**2 - 1)`` (:func:`guided_denoise`): the lifted shadows of a dark
photo are smoothed, while where the curve does not amplify (``g <= 1``: a
well-exposed photo, ``strength=0``) nothing is filtered and the input's own
grain stays.

The filter is a two-stage guided filter [1]_ (``weights/README.md`` has the
study that chose it over total variation, non-local means and a learned
self-supervised network), after K. He, J. Sun, X. Tang, "Guided Image
Filtering" (ECCV 2010):

1. the luminance (channel mean) is smoothed by a self-guided filter, which
   keeps edges whose contrast exceeds the local noise;
2. each colour channel is fitted, window by window, as an affine function of
   that smoothed luminance: coloured speckle (chroma noise) has no luminance
   edge to follow and is removed, colour edges that come with a luminance
   edge stay; what the fit leaves out is put back where it is strong next to
   the noise (colour detail) and dropped where it is not (speckle).

With no noise both stages return their input. Both stages are box filters (:func:`scipy.ndimage.uniform_filter`), so the
cost does not depend on the strength, and a pixel depends only on pixels at
most :data:`DENOISE_HALO` away: tiles with that much extra context are exact.
No maintained Python library offers a guided filter with a per-pixel
regulariser (OpenCV's contrib module has a global one and is a large
dependency), hence the few lines of :mod:`skdce.engine.stages.guided`, where
the filter's host code, its ONNX graph builder and its torch twin live side
by side; the noise estimate's are in :mod:`skdce.engine.stages.noise`.
"""

from __future__ import annotations

import numpy as np

from ._base.image import compute_dtype, image_layout, to_float, validate_values
from ._base.validate import check_image_arg
from .engine.stages.guided import DENOISE_HALO, denoise_bands
from .engine.stages.noise import filter_noise_level as _filter_noise_level
from .engine.stages.noise import noise_level

__all__ = ["estimate_noise", "filter_noise_level", "guided_denoise", "DENOISE_HALO"]


def estimate_noise(image, *, channel_axis=-1) -> float | np.ndarray:
    """Estimate the standard deviation of the noise in an image, from the image alone.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float in [0, 1] (the usual skdce layouts, see :func:`skdce.enhance`).
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale.

    Returns
    -------
    sigma : float or (N,) ndarray
        The noise standard deviation on the [0, 1] scale, averaged over the
        colour channels; one value per image of a batch.

    Notes
    -----
    The median absolute response of Immerkaer's Laplacian-difference operator
    [1]_, which is blind to smooth image content, scaled to a standard deviation
    (``1.4826 * median / 6``); the median keeps edges and texture from
    inflating it. Images larger than about a megapixel are sampled in bands of
    rows. Images smaller than 3x3 have no estimate: 0 is returned.

    References
    ----------
    .. [1] J. Immerkaer, "Fast Noise Variance Estimation", Computer Vision and
       Image Understanding 64(2), 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.denoise import estimate_noise
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.02 * rng.standard_normal((256, 256)), 0, 1)
    >>> round(float(estimate_noise(noisy, channel_axis=None)), 3)
    0.02
    """
    return _per_image(noise_level, image, channel_axis)


def _per_image(level, image, channel_axis):
    """``level`` of each colour image of ``image`` (any skdce layout): a float, or one per image of a batch."""
    check_image_arg(image, "image", "skdce.denoise")
    arr = np.asarray(image)
    compute_dtype(arr.dtype, "image")  # the dtypes skdce takes (a TypeError naming the fix for others)
    layout = image_layout(arr, channel_axis, "image")
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape}); pass an image with at least one pixel.")
    validate_values(arr, "image")
    src = layout.to_nhwc(arr)
    sigmas = np.array([level(src[b, ..., : layout.n_color]) for b in range(src.shape[0])])
    return sigmas if layout.batched else float(sigmas[0])


def filter_noise_level(image, *, channel_axis=-1) -> float | np.ndarray:
    """The noise level :func:`skdce.enhance` steers its denoiser by: :func:`estimate_noise`, read further.

    :func:`estimate_noise` sees the finest scale only. For the denoiser,
    :func:`skdce.enhance` reads the level further (``docs/user_guide/denoising.rst``):
    on the 2x2 box means as far as the steps between a JPEG's 8x8 blocks
    show that the file flattened its noise into blotches; raised up to 1.5
    times where the colour channels share one noise (a JPEG's 4:2:0 chroma);
    and at least the rounding of an integer image (0.29 of a step). With
    this level, :func:`skdce.curve_gain`'s map and :func:`guided_denoise`, the
    plain curves of a model without a black point give
    :func:`skdce.enhance`'s result (``docs/examples/plot_denoise.py``).

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float in [0, 1] (the usual skdce layouts, see :func:`skdce.enhance`).
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale.

    Returns
    -------
    sigma : float or (N,) ndarray
        On the [0, 1] scale; one value per image of a batch.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.denoise import estimate_noise, filter_noise_level
    >>> flat = np.full((64, 64, 3), 20, np.uint8)  # no noise at all, but 8-bit steps
    >>> estimate_noise(flat), round(float(filter_noise_level(flat)) * 255, 2)
    (0.0, 0.29)
    """
    return _per_image(_filter_noise_level, image, channel_axis)


def guided_denoise(image, noise, *, channel_axis=-1):
    """Remove noise of a known (per-pixel) level with the two-stage guided filter.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float in [0, 1]; an alpha channel passes through.
    noise : float or ndarray
        Standard deviation of the noise on the [0, 1] scale: a scalar, or a
        map of the image's spatial shape (``(H, W)`` or ``(N, H, W)``).
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale.

    Returns
    -------
    ndarray
        Same shape as ``image``, float32 (float64 for float64 input), in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.denoise import guided_denoise
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.05 * rng.standard_normal((64, 64, 3)), 0, 1)
    >>> bool(guided_denoise(noisy, 0.05).std() < 0.3 * noisy.std())
    True
    """
    check_image_arg(image, "image", "skdce.denoise")
    arr = np.asarray(image)
    dtype = compute_dtype(arr.dtype, "image")
    layout = image_layout(arr, channel_axis, "image")
    src = layout.to_nhwc(to_float(arr, "image").astype(dtype, copy=False))
    n, h, w, _ = src.shape
    try:
        noise = np.asarray(noise, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(f"noise must be a number or an array of numbers (a standard deviation on the [0, 1] scale), "
                        f"got {type(noise).__name__} {noise!r:.40}.") from None
    if noise.ndim == 0:
        noise = np.broadcast_to(noise, (n, h, w))
    elif noise.shape in ((h, w), (n, h, w)):
        noise = np.broadcast_to(noise, (n, h, w))
    else:
        raise ValueError(f"noise has shape {noise.shape}; pass a scalar or a map of shape {(h, w)} or {(n, h, w)}.")
    if not np.all(np.isfinite(noise)) or np.any(noise < 0):
        raise ValueError("noise must be finite and >= 0 (a standard deviation on the [0, 1] scale).")
    out = np.empty(arr.shape, dtype)
    dst = layout.to_nhwc(out)
    nc = layout.n_color
    for b in range(n):
        dst[b, ..., :nc] = denoise_bands(src[b, ..., :nc], noise[b])
        dst[b, ..., nc:] = src[b, ..., nc:]
    return out
