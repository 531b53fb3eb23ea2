"""The host driver: the plan's pipeline on this machine's cores.

The full model runs tile by tile (:func:`~skdce.engine.plan.resolve_tile`),
each tile with the network's 7 pixels of context and, when denoising, the
guided filter's :data:`~skdce.engine.stages.guided.DENOISE_HALO` more, so
tiles join exactly. Zero-DCE++ estimates its curves once on its small copy
and upsamples them tile by tile (or, without denoising, block by block
inside the compiled curve kernel, so no full-size map is stored). The Dask
driver runs :func:`enhance_tile` on each chunk.
"""

from __future__ import annotations

import numpy as np

from .._base.image import unit_scale
from .plan import Plan
from .stages.boxes import BilinearUpsampler, ContextMap, bilinear_upsample
from .stages.curve import copy_extra_channels, run_blocks, run_blocks_upsampled
from .stages.gain import added_noise
from .stages.guided import DENOISE_HALO, denoise_bands
from .stages.network import estimate_tile, image_whites, small_copies, small_maps
from .stages.noise import filter_noise_level
from .stages.tone import finish_tone, noise_stretch, total_exposure
from .tiles import Tile, Window, tile_grid
from .workers import executor, run_tasks
from .workers import threads as worker_threads

__all__ = ["estimate_host", "enhance_host", "enhance_tile", "shared_maps", "needs_noise", "noise_levels", "context_of",
           "finish", "tone_stretch"]


def context_of(plan: Plan, src: np.ndarray) -> ContextMap | None:
    """The full model's illumination context of the batch (a whole-image quantity: computed once, read per tile)."""
    return ContextMap(src[..., : plan.n_color]) if plan.context else None


def shared_maps(plan: Plan, smalls, *, tone: bool = True, noise=None, contexts=None, whites=None):
    """Zero-DCE++'s small ``(N, h, w, c)`` maps, ``(N, c)`` black lifts, ``(N,)`` auto exposure stops and
    ``(N, h, w)`` noise limits of the maps.

    The lifts are None without a black point, the stops None without auto
    exposure, the limits None without auto exposure or ``noise`` (the
    ``(N,)`` input noise levels, :func:`needs_noise`); all None when ``tone``
    is false (the maps alone, as the network gives them). ``contexts``: the copies'
    :func:`~skdce.engine.stages.network.small_context`, where the caller has them already; ``whites``: the
    images' :func:`~skdce.engine.stages.network.image_whites`, for auto exposure.
    """
    return small_maps(plan.session, smalls, n_color=plan.n_color, strength=plan.strength,
                      iterations=plan.info.iterations, black_point=plan.info.black_point if tone else 0.0,
                      auto_exposure=plan.auto_exposure and tone, noise=noise, contexts=contexts, whites=whites)


def needs_noise(plan: Plan) -> bool:
    """Whether the call measures the input's noise: for the denoiser, or auto exposure's noise limit."""
    return bool(plan.denoise) or (plan.shared and plan.auto_exposure)


def noise_levels(plan: Plan, src: np.ndarray) -> list[float]:
    """Each image's :func:`~skdce.engine.stages.noise.filter_noise_level` (0 where the call needs none)."""
    nc = plan.n_color
    return [filter_noise_level(src[b, ..., :nc]) if needs_noise(plan) else 0.0 for b in range(src.shape[0])]


def estimate_host(plan: Plan, src: np.ndarray) -> np.ndarray:
    """The ``(N, H, W, K)`` alpha maps of ``(N, H, W, C)`` ``src`` (:func:`skdce.estimate_curves`, no black point)."""
    n, h, w, _ = src.shape
    if plan.shared:
        maps = shared_maps(plan, small_copies(src, plan.n_color, plan.scale), tone=False)[0]
        return maps if maps.shape[1:3] == (h, w) else bilinear_upsample(maps, (h, w))
    # stored map-major, as the network writes them; returned as an (N, H, W, K) view,
    # which apply_le_curves reads one map plane at a time (its fast path)
    planes = np.empty((n, plan.n_maps, h, w), np.float32)
    maps = np.moveaxis(planes, 1, -1)
    window, context = Window(src), context_of(plan, src)
    for b in range(n):
        for tile in tile_grid(b, 0, h, 0, w, plan.tile):
            maps[b, tile.y0 : tile.y1, tile.x0 : tile.x1] = estimate_tile(plan.session, window, tile, plan.size,
                                                                          plan.n_color, 1.0, context)
    return maps


