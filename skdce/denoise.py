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
dependency), hence the few lines here.
"""

from __future__ import annotations

import numpy as np

from ._base.image import compute_dtype, image_layout, to_float, unit_scale, validate_values
from ._base.validate import check_image_arg, check_real

try:  # the compiled filter (skdce/native/_gfilter.c); without it denoise_block runs on scipy's box filters
    from .native import _gfilter
except ImportError:  # pragma: no cover - a build without a C compiler
    _gfilter = None

__all__ = ["estimate_noise", "guided_denoise", "DENOISE_HALO"]

#: Window radii of the two stages (5x5 luminance, 7x7 colour windows).
LUMA_RADIUS, COLOR_RADIUS = 2, 3
#: How far a pixel's result reaches: two box filters in the first stage, three in the second.
DENOISE_HALO = 2 * LUMA_RADIUS + 3 * COLOR_RADIUS
#: Regularisers of the two stages, in units of the local noise variance: an edge
#: is kept where the window's variance clearly exceeds the noise's.
LUMA_EPS, COLOR_EPS = 1.0, 0.5
#: Colour detail the fit leaves out is kept in proportion power / (power + COLOR_KEEP * noise variance).
COLOR_KEEP = 32.0
#: Immerkaer's 3x3 operator cancels planes and quadrics; on i.i.d. noise of
#: standard deviation s its response has standard deviation 6 s.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
#: Pixels whose operator response enters the median (a strided sample beyond this).
_NOISE_SAMPLE = 1 << 18


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
    check_image_arg(image, "image", "skdce.denoise")
    arr = np.asarray(image)
    layout = image_layout(arr, channel_axis, "image")
    validate_values(arr, "image")
    src = layout.to_nhwc(arr)
    sigmas = np.array([noise_level(src[b, ..., : layout.n_color]) for b in range(src.shape[0])])
    return sigmas if layout.batched else float(sigmas[0])


def noise_rows(h: int, w: int) -> np.ndarray | None:
    """First rows of the 3-row bands :func:`noise_level` samples (None below 3x3 pixels)."""
    if h < 3 or w < 3:
        return None
    # bands of 3 rows give 1 row of responses each; take enough bands for the sample
    stride = max(1, int(np.ceil((h - 2) * (w - 2) / _NOISE_SAMPLE)))
    return np.arange(0, h - 2, stride)


def noise_from_rows(rows) -> float:
    """The estimate from the three ``(bands, W, c)`` row sets at offsets 0, 1 and 2 (unscaled)."""
    c, w = rows[0].shape[-1], rows[0].shape[-2]
    total = 0.0
    for ch in range(c):
        r = np.zeros((rows[0].shape[0], w - 2), np.float32)
        for k in range(3):
            row = rows[k][..., ch].astype(np.float32)
            for j in range(3):
                r += np.float32(_IMMERKAER[k, j]) * row[:, j : w - 2 + j]
        total += 1.4826 * float(np.median(np.abs(r))) / 6.0
    return total / c


def noise_level(rgb: np.ndarray) -> float:
    """:func:`estimate_noise` of one ``(H, W, c)`` image (any skdce dtype)."""
    h, w, _ = rgb.shape
    starts = noise_rows(h, w)
    if starts is None:
        return 0.0
    return noise_from_rows([rgb[starts + k] for k in range(3)]) * unit_scale(rgb.dtype)


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    return uniform_filter(x, size=2 * radius + 1, mode="reflect")


def denoise_block(y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Two-stage guided filter of a float ``(h, w, c)`` block, ``noise`` an ``(h, w)`` std map."""
    dt = y.dtype.type
    luma = y.mean(axis=-1, dtype=y.dtype)
    var_n = noise.astype(y.dtype, copy=False) ** 2
    # stage 1: self-guided luminance
    m = _box(luma, LUMA_RADIUS)
    v = _box(luma * luma, LUMA_RADIUS) - m * m
    a = v / (v + dt(LUMA_EPS) * var_n + dt(1e-12))
    b = m - a * m
    guide = _box(a, LUMA_RADIUS) * luma + _box(b, LUMA_RADIUS)
    if y.shape[-1] == 1:
        return guide[..., None]
    # stage 2: each channel as an affine function of the smoothed luminance
    mg = _box(guide, COLOR_RADIUS)
    vg = _box(guide * guide, COLOR_RADIUS) - mg * mg + dt(COLOR_EPS) * var_n + dt(1e-12)
    out = np.empty_like(y)
    for ch in range(y.shape[-1]):
        p = y[..., ch]
        mp = _box(p, COLOR_RADIUS)
        a = (_box(guide * p, COLOR_RADIUS) - mg * mp) / vg
        b = mp - a * mg
        fit = _box(a, COLOR_RADIUS) * guide + _box(b, COLOR_RADIUS)
        # what the fit leaves out is noise where it is small next to the noise level,
        # detail where it is large: a Wiener-style weight keeps the detail
        rest = p - fit
        power = _box(rest * rest, COLOR_RADIUS)
        out[..., ch] = fit + rest * (power / (power + dt(COLOR_KEEP) * var_n + dt(1e-12)))
    return np.clip(out, 0, 1, out=out)


