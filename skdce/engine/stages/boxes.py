"""Stage: box means, resampling and the illumination context; their one home.

* **Box downscaling** (:func:`box_downscale`): the mean over disjoint bins
  ``[floor(i*H/h), floor((i+1)*H/h))``, Zero-DCE++'s small copy and the
  context's grids; the compiled ``box_mean`` of ``skdce/native/_kernels.c``
  sums in double. :func:`bin_sums` gives the same bins' sums of one block
  (Dask adds the blocks' sums up).
* **Bilinear upsampling** (half-pixel centres, :class:`BilinearUpsampler`):
  Zero-DCE++'s maps and the context back to full size, block by block.
* **Box filtering** (:func:`box_filter`): scipy's ``uniform_filter`` with
  ``mode="reflect"``, the guided filter's windows.
* **The illumination context** (:class:`ContextMap`, :func:`illumination_context`):

  DCE-Net's seven 3x3 convolutions see 15x15 pixels: too little to tell a
  shadow in a well-exposed photo from a whole scene shot in the dark, so a
  network that sees only that must treat both alike. skdce's models therefore
  take a second input, one channel computed from the whole image:

  ``context = max(up(box(gray, 1)), up(box(gray, 2)))``

  where ``gray`` is the channel mean, ``box(gray, G)`` its box average on a grid
  of about ``G`` cells along the longer side (:func:`context_size`) and ``up``
  the bilinear (half-pixel) upsampling back to full size: the whole image's
  mean, and that of each half. The whole image says how bright the scene is;
  the halves keep a bright part of a mixed-lighting scene from being lifted
  with the dark part (the maximum). The context is deliberately coarse: the
  first context, with a 16-cell grid in place of the whole image, told each
  object how bright it was itself, so the curves flattened the scene (local
  tone mapping) and a dark photo lost about 1.4 dB against its longer
  exposure (``weights/README.md``).

  It is a whole-image quantity, so tiles (and Dask chunks) take slices of one
  context computed once; the grids are a few hundred numbers at any image size.

Side by side for each: the host code, the ONNX graph builders of the fused
pipeline (:func:`onnx_box_filter`, :func:`onnx_upsample`, :func:`onnx_context`,
with :func:`onnx_taps`), the torch twins (:func:`torch_box_downscale`,
:func:`torch_illumination_context`, :func:`torch_box_filter`; the upsampling's
is ``F.interpolate(mode="bilinear", align_corners=False)``) and the float64
oracle :func:`reference_box_means`.
"""

from __future__ import annotations

import numpy as np

from ..._base.image import unit_scale
from ..workers import executor, scratch
from ..workers import threads as worker_threads
from .curve import KERNEL_TYPES

try:  # the compiled box means (skdce/native/_kernels.c); without it NumPy sums them
    from ...native import _kernels
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernels = None

__all__ = [
    "small_size", "box_downscale", "bin_sums", "BilinearUpsampler", "bilinear_upsample", "box_filter",
    "CONTEXT_GRIDS", "context_size", "ContextMap", "illumination_context", "reference_box_means",
    "onnx_box_filter", "onnx_upsample", "onnx_context", "onnx_context_feeds", "onnx_taps",
    "torch_box_downscale", "torch_illumination_context", "torch_box_filter",
]

#: Cells along the longer side of the context grids: the whole image, and its halves.
CONTEXT_GRIDS = (1, 2)


def small_size(h: int, w: int, scale_factor: float) -> tuple[int, int]:
    """``(ceil(h / s), ceil(w / s))``, at least 1: no pixel is cropped."""
    return max(1, int(np.ceil(h / scale_factor))), max(1, int(np.ceil(w / scale_factor)))


def bin_edges(n: int, m: int) -> np.ndarray:
    return (np.arange(m + 1, dtype=np.int64) * n) // m


