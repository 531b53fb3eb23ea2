"""Dask arrays in, lazy Dask arrays out: :func:`skdce.enhance` and :func:`skdce.estimate_curves`.

The driver makes two passes, because three things skdce needs are whole-image
quantities:

1. *Small, computed once*: the box means of the illumination context
   (:mod:`skdce.engine.stages.boxes`), the noise level (:mod:`skdce.engine.stages.noise`,
   from a sample of rows) and, for Zero-DCE++, the box-downscaled image and so
   its curve maps. Box means are sums over bins, so each chunk adds what it
   holds to each bin it meets and the sums are added up: nothing larger than
   one chunk is ever in memory.
2. *Per chunk, lazily*: :func:`dask.array.map_overlap` with the pipeline's
   exact halo (7 pixels for the network, plus :data:`~skdce.engine.stages.guided.DENOISE_HALO`
   when denoising) runs the host driver's tile code (:func:`skdce.engine.host.enhance_tile`) on each chunk and its halo,
   reading the context and the upsampled maps in whole-image coordinates.

So the result equals the in-memory one (to float32 rounding: the box sums
are added in another order). Chunks smaller than the halo are merged first
(``map_overlap`` needs each chunk to hold its neighbours' halo), the colour
axis is one chunk, and the result comes back in the input's chunking.
"""

from __future__ import annotations

import numpy as np

from .._base.image import unit_scale, validate_values
from .host import enhance_tile, needs_noise, shared_maps, tone_stretch
from .host import finish as tone_finish
from .plan import Plan
from .stages.boxes import CONTEXT_GRIDS, BilinearUpsampler, ContextMap, bin_edges, bin_sums, context_size, small_size
from .stages.network import estimate_tile
from .stages.noise import level_from_rows, level_rows
from .stages.tone import white_areas, white_size
from .tiles import Window, tile_grid

__all__ = ["is_dask_array", "require_dask", "enhance_dask", "estimate_dask"]


def is_dask_array(image) -> bool:
    """Whether ``image`` is a Dask array (told without importing Dask)."""
    return type(image).__module__.split(".")[0] == "dask" and hasattr(image, "chunks")


def require_dask():
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - the dask extra is installed in the test environment
        raise ImportError(
            "skdce got a Dask array, but Dask is not installed; install the extra: pip install 'skdce[dask]'."
        ) from None
    return da


def _box_means(x, sizes):
    """``(N, h, w, c)`` float32 box means of the Dask ``(N, H, W, c)`` array ``x`` for each ``(h, w)`` in ``sizes``."""
    import dask

    _, H, W, _ = x.shape
    edges = [(bin_edges(H, h), bin_edges(W, w)) for h, w in sizes]
    rows = np.cumsum((0,) + x.chunks[1])
    cols = np.cumsum((0,) + x.chunks[2])
    blocks = x.to_delayed()
    parts = [[] for _ in sizes]
    for i in range(blocks.shape[0]):
        for j in range(blocks.shape[1]):
            for k in range(blocks.shape[2]):
                blk = blocks[i, j, k, 0]
                for s, (ey, ex) in enumerate(edges):
                    parts[s].append((i, dask.delayed(bin_sums)(blk, rows[j], cols[k], ey, ex)))
    n_chunks = np.cumsum((0,) + x.chunks[0])

    def assemble(s, *sums):
        ey, ex = edges[s]
        total = np.zeros((x.shape[0], len(ey) - 1, len(ex) - 1, x.shape[3]))
        for (i, _), part in zip(parts[s], sums):
            total[n_chunks[i] : n_chunks[i + 1]] += part
        counts = np.diff(ey)[:, None, None] * np.diff(ex)[None, :, None]
        return (total / counts).astype(np.float32)

    tasks = [dask.delayed(assemble)(s, *[d for _, d in parts[s]]) for s in range(len(sizes))]
    return list(dask.compute(*tasks))