def enhance_tile(plan: Plan, window: Window, tile: Tile, up, context, sigma: float, stretch: float = 1.0,
                 num_threads=None) -> np.ndarray:
    """The enhanced (and, with ``plan.denoise``, denoised) ``(th, tw, c)`` colour pixels of ``tile``.

    ``window`` must hold the tile and :attr:`Plan.halo` pixels beyond it
    where the image does. ``up`` upsamples Zero-DCE++'s small maps (None: the
    full model's network runs here, with ``context``); ``sigma`` is the
    image's noise level and ``stretch`` the black point's
    (:func:`~skdce.engine.stages.tone.noise_stretch`). The curves and the
    filter run on ``num_threads`` threads (None: the plan's).
    """
    threads = plan.num_threads if num_threads is None else num_threads
    nc = plan.n_color
    region = tile.grown(DENOISE_HALO if plan.denoise else 0, plan.size)
    if up is not None:
        rh, rw = region.shape
        a = up.block(region.b, region.y0, region.y1, region.x0, region.x1, out=np.empty((rh, rw, nc), np.float32))
        a = a[:, :, None, :]
    else:
        a = estimate_tile(plan.session, window, region, plan.size, nc, plan.strength, context)
        a = a.reshape(a.shape[:2] + (a.shape[2] // nc, nc))  # (h, w, iterations, colours)
    pixels = window.read(region)[None]
    y = np.empty(pixels.shape[:3] + (nc,), plan.dtype)
    run_blocks(pixels, y, nc, lambda _b, r0, r1, c0, c1: a[r0:r1, c0:c1], n_iter=plan.info.iterations,
               per_iter=a.shape[2] > 1, int_scale=plan.int_scale, check_image=False, check_alpha=False,
               num_threads=threads)
    rows, cols = tile.inside(region)
    if not plan.denoise:
        return y[0, rows, cols]
    # the slope of the mean curve at the mean level steers the filter (one plane, not three)
    noise = added_noise(pixels[0, ..., :nc], a, plan.info.iterations, unit_scale(pixels.dtype),
                        plan.denoise * sigma * stretch, plan.dtype, threads)
    if plan.denoiser == "learned":
        from .stages.learned import learned_denoise_block

        clean = learned_denoise_block(y[0], noise, threads, providers=plan.providers)
    else:
        clean = denoise_bands(y[0], noise, threads)
    return clean[rows, cols]


def shared_state(plan: Plan, src: np.ndarray):
    """Zero-DCE++'s small maps, black lifts and auto exposure stops (:func:`shared_maps`) and each image's
    noise level (:func:`noise_levels`) of ``src``.

    The noise is estimated on a worker meanwhile: while the small copies are
    made, and while the network runs unless auto exposure's noise limit needs
    the levels first.
    """
    pending = executor().submit(noise_levels, plan, src) if worker_threads(plan.num_threads) > 1 else None

    def sigmas():
        return pending.result() if pending is not None else noise_levels(plan, src)

    smalls = small_copies(src, plan.n_color, plan.scale)
    if plan.auto_exposure:
        whites = image_whites(src, plan.n_color)
        noise = sigmas()
        maps, lifts, stops, _ = shared_maps(plan, smalls, noise=noise, whites=whites)
        return maps, lifts, stops, noise
    maps, lifts, stops, _ = shared_maps(plan, smalls)
    return maps, lifts, stops, sigmas()


def enhance_host(plan: Plan, src: np.ndarray, dst: np.ndarray) -> None:
    """Write the finished result of ``(N, H, W, C)`` ``src`` into ``dst`` (validated values, the plan's dtype).

    Zero-DCE++ tiles run side by side, one per worker thread (1.2x faster at
    12 MP on 2 cores than each tile on all threads: no band seams to
    recompute inside a tile, no thread waiting for the others between the
    curves, the noise map and the filter); their noise estimate runs on a
    worker meanwhile (:func:`shared_state`). Full-model tiles run one
    after the other: the network inside uses every thread.
    """
    n, h, w, _ = src.shape
    nc = plan.n_color
    if plan.shared and not plan.denoise:
        # the curve kernel upsamples each block of maps itself: no full-size map is stored
        maps, lifts, stops, _ = shared_state(plan, src)
        up = BilinearUpsampler(maps, (h, w))
        if not run_blocks_upsampled(src, dst, nc, up, n_iter=plan.info.iterations, int_scale=plan.int_scale,
                                    num_threads=plan.num_threads):
            run_blocks(src, dst, nc, lambda b, r0, r1, c0, c1: up.block(b, r0, r1, c0, c1)[:, :, None, :],
                       n_iter=plan.info.iterations, per_iter=False, int_scale=plan.int_scale, check_image=False,
                       check_alpha=False, num_threads=plan.num_threads)
        finish(plan, src, dst, lifts, stops)
        return

    parallel = plan.shared and worker_threads(plan.num_threads) > 1
    up, lifts, stops, context = None, None, None, context_of(plan, src)
    if plan.shared:
        maps, lifts, stops, sigmas = shared_state(plan, src)
        up = BilinearUpsampler(maps, (h, w))
    else:
        sigmas = noise_levels(plan, src)
    window = Window(src)
    for b, sigma in enumerate(sigmas):
        tiles = tile_grid(b, 0, h, 0, w, plan.tile)
        side_by_side = parallel and len(tiles) > 1  # else one tile at a time, on the plan's threads
        stretch = tone_stretch(plan, lifts, stops, b)

        def one(tile, sigma=sigma, stretch=stretch, side_by_side=side_by_side):
            tile.of(dst)[..., :nc] = enhance_tile(plan, window, tile, up, context, sigma, stretch,
                                                  num_threads=1 if side_by_side else None)

        run_tasks(one, tiles, plan.num_threads if side_by_side else 1)
    finish(plan, src, dst, lifts, stops)


def tone_stretch(plan: Plan, lifts, stops, b: int) -> float:
    """Image ``b``'s :func:`~skdce.engine.stages.tone.noise_stretch` (the denoiser removes that much more).

    The exposure is the one :func:`finish` applies: the plan's stops plus auto exposure's, kept in range
    (auto exposure's alone can exceed it: 1.5 stops at ``strength=2`` are 3).
    """
    exposure = total_exposure(plan.exposure, None if stops is None else stops[b])
    return noise_stretch(None if lifts is None else lifts[b], float(exposure))


def finish(plan: Plan, src: np.ndarray, dst: np.ndarray, lifts, stops=None, num_threads=None) -> None:
    """The tone steps (black point, exposure) on ``dst``'s colour channels; extra channels copied from ``src``.

    ``stops``: the ``(N,)`` auto exposure of the batch's images (None: none), to which the plan's are added.
    """
    nc = plan.n_color
    threads = plan.num_threads if num_threads is None else num_threads
    finish_tone(dst[..., :nc], lifts, total_exposure(plan.exposure, stops), num_threads=threads)
    copy_extra_channels(src, dst, nc)
