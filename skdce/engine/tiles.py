"""Tiles and windows: where a piece of work lies in the image, as values.

A :class:`Tile` is a rectangle of one image of the batch in whole-image
coordinates. Every stage that looks at neighbours needs context around the
tile it computes (the network 7 pixels, the guided filter
:data:`~skdce.engine.stages.guided.DENOISE_HALO`): :meth:`Tile.grown` gives
that region, clipped to the image, and :meth:`Tile.inside` the tile's place
within it. A :class:`Window` holds the pixels a driver has at hand (the whole
batch in memory, or one Dask block with its halo) and reads any region of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "Window", "tile_grid"]


@dataclass(frozen=True)
class Tile:
    """Rows ``y0:y1`` and columns ``x0:x1`` of image ``b`` of the batch."""

    b: int
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def grown(self, halo: int, size: tuple[int, int]) -> Tile:
        """This tile with ``halo`` pixels more on each side, clipped to an image of ``size``."""
        h, w = size
        return Tile(self.b, max(0, self.y0 - halo), min(h, self.y1 + halo), max(0, self.x0 - halo),
                    min(w, self.x1 + halo))

    def inside(self, outer: Tile) -> tuple[slice, slice]:
        """The rows and columns of this tile within ``outer`` (a region that contains it)."""
        return slice(self.y0 - outer.y0, self.y1 - outer.y0), slice(self.x0 - outer.x0, self.x1 - outer.x0)

    def of(self, arr: np.ndarray) -> np.ndarray:
        """This tile of a whole-image ``(N, H, W, ...)`` array."""
        return arr[self.b, self.y0 : self.y1, self.x0 : self.x1]


def tile_grid(b: int, y0: int, y1: int, x0: int, x1: int, tile: int | None) -> list[Tile]:
    """Tiles of at most ``tile`` pixels a side covering rows ``y0:y1``, columns ``x0:x1`` of image ``b``.

    ``tile=None``: the whole area as one tile.
    """
    if tile is None:
        return [Tile(b, y0, y1, x0, x1)]
    return [Tile(b, r, min(y1, r + tile), c, min(x1, c + tile))
            for r in range(y0, y1, tile) for c in range(x0, x1, tile)]


@dataclass(frozen=True)
class Window:
    """The pixels a driver holds: ``pixels[k]`` is image ``first + k`` from row and column ``origin`` on.

    In memory the window is the whole ``(N, H, W, C)`` batch; under Dask it is
    one block with the halo ``map_overlap`` gave it.
    """

    pixels: np.ndarray
    first: int = 0
    origin: tuple[int, int] = (0, 0)

    def read(self, region: Tile) -> np.ndarray:
        """The ``(h, w, C)`` pixels of ``region``, which must lie inside the window."""
        oy, ox = self.origin
        return self.pixels[region.b - self.first, region.y0 - oy : region.y1 - oy, region.x0 - ox : region.x1 - ox]
