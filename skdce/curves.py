"""The light-enhancement curve of Zero-DCE, ``LE(x) = x + a*x*(1 - x)``, in NumPy."""

from __future__ import annotations

import numpy as np

from ._base.validate import check_image_arg, check_int, check_num_threads
from .engine import workers as _workers
from .engine.workers import block_tasks as _block_tasks, ones as _ones, run_tasks as _run_tasks, scratch as _scratch
from ._base.image import _FLOAT_FIX, check_unit_range, compute_dtype, image_layout, validate_values

try:  # the compiled kernel (skdce/native/_kernels.c); without it the NumPy kernel below runs
    from .native import _kernels
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

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


def _check_block(arr: np.ndarray, name: str, lower: float, fix: str) -> None:
    lo = arr.min()
    hi = arr.max()
    if not (lo >= lower and hi <= 1.0):  # also catches NaN
        check_unit_range(arr, name, lower=lower, fix=fix)


_ALPHA_FIX = (
    "alphas outside [-1, 1] break the curve's guarantees (output in [0, 1], monotonic in x). "
    "Use np.clip(alphas, -1, 1) or scale them down."
)


#: dtypes the compiled kernel reads (native byte order); it writes float32 or float64
_KERNEL_TYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))
_KERNEL_OUT = frozenset(np.dtype(t) for t in (np.float32, np.float64))


def _packed(arr: np.ndarray) -> bool:
    """Whether ``arr`` fills its memory without gaps in some axis order (positive strides)."""
    expected = arr.itemsize
    for stride, n in sorted((s, n) for n, s in zip(arr.shape, arr.strides) if n > 1):
        if stride != expected:
            return False
        expected *= n
    return True


def _check_range(arr: np.ndarray, name: str, lower: float, fix: str) -> None:
    """:func:`check_unit_range` with a fast path: one threaded compiled pass over packed memory."""
    if _kernels is None or arr.dtype not in (np.float32, np.float64) or not _packed(arr) or not arr.flags.aligned:
        check_unit_range(arr, name, lower=lower, fix=fix)
        return
    flat = arr.ravel(order="K")  # a view: the memory is packed
    bounds = range(0, flat.size, 1 << 20)
    ok = [True]

    def work(start):
        if not _kernels.in_range(flat[start : start + (1 << 20)], lower, 1.0):
            ok[0] = False

    _run_tasks(work, list(bounds), None)
    if not ok[0]:
        check_unit_range(arr, name, lower=lower, fix=fix)  # finds the values for the message


def _kernel_block(src, dst, alpha, n_iter, int_scale, check_image, check_alpha) -> bool:
    """Run one block in the compiled kernel; False where it does not apply (NumPy then runs it)."""
    if _kernels is None:
        return False
    if alpha.dtype == np.float32 and dst.dtype == np.float64:  # the network's maps for a float64 image: exact
        alpha = alpha.astype(np.float64)
    if (
        src.dtype not in _KERNEL_TYPES or dst.dtype not in _KERNEL_OUT
        or alpha.dtype != dst.dtype or not (src.flags.aligned and dst.flags.aligned and alpha.flags.aligned)
    ):
        return False
    # the kernel reads (rows|1, cols|1, k, c|1) alphas: the iteration axis before the channels
    bad = _kernels.le_curves(src, dst, alpha, n_iter, 1.0 if int_scale is None else int_scale,
                             check_image, check_alpha)
    if bad & 1:
        check_unit_range(src, "image", lower=0.0, fix=_FLOAT_FIX)
    if bad & 2:
        check_unit_range(alpha, "alphas", lower=-1.0, fix=_ALPHA_FIX)
    return True


