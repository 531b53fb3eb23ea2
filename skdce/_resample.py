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

    Integer images keep their scale (sums are taken in float32, or float64 for
    float64 input); bands of output rows are split between worker threads.
    """
    from .curves import _executor, _threads

    n, H, W, c = image.shape
    h, w = size
    acc = np.float64 if image.dtype == np.float64 else np.float32
    ey, ex = _edges(H, h), _edges(W, w)
    out = np.empty((n, h, w, c), acc)
    cy = np.diff(ey).astype(acc)
    cx = np.diff(ex).astype(acc)

    def band(k0, k1):
        if k0 == k1:
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


def bilinear_upsample(maps: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Resize ``(N, h, w, C)`` float32 maps to ``(N, H, W, C)``, bilinear with half-pixel centres.

    Columns are interpolated once at the small height; each output row is then
    ``cols[i0] + wy * (cols[i0 + 1] - cols[i0])``: two passes per row, rows
    split between the worker threads of :mod:`skdce.curves`.
    """
    from .curves import _executor, _threads

    n, h, w, c = maps.shape
    H, W = size
    j0, j1, wx = _taps(w, W)
    cols = maps[:, :, j0] * (1 - wx)[None, None, :, None] + maps[:, :, j1] * wx[None, None, :, None]
    i0, i1, wy = _taps(h, H)
    wy = np.where(i1 > i0, wy, 0).astype(np.float32)
    diff = np.zeros_like(cols)
    np.subtract(cols[:, 1:], cols[:, :-1], out=diff[:, :-1])
    if out is None:
        out = np.empty((n, H, W, c), np.float32)

    def rows(r0, r1):
        for b in range(n):
            for r in range(r0, r1):
                row = out[b, r]
                np.multiply(diff[b, i0[r]], wy[r], out=row)
                row += cols[b, i0[r]]

    threads = _threads(None)
    bounds = np.linspace(0, H, threads + 1).astype(int)
    if threads > 1 and H > 1:
        list(_executor().map(lambda k: rows(bounds[k], bounds[k + 1]), range(threads)))
    else:
        rows(0, H)
    return out
