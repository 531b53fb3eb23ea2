"""The illumination context: what a curve estimator sees beyond its 15-pixel field.

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
The torch twin is :func:`skdce.train.model.illumination_context_torch`.
"""

from __future__ import annotations

import numpy as np

from ..._base.image import unit_scale
from .boxes import BilinearUpsampler, box_downscale, small_size

__all__ = ["CONTEXT_GRIDS", "context_size", "ContextMap", "illumination_context"]

#: Cells along the longer side of the context grids: the whole image, and its halves.
CONTEXT_GRIDS = (1, 2)


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