def _noise_levels(x) -> np.ndarray:
    """:func:`~skdce.engine.stages.noise.filter_noise_level` of each image of the Dask ``(N, H, W, c)`` array.

    Only its sampled rows are read (:func:`~skdce.engine.stages.noise.level_rows`)."""
    import dask

    _, h, w, _ = x.shape
    indices = level_rows(h, w)
    read = dict(zip(indices, dask.compute(*[x[:, idx.reshape(-1)] for idx in indices.values()]), strict=True))
    levels = []
    for b in range(x.shape[0]):
        own = {name: rows[b].reshape(*indices[name].shape, w, -1) for name, rows in read.items()}
        levels.append(level_from_rows(own, x.dtype))
    return np.array(levels)


def _rechunked(plan: Plan, image):
    """``image`` as ``(N, H, W, C)`` with chunks the halo allows, and the halo."""
    depth = plan.halo
    x = plan.layout.to_nhwc(image)
    chunks = {3: -1}
    for axis in (1, 2):  # map_overlap needs every chunk to hold its neighbours' halo
        chunks[axis] = _merge_small(x.chunks[axis], depth)
    return x.rechunk(chunks), depth


def _overlap(chunks: tuple, depth: int) -> dict:
    """``map_overlap``'s depth per axis: none along an axis of one chunk (it has no neighbours, and Dask
    refuses a depth larger than the axis, e.g. the 13-pixel halo of a 1-pixel-high image)."""
    return {axis: depth if len(chunks[axis]) > 1 else 0 for axis in (1, 2)}


def _merge_small(chunks: tuple, depth: int) -> tuple:
    """``chunks`` merged in runs until each holds at least ``depth`` (the last run joins the one before it):
    ``(16,) * 8`` with a 20-pixel halo gives ``(32,) * 4``, not one chunk."""
    merged = []
    for c in chunks:  # a chunk grows until it holds the halo; then the next one starts (small ones stay apart)
        if merged and merged[-1] < depth:
            merged[-1] += c
        else:
            merged.append(c)
    if len(merged) > 1 and merged[-1] < depth:
        last = merged.pop()
        merged[-1] += last
    return tuple(merged)


def _global_state(plan: Plan, x, *, tone: bool = True, noise=None):
    """Whole-image quantities: ``(upsampler, lifts, stops, context)`` (Zero-DCE++'s small maps and tone, ``noise``
    the images' noise levels for auto exposure's noise limit; the full model's context)."""
    n, h, w, _ = x.shape
    nc = plan.n_color
    rgb = x[..., :nc]
    scale = np.float32(unit_scale(x.dtype))
    if plan.shared:
        whites = None
        if plan.auto_exposure and tone:  # the copy auto exposure reads white on, in the same pass over the chunks
            small, white = _box_means(rgb, [small_size(h, w, plan.scale), white_size(h, w)])
            whites = white_areas(white * scale)
        else:
            (small,) = _box_means(rgb, [small_size(h, w, plan.scale)])
        validate_values(small * scale, "image")  # a NaN reaches every box mean it falls in: named as the input's
        maps, lifts, stops, _ = shared_maps(plan, [small[b : b + 1] * scale for b in range(n)], tone=tone, noise=noise,
                                            whites=whites)
        return BilinearUpsampler(maps, (h, w)), lifts, stops, None
    if plan.context:
        grids = _box_means(rgb, [context_size(h, w, g) for g in CONTEXT_GRIDS])
        return None, None, None, ContextMap(None, grids=[g * scale for g in grids], size=(h, w))
    return None, None, None, None


def _block_geometry(chunks, block_info, depth):
    """Where an overlapped block lies: ``(b0, origin, (y0, y1, x0, x1))``.

    ``b0`` is its first image in the batch; ``origin`` the whole-image row and
    column of its first pixel (its chunk's start less the halo it got, none at
    the edges); ``y0:y1, x0:x1`` the chunk it computes, in whole-image coordinates.
    """
    loc = block_info[0]["chunk-location"]
    starts = [np.cumsum((0,) + c) for c in chunks]
    y0, x0 = int(starts[1][loc[1]]), int(starts[2][loc[2]])
    origin = (y0 - (depth if loc[1] > 0 else 0), x0 - (depth if loc[2] > 0 else 0))
    return int(starts[0][loc[0]]), origin, (y0, y0 + chunks[1][loc[1]], x0, x0 + chunks[2][loc[2]])


