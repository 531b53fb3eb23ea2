"""Stage: the LE curve ``LE(x) = x + a*x*(1 - x)``, iterated; its one home.

Side by side, each computing the same thing:

* the host code: :func:`run_blocks` (cache-sized blocks on worker threads,
  through the compiled kernel ``skdce/native/_kernels.c`` where it was built,
  else NumPy passes in :func:`_run_block`) and :func:`run_blocks_upsampled`
  (Zero-DCE++'s maps upsampled inside the kernel);
* the ONNX graph builders of the fused pipeline: :func:`onnx_curves_per_iteration`
  (Zero-DCE's per-iteration maps, carried in float64) and :func:`onnx_curves_shared`
  (one shared curve in float32 on ``s = |m - x|``);
* the torch twin used in training: :func:`torch_le_curves`;
* the float64 oracle they are all tested against: :func:`reference_le_curves`.

The public, validating face is :func:`skdce.apply_le_curves`.
"""

from __future__ import annotations

import numpy as np

from ..._base.image import _FLOAT_FIX, check_unit_range
from ..workers import block_tasks, ones, run_tasks, scratch

try:  # the compiled kernel (skdce/native/_kernels.c); without it the NumPy kernel below runs
    from ...native import _kernels
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

__all__ = [
    "ALPHA_FIX", "KERNEL_TYPES", "check_range", "run_blocks", "run_blocks_upsampled", "copy_extra_channels",
    "onnx_curves_per_iteration", "onnx_curves_shared", "torch_le_curves", "reference_le_curves",
]


def reference_le_curves(x, alphas, n_iter: int) -> np.ndarray:
    """The oracle: ``x <- x + a x (1 - x)`` in float64, ``alphas`` ``(..., k, c)`` (``k`` 1 or ``n_iter``)."""
    y = np.asarray(x, np.float64)
    a = np.asarray(alphas, np.float64)
    for i in range(n_iter):
        ai = a[..., i if a.shape[-2] > 1 else 0, :]
        y = y + ai * y * (1 - y)
    return y


def _check_block(arr: np.ndarray, name: str, lower: float, fix: str) -> None:
    lo = arr.min()
    hi = arr.max()
    if not (lo >= lower and hi <= 1.0):  # also catches NaN
        check_unit_range(arr, name, lower=lower, fix=fix)



ALPHA_FIX = (
    "alphas outside [-1, 1] break the curve's guarantees (output in [0, 1], monotonic in x). "
    "Use np.clip(alphas, -1, 1) or scale them down."
)



#: dtypes the compiled kernel reads (native byte order); it writes float32 or float64
KERNEL_TYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))
KERNEL_OUT = frozenset(np.dtype(t) for t in (np.float32, np.float64))


def _packed(arr: np.ndarray) -> bool:
    """Whether ``arr`` fills its memory without gaps in some axis order (positive strides)."""
    expected = arr.itemsize
    for stride, n in sorted((s, n) for n, s in zip(arr.shape, arr.strides) if n > 1):
        if stride != expected:
            return False
        expected *= n
    return True


def check_range(arr: np.ndarray, name: str, lower: float, fix: str) -> None:
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

    run_tasks(work, list(bounds), None)
    if not ok[0]:
        check_unit_range(arr, name, lower=lower, fix=fix)  # finds the values for the message


