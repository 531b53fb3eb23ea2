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
    """Average ``(N, H, W, C)`` over disjoint bins ``[floor(i*H/h), floor((i+1)*H/h))``."""
    out = image
    for axis, m in ((1, size[0]), (2, size[1])):
        n = out.shape[axis]
        if n == m:
            continue
        edges = _edges(n, m)
        sums = np.add.reduceat(out, edges[:-1], axis=axis, dtype=np.float64 if out.dtype == np.float64 else np.float32)
        counts = np.diff(edges).astype(sums.dtype)
        shape = [1] * out.ndim
        shape[axis] = m
        out = sums / counts.reshape(shape)
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
    """Resize ``(N, h, w, C)`` float32 maps to ``(N, H, W, C)``, bilinear with half-pixel centres."""
    n, h, w, c = maps.shape
    H, W = size
    j0, j1, wx = _taps(w, W)
    cols = maps[:, :, j0] * (1 - wx)[None, None, :, None] + maps[:, :, j1] * wx[None, None, :, None]
    i0, i1, wy = _taps(h, H)
    if out is None:
        out = np.empty((n, H, W, c), np.float32)
    step = max(1, (1 << 16) // max(1, W * c))
    for r0 in range(0, H, step):
        r1 = min(H, r0 + step)
        wy_b = wy[r0:r1, None, None]
        blk = out[:, r0:r1]
        np.multiply(cols[:, i0[r0:r1]], 1 - wy_b, out=blk)
        blk += cols[:, i1[r0:r1]] * wy_b
    return out
