"""Curve estimation with the bundled ONNX models, and enhancement."""

from __future__ import annotations

import contextlib

import numpy as np

from .stages.context import ContextMap
from .dask import enhance_dask, estimate_curves_dask, is_dask_array
from .fused import check_precision, enhance_fused
from .._base.image import compute_dtype, image_layout, unit_scale, validate_values
from .stages.boxes import BilinearUpsampler, bilinear_upsample, box_downscale, small_size
from .runtime import check_finite, get_session, out_of_memory
from ..curves import apply_le_curves, copy_extra_channels, run_blocks, run_blocks_upsampled
from .workers import executor, run_tasks, threads as worker_threads
from ..denoise import DENOISE_HALO, added_noise, check_denoise, check_denoiser, denoise_bands, noise_level
from ..models import default_model, get_model, verify
from ..tone import black_lift, check_exposure, finish_tone
from .._base.validate import check_bool, check_image_arg, check_int, check_num_threads, check_real

__all__ = ["estimate_curves", "enhance", "HALO"]

#: DCE-Net has seven 3x3 convolutions: a 15x15 receptive field, so a tile
#: needs 7 pixels of real context on each side to be exact.
HALO = 7


def _check_strength(strength) -> float:
    return check_real("strength", strength, lo=0, hi=2, hint="0 leaves the image unchanged, 1 applies the model's "
                      "curves, values up to 2 strengthen them (alphas are clipped to [-1, 1]).")


#: ``tile_size="auto"``: on the CPU, 512 keeps the working set small at no cost in
#: speed; on CUDA every tile shape costs set-up time, so tiles are large (about
#: 4 GB of activations for an fp32 2048x2048 tile).
AUTO_TILE = {"cpu": 512, "cuda": 2048}


def _check_tile(tile_size):
    if tile_size is None or (isinstance(tile_size, str) and tile_size == "auto"):
        return tile_size
    return check_int("tile_size", tile_size, min=16, hint="or 'auto' (512 on the CPU, 2048 on CUDA), or None for "
                     "no tiling.")


def _check_scale(scale_factor, info, shared: bool) -> float:
    if scale_factor is None:
        return float(info.scale_factor)
    value = check_real("scale_factor", scale_factor, lo=1, hint="or None for the model's own (zero-dce++: "
                       "its net_size, 64 pixels on the longer side).")
    if not shared and scale_factor != 1:  # the session's outputs decide (a user file may not say)
        raise ValueError(
            f"scale_factor={scale_factor!r} applies to shared-curve models such as 'zero-dce++'; "
            f"{info.name!r} estimates curves at full resolution (use scale_factor=None)."
        )
    return value


def _resolve_scale(scale_factor, info, size) -> float:
    """The downscaling of a shared-curve model's input: given, or to the model's ``net_size``, or its own."""
    if scale_factor is not None:
        return scale_factor
    if info.net_size:
        return max(1.0, max(size) / info.net_size)
    return float(info.scale_factor)


def _net_input(block: np.ndarray, n_color: int) -> np.ndarray:
    """``(..., h, w, C)`` image block -> contiguous ``(1, 3, h, w)`` float32 network input."""
    rgb = block[..., :n_color]
    scale = np.float32(1.0 / np.iinfo(rgb.dtype).max) if rgb.dtype.kind == "u" else np.float32(1.0)
    x = np.empty((1, 3) + rgb.shape[:2], np.float32)
    for ch in range(3):  # a gray image repeats its one channel
        np.multiply(rgb[..., min(ch, n_color - 1)], scale, out=x[0, ch], casting="unsafe")
    return x


def _tiles(h: int, w: int, tile: int | None):
    if tile is None:
        yield 0, h, 0, w
        return
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            yield y0, min(h, y0 + tile), x0, min(w, x0 + tile)


def _context_input(context: ContextMap | None, b: int, r0: int, r1: int, c0: int, c1: int):
    """The ``(1, 1, h, w)`` context input of a block, or None for models without one."""
    return None if context is None else context.block(b, r0, r1, c0, c1)[None, None]


