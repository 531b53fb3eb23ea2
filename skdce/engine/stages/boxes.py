"""Resampling for Zero-DCE++: box downscaling and bilinear (half-pixel) upscaling.

The torch twins are :func:`skdce.train.model.box_downscale_torch` and
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["small_size", "box_downscale", "bilinear_upsample"]


def small_size(h: int, w: int, scale_factor: float) -> tuple[int, int]:
    """``(ceil(h / s), ceil(w / s))``, at least 1: no pixel is cropped."""
    return max(1, int(np.ceil(h / scale_factor))), max(1, int(np.ceil(w / scale_factor)))


def _edges(n: int, m: int) -> np.ndarray:
    return (np.arange(m + 1, dtype=np.int64) * n) // m


def box_downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Average ``(N, H, W, C)`` over disjoint bins ``[floor(i*H/h), floor((i+1)*H/h))``.

    Integer images keep their scale. The output is float32 (float64 for float64
    input); the compiled kernel sums in double, the NumPy fallback in the
    output dtype. Bands of output rows are split between worker threads.
    """
    from ..workers import executor as _executor, threads as _threads
    from ...curves import _KERNEL_TYPES, _kernels

    n, H, W, c = image.shape
    h, w = size
    acc = np.float64 if image.dtype == np.float64 else np.float32
    ey, ex = _edges(H, h), _edges(W, w)
    out = np.empty((n, h, w, c), acc)
    compiled = _kernels is not None and image.dtype in _KERNEL_TYPES and image.flags.aligned
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

    threads = min(_threads(None), h)
    bounds = np.linspace(0, h, threads + 1).astype(int)
    if threads > 1:
        list(_executor().map(lambda k: band(bounds[k], bounds[k + 1]), range(threads)))
    else:
        band(0, h)
    return out


def _taps(n_in: int, n_out: int):
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, w1


class BilinearUpsampler:
    """Bilinear (half-pixel) upsampling of ``(N, h, w, C)`` float32 maps to ``(H, W)``, block by block.

    Columns are interpolated once at the small height (``cols``, ``N x h x W x C``);
    a block of output rows is then ``cols[i0] + wy * (cols[i0 + 1] - cols[i0])``,
    computed into per-thread buffers, so a full-size map never has to exist.
    """

    def __init__(self, maps: np.ndarray, size: tuple[int, int]):
        n, h, w, c = maps.shape
        H, W = size
        j0, j1, wx = _taps(w, W)
        # row-major (N, h, W, C), as the compiled kernel reads it: m0 * (1 - wx) + m1 * wx
        self.cols = np.take(maps, j0, axis=2)
        self.cols *= (1 - wx)[:, None]
        right = np.take(maps, j1, axis=2)
        right *= wx[:, None]
        self.cols += right
        self.i0, i1, wy = _taps(h, H)
        self.wy = np.where(i1 > self.i0, wy, 0).astype(np.float32)[:, None, None]
        self.diff = np.zeros_like(self.cols)
        np.subtract(self.cols[:, 1:], self.cols[:, :-1], out=self.diff[:, :-1])
        self.shape = (n, H, W, c)

    def block(self, b: int, r0: int, r1: int, c0: int, c1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``r0:r1``, columns ``c0:c1`` of image ``b``: ``(r1 - r0, c1 - c0, C)``."""
        from ..workers import scratch as _scratch

        shape = (r1 - r0, c1 - c0, self.shape[3])
        if out is None:
            out = _scratch(shape[0] * shape[1] * shape[2], np.dtype(np.float32), 6).reshape(shape)
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
