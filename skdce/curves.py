"""The light-enhancement curve of Zero-DCE, ``LE(x) = x + a*x*(1 - x)``, as array operations.

The validating public face of the curve stage (:mod:`skdce.engine.stages.curve`) and of
the gain stage (:mod:`skdce.engine.stages.gain`).
"""

from __future__ import annotations

import numpy as np

from ._base.image import _FLOAT_FIX, compute_dtype, image_layout, validate_values
from ._base.validate import check_image_arg, check_int, check_num_threads
from .engine.stages.curve import ALPHA_FIX, check_range, copy_extra_channels, run_blocks
from .engine.stages.gain import gain_block
from .engine.workers import BLOCK
from .models import MAX_ITERATIONS

__all__ = ["apply_le_curves", "curve_gain"]


def _alpha_view(alphas: np.ndarray, layout, n_color: int, name: str = "alphas") -> np.ndarray:
    """Return alphas as a broadcastable ``(N|1, H|1, W|1, k, n_color)`` view."""
    if alphas.ndim == 0:
        return alphas.reshape(1, 1, 1, 1, 1)
    if alphas.ndim == 1:
        if alphas.size % n_color:
            raise ValueError(
                f"{name} has {alphas.size} values; a 1-D {name} holds one alpha per colour channel "
                f"({n_color}) or one per channel and iteration (a multiple of {n_color})."
            )
        return alphas.reshape(1, 1, 1, alphas.size // n_color, n_color)
    img_ndim = len(layout.shape)
    if layout.channel_axis is None:
        if alphas.ndim == img_ndim:  # one gray map per pixel, shared by the iterations
            view = alphas[..., None, None]
        elif alphas.ndim == img_ndim + 1:  # trailing axis: one map per iteration
            view = alphas[..., None]
        else:
            raise ValueError(
                f"{name} has shape {alphas.shape}; for a grayscale image of shape {layout.shape} pass a "
                f"scalar, a 1-D array of per-iteration alphas, a map of the image's shape, or maps with a "
                f"trailing iteration axis."
            )
    else:
        if alphas.ndim != img_ndim:
            raise ValueError(
                f"{name} has shape {alphas.shape} but image has shape {layout.shape}; pass a scalar, a 1-D "
                f"array of per-channel alphas, or maps laid out like the image (channel_axis={layout.channel_axis}) "
                f"with {n_color} or k*{n_color} channels."
            )
        view = np.moveaxis(alphas, layout.channel_axis, -1)
        if view.shape[-1] % n_color:
            raise ValueError(
                f"{name} has {view.shape[-1]} channels; the image has {n_color} colour channel(s), so "
                f"pass {n_color} (one map reused every iteration) or k*{n_color} (one map per iteration)."
            )
        view = view.reshape(view.shape[:-1] + (view.shape[-1] // n_color, n_color))
    if not layout.batched:
        view = view[None]
    return view


def _spatial_shape(layout) -> tuple[int, int, int]:
    shape = list(layout.shape)
    if layout.channel_axis is not None:
        del shape[layout.channel_axis]
    if not layout.batched:
        shape.insert(0, 1)
    return tuple(shape)



def _prepare(image, alphas, n_iter, channel_axis):
    """Validate the arguments of the curve functions: ``(image, dtype, layout, alphas, a5, n_iter)``."""
    check_image_arg(image, "image", "skdce.apply_le_curves / skdce.curve_gain")
    image = np.asarray(image)
    dtype = compute_dtype(image.dtype, "image")
    layout = image_layout(image, channel_axis, "image")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape}); pass an image with at least one pixel.")
    alphas = np.asarray(alphas)
    if alphas.dtype.kind not in "fiu" or alphas.dtype == bool:
        raise TypeError(f"alphas has dtype {alphas.dtype}; pass real numbers in [-1, 1].")
    if alphas.size == 0:
        raise ValueError(f"alphas is empty (shape {alphas.shape}); pass alphas in [-1, 1].")
    n_color = layout.n_color
    a5 = _alpha_view(alphas, layout, n_color)
    nhw = _spatial_shape(layout)
    for got, want, what in zip(a5.shape[:3], nhw, ("batch", "height", "width")):
        if got not in (1, want):
            raise ValueError(
                f"alphas has {what} {got} but the image has {want}; maps must match the image "
                f"(shape {layout.shape}) or have size 1 there to broadcast."
            )
    k = a5.shape[3]
    if k == 1:
        n_iter = 8 if n_iter is None else check_int(
            "n_iter", n_iter, min=1, max=MAX_ITERATIONS,
            hint=f"e.g. 8 (Zero-DCE's); at most {MAX_ITERATIONS}, as for a model's iterations, where the slope "
                 f"2**n_iter still fits in float32.")
    elif k > MAX_ITERATIONS:
        raise ValueError(
            f"alphas holds {k} per-iteration maps; at most {MAX_ITERATIONS} are allowed (as for a model's "
            f"iterations, where the slope 2**k still fits in float32); pass fewer iterations."
        )
    elif n_iter not in (None, k):
        raise ValueError(
            f"alphas holds {k} per-iteration maps, so n_iter must be None or {k}, not {n_iter!r}."
        )
    else:
        n_iter = k
    return image, dtype, layout, alphas, a5, n_iter


def curve_gain(image, alphas, *, n_iter=None, channel_axis=-1):
    """The slope of the iterated curve at each pixel: how much it amplifies small changes (noise).

    Parameters
    ----------
    image, alphas, n_iter, channel_axis
        As for :func:`apply_le_curves`.

    Returns
    -------
    gain : ndarray
        Same shape as ``image``: ``d LE^n(x) / dx`` per pixel and colour
        channel (1 for an alpha channel, which passes through); float32, or
        float64 for float64 input. Between 0 and ``2**n``.

    Notes
    -----
    One iteration ``x <- x + a x (1 - x)`` has slope ``1 + a (1 - 2x)``; by
    the chain rule the slope of ``n`` iterations is the product of each
    iteration's slope at the value it is applied to. A flat region with noise
    of standard deviation ``s`` comes out with about ``gain * s``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce import curve_gain
    >>> curve_gain(np.array([[[0.0, 0.5, 1.0]]]), 1.0, n_iter=1)
    array([[[2., 1., 0.]]])
    """
    image, dtype, layout, alphas, a5, n_iter = _prepare(image, alphas, n_iter, channel_axis)
    check_range(a5, "alphas", -1.0, ALPHA_FIX)
    src = layout.to_nhwc(image)
    x = src[..., : layout.n_color]
    if image.dtype.kind == "u":
        x = x * dtype.type(1.0 / np.iinfo(image.dtype).max)
    else:
        check_range(x, "image", 0.0, _FLOAT_FIX)
    out = np.ones(image.shape, dtype)
    gain_block(x.astype(dtype, copy=False), a5.astype(dtype, copy=False), n_iter,
               out=layout.to_nhwc(out)[..., : layout.n_color])
    return out



def _layout_key(arr: np.ndarray) -> tuple:
    """Address, dtype, shape and strides (0 along axes of length 1): equal keys are the same view."""
    strides = tuple(0 if n == 1 else st for n, st in zip(arr.shape, arr.strides))
    return arr.__array_interface__["data"][0], arr.dtype, arr.shape, strides


def _self_overlapping(arr: np.ndarray) -> bool:
    """Whether two elements of ``arr`` may share memory (a broadcast or overlapping strided view)."""
    reach = arr.itemsize
    for stride, n in sorted((abs(st), n) for n, st in zip(arr.shape, arr.strides) if n > 1):
        if stride < reach:
            return True
        reach += stride * (n - 1)
    return False


def _check_out(out, image: np.ndarray, alphas: np.ndarray, dtype: np.dtype) -> None:
    """Refuse an ``out=`` the curves cannot write safely: wrong type, read-only, overlapping its inputs."""
    want = f"a writable ndarray of shape {image.shape} and dtype {dtype}"
    if not isinstance(out, np.ndarray) or out.shape != image.shape or out.dtype != dtype:
        raise ValueError(
            f"out must be {want}, got {type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}."
        )
    if not out.flags.writeable:
        raise ValueError(
            f"out is read-only (e.g. a memmap opened with mode='r', an array over bytes, a broadcast view or "
            f"writeable=False); pass {want}, or out=None for a new array."
        )
    if _self_overlapping(out):
        raise ValueError(
            f"out has elements that share memory (a broadcast or overlapping strided view); pass {want} "
            f"whose elements are distinct, or out=None."
        )
    if np.may_share_memory(out, image) and _layout_key(out) != _layout_key(image):
        raise ValueError(
            "out overlaps image without being the same view of it, so the curves would read values they have "
            "already overwritten; pass out=image (in place, for float32/float64 images) or a separate array."
        )
    if np.may_share_memory(out, alphas):
        raise ValueError("out shares memory with alphas; pass a separate array (or out=image) as out.")


def apply_le_curves(image, alphas, *, n_iter=None, channel_axis=-1, out=None, num_threads=None):
    """Apply the light-enhancement curve ``LE(x) = x + a*x*(1 - x)`` iteratively.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        Image in [0, 1] (float) or unsigned integer (scaled by the dtype's
        maximum). ``C`` is 1, 2 (gray + alpha), 3 or 4 (RGBA); an alpha channel
        is copied through untouched. ``(H, W)`` and ``(N, H, W)`` need
        ``channel_axis=None``.
    alphas : float or ndarray
        Curve parameters in [-1, 1], in one of these forms (``c`` is the number
        of colour channels, 3 or 1):

        * a scalar: one global curve for every channel, applied ``n_iter`` times;
        * a 1-D array of ``c`` values (one global curve per channel) or
          ``k * c`` values (iteration-major: one curve per channel and iteration);
        * maps laid out like ``image`` with ``c`` channels, reused for each of the
          ``n_iter`` iterations (Zero-DCE++), or ``k * c`` channels, one map
          triple per iteration in order (Zero-DCE: ``k = 8``, 24 maps). The
          spatial and batch sizes must equal the image's or be 1 (broadcast).
    n_iter : int, optional
        Number of iterations when every iteration shares the same alphas
        (default 8, at most 64). With per-iteration alphas it must be ``None``
        or ``k`` (``k`` at most 64). The bound is a model's
        (:data:`skdce.models.MAX_ITERATIONS`; Zero-DCE uses 8): the slope of
        ``n`` iterations reaches ``2**n`` (:func:`curve_gain`), which
        overflows float32 from ``n = 128``.
    channel_axis : int or None, optional
        Axis of the channels, of ``image`` and of map-shaped ``alphas``. ``None``
        for grayscale images without a channel axis.
    out : ndarray, optional
        Array to write the result to: the image's shape and the output dtype. It
        may be ``image`` itself (in place). When given, all inputs are validated
        before anything is written.
    num_threads : int, optional
        Threads to use (default: all cores, at most 8).

    Returns
    -------
    enhanced : ndarray
        Same shape as ``image``; float32 for uint, float16 and float32 input,
        float64 for float64 input; values in [0, 1].

    Raises
    ------
    ValueError
        For alphas outside [-1, 1], image values outside [0, 1], NaN or inf,
        empty arrays and shapes that do not fit together.
    TypeError
        For non-image dtypes (complex, object, bool, signed integers).

    Notes
    -----
    Each iteration computes ``x <- x + a x (1 - x)`` per pixel and channel
    (equation (1) and (2) of [1]_). For ``|a| <= 1`` the curve maps [0, 1]
    onto [0, 1] and is monotonically increasing in ``x``, so the result is too.
    The work runs in blocks on worker threads, never materialising an
    image-sized temporary. Where skdce was built with its C kernel
    (``skdce/native/_kernels.c``, compiled at install time when a C compiler is
    present) each block is one pass over memory; otherwise cache-sized NumPy
    ufunc passes compute it in place. One curve shared by all iterations with
    float32 output is computed in float32 on ``s = x`` (``a >= 0``) or
    ``s = 1 - x`` (``a < 0``), which the curve expands away from 0 where float32
    keeps its relative precision; every other case is carried in float64. The
    result is within 1e-6 of the formula evaluated in float64 (float input).

    References
    ----------
    .. [1] C. Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light
       Image Enhancement", CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce import apply_le_curves
    >>> x = np.array([[[0.0, 0.25, 1.0]]])
    >>> apply_le_curves(x, 1.0, n_iter=1)
    array([[[0.    , 0.4375, 1.    ]]])
    >>> apply_le_curves(x, np.array([1.0, 0.0, -1.0]), n_iter=1)
    array([[[0.  , 0.25, 1.  ]]])
    """
    image, dtype, layout, alphas, a5, n_iter = _prepare(image, alphas, n_iter, channel_axis)
    num_threads = check_num_threads(num_threads)
    k = a5.shape[3]
    n_color = layout.n_color
    if alphas.dtype != dtype:
        a5 = a5.astype(dtype)

    if out is None:
        out = np.empty(image.shape, dtype)
        prevalidate = False
    else:
        _check_out(out, image, alphas, dtype)
        prevalidate = True
    if prevalidate or a5.size <= BLOCK:
        check_range(a5, "alphas", -1.0, ALPHA_FIX)
    if prevalidate and image.dtype.kind == "f":
        check_range(image, "image", 0.0, _FLOAT_FIX)

    src = layout.to_nhwc(image)
    dst = layout.to_nhwc(out)
    is_int = image.dtype.kind == "u"
    int_scale = 1.0 / np.iinfo(image.dtype).max if is_int else None  # a float64 scale: one rounding
    check_image = not prevalidate and image.dtype.kind == "f"
    check_alpha = not prevalidate and a5.size > BLOCK

    def alpha_block(b, r0, r1, c0, c1):
        ab = a5[b if a5.shape[0] > 1 else 0]
        ar = ab[r0:r1] if ab.shape[0] > 1 else ab
        return ar[:, c0:c1] if ar.shape[1] > 1 else ar

    run_blocks(src, dst, n_color, alpha_block, n_iter=n_iter, per_iter=k > 1, int_scale=int_scale,
               check_image=check_image, check_alpha=check_alpha, num_threads=num_threads)
    if layout.has_alpha:
        if check_image:
            validate_values(src[..., n_color:], "image")
        copy_extra_channels(src, dst, n_color)
    return out