def box_downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Average ``(N, H, W, C)`` over disjoint bins ``[floor(i*H/h), floor((i+1)*H/h))``.

    Integer images keep their scale. The output is float32 (float64 for float64
    input); the compiled kernel sums in double, the NumPy fallback in the
    output dtype. Bands of output rows are split between worker threads.
    """
    n, H, W, c = image.shape
    h, w = size
    acc = np.float64 if image.dtype == np.float64 else np.float32
    ey, ex = bin_edges(H, h), bin_edges(W, w)
    out = np.empty((n, h, w, c), acc)
    compiled = _kernels is not None and image.dtype in KERNEL_TYPES and image.flags.aligned
    if not compiled:
        cy = np.diff(ey).astype(acc)
        cx = np.diff(ex).astype(acc)

    def band(k0, k1):
        if k0 == k1:
            return
        if compiled:  # one pass over the rows, summed in double
            for b in range(n):
                _kernels.box_mean(image[b], ey, ex, out[b], k0, k1)
            return
        part = image[:, ey[k0] : ey[k1]]
        rows = part if H == h else np.add.reduceat(part, ey[k0:k1] - ey[k0], axis=1, dtype=acc)
        cols = rows if W == w else np.add.reduceat(rows, ex[:-1], axis=2, dtype=acc)
        out[:, k0:k1] = cols / (cy[k0:k1, None, None] * cx[None, :, None])

    threads = min(worker_threads(None), h)
    bounds = np.linspace(0, h, threads + 1).astype(int)
    if threads > 1:
        list(executor().map(lambda k: band(bounds[k], bounds[k + 1]), range(threads)))
    else:
        band(0, h)
    return out


def bin_sums(block: np.ndarray, r0: int, c0: int, ey: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """Sums (float64) of ``(n, bh, bw, c)`` pixels at rows ``r0..`` / columns ``c0..`` over the bins ``ey x ex``."""
    n, bh, bw, c = block.shape
    out = np.zeros((n, len(ey) - 1, len(ex) - 1, c))
    by = np.searchsorted(ey, np.arange(r0, r0 + bh), side="right") - 1
    bx = np.searchsorted(ex, np.arange(c0, c0 + bw), side="right") - 1
    ry = np.flatnonzero(np.diff(by, prepend=-1))
    rx = np.flatnonzero(np.diff(bx, prepend=-1))
    sums = np.add.reduceat(np.add.reduceat(block, ry, axis=1, dtype=np.float64), rx, axis=2)
    out[:, by[ry][:, None], bx[rx][None, :]] = sums
    return out


def reference_box_means(image, size: tuple[int, int]) -> np.ndarray:
    """The oracle: ``(N, h, w, C)`` float64 means of :func:`box_downscale`'s bins, one bin at a time."""
    image = np.asarray(image, np.float64)
    ey, ex = bin_edges(image.shape[1], size[0]), bin_edges(image.shape[2], size[1])
    out = np.empty((image.shape[0],) + tuple(size) + (image.shape[3],))
    for i in range(size[0]):
        for j in range(size[1]):
            out[:, i, j] = image[:, ey[i] : ey[i + 1], ex[j] : ex[j + 1]].mean(axis=(1, 2))
    return out


def bilinear_taps(n_in: int, n_out: int):
    """Source indices ``i0``, ``i1`` and float32 weights of ``i1`` of half-pixel bilinear resizing ``n_in -> n_out``."""
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, w1


def row_taps(n_in: int, n_out: int):
    """:func:`bilinear_taps` of the rows of :class:`BilinearUpsampler`, the weight 0 where ``i1 == i0``.

    (Past the last source row there is nothing to interpolate towards.) The
    host's upsampler and the fused graph's row taps (:func:`onnx_taps`,
    :func:`onnx_context_feeds`) take them from here.
    """
    i0, i1, w1 = bilinear_taps(n_in, n_out)
    return i0, i1, np.where(i1 > i0, w1, 0).astype(np.float32)