def denoise_bands(y: np.ndarray, noise: np.ndarray, num_threads=None) -> np.ndarray:
    """:func:`denoise_block` in bands of rows on the worker threads.

    With the compiled filter (``skdce/native/_gfilter.c``) each band is computed
    from the whole block, so the bands join bit for bit; it equals
    :func:`denoise_block` up to the rounding of the box sums (a few 1e-7
    in float32; ``skdce/native/_gfilter.c``). The NumPy fallback filters each band
    with :data:`DENOISE_HALO` rows of context
    (scipy's filters release the GIL), so the bands join as the whole block
    would (to float rounding of the running sums).
    """
    from .engine.workers import executor as _executor, run_tasks as _run_tasks, threads as _threads

    h = y.shape[0]
    # a band per thread (the compiled filter streams down its rows with a few rows
    # of scratch per plane, so a band may be of any size), none thinner than
    # 4 * DENOISE_HALO rows: each band recomputes 2 * DENOISE_HALO rows of context
    bands = min(_threads(num_threads), max(1, h // (4 * DENOISE_HALO)))
    edges = np.linspace(0, h, bands + 1).astype(int)
    if _gfilter is not None and y.dtype in (np.float32, np.float64):
        y = np.ascontiguousarray(y)
        noise = np.ascontiguousarray(noise, dtype=y.dtype)
        out = np.empty_like(y)
        params = (LUMA_RADIUS, COLOR_RADIUS, LUMA_EPS, COLOR_EPS, COLOR_KEEP)
        _run_tasks(lambda k: _gfilter.denoise(y, noise, out, edges[k], edges[k + 1], *params), range(bands),
                   num_threads)
        return out

    if bands == 1:
        return denoise_block(y, noise)
    out = np.empty_like(y)

    def band(k):
        r0, r1 = edges[k], edges[k + 1]
        e0, e1 = max(0, r0 - DENOISE_HALO), min(h, r1 + DENOISE_HALO)
        out[r0:r1] = denoise_block(y[e0:e1], noise[e0:e1])[r0 - e0 : r1 - e0]

    list(_executor().map(band, range(bands)))
    return out


def added_noise(x: np.ndarray, alphas: np.ndarray, n_iter: int, scale: float, amount: float, dtype,
                num_threads=None) -> np.ndarray:
    """The ``(h, w)`` noise the curves add to an ``(h, w, c)`` block, the filter's strength map.

    ``amount * sqrt(max(g**2 - 1, 0))``, ``g`` the slope of the curves
    (:func:`skdce.curves.gain_block`) at the channel mean of ``x`` times
    ``scale`` with the channel mean of the ``(h, w, k, c)`` float32 ``alphas``
    (one curve of all iterations at the mean level: one plane, not ``c``);
    ``amount`` is the strength times the input's noise. Computed in ``dtype``;
    the compiled filter does the same operations in the same order.
    """
    from .engine.workers import run_tasks as _run_tasks
    from .curves import gain_block

    dtype = np.dtype(dtype)
    h, w, _ = x.shape
    if (
        _gfilter is not None and dtype in (np.float32, np.float64) and alphas.dtype == np.float32
        and x.dtype in (np.uint8, np.uint16, np.float32, np.float64) and x.dtype.isnative
        and alphas.dtype.isnative and x.flags.aligned and alphas.flags.aligned
    ):
        out = np.empty((h, w), dtype)
        step = max(1, -(-h // 8))
        _run_tasks(lambda r0: _gfilter.noise_map(x, alphas, out, r0, min(h, r0 + step), n_iter, scale, amount),
                   range(0, h, step), num_threads)
        return out
    level = x.mean(axis=-1, keepdims=True, dtype=dtype) * dtype.type(scale)
    gain = gain_block(level, alphas.mean(axis=-1, keepdims=True, dtype=dtype), n_iter)[..., 0]
    # the noise the curve added: gain * s out, s of it there before; nothing where gain <= 1
    np.multiply(gain, gain, out=gain)
    gain -= 1
    np.maximum(gain, 0, out=gain)
    np.sqrt(gain, out=gain)
    gain *= dtype.type(amount)
    return gain


def check_denoise(denoise) -> float:
    """Validate the ``denoise`` strength: None or 0 (off), or a number in (0, 4]."""
    if denoise is None:
        return 0.0
    return check_real("denoise", denoise, lo=0, hi=4, hint="None or 0 turns denoising off, 1 is the default "
                      "strength.")


#: The denoisers ``enhance(denoiser=...)`` accepts: the guided filter (the default) or the learned network.
DENOISERS = ("guided", "learned")


def check_denoiser(denoiser) -> str:
    """Validate ``denoiser``: ``"guided"`` (:func:`denoise_bands`) or ``"learned"`` (:mod:`skdce.engine.stages.learned`)."""
    if not isinstance(denoiser, str) or denoiser not in DENOISERS:
        raise ValueError(f"denoiser={denoiser!r} is unknown; use 'guided' (the default: the guided filter) or "
                         f"'learned' (the Neighbor2Neighbor network of skdce.engine.stages.learned).")
    return denoiser


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
    noise = np.asarray(noise, dtype=dtype)
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