def _run_block(src, dst, alpha, n_iter, per_iter, int_scale, check_image, check_alpha):
    """Apply the curves to one cache-sized block of ``src``, writing ``dst``."""
    if _kernel_block(src, dst, alpha, n_iter, int_scale, check_image, check_alpha):
        return
    if check_image:
        _check_block(src, "image", 0.0, _FLOAT_FIX)
    shape = dst.shape
    if per_iter:
        # A different curve each iteration: the block is carried in float64, which
        # keeps the result within 1e-7 of exact arithmetic (a float32 carry can lose
        # 1e-5 where eight steep curve steps amplify its rounding).
        if check_alpha:
            _check_block(alpha, "alphas", -1.0, _ALPHA_FIX)
        f64 = np.dtype(np.float64)
        y = _scratch(dst.size, f64, 0).reshape(shape)
        t = _scratch(dst.size, f64, 1).reshape(shape)
        np.multiply(src, int_scale if int_scale is not None else 1.0, out=y)
        for i in range(n_iter):
            # y <- y * (1 + a_i (1 - y))
            np.subtract(1, y, out=t)
            np.multiply(t, alpha[..., i, :], out=t)
            t += 1
            y *= t
        np.minimum(y, 1, out=y)
        np.copyto(dst, y, casting="same_kind")
        return

    # One curve shared by all iterations. With s = x where a >= 0 and s = 1 - x
    # where a < 0, and c = |a|, the curve becomes s <- s + c s (1 - s) in both
    # cases: an expansion away from 0, where float32 keeps its relative precision.
    # (Carrying x itself in float32 would lose up to 1e-5 near x = 1 for a = -1.)
    # Adding the rounded increment to s keeps the result monotonic in x to the last
    # ulp; the shorter s * ((1 + c) - c s) is not.
    # Every step is a plain ufunc on contiguous cache-sized buffers: no masked
    # (``where=``) or scalar-broadcast loops, which NumPy runs 5-50x slower.
    dtype = dst.dtype
    a = alpha[..., 0, :]
    if a.size <= 3:  # global curves: tiny arrays
        c = np.abs(a)
        m = (a < 0).astype(dtype) if (a < 0).any() else None
    else:
        c = np.abs(a, out=_scratch(a.size, dtype, 2).reshape(a.shape))
        if check_alpha and not (c.max() <= 1):
            check_unit_range(a, "alphas", lower=-1.0, fix=_ALPHA_FIX)
        m = None
        if a.min() < 0:  # m = 1 where a < 0, else 0
            m = np.less(a, 0, out=_scratch(a.size, dtype, 4).reshape(a.shape), casting="unsafe")
    y = dst if dst.flags.c_contiguous else _scratch(dst.size, dtype, 1).reshape(shape)
    t = _scratch(dst.size, dtype, 0).reshape(shape)
    if int_scale is not None:
        np.multiply(src, int_scale, out=y, casting="unsafe")
        x = y
    else:
        x = src
    if m is not None:  # s = |m - x|: x where m = 0, 1 - x where m = 1 (x is in [0, 1])
        np.subtract(m, x, out=y, casting="same_kind")
        np.abs(y, out=y)
    elif x is not y:
        np.copyto(y, x, casting="same_kind")
    for _ in range(n_iter):
        np.subtract(_ones(y.size, dtype).reshape(shape), y, out=t)
        t *= y
        t *= c
        y += t
    if m is not None:
        np.subtract(m, y, out=y)
        np.abs(y, out=y)
    # LE maps [0, 1] into [0, 1]; the last rounding can land one ulp above 1.
    # (An array operand: NumPy's scalar-broadcast minimum is 4x slower.)
    np.minimum(y, _ones(y.size, dtype).reshape(shape), out=y)
    if y is not dst:
        np.copyto(dst, y)


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
        n_iter = 8 if n_iter is None else check_int("n_iter", n_iter, min=1, hint="e.g. 8.")
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
    _check_range(a5, "alphas", -1.0, _ALPHA_FIX)
    src = layout.to_nhwc(image)
    x = src[..., : layout.n_color]
    if image.dtype.kind == "u":
        x = x * dtype.type(1.0 / np.iinfo(image.dtype).max)
    else:
        _check_range(x, "image", 0.0, _FLOAT_FIX)
    out = np.ones(image.shape, dtype)
    gain_block(x.astype(dtype, copy=False), a5.astype(dtype, copy=False), n_iter,
               out=layout.to_nhwc(out)[..., : layout.n_color])
    return out