def _estimate_tile(session, src, context, n, y0, y1, x0, x1, h, w, n_color, strength, origin=(0, 0), b=None):
    """Alpha maps ``(th, tw, K)`` for one tile (K=24 or 3; averaged to gray if needed).

    Coordinates are the whole image's (``h x w``); ``src[n]`` holds its pixels
    from row and column ``origin`` on (a window of the image, for Dask), and
    must reach 7 pixels beyond the tile where the image does. ``b`` is the
    tile's image in the batch for the context (default ``n``).
    """
    py0, py1 = max(0, y0 - HALO), min(h, y1 + HALO)
    px0, px1 = max(0, x0 - HALO), min(w, x1 + HALO)
    oy, ox = origin
    ctx = _context_input(context, n if b is None else b, py0, py1, px0, px1)
    a = session.run(_net_input(src[n, py0 - oy : py1 - oy, px0 - ox : px1 - ox], n_color), ctx)[0]
    a = np.moveaxis(a[:, y0 - py0 : y1 - py0, x0 - px0 : x1 - px0], 0, -1)
    return _finish_maps(a, n_color, strength)


def _finish_maps(a: np.ndarray, n_color: int, strength: float) -> np.ndarray:
    """Scale by ``strength`` and bound to [-1, 1] (ONNX Runtime's tanh can overshoot 1 by an ulp)."""
    if strength != 1.0:
        a = a * np.float32(strength)
    a = np.clip(a, -1, 1, out=a if a.flags.writeable else None)
    if n_color == 1:  # a gray image: one curve per iteration, the mean of the R, G, B curves
        a = a.reshape(a.shape[:-1] + (a.shape[-1] // 3, 3)).mean(axis=-1)
    return a


#: Tiles of the denoised zero-dce++ path (its maps are upsampled per tile).
_DENOISE_TILE = 512


def _denoised_tile(p: "_Prepared", src, n, b, y0, y1, x0, x1, up, sigma, amount, curves, origin=(0, 0),
                   num_threads=None):
    """The enhanced, denoised ``(y1 - y0, x1 - x0, c)`` tile of image ``b``.

    Coordinates are the whole image's; ``src[n]`` holds its pixels from
    ``origin`` on and must reach :data:`DENOISE_HALO` (plus the network's 7)
    pixels beyond the tile where the image does (the network's 7 alone when
    ``amount`` is 0: the plain curves). ``up`` upsamples the shared maps
    (Zero-DCE++), else the network runs here; ``sigma`` is the image's noise.
    The curves and the filter run on ``num_threads`` threads (None: the call's).
    """
    threads = p.num_threads if num_threads is None else num_threads
    h, w = p.size
    nc = p.n_color
    oy, ox = origin
    halo = DENOISE_HALO if amount else 0
    ey0, ey1 = max(0, y0 - halo), min(h, y1 + halo)
    ex0, ex1 = max(0, x0 - halo), min(w, x1 + halo)
    if up is not None:
        a = up.block(b, ey0, ey1, ex0, ex1, out=np.empty((ey1 - ey0, ex1 - ex0, nc), np.float32))
        a = a[:, :, None, :]
    else:
        a = _estimate_tile(p.session, src, p.context, n, ey0, ey1, ex0, ex1, h, w, nc, p.strength, origin, b)
        a = a.reshape(a.shape[:2] + (a.shape[2] // nc, nc))  # (h, w, iterations, colours)
    region = src[n : n + 1, ey0 - oy : ey1 - oy, ex0 - ox : ex1 - ox]
    y = np.empty(region.shape[:3] + (nc,), p.dtype)
    run_blocks(region, y, nc, lambda _b, r0, r1, c0, c1: a[r0:r1, c0:c1], per_iter=a.shape[2] > 1,
               num_threads=threads, **curves)
    if not amount:
        return y[0, y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0]
    # the slope of the mean curve at the mean level steers the filter (one plane, not three)
    noise = added_noise(region[0, ..., :nc], a, p.info.iterations, unit_scale(src.dtype),
                        amount * sigma * p.noise_stretch(b), p.dtype, threads)
    if p.denoiser == "learned":
        from .stages.learned import learned_denoise_block

        clean = learned_denoise_block(y[0], noise, threads)
    else:
        clean = denoise_bands(y[0], noise, threads)
    return clean[y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0]


def _enhance_tiles(p: "_Prepared", dst: np.ndarray, amount: float, curves: dict) -> None:
    """Curves and (``amount`` > 0) :func:`skdce.denoise.denoise_block` steered by the noise they added, tile by tile.

    Each tile is computed with the network's 7 pixels of extra context (and
    :data:`DENOISE_HALO` more when denoising), so tiles join exactly. The
    shared-curve (Zero-DCE++) tiles run side by side, one per worker thread
    (1.2x faster at 12 MP on 2 cores than each tile on all threads: no band
    seams to recompute inside a tile, no thread waiting for the others between
    the curves, the noise map and the filter); their noise estimate runs on a
    worker while the network estimates the curves. Full-curve tiles run one
    after the other: the network inside uses every thread.
    """
    n, h, w, _ = p.src.shape

    def noise_levels():
        return [noise_level(p.src[b, ..., : p.n_color]) if amount else 0.0 for b in range(n)]

    parallel = p.shared and worker_threads(p.num_threads) > 1
    if p.shared:
        pending = executor().submit(noise_levels) if parallel else None
        up = BilinearUpsampler(p.small_maps(), (h, w))
        sigmas = pending.result() if parallel else noise_levels()
    else:
        up, sigmas = None, noise_levels()
    tiles = list(_tiles(h, w, _DENOISE_TILE if p.shared else p.tile))
    side_by_side = parallel and len(tiles) > 1  # else one tile at a time, on the call's threads
    for b, sigma in enumerate(sigmas):

        def one(t, b=b, sigma=sigma):
            y0, y1, x0, x1 = t
            dst[b, y0:y1, x0:x1, : p.n_color] = _denoised_tile(p, p.src, b, b, y0, y1, x0, x1, up, sigma, amount,
                                                               curves, num_threads=1 if side_by_side else None)

        run_tasks(one, tiles, p.num_threads if side_by_side else 1)


class _Prepared:
    """The checked arguments of one call: model, session, layout; the image as ``(N, H, W, C)``.

    With ``lazy=True`` (a Dask array) nothing of the image is read here: its
    values are checked chunk by chunk, and ``src`` and ``context`` are left
    to the caller.
    """

    def __init__(self, image, model, channel_axis, providers, num_threads, scale_factor, tile_size, strength,
                 lazy=False):
        check_image_arg(image, "image", "skdce.enhance / skdce.estimate_curves")
        num_threads = check_num_threads(num_threads)
        self.image = image if lazy else np.asarray(image)
        self.dtype = compute_dtype(self.image.dtype, "image")
        self.layout = image_layout(self.image, channel_axis, "image")
        if self.image.size == 0:
            raise ValueError(f"image is empty (shape {self.image.shape}); pass an image with at least one pixel.")
        self.strength = _check_strength(strength)
        self.tile = _check_tile(tile_size)
        self.info = get_model(model if model is not None else default_model(providers))
        verify(self.info)
        self.session = get_session(self.info.path, providers, num_threads)
        self.num_threads = num_threads
        self.auto_tile = self.tile == "auto"
        if self.auto_tile:
            self.tile = AUTO_TILE["cuda" if self.session.on_gpu else "cpu"]
        if self.info.shared_curve is None or self.info.n_maps != self.session.n_maps:
            if self.session.n_maps not in (3, 3 * self.info.iterations):
                raise ValueError(
                    f"model {self.info.name!r} outputs {self.session.n_maps} maps; expected 3 (shared curve) or "
                    f"{3 * self.info.iterations} (one triple per iteration)."
                )
        self.shared = self.session.n_maps == 3
        self._scale_factor = _check_scale(scale_factor, self.info, self.shared) if scale_factor is not None else None
        self.n_color = self.layout.n_color
        self.src = self.context = None
        nhwc = self.layout.to_nhwc(self.image)
        self.size = tuple(int(d) for d in nhwc.shape[1:3])
        self.scale = _resolve_scale(self._scale_factor, self.info, self.size)
        self.lifts = None  # (N, C) black lifts of a black-point model, set by small_maps()
        self.denoiser = "guided"  # set by the caller (skdce.denoise.DENOISERS)
        if self.auto_tile and self.size[0] * self.size[1] <= self.tile * self.tile:
            # an image no larger than one tile's area is one tile: a 600x400 image was cut
            # into 512 and 88 columns, the network recomputing the halo of both
            self.tile = None
        if lazy:
            return
        validate_values(self.image, "image")
        self.src = nhwc
        # the full model's context is a whole-image quantity: computed once, read per tile
        if self.session.context_name is not None and not self.shared:
            self.context = ContextMap(self.src[..., : self.n_color])

    def small_maps(self, smalls=None, with_lifts: bool = True) -> np.ndarray:
        """``(N, h, w, c)`` maps of a shared-curve model, estimated on a box-downscaled copy.

        ``smalls``: the ``(1, h, w, c)`` downscaled images in [0, 1] (Dask
        computes them chunk by chunk); by default they are computed here.
        With ``with_lifts`` (and a black-point model) ``self.lifts`` is set too.
        """
        maps, lifts = [], []
        for small, ctx in self.small_inputs(smalls):
            ctx = None if ctx is None else ctx[None, None]
            a = self.session.run(_net_input(small[0], self.n_color), ctx)[0]
            maps.append(_finish_maps(np.moveaxis(a, 0, -1), self.n_color, self.strength))
            if with_lifts and self.info.black_point:
                rgb = np.asarray(small[..., : self.n_color], np.float32)
                after = apply_le_curves(rgb[0], maps[-1], n_iter=self.info.iterations)
                lifts.append(black_lift(rgb, after[None])[0] * self.info.black_point)
        self.lifts = np.stack(lifts) if lifts else None
        return np.ascontiguousarray(np.stack(maps), dtype=np.float32)

    def noise_stretch(self, b: int) -> float:
        """How much the black point (:func:`skdce.tone.finish_tone`) stretches image ``b``'s noise at most.

        ``1 / (1 - d)`` with ``d`` the largest of its channels' lifts.

        The denoiser removes that much more, so that the noise per unit of
        brightness does not grow with the black point (darkened photos,
        ``benchmarks/eval_darkened.py``: 0.0366 without, 0.0293 with, against
        0.0299 of the previous default).
        """
        return 1.0 if self.lifts is None else float(1.0 / (1.0 - np.max(self.lifts[b])))

    def small_inputs(self, smalls=None):
        """The network inputs of a shared-curve model, one ``(small, context)`` pair per image.

        ``small`` is the ``(1, h, w, c)`` downscaled image in [0, 1] (or one of
        ``smalls``), ``context`` its ``(h, w)`` context (None for models without one).
        """
        if smalls is None:
            n, h, w, _ = self.src.shape
            size = small_size(h, w, self.scale)
            scale = np.float32(unit_scale(self.src.dtype))  # box_downscale keeps the integer scale
            rgb = [self.src[b : b + 1, :, :, : self.n_color] for b in range(n)]
            smalls = [(box_downscale(x, size) if size != (h, w) else x) * scale for x in rgb]
        out = []
        for small in smalls:
            sh, sw = small.shape[1:3]
            ctx = ContextMap(small).block(0, 0, sh, 0, sw) if self.session.context_name is not None else None
            out.append((small, ctx))
        return out

    def shared_maps(self) -> np.ndarray:
        """Full-size ``(N, H, W, c)`` maps of a shared-curve model."""
        small = self.small_maps(with_lifts=False)  # the curves alone: estimate_curves applies no black point
        h, w = self.src.shape[1:3]
        return small if small.shape[1:3] == (h, w) else bilinear_upsample(small, (h, w))

    def to_layout(self, maps: np.ndarray) -> np.ndarray:
        """``(N, H, W, K)`` maps -> laid out like the image (see ``apply_le_curves``)."""
        if self.layout.channel_axis is None:
            maps = maps if maps.shape[-1] > 1 else maps[..., 0]
            return maps if self.layout.batched else maps[0]
        return self.layout.from_nhwc(maps)


def estimate_curves(
    image,
    *,
    model=None,
    channel_axis=-1,
    scale_factor=None,
    providers="auto",
    tile_size="auto",
    num_threads=None,
):
    """Estimate the per-pixel curve parameters (alpha maps) of an image.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float in [0, 1]; C is 1, 2, 3 or 4 (see :func:`skdce.enhance`).
    model : str, os.PathLike or ModelInfo, optional
        A bundled model name (:func:`skdce.list_models`) or an ``.onnx`` path.
        Default: ``"zero-dce++"`` (:data:`skdce.models.DEFAULT_MODEL`).
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale images.
    scale_factor : float, optional
        Shared-curve models only: estimate on a copy downscaled by this factor
        (default: the model's; ``zero-dce++`` downscales to its ``net_size``,
        64 pixels on the longer side, whatever the image's size).
    providers : {"auto", "cpu", "cuda"} or list of str, optional
        ONNX Runtime execution providers.
    tile_size : int, "auto" or None, optional
        Run the full model on tiles of this size with a 7-pixel halo (exact;
        bounds memory). ``"auto"``: 512 on the CPU, 2048 on CUDA (an image of at
        most that squared area is one tile). None: no tiling.
    num_threads : int, optional
        ONNX Runtime intra-op threads (default: its own choice, all cores).

    Returns
    -------
    alphas : ndarray, float32
        Maps laid out like ``image``: 24 maps (8 iterations x RGB) for
        ``zero-dce``, 3 shared maps for ``zero-dce++``. For gray images the
        RGB curves are averaged: 8 maps (or 1), with ``channel_axis=None`` as a
        trailing axis (per-iteration) or the image's own shape (shared). The
        per-iteration maps are a view of map-major memory (each map's pixels
        contiguous, the network's own layout), which :func:`apply_le_curves`
        reads fastest; ``np.ascontiguousarray`` gives a pixel-major copy.

    Examples
    --------
    >>> import numpy as np, skdce
    >>> img = np.full((20, 30, 3), 0.1, dtype=np.float32)
    >>> skdce.estimate_curves(img).shape  # the default zero-dce++: one shared RGB curve
    (20, 30, 3)
    >>> skdce.estimate_curves(img, model="zero-dce").shape  # one RGB curve per iteration
    (20, 30, 24)
    """
    if is_dask_array(image):
        return estimate_curves_dask(image, model=model, channel_axis=channel_axis, scale_factor=scale_factor,
                                    providers=providers, tile_size=tile_size, num_threads=num_threads)
    with _explain_memory_errors(image):
        return _estimate_curves(image, model, channel_axis, scale_factor, providers, tile_size, num_threads)


@contextlib.contextmanager
def _explain_memory_errors(image):
    """Turn a bare MemoryError (NumPy's "Unable to allocate ...") into one that says what to do."""
    try:
        yield
    except MemoryError as exc:
        if getattr(exc, "skdce_explained", False):
            raise
        raise out_of_memory(f"the image of shape {np.shape(image)}", exc) from exc


def _estimate_curves(image, model, channel_axis, scale_factor, providers, tile_size, num_threads):
    p = _Prepared(image, model, channel_axis, providers, num_threads, scale_factor, tile_size, 1.0)
    if p.shared:
        return p.to_layout(p.shared_maps())
    n, h, w, _ = p.src.shape
    k = p.session.n_maps if p.n_color == 3 else p.session.n_maps // 3
    # stored map-major, as the network writes them; returned as an (N, H, W, K) view,
    # which apply_le_curves reads one map plane at a time (its fast path)
    planes = np.empty((n, k, h, w), np.float32)
    maps = np.moveaxis(planes, 1, -1)
    for b in range(n):
        for y0, y1, x0, x1 in _tiles(h, w, p.tile):
            maps[b, y0:y1, x0:x1] = _estimate_tile(p.session, p.src, p.context, b, y0, y1, x0, x1, h, w, p.n_color, 1.0)
    return p.to_layout(maps)


def enhance(
    image,
    *,
    model=None,
    strength=1.0,
    channel_axis=-1,
    scale_factor=None,
    providers="auto",
    tile_size="auto",
    num_threads=None,
    denoise=1.0,
    exposure="auto",
    denoiser="guided",
    fused=None,
    precision="fp32",
):
    """Enhance a low-light image with a bundled (or user) Zero-DCE model.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8, uint16 (scaled by the dtype's maximum) or float16/32/64 in
        [0, 1]. C is 3 (RGB), 4 (RGBA), 1 or 2 (gray, gray + alpha); an alpha
        channel is returned untouched. Gray images are estimated as RGB and get
        the mean of the three curves. Any size from 1x1 up; nothing is cropped.
    model : str, os.PathLike or ModelInfo, optional
        ``"zero-dce-int8"`` (int8), ``"zero-dce"`` (fp32), ``"zero-dce++"`` (fast on large images) or an
        ``.onnx`` path; see :func:`skdce.list_models`. Default: ``"zero-dce++"``
        (:data:`skdce.models.DEFAULT_MODEL`), on the CPU and on CUDA.
    strength : float, optional
        Scales the curves: 0 returns the image, 1 the model's result, up to 2
        stronger (alphas are clipped to [-1, 1], so the output stays in [0, 1]
        and monotonic).
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale ``(H, W)`` images.
    scale_factor : float, optional
        Shared-curve models: downscaling before curve estimation (default: the
        model's; ``zero-dce++`` downscales to 64 pixels on the longer side, its
        ``net_size``, which the network was trained at).
    providers : {"auto", "cpu", "cuda"} or list, optional
        ONNX Runtime execution providers: ``"auto"`` takes CUDA where
        onnxruntime-gpu has it (falling back to the CPU with a logged warning
        if CUDA cannot start); ``"cuda"`` raises where CUDA is missing. A list
        holds provider names or ``(name, options)`` pairs, e.g.
        ``[("CUDAExecutionProvider", {"device_id": 1})]``.
    tile_size : int, "auto" or None, optional
        Tile size for the full model (exact, 7-pixel halo); bounds peak memory.
        ``"auto"``: 512 on the CPU, 2048 on CUDA (whose set-up cost grows with the
        number of tile shapes); an image of at most that squared area is one
        tile. None: no tiling.
    num_threads : int, optional
        ONNX Runtime intra-op threads.
    denoise : float or None, optional
        Strength of the noise removal after the curves (:mod:`skdce.denoise`):
        1 (the default) filters each pixel by the noise the curve added there,
        ``estimate_noise(image) * sqrt(curve_gain**2 - 1)`` (nothing where the
        curve does not amplify, e.g. at ``strength=0``); larger values filter
        more, smaller less; 0 or None applies the plain curves (bit for bit the
        result without denoising).
    denoiser : {"guided", "learned"}, optional
        What removes the noise: ``"guided"`` (the default), the two-stage
        guided filter of :mod:`skdce.denoise`, or ``"learned"``, the small
        self-supervised network of :mod:`skdce.engine.stages.learned`, steered by the
        same noise map; it keeps a little more fine texture on indoor scenes,
        leaves more colour speckle on very dark photos and is 6-8x slower on
        the CPU (``weights/README.md``). It runs on the host path.
    exposure : "auto" or float, optional
        ``"auto"`` (the default) keeps the exposure the model chose for the
        scene; a number asks for that many stops more (positive) or less
        (negative) at middle grey, from -4 to 2, applied after the model's
        curves as further curve steps of one uniform alpha each
        (:func:`skdce.tone.exposure_alphas`): black stays black, white stays
        white, the tones between move smoothly. It works beside ``strength``,
        which scales the model's own curves.
    fused : bool or None, optional
        Run the whole pipeline (network, curves, denoiser) as one ONNX graph
        on the provider (:mod:`skdce.engine.fused`): the image is uploaded once and
        the result downloaded once. None (the default) takes it where the
        model runs on CUDA and keeps the compiled host kernels on the CPU,
        which are faster there; True forces it (e.g. to check it on the CPU),
        False keeps the host path. Float64 images stay on the host path
        (the graph computes in float32); True raises for them.
    precision : {"fp32", "fp16"}, optional
        Arithmetic of the network in the fused graph; ``"fp16"`` (float
        networks only) halves its memory traffic on GPUs, the curves and the
        denoiser staying in float32. Needs the fused path.

    Returns
    -------
    enhanced : ndarray
        Same shape as ``image``, values in [0, 1]; float32 (float64 for float64 input).

    Notes
    -----
    With ``denoise=0`` and ``strength=1`` the result equals
    ``apply_le_curves(image, estimate_curves(image))`` bit for bit for a model
    without a black point; a model with one (the default ``zero-dce++``) then
    takes its share of the black's lift out
    (``skdce.tone.finish_tone(..., skdce.tone.model_black_lift(image))``), and
    ``exposure`` adds its curve steps. The denoiser filters the curves'
    result before those (see :mod:`skdce.denoise`). The full model applies
    its curves tile by tile (each tile with the network's 7 pixels and the
    denoiser's :data:`~skdce.denoise.DENOISE_HALO` of context), so the 24 maps of
    a whole image never exist at once.

    Examples
    --------
    >>> import numpy as np, skdce
    >>> dark = np.full((32, 32, 3), 0.05, dtype=np.float32)
    >>> out = skdce.enhance(dark)
    >>> out.dtype, bool(out.mean() > dark.mean())
    (dtype('float32'), True)
    """
    if is_dask_array(image):
        if fused or precision != "fp32":
            raise ValueError(
                "fused=True and precision='fp16' apply to in-memory arrays; a dask array runs the host path "
                "block by block (pass fused=None, precision='fp32', or image.compute())."
            )
        return enhance_dask(image, model=model, strength=strength, channel_axis=channel_axis, scale_factor=scale_factor,
                            providers=providers, tile_size=tile_size, num_threads=num_threads, denoise=denoise,
                            exposure=exposure, denoiser=denoiser)
    with _explain_memory_errors(image):
        return _enhance(image, model, strength, channel_axis, scale_factor, providers, tile_size, num_threads, denoise,
                        fused, precision, exposure, denoiser)


def _enhance(image, model, strength, channel_axis, scale_factor, providers, tile_size, num_threads, denoise, fused,
             precision, exposure="auto", denoiser="guided"):
    amount = check_denoise(denoise)
    stops = check_exposure(exposure)
    denoiser = check_denoiser(denoiser)
    if denoiser == "learned" and fused:
        raise ValueError("denoiser='learned' runs on the host path; the fused graph holds the guided filter. Pass "
                         "fused=None (or False), or denoiser='guided'.")
    if fused is not None:
        fused = check_bool("fused", fused, hint="or None (the default): fused where the model runs on CUDA.")
    check_precision(precision)
    p = _Prepared(image, model, channel_axis, providers, num_threads, scale_factor, tile_size, strength)
    p.denoiser = denoiser
    out = np.empty(p.image.shape, p.dtype)
    dst = p.layout.to_nhwc(out)
    n, h, w, _ = p.src.shape
    nc = p.n_color
    use_fused = (p.session.on_gpu and denoiser == "guided") if fused is None else fused
    if use_fused and p.dtype != np.float32:
        if fused:
            raise ValueError(
                f"fused=True computes in float32, but a {p.image.dtype} image computes in float64; pass "
                f"image.astype(np.float32), or fused=None to apply the curves on the host in float64."
            )
        use_fused = False
    if precision != "fp32" and not use_fused:
        raise ValueError(
            f"precision={precision!r} applies to the fused graph, which runs on CUDA by default; pass "
            f"fused=True to use it on the CPU, or precision='fp32'."
        )
    if use_fused:
        if p.info.black_point and p.shared:
            p.small_maps()  # the black lifts: a host run of the network on the small copies
        enhance_fused(p, dst, amount, providers, precision)
        check_finite(dst[..., :nc], p.info.path, "pixels")  # the host path checks the network's maps instead
        finish_tone(dst[..., :nc], p.lifts, stops, num_threads=p.num_threads)
        copy_extra_channels(p.src, dst, nc)
        return out
    # The image was validated and the alphas bounded in _Prepared / _finish_maps:
    # the curve kernel runs without checks of its own.
    int_scale = 1.0 / np.iinfo(p.image.dtype).max if p.image.dtype.kind == "u" else None
    curves = dict(n_iter=p.info.iterations, int_scale=int_scale, check_image=False, check_alpha=False)
    if p.shared and not amount:
        # The curve kernel upsamples each block of maps itself: no full-size map is stored.
        up = BilinearUpsampler(p.small_maps(), (h, w))
        if not run_blocks_upsampled(p.src, dst, nc, up, n_iter=p.info.iterations, int_scale=int_scale):
            run_blocks(p.src, dst, nc, lambda b, r0, r1, c0, c1: up.block(b, r0, r1, c0, c1)[:, :, None, :],
                       per_iter=False, **curves)
    else:
        _enhance_tiles(p, dst, amount, curves)
    finish_tone(dst[..., :nc], p.lifts, stops, num_threads=p.num_threads)
    copy_extra_channels(p.src, dst, nc)
    return out