def _kernel_block(src, dst, alpha, n_iter, int_scale, check_image, check_alpha) -> bool:
    """Run one block in the compiled kernel; False where it does not apply (NumPy then runs it)."""
    if _kernels is None:
        return False
    if alpha.dtype == np.float32 and dst.dtype == np.float64:  # the network's maps for a float64 image: exact
        alpha = alpha.astype(np.float64)
    if (
        src.dtype not in KERNEL_TYPES or dst.dtype not in KERNEL_OUT
        or alpha.dtype != dst.dtype or not (src.flags.aligned and dst.flags.aligned and alpha.flags.aligned)
    ):
        return False
    # the kernel reads (rows|1, cols|1, k, c|1) alphas: the iteration axis before the channels
    bad = _kernels.le_curves(src, dst, alpha, n_iter, 1.0 if int_scale is None else int_scale,
                             check_image, check_alpha)
    if bad & 1:
        check_unit_range(src, "image", lower=0.0, fix=_FLOAT_FIX)
    if bad & 2:
        check_unit_range(alpha, "alphas", lower=-1.0, fix=ALPHA_FIX)
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
            _check_block(alpha, "alphas", -1.0, ALPHA_FIX)
        f64 = np.dtype(np.float64)
        y = scratch(dst.size, f64, 0).reshape(shape)
        t = scratch(dst.size, f64, 1).reshape(shape)
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
        c = np.abs(a, out=scratch(a.size, dtype, 2).reshape(a.shape))
        if check_alpha and not (c.max() <= 1):
            check_unit_range(a, "alphas", lower=-1.0, fix=ALPHA_FIX)
        m = None
        if a.min() < 0:  # m = 1 where a < 0, else 0
            m = np.less(a, 0, out=scratch(a.size, dtype, 4).reshape(a.shape), casting="unsafe")
    y = dst if dst.flags.c_contiguous else scratch(dst.size, dtype, 1).reshape(shape)
    t = scratch(dst.size, dtype, 0).reshape(shape)
    if int_scale is not None and m is not None:
        # s = |m - x| formed in double, so an integer is rounded once, as the compiled kernel does
        # (x rounded to float32 first, 1 - x would carry that rounding: 1e-6 at the end for uint16)
        wide = scratch(dst.size, np.dtype(np.float64), 3).reshape(shape)
        np.multiply(src, int_scale, out=wide)
        np.subtract(m, wide, out=wide)
        np.abs(wide, out=wide)
        np.copyto(y, wide, casting="same_kind")
    else:
        x = src
        if int_scale is not None:
            np.multiply(src, int_scale, out=y, casting="unsafe")
            x = y
        if m is not None:  # s = |m - x|: x where m = 0, 1 - x where m = 1 (x is in [0, 1])
            np.subtract(m, x, out=y, casting="same_kind")
            np.abs(y, out=y)
        elif x is not y:
            np.copyto(y, x, casting="same_kind")
    for _ in range(n_iter):
        np.subtract(ones(y.size, dtype).reshape(shape), y, out=t)
        t *= y
        t *= c
        y += t
    if m is not None:
        np.subtract(m, y, out=y)
        np.abs(y, out=y)
    # LE maps [0, 1] into [0, 1]; the last rounding can land one ulp above 1.
    # (An array operand: NumPy's scalar-broadcast minimum is 4x slower.)
    np.minimum(y, ones(y.size, dtype).reshape(shape), out=y)
    if y is not dst:
        np.copyto(dst, y)


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

    run_tasks(work, block_tasks(*src.shape[:3], n_color), num_threads)


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
        _kernels is None or dst.dtype != np.float32 or src.dtype not in KERNEL_TYPES
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

    run_tasks(work, block_tasks(*src.shape[:3], n_color), num_threads)
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


# ---- the ONNX graph builders of the fused pipeline (skdce.engine.graph) ----


def onnx_curves_per_iteration(g, raw, dtype, maps):
    """The full model's curves, carried in float64 as the compiled kernel does (``skdce/native/_kernels.c``)."""
    v = g.op("Cast", raw, to=g.T.DOUBLE)
    if dtype != "float32":
        v = g.op("Mul", v, g.const(1.0 / np.iinfo(dtype).max, np.float64))
    one = g.const(1.0, np.float64)
    for a in maps:
        t = g.op("Mul", g.op("Sub", one, v), v)
        t = g.op("Mul", t, g.op("Cast", a, to=g.T.DOUBLE))
        v = g.op("Add", v, t)
    return g.op("Cast", g.op("Min", v, one), to=g.T.FLOAT)


def onnx_curves_shared(g, raw, x32, dtype, a, n_iter):
    """One shared curve in float32 on ``s = |m - x|`` (``m = 1`` where ``a < 0``), as the compiled kernel."""
    m = g.op("Cast", g.op("Less", a, g.const(0.0)), to=g.T.FLOAT)
    c = g.op("Abs", a)
    if dtype == "float32":
        s = g.op("Abs", g.op("Sub", m, x32))
    else:  # formed in double: integer input is rounded once
        v = g.op("Mul", g.op("Cast", raw, to=g.T.DOUBLE), g.const(1.0 / np.iinfo(dtype).max, np.float64))
        s = g.op("Cast", g.op("Abs", g.op("Sub", g.op("Cast", m, to=g.T.DOUBLE), v)), to=g.T.FLOAT)
    one = g.const(1.0)
    for _ in range(n_iter):
        t = g.op("Mul", g.op("Mul", g.op("Sub", one, s), s), c)
        s = g.op("Add", s, t)
    return g.op("Abs", g.op("Sub", m, s))


# ---- the torch twin (skdce.train) ----


def torch_le_curves(image, alphas, n_iter: int = 8):
    """The torch twin: ``LE`` applied iteratively to NCHW tensors (autograd flows through it).

    ``alphas`` has either the image's channels (one map reused ``n_iter``
    times, Zero-DCE++) or ``k`` times as many (one map per iteration, Zero-DCE;
    ``n_iter`` is then ``k``).
    """
    channels = image.shape[1]
    k = alphas.shape[1] // channels
    maps = [alphas] * n_iter if k == 1 else list(alphas.split(channels, dim=1))
    x = image
    for a in maps:
        x = x + a * x * (1 - x)
    return x
