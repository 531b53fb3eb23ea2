"""The pipeline's public entry points: :func:`enhance` and :func:`estimate_curves`.

Each checks its arguments once into a :class:`~skdce.engine.plan.Plan`
(:func:`~skdce.engine.plan.make_plan`) and hands it to one driver: the host
(:mod:`skdce.engine.host`), the fused ONNX graph (:mod:`skdce.engine.fused`)
or Dask (:mod:`skdce.engine.dask`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from ._base.image import validate_values
from .engine.dask import enhance_dask, estimate_dask, is_dask_array
from .engine.fused import enhance_fused
from .engine.host import enhance_host, estimate_host
from .engine.plan import make_plan
from .engine.runtime import out_of_memory

__all__ = ["enhance", "estimate_curves"]


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
        bounds memory); the rule of :func:`enhance`'s ``tile_size``.
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
    lazy = is_dask_array(image)
    with _explain_memory_errors(image):
        plan = make_plan(image, model=model, channel_axis=channel_axis, scale_factor=scale_factor, providers=providers,
                         tile_size=tile_size, num_threads=num_threads, lazy=lazy)
        if lazy:
            return _to_layout(plan, estimate_dask(plan, image))
        image = np.asarray(image)
        validate_values(image, "image")
        return _to_layout(plan, estimate_host(plan, plan.layout.to_nhwc(image)))


def _to_layout(plan, maps):
    """``(N, H, W, K)`` maps -> laid out like the image (see ``apply_le_curves``)."""
    if plan.layout.channel_axis is None:
        maps = maps if maps.shape[-1] > 1 else maps[..., 0]
        return maps if plan.layout.batched else maps[0]
    return plan.layout.from_nhwc(maps)


def _result_array(shape, dtype) -> np.ndarray:
    """The empty result; a MemoryError that says the result itself is too large (smaller tiles do not help)."""
    try:
        return np.empty(shape, dtype)
    except MemoryError as exc:
        size = np.prod(shape, dtype=np.float64) * np.dtype(dtype).itemsize
        error = MemoryError(
            f"the result, of shape {tuple(shape)} and dtype {np.dtype(dtype).name} ({size / 2**30:.1f} GiB), does "
            f"not fit in memory; enhance a dask array instead (skdce.enhance(dask.array.from_array(image, "
            f"chunks=...)) computes it chunk by chunk, e.g. into .to_zarr()), or the image in parts. ({exc})")
        error.skdce_explained = True
        raise error from None


@contextlib.contextmanager
def _explain_memory_errors(image):
    """Turn a bare MemoryError (NumPy's "Unable to allocate ...") into one that says what to do."""
    try:
        yield
    except MemoryError as exc:
        if getattr(exc, "skdce_explained", False):
            raise
        raise out_of_memory(f"the image of shape {np.shape(image)}", exc) from exc


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
        Scales the curves: 0 returns the image (brightened or darkened only by
        the stops a number ``exposure`` asks for), 1 the model's result, up to 2
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
        Tiles of the network and the denoiser (each computed with the context
        it needs, so the result does not depend on them); they bound peak
        memory. ``"auto"``: 512 on the host, 2048 where the pipeline runs on
        CUDA or as the fused graph (whose set-up cost grows with the number of
        tile shapes); an image of at most that squared area is one tile. None:
        the whole image as one tile. The same rule as ``skdce enhance
        --tile-size`` (:func:`skdce.engine.plan.resolve_tile`).
    num_threads : int, optional
        ONNX Runtime intra-op threads.
    denoise : float or None, optional
        Strength of the noise removal after the curves (:mod:`skdce.denoise`):
        1 (the default) filters each pixel by the noise the curve added there,
        ``s * sqrt(curve_gain**2 - 1)`` (nothing where the curve does not
        amplify, e.g. at ``strength=0``), where ``s`` is the input's noise
        level: :func:`skdce.denoise.estimate_noise`, raised where a JPEG's
        blocks or its 4:2:0 chroma hide part of the noise, and at least the
        rounding (``docs/user_guide/denoising.rst``); larger values filter
        more, smaller less; 0 or None applies the plain curves (bit for bit the
        result without denoising).
    denoiser : {"guided", "learned"}, optional
        What removes the noise: ``"guided"`` (the default), the two-stage
        guided filter of :mod:`skdce.denoise`, or ``"learned"``, the small
        self-supervised network of :mod:`skdce.denoise_net`, steered by the
        same noise map; it keeps a little more fine texture on indoor scenes,
        leaves more colour speckle on very dark photos and is about 10x slower
        on the CPU as a stage (2.2x for the whole call at 600x400;
        ``weights/README.md``). It runs on the host path.
    exposure : "auto", "model" or float, optional
        ``"auto"`` (the default) decides the exposure for the scene: the
        model's curves, then, for Zero-DCE++ models, as many stops as bring
        the result's highlights (its 90th percentile of luminance, measured
        on the network's small copy) up to those of three in four
        well-exposed photos, at most 1.5
        (:func:`skdce.engine.stages.tone.auto_exposure`): a dim scene whose
        brightest parts stay dull is brightened as a whole, one with bright
        highlights is left as the curves made it; and the curves may not
        stretch the input's noise beyond a limit
        (:func:`skdce.tone.noise_limit`), so a night sky that is mostly
        noise stays dark. ``"model"`` keeps the curves' own exposure. A number asks for that many stops more
        (positive) or less (negative) than ``"auto"`` at middle grey, from
        -4 to 2. The stops are applied after the curves as further curve
        steps of one uniform alpha each (:func:`skdce.tone.exposure_alphas`):
        black stays black, white stays white, the tones between move
        smoothly; the denoiser removes the noise they stretch. Auto
        exposure's stops are measured on the model's own result (strength 1)
        and scaled by ``strength``, like the curves, so a stronger strength is
        never darker; the stops a number asks for are not (at ``strength=0``,
        ``exposure=1`` gives the input one stop brighter).
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
    ``exposure`` adds its curve steps (``exposure="model"`` and a model
    without a black point give the curves alone). The denoiser filters the curves'
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
    lazy = is_dask_array(image)
    with _explain_memory_errors(image):
        plan = make_plan(image, model=model, strength=strength, channel_axis=channel_axis, scale_factor=scale_factor,
                         providers=providers, tile_size=tile_size, num_threads=num_threads, denoise=denoise,
                         exposure=exposure, denoiser=denoiser, fused=fused, precision=precision, lazy=lazy)
        if lazy:
            return enhance_dask(plan, image)
        image = np.asarray(image)
        out = _result_array(image.shape, plan.dtype)  # first: a result too large fails at once
        validate_values(image, "image")
        driver = enhance_fused if plan.driver == "fused" else enhance_host
        driver(plan, plan.layout.to_nhwc(image), plan.layout.to_nhwc(out))
        return out
