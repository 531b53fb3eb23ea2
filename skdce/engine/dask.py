"""Dask arrays in, lazy Dask arrays out: :func:`skdce.enhance` and :func:`skdce.estimate_curves`.

The plan has two passes, because three things skdce needs are whole-image
quantities:

1. *Small, computed once*: the box means of the illumination context
   (:mod:`skdce.engine.stages.context`), the noise level (:func:`skdce.denoise.estimate_noise`,
   from a sample of rows) and, for Zero-DCE++, the box-downscaled image and so
   its curve maps. Box means are sums over bins, so each chunk adds what it
   holds to each bin it meets and the sums are added up: nothing larger than
   one chunk is ever in memory.
2. *Per chunk, lazily*: :func:`dask.array.map_overlap` with the pipeline's
   exact halo (7 pixels for the network, plus :data:`skdce.denoise.DENOISE_HALO`
   when denoising) runs the in-memory tile code on each chunk and its halo,
   reading the context and the upsampled maps in whole-image coordinates.

So the result equals the in-memory one (to float32 rounding: the box sums
are added in another order). Chunks smaller than the halo are merged first
(``map_overlap`` needs each chunk to hold its neighbours' halo), the colour
axis is one chunk, and the result comes back in the input's chunking.
"""

from __future__ import annotations

import numpy as np

from .stages.context import CONTEXT_GRIDS, ContextMap, context_size
from .._base.image import unit_scale, validate_values
from .stages.boxes import BilinearUpsampler, _edges, small_size
from ..denoise import DENOISE_HALO, noise_from_rows, noise_rows

__all__ = ["is_dask_array", "enhance_dask", "estimate_curves_dask"]


def is_dask_array(image) -> bool:
    """Whether ``image`` is a Dask array (told without importing Dask)."""
    return type(image).__module__.split(".")[0] == "dask" and hasattr(image, "chunks")


def _require_dask():
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - the dask extra is installed in the test environment
        raise ImportError(
            "skdce got a Dask array, but Dask is not installed; install the extra: pip install 'skdce[dask]'."
        ) from None
    return da


def _bin_sums(block: np.ndarray, r0: int, c0: int, ey: np.ndarray, ex: np.ndarray) -> np.ndarray:
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


def _box_means(x, sizes):
    """``(N, h, w, c)`` float32 box means of the Dask ``(N, H, W, c)`` array ``x`` for each ``(h, w)`` in ``sizes``."""
    import dask

    _, H, W, _ = x.shape
    edges = [(_edges(H, h), _edges(W, w)) for h, w in sizes]
    rows = np.cumsum((0,) + x.chunks[1])
    cols = np.cumsum((0,) + x.chunks[2])
    blocks = x.to_delayed()
    parts = [[] for _ in sizes]
    for i in range(blocks.shape[0]):
        for j in range(blocks.shape[1]):
            for k in range(blocks.shape[2]):
                blk = blocks[i, j, k, 0]
                for s, (ey, ex) in enumerate(edges):
                    parts[s].append((i, dask.delayed(_bin_sums)(blk, rows[j], cols[k], ey, ex)))
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
    """:func:`skdce.denoise.noise_level` of each image of the Dask ``(N, H, W, c)`` array, from its sampled rows."""
    import dask

    _, h, w, _ = x.shape
    idx = noise_rows(h, w)
    if idx is None:
        return np.zeros(x.shape[0])
    rows = dask.compute(*[x[:, idx + k] for k in range(3)])
    return np.array([noise_from_rows([r[b] for r in rows]) * unit_scale(x.dtype) for b in range(x.shape[0])])


def _prepare(image, channel_axis, depth_of, **kw):
    """Check the arguments, lay ``image`` out as ``(N, H, W, C)`` with chunks the halo allows.

    ``depth_of(p)`` gives the halo for the prepared call ``p``. Returns ``(da, p, x, depth)``.
    """
    from .host import _Prepared

    da = _require_dask()
    p = _Prepared(image, channel_axis=channel_axis, lazy=True, **kw)
    depth = depth_of(p)
    x = p.layout.to_nhwc(image)
    chunks = {3: -1}
    for axis in (1, 2):  # map_overlap needs every chunk to hold its neighbours' halo
        chunks[axis] = _merge_small(x.chunks[axis], depth)
    x = x.rechunk(chunks)
    return da, p, x, depth


def _overlap(chunks: tuple, depth: int) -> dict:
    """``map_overlap``'s depth per axis: none along an axis of one chunk (it has no neighbours, and Dask
    refuses a depth larger than the axis, e.g. the 13-pixel halo of a 1-pixel-high image)."""
    return {axis: depth if len(chunks[axis]) > 1 else 0 for axis in (1, 2)}


def _merge_small(chunks: tuple, depth: int) -> tuple:
    """``chunks`` with each chunk smaller than ``depth`` merged into a neighbour (one chunk if all are small)."""
    merged = []
    for c in chunks:
        if merged and (merged[-1] < depth or c < depth):
            merged[-1] += c
        else:
            merged.append(c)
    if len(merged) > 1 and merged[-1] < depth:
        merged[-2] += merged.pop()
    return tuple(merged)