def gain_block(x: np.ndarray, a5: np.ndarray, n_iter: int, out: np.ndarray | None = None) -> np.ndarray:
    """Slope of the curves for a float block ``x`` (``(..., c)``) and broadcastable ``(..., k, c)`` alphas."""
    k = a5.shape[-2]
    x = x.copy()
    gain = np.ones_like(x) if out is None else out
    step = np.empty_like(x)
    for i in range(n_iter):
        a = a5[..., i if k > 1 else 0, :]
        np.multiply(x, -2, out=step)
        step += 1
        step *= a
        step += 1  # 1 + a (1 - 2x)
        gain *= step
        np.multiply(x, x, out=step)
        np.subtract(x, step, out=step)
        step *= a
        x += step  # x + a x (1 - x)
    return gain


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
        (default 8). With per-iteration alphas it must be ``None`` or ``k``.
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
    (``skdce/_kernels.c``, compiled at install time when a C compiler is
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
    if prevalidate or a5.size <= _workers.BLOCK:
        _check_range(a5, "alphas", -1.0, _ALPHA_FIX)
    if prevalidate and image.dtype.kind == "f":
        _check_range(image, "image", 0.0, _FLOAT_FIX)

    src = layout.to_nhwc(image)
    dst = layout.to_nhwc(out)
    is_int = image.dtype.kind == "u"
    int_scale = 1.0 / np.iinfo(image.dtype).max if is_int else None  # a float64 scale: one rounding
    check_image = not prevalidate and image.dtype.kind == "f"
    check_alpha = not prevalidate and a5.size > _workers.BLOCK

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


def run_blocks(src, dst, n_color, alpha_block, *, n_iter, per_iter, int_scale, check_image, check_alpha,
               num_threads=None):
    """Apply the curves to ``(N, H, W, C)`` ``src`` into ``dst`` in cache-sized blocks on worker threads.

    ``alpha_block(b, r0, r1, c0, c1)`` returns the ``(rows|1, cols|1, k, c)``
    alphas of a block; it runs in the worker thread, so it may compute them
    (Zero-DCE++ upsamples its maps there instead of storing a full-size map).
    """

    def work(task):
        b, r0, r1, c0, c1 = task
        _run_block(src[b, r0:r1, c0:c1, :n_color], dst[b, r0:r1, c0:c1, :n_color], alpha_block(b, r0, r1, c0, c1),
                   n_iter, per_iter, int_scale, check_image, check_alpha)

    _run_tasks(work, _block_tasks(*src.shape[:3], n_color), num_threads)


def run_blocks_upsampled(src, dst, n_color, upsampler, *, n_iter, int_scale, num_threads=None) -> bool:
    """Like :func:`run_blocks` with shared maps that ``upsampler`` (a
    :class:`skdce.engine.stages.boxes.BilinearUpsampler`) interpolates row by row inside
    the compiled kernel, with the same float32 arithmetic as ``upsampler.block``.

    Returns False, having done nothing, where the compiled kernel cannot do it
    (no kernel, float64 output, an input dtype it does not read); the caller
    then uses :func:`run_blocks`. The image and maps must be valid already.
    """
    cols, diff = upsampler.cols, upsampler.diff
    if (
        _kernels is None or dst.dtype != np.float32 or src.dtype not in _KERNEL_TYPES
        or not (src.flags.aligned and dst.flags.aligned)
        or not (cols.flags.c_contiguous and diff.flags.c_contiguous and cols.dtype == np.float32)
    ):
        return False
    src_rows = np.ascontiguousarray(upsampler.i0, dtype=np.int64)
    weights = np.ascontiguousarray(upsampler.wy.ravel(), dtype=np.float32)

    def work(task):
        b, r0, r1, c0, c1 = task
        _kernels.le_curves(
            src[b, r0:r1, c0:c1, :n_color], dst[b, r0:r1, c0:c1, :n_color], cols[b, :, c0:c1], n_iter,
            1.0 if int_scale is None else int_scale, False, False,
            (diff[b, :, c0:c1], src_rows[r0:r1], weights[r0:r1]),
        )

    _run_tasks(work, _block_tasks(*src.shape[:3], n_color), num_threads)
    return True


def copy_extra_channels(src: np.ndarray, dst: np.ndarray, n_color: int) -> None:
    """Copy the alpha channel (after the colour channels) through, scaled to float."""
    extra = src[..., n_color:]
    if extra.size == 0:
        return
    if extra.dtype.kind == "u":
        np.multiply(extra, dst.dtype.type(1.0 / np.iinfo(extra.dtype).max), out=dst[..., n_color:], casting="unsafe")
    else:
        np.copyto(dst[..., n_color:], extra, casting="same_kind")
