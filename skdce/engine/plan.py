"""The plan of one call: every argument checked once, into a frozen value that the drivers read.

:func:`make_plan` validates what :func:`skdce.enhance` and
:func:`skdce.estimate_curves` are given (image, model, strength, denoiser,
exposure, providers, tiling, driver) and loads the model's session; the host,
fused-graph and Dask drivers (:mod:`skdce.engine.host`,
:mod:`skdce.engine.fused`, :mod:`skdce.engine.dask`) then only read the
:class:`Plan`. Nothing in it changes during the call.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._base.image import ImageLayout, compute_dtype, image_layout
from .._base.validate import check_bool, check_image_arg, check_int, check_num_threads, check_real
from ..models import ModelInfo, default_model, get_model, verify
from .graph import check_precision
from .runtime import Providers, Session, get_session, providers_of
from .stages.guided import DENOISE_HALO
from .stages.network import HALO, resolve_scale
from .stages.tone import EXPOSURE_RANGE

__all__ = ["Plan", "make_plan", "resolve_tile", "AUTO_TILE", "DENOISERS", "check_denoise", "check_denoiser",
           "check_exposure", "auto_exposure_of", "check_strength"]

#: ``tile_size="auto"``: on the host, 512 keeps the working set small at no cost in speed; where the
#: pipeline runs on CUDA (or as the fused graph) every tile shape costs set-up time, so tiles are large
#: (about 4 GB of activations for an fp32 2048x2048 tile of the full model).
AUTO_TILE = {"host": 512, "device": 2048}

#: The denoisers ``enhance(denoiser=...)`` accepts: the guided filter (the default) or the learned network.
DENOISERS = ("guided", "learned")


def check_strength(strength) -> float:
    return check_real("strength", strength, lo=0, hi=2, hint="0 leaves the image unchanged, 1 applies the model's "
                      "curves, values up to 2 strengthen them (alphas are clipped to [-1, 1]).")


def check_denoise(denoise) -> float:
    """Validate the ``denoise`` strength: None or 0 (off), or a number in (0, 4]."""
    if denoise is None:
        return 0.0
    return check_real("denoise", denoise, lo=0, hi=4, hint="None or 0 turns denoising off, 1 is the default "
                      "strength.")


def check_denoiser(denoiser) -> str:
    """Validate ``denoiser``: ``"guided"`` (the guided filter) or ``"learned"`` (:mod:`skdce.engine.stages.learned`)."""
    if not isinstance(denoiser, str) or denoiser not in DENOISERS:
        raise ValueError(f"denoiser={denoiser!r} is unknown; use 'guided' (the default: the guided filter) or "
                         f"'learned' (the Neighbor2Neighbor network of skdce.denoise_net).")
    return denoiser


def check_exposure(exposure) -> float:
    """``"auto"`` or ``"model"`` -> 0.0, else a number of stops in :data:`EXPOSURE_RANGE`.

    The stops are added to auto exposure's (:func:`auto_exposure_of`).
    """
    if isinstance(exposure, str) and exposure in ("auto", "model"):
        return 0.0
    lo, hi = EXPOSURE_RANGE
    return check_real("exposure", exposure, lo=lo, hi=hi, hint="'auto' decides the exposure for the scene, 'model' "
                      "keeps the network's own; a number asks for that many stops brighter (positive) or darker "
                      "(negative) at middle grey than 'auto'.")


def auto_exposure_of(exposure, info: ModelInfo) -> bool:
    """Whether auto exposure follows ``info``'s curves (where they are a shared curve, on its small copy): the
    model's record allows it, and ``exposure`` is ``"auto"`` or a number (stops added to it), not ``"model"``."""
    return info.auto_exposure and not (isinstance(exposure, str) and exposure == "model")


def _check_tile(tile_size):
    if tile_size is None or (isinstance(tile_size, str) and tile_size == "auto"):
        return tile_size
    return check_int("tile_size", tile_size, min=16, hint="or 'auto' (512 on the host, 2048 where the pipeline runs "
                     "on CUDA), or None for the whole image as one tile.")