def _global_state(p, x):
    """Whole-image quantities: the context map (full model) and the small maps (Zero-DCE++)."""
    n, h, w, _ = x.shape
    nc = p.n_color
    rgb = x[..., :nc]
    scale = np.float32(unit_scale(x.dtype))
    if p.shared:
        (small,) = _box_means(rgb, [small_size(h, w, p.scale)])
        validate_values(small * scale, "image")  # a NaN reaches every box mean it falls in: named as the input's
        maps = p.small_maps([small[b : b + 1] * scale for b in range(n)])
        return BilinearUpsampler(maps, (h, w))
    if p.session.context_name is not None:
        grids = _box_means(rgb, [context_size(h, w, g) for g in CONTEXT_GRIDS])
        p.context = ContextMap(None, grids=[g * scale for g in grids], size=(h, w))
    return None


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


def enhance_dask(image, *, model, strength, channel_axis, scale_factor, providers, tile_size, num_threads, denoise,
                 exposure="auto", denoiser="guided"):
    """:func:`skdce.enhance` for a Dask array: a lazy Dask array (see the module notes)."""
    from .host import HALO, _denoised_tile
    from .._base.image import validate_values
    from ..curves import copy_extra_channels
    from ..denoise import check_denoise

    from ..tone import check_exposure, finish_tone

    amount = check_denoise(denoise)
    stops = check_exposure(exposure)
    from ..denoise import check_denoiser

    denoiser = check_denoiser(denoiser)
    kw = dict(model=model, providers=providers, num_threads=num_threads, scale_factor=scale_factor,
              tile_size=tile_size, strength=strength)
    da, p, x, depth = _prepare(image, channel_axis,
                               lambda p: (0 if p.shared else HALO) + (DENOISE_HALO if amount else 0), **kw)
    p.denoiser = denoiser
    up = _global_state(p, x)
    sigmas = _noise_levels(x[..., : p.n_color]) if amount else np.zeros(x.shape[0])
    int_scale = 1.0 / np.iinfo(x.dtype).max if x.dtype.kind == "u" else None
    curves = dict(n_iter=p.info.iterations, int_scale=int_scale, check_image=False, check_alpha=False)
    chunks = x.chunks

    def run(block, block_info=None):
        b0, (oy, ox), (y0, y1, x0, x1) = _block_geometry(chunks, block_info, depth)
        validate_values(block, "image")
        out = np.empty((block.shape[0], y1 - y0, x1 - x0, block.shape[3]), p.dtype)
        for n in range(block.shape[0]):
            b = b0 + n
            for ty0 in range(y0, y1, p.tile or (y1 - y0)):  # the in-memory tiles, inside the chunk
                for tx0 in range(x0, x1, p.tile or (x1 - x0)):
                    ty1, tx1 = min(y1, ty0 + (p.tile or y1)), min(x1, tx0 + (p.tile or x1))
                    out[n, ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0, : p.n_color] = _denoised_tile(
                        p, block, n, b, ty0, ty1, tx0, tx1, up, sigmas[b], amount, curves, origin=(oy, ox))
        lifts = None if p.lifts is None else p.lifts[b0 : b0 + block.shape[0]]
        finish_tone(out[..., : p.n_color], lifts, stops, num_threads=1)
        inner = block[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        copy_extra_channels(inner, out, p.n_color)
        return out

    out = da.map_overlap(run, x, depth=_overlap(chunks, depth), boundary="none", trim=False,
                         dtype=p.dtype, chunks=chunks, meta=np.empty((0, 0, 0, 0), p.dtype))
    return p.layout.from_nhwc(out).rechunk(image.chunks)


def estimate_curves_dask(image, *, model, channel_axis, scale_factor, providers, tile_size, num_threads):
    """:func:`skdce.estimate_curves` for a Dask array: lazy ``(..., K)`` maps laid out as in memory."""
    from .host import HALO, _estimate_tile
    from .._base.image import validate_values

    kw = dict(model=model, providers=providers, num_threads=num_threads, scale_factor=scale_factor,
              tile_size=tile_size, strength=1.0)
    da, p, x, depth = _prepare(image, channel_axis, lambda p: 0 if p.shared else HALO, **kw)
    up = _global_state(p, x)
    k = p.session.n_maps if not p.shared else 3
    k = k if p.n_color == 3 else k // 3
    chunks = x.chunks
    h, w = p.size

    def run(block, block_info=None):
        b0, (oy, ox), (y0, y1, x0, x1) = _block_geometry(chunks, block_info, depth)
        validate_values(block, "image")
        out = np.empty((block.shape[0], y1 - y0, x1 - x0, k), np.float32)
        for n in range(block.shape[0]):
            if up is not None:
                out[n] = up.block(b0 + n, y0, y1, x0, x1, out=np.empty((y1 - y0, x1 - x0, k), np.float32))
            else:
                out[n] = _estimate_tile(p.session, block, p.context, n, y0, y1, x0, x1, h, w, p.n_color, 1.0,
                                        (oy, ox), b0 + n)
        return out

    out_chunks = chunks[:3] + ((k,),)
    out = da.map_overlap(run, x, depth=_overlap(chunks, depth), boundary="none", trim=False,
                         dtype=np.float32, chunks=out_chunks, meta=np.empty((0, 0, 0, 0), np.float32))
    return p.to_layout(out)