class BilinearUpsampler:
    """Bilinear (half-pixel) upsampling of ``(N, h, w, C)`` float32 maps to ``(H, W)``, block by block.

    Columns are interpolated once at the small height (``cols``, ``N x h x W x C``);
    a block of output rows is then ``cols[i0] + wy * (cols[i0 + 1] - cols[i0])``,
    computed into per-thread buffers, so a full-size map never has to exist.
    """

    def __init__(self, maps: np.ndarray, size: tuple[int, int]):
        n, h, w, c = maps.shape
        H, W = size
        j0, j1, wx = bilinear_taps(w, W)
        # row-major (N, h, W, C), as the compiled kernel reads it: m0 * (1 - wx) + m1 * wx
        self.cols = np.take(maps, j0, axis=2)
        self.cols *= (1 - wx)[:, None]
        right = np.take(maps, j1, axis=2)
        right *= wx[:, None]
        self.cols += right
        self.i0, self.i1, wy = row_taps(h, H)
        self.wy = wy[:, None, None]
        self.diff = np.zeros_like(self.cols)
        np.subtract(self.cols[:, 1:], self.cols[:, :-1], out=self.diff[:, :-1])
        self.shape = (n, H, W, c)

    def block(self, b: int, r0: int, r1: int, c0: int, c1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``r0:r1``, columns ``c0:c1`` of image ``b``: ``(r1 - r0, c1 - c0, C)``."""
        shape = (r1 - r0, c1 - c0, self.shape[3])
        if out is None:
            out = scratch(shape[0] * shape[1] * shape[2], np.dtype(np.float32), 6).reshape(shape)
        rows = self.i0[r0:r1]
        # consecutive output rows share a source row: one broadcast pass per run
        starts = np.flatnonzero(np.diff(rows, prepend=-1))
        for k, s0 in enumerate(starts):
            s1 = starts[k + 1] if k + 1 < len(starts) else len(rows)
            src = rows[s0]
            o = out[s0:s1]
            np.multiply(self.diff[b, src, c0:c1], self.wy[r0 + s0 : r0 + s1], out=o)
            o += self.cols[b, src, c0:c1]
        return out


def bilinear_upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(N, h, w, C)`` float32 maps to ``(N, H, W, C)`` (see :class:`BilinearUpsampler`)."""
    up = BilinearUpsampler(maps, size)
    out = np.empty(up.shape, np.float32)
    n, H, W, c = up.shape
    step = max(1, (1 << 16) // max(1, W * c))
    for b in range(n):
        for r0 in range(0, H, step):
            r1 = min(H, r0 + step)
            up.block(b, r0, r1, 0, W, out=out[b, r0:r1])
    return out


def box_filter(x: np.ndarray, radius: int) -> np.ndarray:
    """The mean over the ``(2 r + 1)``-square window of each pixel, the edges reflected (scipy's ``"reflect"``)."""
    from scipy.ndimage import uniform_filter

    return uniform_filter(x, size=2 * radius + 1, mode="reflect")


def context_size(h: int, w: int, grid: int) -> tuple[int, int]:
    """Size of the ``grid`` context of an ``h x w`` image: about ``grid`` cells along the longer side.

    A cell is never smaller than a pixel: an image of fewer than ``grid`` pixels is its own grid.
    """
    return small_size(h, w, max(1.0, max(h, w) / grid))


class ContextMap:
    """The context of ``(N, H, W, C)`` float images in [0, 1], readable block by block.

    Parameters
    ----------
    rgb : (N, H, W, C) ndarray or None
        Float in [0, 1] or unsigned integer (scaled by its maximum); the
        channel mean is the gray level.
    grids, size : list of (N, h, w, C) ndarray, (int, int)
        Instead of ``rgb``: its box means on the :data:`CONTEXT_GRIDS`
        (:func:`context_size` each), in [0, 1], and the full size.
    """

    def __init__(self, rgb: np.ndarray | None, *, grids=None, size=None):
        if rgb is not None:
            n, h, w, c = rgb.shape
            grids = [box_downscale(rgb, context_size(h, w, grid)) for grid in CONTEXT_GRIDS]
            size = (h, w)
            scale = unit_scale(rgb.dtype)
        else:  # box means computed elsewhere (Dask, chunk by chunk), already on the [0, 1] scale
            scale = 1.0
        self.shape = (grids[0].shape[0],) + tuple(size)
        self._ups = []
        for small in grids:
            gray = small.astype(np.float32).mean(axis=-1, keepdims=True, dtype=np.float32) * np.float32(scale)
            self._ups.append(BilinearUpsampler(np.ascontiguousarray(gray), tuple(size)))

    def block(self, b: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Rows ``r0:r1``, columns ``c0:c1`` of image ``b`` as a new ``(r1 - r0, c1 - c0)`` float32 array."""
        shape = (r1 - r0, c1 - c0, 1)
        out = self._ups[0].block(b, r0, r1, c0, c1, out=np.empty(shape, np.float32))
        np.maximum(out, self._ups[1].block(b, r0, r1, c0, c1, out=np.empty(shape, np.float32)), out=out)
        return out[..., 0]


def illumination_context(rgb: np.ndarray) -> np.ndarray:
    """The ``(N, H, W)`` float32 context of ``(N, H, W, C)`` images (see the module notes)."""
    ctx = ContextMap(rgb)
    n, h, w = ctx.shape
    return np.stack([ctx.block(b, 0, h, 0, w) for b in range(n)])


# ---- the ONNX graph builders of the fused pipeline (skdce.engine.graph) ----


def onnx_box_filter(g, x, radius, like):
    """:func:`box_filter` of each ``(N, C, H, W)`` plane of ``x``.

    ``like`` names a tensor of the same height and width (the reflection
    indices are built once per shape). The extension is gathered, then
    averaged without padding: every window holds ``2 r + 1`` real samples.
    """
    k = 2 * radius + 1
    rows = g.op("Gather", x, g.reflect_index(like, 2, radius), axis=2)
    x = g.op("AveragePool", rows, kernel_shape=[k, 1])
    cols = g.op("Gather", x, g.reflect_index(like, 3, radius), axis=3)
    return g.op("AveragePool", cols, kernel_shape=[1, k])


def onnx_upsample(g, a: str) -> str:
    """Bilinear (half-pixel) upsampling of the shared maps to the image or tile, from host taps.

    The arithmetic of :class:`skdce.engine.stages.boxes.BilinearUpsampler`:
    ``cols = a[j0] * (1 - wx) + a[j1] * wx``, then ``(cols[i1] - cols[i0]) * wy + cols[i0]``
    (``up_cols`` holds ``j0; j1``, ``up_rows`` ``i0; i1``), so a tile takes
    its own taps and the maps equal the host's bit for bit.
    """
    zero, one = g.const(0, np.int64), g.const(1, np.int64)
    left = g.op("Gather", a, g.op("Gather", "up_cols", zero, axis=0), axis=3)
    right = g.op("Gather", a, g.op("Gather", "up_cols", one, axis=0), axis=3)
    cols = g.op("Add", g.op("Mul", left, g.op("Sub", g.const(1.0), "up_wx")), g.op("Mul", right, "up_wx"))
    c0 = g.op("Gather", cols, g.op("Gather", "up_rows", zero, axis=0), axis=2)
    c1 = g.op("Gather", cols, g.op("Gather", "up_rows", one, axis=0), axis=2)
    return g.op("Add", g.op("Mul", g.op("Sub", c1, c0), "up_wy"), c0)


def onnx_context(g, n_grids: int) -> str:
    """The illumination context from its grids, as :class:`ContextMap` computes it.

    Each grid arrives interpolated along the columns already (``context_cols``:
    a few rows of the tile's width, :class:`skdce.engine.stages.boxes.BilinearUpsampler`'s
    ``cols``); the rows are interpolated here, ``(c[i1] - c[i0]) * wy + c[i0]``,
    the same two roundings as the host's ``diff * wy + cols``, and the grids'
    maximum taken.
    """
    out = None
    for k in range(n_grids):
        cols, rows = f"context_cols{k}", f"context_rows{k}"
        c0 = g.op("Gather", cols, g.op("Gather", rows, g.const(0, np.int64), axis=0), axis=2)
        c1 = g.op("Gather", cols, g.op("Gather", rows, g.const(1, np.int64), axis=0), axis=2)
        up = g.op("Add", g.op("Mul", g.op("Sub", c1, c0), f"context_wy{k}"), c0)
        out = up if out is None else g.op("Max", out, up)
    return out


def onnx_taps(n_in: int, n_out: int, rows: bool):
    """``(2, n_out)`` int64 source indices ``i0; i1`` and ``(n_out,)`` float32 weights of
    :class:`skdce.engine.stages.boxes.BilinearUpsampler` (whose row weights are 0 where ``i1 == i0``)."""
    i0, i1, wt = (row_taps if rows else bilinear_taps)(n_in, n_out)
    return np.stack([i0, i1]).astype(np.int64), wt.astype(np.float32)


def onnx_context_feeds(context, b0, b1, r0, r1, c0, c1) -> dict:
    """The context inputs of images ``b0:b1``, rows ``r0:r1``, columns ``c0:c1`` (see :func:`onnx_context`)."""
    if context is None:
        return {}
    feeds = {}
    for k, up in enumerate(context._ups):
        feeds[f"context_cols{k}"] = np.ascontiguousarray(np.moveaxis(up.cols[b0:b1, :, c0:c1], -1, 1))
        feeds[f"context_rows{k}"] = np.stack([up.i0[r0:r1], up.i1[r0:r1]]).astype(np.int64)
        feeds[f"context_wy{k}"] = np.ascontiguousarray(up.wy[r0:r1, 0, 0], np.float32).reshape(1, 1, -1, 1)
    return feeds


# ---- the torch twins (skdce.train) ----


def torch_box_downscale(image, size: tuple[int, int]):
    """:func:`box_downscale` of NCHW tensors (bins as matrix products, differentiable)."""
    import torch

    out = image
    for axis, m in ((2, size[0]), (3, size[1])):
        n = out.shape[axis]
        if n == m:
            continue
        edges = (torch.arange(m + 1, dtype=torch.int64, device=out.device) * n) // m
        idx = torch.arange(n, device=out.device)
        pool = ((idx[None, :] >= edges[:-1, None]) & (idx[None, :] < edges[1:, None])).to(out.dtype)
        pool = pool / pool.sum(dim=1, keepdim=True)
        out = torch.movedim(torch.movedim(out, axis, -1) @ pool.T, -1, axis)
    return out


def torch_illumination_context(image):
    """``(N, 1, H, W)`` context of NCHW images: :func:`illumination_context`."""
    import torch
    from torch.nn import functional as F

    gray = image.mean(dim=1, keepdim=True)
    h, w = gray.shape[-2:]
    out = None
    for grid in CONTEXT_GRIDS:
        small = torch_box_downscale(gray, context_size(h, w, grid))
        up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        out = up if out is None else torch.maximum(out, up)
    return out


def torch_box_filter(x, radius: int):
    """:func:`box_filter` of NCHW tensors (axes longer than ``radius``): reflect, then the mean."""
    import torch
    from torch.nn import functional as F

    r = radius
    x = torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], dim=-2)
    x = torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1)
    return F.avg_pool2d(x, 2 * r + 1, stride=1)