def resolve_tile(tile_size, *, on_device: bool, size: tuple[int, int]) -> int | None:
    """The one meaning of ``tile_size`` (the library's and the CLI's ``--tile-size``): a tile side, or None.

    * an integer: tiles of that many pixels a side;
    * None: the whole image is one tile;
    * ``"auto"``: :data:`AUTO_TILE` for where the pipeline runs (2048 on the
      device, i.e. CUDA or the fused graph; 512 on the host), and an image of
      at most that squared area is one tile (a 600x400 image was cut into 512
      and 88 columns, the network recomputing the halo of both).

    Tiles bound the memory of the network and the denoiser; the results do
    not depend on them (each tile is computed with the context it needs). The
    plain shared curves of Zero-DCE++ without denoising keep no per-tile
    state: they run in cache-sized blocks whatever the tile size.
    """
    if tile_size != "auto":
        return tile_size
    tile = AUTO_TILE["device" if on_device else "host"]
    return None if size[0] * size[1] <= tile * tile else tile


def _check_scale(scale_factor, info, shared: bool) -> float:
    value = check_real("scale_factor", scale_factor, lo=1, hint="or None for the model's own (zero-dce++: "
                       "its net_size, 64 pixels on the longer side).")
    if not shared and scale_factor != 1:  # the session's outputs decide (a user file may not say)
        raise ValueError(
            f"scale_factor={scale_factor!r} applies to shared-curve models such as 'zero-dce++'; "
            f"{info.name!r} estimates curves at full resolution (use scale_factor=None)."
        )
    return value


@dataclass(frozen=True)
class Plan:
    """The checked arguments of one call (see :func:`make_plan`)."""

    #: the model, its loaded session, and the providers resolved once for every session of the call
    info: ModelInfo
    session: Session
    providers: Providers
    #: the image: its layout, its own dtype, the dtype the pipeline computes in, ``(H, W)``, colour channels
    layout: ImageLayout
    image_dtype: np.dtype
    dtype: np.dtype
    size: tuple[int, int]
    n_color: int
    #: one curve (3 maps) shared by every iteration, estimated on a copy downscaled by ``scale``
    shared: bool
    scale: float
    strength: float
    #: the denoiser's strength (0: off), which denoiser, the exposure in stops added to auto exposure's
    #: (:func:`~skdce.engine.stages.tone.auto_exposure`, measured on Zero-DCE++'s small copy where
    #: ``auto_exposure``; a full model keeps its own)
    denoise: float
    denoiser: str
    exposure: float
    auto_exposure: bool
    num_threads: int | None
    #: the tile side (None: one tile), resolved by :func:`resolve_tile`
    tile: int | None
    #: "host", "fused" or "dask"
    driver: str
    precision: str

    def __reduce__(self):
        # a Dask worker in another process gets the plan without its live ONNX Runtime session, which cannot be
        # pickled, and opens the model there once (get_session's cache: one session a process)
        kept = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "session"}
        return _plan_in_this_process, (kept,)

    @property
    def int_scale(self) -> float | None:
        """``1 / max`` of an unsigned-integer image (a float64 scale: one rounding), else None."""
        dt = self.image_dtype
        return 1.0 / np.iinfo(dt).max if dt.kind == "u" else None

    @property
    def n_maps(self) -> int:
        """Alpha maps per pixel of :func:`skdce.estimate_curves`: the network's (3 shared, or 3 per iteration);
        a gray image's are averaged to one per curve (:func:`~skdce.engine.stages.network.finish_maps`)."""
        return self.session.n_maps if self.n_color == 3 else self.session.n_maps // 3

    @property
    def halo(self) -> int:
        """The context a tile needs on each side: the network's (full model) and the denoiser's."""
        return (0 if self.shared else HALO) + (DENOISE_HALO if self.denoise else 0)

    @property
    def context(self) -> bool:
        """Whether the full model takes the illumination context (a whole-image quantity)."""
        return self.session.context_name is not None and not self.shared


def _plan_in_this_process(kept: dict) -> Plan:
    """A pickled :class:`Plan` in this process, with its model's session (:meth:`Plan.__reduce__`)."""
    return Plan(session=get_session(kept["info"].path, kept["providers"], kept["num_threads"]), **kept)


