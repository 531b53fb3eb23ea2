"""ONNX Runtime sessions: imported lazily, providers resolved once, one cached session per (model, providers, threads).

Every session skdce starts (the curve estimators, the fused graph, the
learned denoiser) starts through :func:`start_session`, with the
:class:`Providers` the call resolved once (:func:`providers_of`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .._base.providers import CUDA_DEFAULTS, Providers, drop_stale, file_identity, providers_of, resolve_providers
from .._base.providers import ort as _ort
from .._base.validate import check_num_threads

__all__ = ["CUDA_DEFAULTS", "resolve_providers", "providers_of", "Providers", "start_session", "get_session",
           "Session", "check_finite"]

logger = logging.getLogger("skdce")

_sessions: dict = {}
_lock = threading.Lock()


def session_options(threads: int | None):
    """ONNX Runtime options of every skdce session: full graph optimisation, ``threads`` intra-op threads.

    Subnormal floats are not flushed here (ONNX Runtime's
    ``session.set_denormal_as_zero`` changes the floating-point state of the
    calling thread, the user's, too); the exported weights carry no values
    that would make them (:func:`skdce.train.export.export_onnx`).
    """
    ort = _ort()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    return opts


#: What to do when an image does not fit in memory (the full model's activations grow with the tile's area).
MEMORY_HINT = (
    "pass a smaller tile_size= (e.g. tile_size=256), or use model='zero-dce++', which estimates its curves on a "
    "downscaled copy"
)
_ALLOCATION_FAILURES = ("failed to allocate", "bad allocation", "bad_alloc", "arena", "out of memory",
                        "alloc_failed")


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is ONNX Runtime (or CUDA) failing to allocate memory, rather than a fault of the model file."""
    return isinstance(exc, MemoryError) or any(s in str(exc).lower() for s in _ALLOCATION_FAILURES)


def out_of_memory(what: str, exc: BaseException) -> MemoryError:
    """A MemoryError saying that ``what`` needs more memory than is available, and the way out."""
    error = MemoryError(f"{what} needs more memory than is available; {MEMORY_HINT}. ({type(exc).__name__}: {exc})")
    error.skdce_explained = True
    return error


def start_session(source, label: str, providers: Providers, threads: int | None):
    """Start an ONNX Runtime session on ``source`` (a path or serialised model bytes) with ``providers``.

    Returns ``(session, names of the providers it really runs)``. A required
    provider that ONNX Runtime dropped raises; an optional one is logged.
    """
    ort = _ort()
    try:
        session = ort.InferenceSession(
            str(source) if isinstance(source, Path) else source, sess_options=session_options(threads),
            providers=[(name, dict(options)) for name, options in providers.entries],
        )
    except Exception as exc:
        if is_allocation_failure(exc):
            raise out_of_memory(f"loading {label}", exc) from exc
        raise ValueError(f"cannot load {label}: {exc}") from exc
    running = tuple(session.get_providers())
    missing = [name for name, _ in providers.entries if name not in running]
    if missing and providers.required:  # e.g. CUDA listed by onnxruntime-gpu but its libraries failed to load
        raise ValueError(
            f"ONNX Runtime could not start {', '.join(missing)} for {label} (it runs {', '.join(running)}); "
            f"check the CUDA/cuDNN installation, or pass providers='cpu'."
        )
    if missing:
        logger.warning("skdce: %s could not start; %s runs on %s", ", ".join(missing), label, ", ".join(running))
    logger.info("skdce: loaded %s with providers %s", label, ", ".join(running))
    return session, running


class Session:
    """A loaded curve estimator: the ONNX Runtime session, the providers it really uses, its inputs and outputs."""

    def __init__(self, path: Path, providers: Providers, threads: int | None):
        self.session, self.providers = start_session(Path(path), f"ONNX model {str(path)!r}", providers, threads)
        self.path = Path(path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) not in (1, 2) or len(outputs) < 1:
            raise ValueError(
                f"ONNX model {str(path)!r} has {len(inputs)} inputs and {len(outputs)} outputs; skdce needs an "
                f"image input (N, 3, H, W), optionally a context input (N, 1, H, W), and an alpha-map output "
                f"(N, 3k, H, W)."
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(
                f"ONNX model {str(path)!r} takes input of shape {shape}; skdce needs (N, 3, H, W) RGB images."
            )
        for kind, node in zip(("input", "second input"), inputs):
            if node.type != "tensor(float)":
                raise ValueError(
                    f"ONNX model {str(path)!r} takes {node.type} as its {kind} {node.name!r}; skdce feeds float32 "
                    f"(tensor(float)) images in [0, 1]: a DCE-Net ONNX takes (N, 3, H, W) float32 images (and an "
                    f"(N, 1, H, W) float32 context). Re-export it with float32 inputs."
                )
        fixed = [d for d in shape[2:] if not _free(d)]
        if fixed:
            raise ValueError(
                f"ONNX model {str(path)!r} takes input of shape {shape}, a fixed height and width; skdce needs "
                f"(N, 3, H, W) with free H and W (images and tiles come in any size): re-export it with dynamic "
                f"height and width (e.g. torch.onnx.export's dynamic_axes)."
            )
        if len(inputs) == 2 and (len(inputs[1].shape) != 4 or inputs[1].shape[1] != 1):
            raise ValueError(
                f"ONNX model {str(path)!r} takes a second input of shape {inputs[1].shape}; skdce's second input "
                f"is the illumination context (N, 1, H, W)."
            )
        out_shape = outputs[0].shape
        if len(out_shape) != 4 or not isinstance(out_shape[1], int) or out_shape[1] % 3:
            raise ValueError(
                f"ONNX model {str(path)!r} outputs shape {out_shape}; skdce needs alpha maps (N, 3k, H, W)."
            )
        self.n_maps = out_shape[1]
        self.input_name = inputs[0].name
        #: the name of the illumination-context input (skdce's own models), or None
        self.context_name = inputs[1].name if len(inputs) == 2 else None
        self.output_name = outputs[0].name

    @property
    def on_gpu(self) -> bool:
        """Whether the model runs on CUDA."""
        return self.providers[0] == "CUDAExecutionProvider"

    def run(self, batch, context=None):
        """Run the estimator on an (N, 3, H, W) float32 array (and its (N, 1, H, W) context)."""
        feeds = {self.input_name: batch}
        if self.context_name is not None:
            feeds[self.context_name] = context
        try:
            maps = self.session.run([self.output_name], feeds)[0]
        except Exception as exc:  # ONNX Runtime's own exception types, and MemoryError
            if not is_allocation_failure(exc):
                raise
            h, w = batch.shape[-2:]
            raise out_of_memory(f"running {self.path.name} on {self.providers[0]} on a {h}x{w} input", exc) from exc
        if maps.ndim != 4 or maps.shape[-2:] != batch.shape[-2:]:
            raise ValueError(
                f"ONNX model {str(self.path)!r} output shape {maps.shape} for an input of shape {batch.shape}; "
                f"skdce needs alpha maps (N, 3k, H, W) of the input's height and width (a model that changes the "
                f"size, e.g. by a strided convolution or pooling, needs an upsampling back to the input's size)."
            )
        check_finite(maps, self.path, "curve parameters")
        return maps


def _free(dim) -> bool:
    """Whether an ONNX Runtime input dimension is free: a symbolic name, None or a negative number."""
    return not isinstance(dim, int) or dim < 0


def check_finite(values, path, what: str) -> None:
    """Raise ValueError when ``values`` (a model's output) hold NaN or infinity: never pass on silent garbage.

    One summing pass (no temporary array): a NaN or an infinity makes the sum
    non-finite; the values checked are bounded (alphas, pixels in [0, 1]), so a
    finite sum cannot overflow.
    """
    import numpy as np

    with np.errstate(all="ignore"):
        total = np.sum(values, dtype=np.float64 if values.dtype == np.float64 else np.float32)
    if not np.isfinite(total):
        raise ValueError(
            f"model {Path(path).name!r} output NaN or infinite {what}; its weights are broken (e.g. exported from "
            f"a training run that diverged). Re-export it from a good checkpoint, or use a bundled model."
        )


def get_session(path: Path, providers="auto", threads: int | None = None) -> Session:
    """The cached :class:`Session` for ``(path, providers, threads)``; ``providers`` raw or :class:`Providers`.

    Sessions are cached per version of the file (its path, modification time
    and size, :func:`~skdce._base.providers.file_identity`, as its metadata
    is): a model file replaced on disk is loaded again, and the sessions of
    its older versions are dropped from the cache.
    """
    threads = check_num_threads(threads)
    providers = providers_of(providers)
    identity = file_identity(path)
    key = (identity, providers, threads)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            drop_stale(_sessions, identity)
            session = _sessions[key] = Session(Path(path), providers, threads)
        return session
