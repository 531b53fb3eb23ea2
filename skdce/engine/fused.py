"""The fused driver: the whole pipeline as one ONNX graph per model variant, run on the provider.

On CUDA the image is uploaded once and the result downloaded once; nothing
in between crosses the bus. The graph (:func:`skdce.engine.graph.build_fused`)
holds the network, the curves, the gain map and the guided filter, each
built by its stage with the host path's arithmetic. What stays on the host,
and why:

* the noise level (:mod:`skdce.engine.stages.noise`): a median of a strided
  sample of at most 2**18 pixels, about 13 ms per image on one core at any
  size from 0.3 MP up, estimated on skdce's worker threads while the device
  runs; it enters the graph as one number per image (an in-graph median
  would need a TopK over the whole sample, per channel);
* the box means of the illumination context (full model) and the
  box-downscaled copy of Zero-DCE++ (with its context): one threaded pass of
  the compiled box-mean kernel, which sums in double; in float32 on the
  device, running sums over thousands of pixels would lose about 1e-5, more
  than every other step. What crosses the bus is small: the context grids
  (a few rows, interpolated to full size in the graph) and Zero-DCE++'s
  copy, 1/144 of the image;
* Zero-DCE++'s black lifts (one host run of its network on the small
  copies) and the tone steps (:mod:`skdce.engine.stages.tone`) on the result.

Inputs are ``(N, H, W, c)`` in the image's own dtype (uint8, uint16 or
float32, colour channels only), so integer images cross the bus at their own
size; the graph scales and transposes them. Float64 images stay on the host
path (the graph computes in float32).
"""

from __future__ import annotations

import threading

import numpy as np

from .._base.providers import drop_stale, file_identity
from .graph import INPUT_TYPES, build_fused
from .host import context_of, finish, needs_noise, shared_maps, tone_stretch
from .plan import Plan
from .runtime import Providers, check_finite, start_session
from .stages.boxes import onnx_context_feeds, onnx_taps
from .stages.network import image_whites, small_context, small_copies
from .stages.noise import filter_noise_level
from .tiles import tile_grid
from .workers import executor

__all__ = ["FusedSession", "get_fused_session", "enhance_fused"]