def _map_tiles(plan: Plan, x, depth: int, channels: int, dtype, tile_values, finish=None):
    """The lazy ``(N, H, W, channels)`` array of ``x``'s chunks, each computed in the plan's tiles.

    ``tile_values(window, tile)`` gives a tile's ``(th, tw, c)`` values (the
    first ``c`` channels); ``finish(pixels, out, b0)``, if given, then completes
    a chunk's ``out`` from its own ``pixels`` (without the halo), ``b0`` its first image.
    """
    import dask.array as da

    chunks = x.chunks

    def run(block, block_info=None):
        b0, origin, (y0, y1, x0, x1) = _block_geometry(chunks, block_info, depth)
        validate_values(block, "image")
        window = Window(block, b0, origin)
        out = np.empty((block.shape[0], y1 - y0, x1 - x0, channels), dtype)
        for k in range(block.shape[0]):
            for tile in tile_grid(b0 + k, y0, y1, x0, x1, plan.tile):  # the in-memory tiles, inside the chunk
                values = tile_values(window, tile)
                out[k, tile.y0 - y0 : tile.y1 - y0, tile.x0 - x0 : tile.x1 - x0, : values.shape[-1]] = values
        if finish is not None:
            oy, ox = origin
            finish(block[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox], out, b0)
        return out

    return da.map_overlap(run, x, depth=_overlap(chunks, depth), boundary="none", trim=False, dtype=dtype,
                          chunks=chunks[:3] + ((channels,),), meta=np.empty((0, 0, 0, 0), dtype))


def enhance_dask(plan: Plan, image):
    """:func:`skdce.enhance` of a Dask array: a lazy Dask array (see the module notes)."""
    require_dask()  # before any work: the error names the extra to install
    x, depth = _rechunked(plan, image)
    sigmas = _noise_levels(x[..., : plan.n_color]) if needs_noise(plan) else np.zeros(x.shape[0])
    up, lifts, stops, context = _global_state(plan, x, noise=sigmas)

    def tile_values(window, tile):
        stretch = tone_stretch(plan, lifts, stops, tile.b)
        return enhance_tile(plan, window, tile, up, context, sigmas[tile.b], stretch)

    def finish(pixels, out, b0):  # the tone steps, and the extra channels copied through
        b1 = b0 + len(out)
        tone_finish(plan, pixels, out, None if lifts is None else lifts[b0:b1], None if stops is None else stops[b0:b1],
                    num_threads=1)

    out = _map_tiles(plan, x, depth, x.shape[3], plan.dtype, tile_values, finish)
    return plan.layout.from_nhwc(out).rechunk(image.chunks)


def estimate_dask(plan: Plan, image):
    """:func:`skdce.estimate_curves` of a Dask array: lazy ``(N, H, W, K)`` maps."""
    require_dask()  # before any work: the error names the extra to install
    x, depth = _rechunked(plan, image)
    up, _, _, context = _global_state(plan, x, tone=False)
    k = plan.n_maps

    def tile_values(window, tile):
        if up is not None:  # Zero-DCE++: its maps, upsampled
            return up.block(tile.b, tile.y0, tile.y1, tile.x0, tile.x1, out=np.empty(tile.shape + (k,), np.float32))
        return estimate_tile(plan.session, window, tile, plan.size, plan.n_color, 1.0, context)

    spatial = plan.layout.to_nhwc(image).chunks[:3]  # the maps come back in the input's chunks, as enhance's
    return _map_tiles(plan, x, depth, k, np.float32, tile_values).rechunk(dict(enumerate(spatial)))