def make_plan(image, *, model=None, strength=1.0, channel_axis=-1, scale_factor=None, providers="auto",
              tile_size="auto", num_threads=None, denoise=0.0, exposure="auto", denoiser="guided", fused=False,
              precision="fp32", lazy=False) -> Plan:
    """Check every argument once and load the model: the :class:`Plan` of one call.

    ``lazy=True`` is a Dask array: its values are checked chunk by chunk by
    the Dask driver, none are read here. ``fused``: None picks the fused graph
    where the model runs on CUDA (with the guided filter), True forces it.
    """
    amount = check_denoise(denoise)
    stops = check_exposure(exposure)
    denoiser = check_denoiser(denoiser)
    if denoiser == "learned" and fused:
        raise ValueError("denoiser='learned' runs on the host path; the fused graph holds the guided filter. Pass "
                         "fused=None (or False), or denoiser='guided'.")
    if fused is not None:
        fused = check_bool("fused", fused, hint="or None (the default): fused where the model runs on CUDA.")
    check_precision(precision)
    if lazy and (fused or precision != "fp32"):
        raise ValueError(
            "fused=True and precision='fp16' apply to in-memory arrays; a dask array runs the host path "
            "block by block (pass fused=None, precision='fp32', or image.compute())."
        )
    check_image_arg(image, "image", "skdce.enhance / skdce.estimate_curves")
    num_threads = check_num_threads(num_threads)
    if lazy and any(d != d for d in image.shape):  # NaN: a dask array whose chunk sizes are unknown
        raise ValueError(f"image is a dask array of unknown chunk sizes (shape {image.shape}); call "
                         f"image.compute_chunk_sizes() first.")
    if not lazy:
        try:
            image = np.asarray(image)
        except ValueError as exc:  # a ragged nested list
            raise ValueError(f"image cannot be made into an array ({exc}); pass an (H, W, C) array, or nested "
                             f"lists of equal lengths.") from None
    shape = tuple(int(d) for d in image.shape)
    dtype = compute_dtype(image.dtype, "image")
    layout = image_layout(image, channel_axis, "image")
    if int(np.prod(shape)) == 0:
        raise ValueError(f"image is empty (shape {shape}); pass an image with at least one pixel.")
    strength = check_strength(strength)
    tile_size = _check_tile(tile_size)
    providers = providers_of(providers)
    info = get_model(model if model is not None else default_model(providers))
    verify(info)
    session = get_session(info.path, providers, num_threads)
    if info.shared_curve is None or info.n_maps != session.n_maps:
        if session.n_maps not in (3, 3 * info.iterations):
            raise ValueError(
                f"model {info.name!r} outputs {session.n_maps} maps; expected 3 (shared curve) or "
                f"{3 * info.iterations} (one triple per iteration)."
            )
    shared = session.n_maps == 3
    if scale_factor is not None:
        scale_factor = _check_scale(scale_factor, info, shared)
    size = _spatial_size(layout)
    on_gpu = session.on_gpu
    if lazy:
        driver = "dask"
    elif fused is None:  # the fused graph where the model runs on CUDA, unless the learned denoiser is asked for
        driver = "fused" if on_gpu and denoiser == "guided" else "host"
    else:
        driver = "fused" if fused else "host"
    if driver == "fused" and dtype != np.float32:
        if fused:
            raise ValueError(
                f"fused=True computes in float32, but a {image.dtype} image computes in float64; pass "
                f"image.astype(np.float32), or fused=None to apply the curves on the host in float64."
            )
        driver = "host"
    if precision != "fp32" and driver != "fused":
        raise ValueError(
            f"precision={precision!r} applies to the fused graph, which runs on CUDA by default; pass "
            f"fused=True to use it on the CPU, or precision='fp32'."
        )
    return Plan(
        info=info, session=session, providers=providers, layout=layout, image_dtype=np.dtype(image.dtype),
        dtype=dtype, size=size,
        n_color=layout.n_color, shared=shared, scale=resolve_scale(scale_factor, info, size), strength=strength,
        denoise=amount, denoiser=denoiser, exposure=stops,
        auto_exposure=shared and auto_exposure_of(exposure, info),
        num_threads=num_threads,
        tile=resolve_tile(tile_size, on_device=on_gpu or driver == "fused", size=size), driver=driver,
        precision=precision,
    )


def _spatial_size(layout: ImageLayout) -> tuple[int, int]:
    """``(H, W)`` of the image ``layout`` describes."""
    shape = list(layout.shape)
    if layout.channel_axis is not None:
        del shape[layout.channel_axis]
    return int(shape[-2]), int(shape[-1])