class FusedSession:
    """An ONNX Runtime session of one fused graph, run with I/O binding (on CUDA: one upload, one download)."""

    def __init__(self, model, providers: Providers, threads: int | None, label: str):
        self.session, self.providers = start_session(model.SerializeToString(), f"the fused graph of {label}",
                                                     providers, threads)
        self.on_gpu = self.providers[0] == "CUDAExecutionProvider"

    def run(self, feeds: dict, out: np.ndarray | None = None) -> np.ndarray:
        """Run on host arrays; on CUDA each input is uploaded once and the output downloaded once.

        ``out``, a C-contiguous float32 array of the output's shape, receives
        the result directly (no host-side copy); otherwise a new array is returned.
        """
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        if out is not None and out.dtype == np.float32 and out.flags.c_contiguous:
            binding.bind_output("enhanced", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
            self.session.run_with_iobinding(binding)
            return out
        binding.bind_output("enhanced", "cuda" if self.on_gpu else "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


_models: dict = {}
_sessions: dict = {}
_lock = threading.Lock()


def get_fused_session(info, providers: Providers, threads, *, n_color, dtype, denoise, precision) -> FusedSession:
    """The cached :class:`FusedSession` of a model variant (graphs are built once per variant, in memory)."""
    # per version of the file (file_identity: path, mtime, size), as the host sessions: a model replaced on disk
    # is built again, never its old graph under its new metadata, and its older graphs and sessions are dropped
    identity = file_identity(info.path)
    variant = (identity, info.iterations, bool(info.shared_curve), n_color, dtype, bool(denoise), precision)
    key = variant + (providers, threads)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            drop_stale(_models, identity)
            drop_stale(_sessions, identity)
            model = _models.get(variant)
            if model is None:
                model = _models[variant] = build_fused(
                    info.path, iterations=info.iterations, shared=bool(info.shared_curve), n_color=n_color,
                    dtype=dtype, denoise=denoise, precision=precision,
                )
            session = _sessions[key] = FusedSession(model, providers, threads, repr(info.name))
        return session


def _graph_input(block: np.ndarray) -> np.ndarray:
    """A contiguous graph input of an ``(n, h, w, c)`` block: uint8/uint16/float32 kept, others to float32."""
    if block.dtype.name in INPUT_TYPES:
        return np.ascontiguousarray(block)
    if block.dtype.kind == "u":  # uint32: scaled here (float32 keeps 24 bits of it)
        return (block * (1.0 / np.iinfo(block.dtype).max)).astype(np.float32)
    return np.ascontiguousarray(block, dtype=np.float32)  # float16: exact


def _input_type(dtype: np.dtype) -> str:
    return dtype.name if dtype.name in INPUT_TYPES else "float32"


#: Pixels per graph run when whole images are batched (a 2048 x 2048 tile's worth).
_RUN_PIXELS = 2048 * 2048


def enhance_fused(plan: Plan, src: np.ndarray, dst: np.ndarray) -> None:
    """Write the finished result of ``(N, H, W, C)`` ``src`` into ``dst`` with the fused graph.

    Images run tile by tile (``plan.tile``), each tile with the pipeline's
    halo (:attr:`Plan.halo`); Zero-DCE++'s network sees the whole small copy
    in every tile (1/144 of the pixels) and each tile upsamples its own part
    of the maps. The result does not depend on the tiling. Images that fit
    in one tile run several to a graph call.
    """
    n, h, w, _ = src.shape
    nc = plan.n_color
    amount = plan.denoise
    session = get_fused_session(plan.info, plan.providers, plan.num_threads, n_color=nc,
                                dtype=_input_type(src.dtype), denoise=bool(amount), precision=plan.precision)
    strength = np.array(plan.strength, np.float32)
    # The noise levels (about 13 ms per image above 0.3 MP on one core) are estimated on
    # skdce's worker threads (NumPy releases the GIL) while the device runs earlier images.
    sigmas = [executor().submit(filter_noise_level, src[b, ..., :nc]) for b in range(n)] if needs_noise(plan) else None
    lifts, stops, scales = None, None, None

    if plan.shared:
        smalls = small_copies(src, nc, plan.scale)
        contexts = [small_context(plan.session, s) for s in smalls]
        if plan.info.black_point or plan.auto_exposure:  # the tone: a host run of the network on the small copies
            noise = [s.result() for s in sigmas] if plan.auto_exposure else None
            whites = image_whites(src, nc) if plan.auto_exposure else None
            _, lifts, stops, scales = shared_maps(plan, smalls, noise=noise, contexts=contexts, whites=whites)
        sh, sw = smalls[0].shape[1:3]
        rows, cols = onnx_taps(sh, h, True), onnx_taps(sw, w, False)
        if scales is None:  # the graph's alpha_scale input: ones, the maps as the network gives them
            scales = np.ones((n, sh, sw), np.float32)

        def extra(b0, b1, r0, r1, c0, c1):
            f = {"small": np.ascontiguousarray(np.concatenate(smalls[b0:b1]), np.float32),
                 "alpha_scale": np.ascontiguousarray(scales[b0:b1, None], np.float32),
                 "up_rows": rows[0][:, r0:r1], "up_wy": rows[1][r0:r1].reshape(1, 1, -1, 1),
                 "up_cols": cols[0][:, c0:c1], "up_wx": cols[1][c0:c1].reshape(1, 1, 1, -1)}
            if contexts[0] is not None:
                f["small_context"] = np.stack(contexts[b0:b1])[:, None]
            return f

    else:
        context = context_of(plan, src)

        def extra(b0, b1, r0, r1, c0, c1):
            return onnx_context_feeds(context, b0, b1, r0, r1, c0, c1)

    def feeds(b0, b1, r0, r1, c0, c1):
        f = {"image": _graph_input(src[b0:b1, r0:r1, c0:c1, :nc]), "strength": strength}
        if amount:
            f["noise"] = np.array([amount * sigmas[b].result() * tone_stretch(plan, lifts, stops, b)
                                   for b in range(b0, b1)], np.float32)
        f.update(extra(b0, b1, r0, r1, c0, c1))
        return f

    if plan.tile is None or plan.tile >= max(h, w):  # whole images, several per run
        per_run = max(1, _RUN_PIXELS // (h * w))
        for b0 in range(0, n, per_run):
            b1 = min(n, b0 + per_run)
            target = dst[b0:b1, ..., :nc]
            result = session.run(feeds(b0, b1, 0, h, 0, w), out=target)  # in place where dst has no alpha channel
            if result is not target:
                target[...] = result
    else:
        for b in range(n):
            for tile in tile_grid(b, 0, h, 0, w, plan.tile):
                region = tile.grown(plan.halo, plan.size)
                rows_, cols_ = tile.inside(region)
                out = session.run(feeds(b, b + 1, region.y0, region.y1, region.x0, region.x1))
                tile.of(dst)[..., :nc] = out[0, rows_, cols_]
    check_finite(dst[..., :nc], plan.info.path, "pixels")  # the host path checks the network's maps instead
    finish(plan, src, dst, lifts, stops)
