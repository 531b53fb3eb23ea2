"""ONNX Runtime sessions: imported lazily, providers resolved once, one cached session per (model, providers, threads).

Every session skdce starts (the curve estimators, the fused graph, the
learned denoiser) starts through :func:`start_session`, with the
:class:`Providers` the call resolved once (:func:`providers_of`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .._base.validate import check_num_threads

__all__ = ["resolve_providers", "providers_of", "Providers", "start_session", "get_session", "read_metadata",
           "Session", "check_finite"]

logger = logging.getLogger("skdce")

_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
_sessions: dict = {}
_lock = threading.Lock()


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "skdce needs ONNX Runtime to run models: pip install 'skdce[cpu]' (or 'skdce[gpu]' for CUDA)"
        ) from exc
    return onnxruntime


#: CUDA defaults: cuDNN's heuristic algorithm choice (its exhaustive search runs again for
#: every new input shape, 40-80 ms a time on an H100, and images and tiles vary in shape),
#: and no TF32, so fp32 models match their CPU results (TF32 differs by about 1e-4).
CUDA_DEFAULTS = {"cudnn_conv_algo_search": "HEURISTIC", "use_tf32": "0"}


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


def _entry(name: str, options: dict | None = None) -> tuple:
    """A hashable provider entry ``(name, ((key, value), ...))``; CUDA options complete :data:`CUDA_DEFAULTS`."""
    options = {**(CUDA_DEFAULTS if name == "CUDAExecutionProvider" else {}), **(options or {})}
    return (name, tuple(sorted((str(k), str(v)) for k, v in options.items())))


def resolve_providers(providers="auto") -> tuple[tuple, ...]:
    """Turn ``"auto" | "cpu" | "cuda" | [names or (name, options)]`` into ONNX Runtime provider entries.

    Returns ``((name, options), ...)``, the CPU provider last. ``"auto"`` takes
    CUDA when onnxruntime-gpu lists it, else the CPU. A provider that is
    asked for by name and is not available raises. CUDA gets
    :data:`CUDA_DEFAULTS`, with the options of a ``("CUDAExecutionProvider", {...})``
    pair taking precedence.
    """
    if not isinstance(providers, (str, list, tuple)):
        raise TypeError(
            f"providers={providers!r} must be 'auto', 'cpu', 'cuda' or a list of ONNX Runtime provider names or "
            f"(name, options dict) pairs, e.g. ['CUDAExecutionProvider', 'CPUExecutionProvider']; got "
            f"{type(providers).__name__}."
        )
    available = _ort().get_available_providers()
    if isinstance(providers, str):
        key = providers.lower()
        if key == "auto":
            names = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
            return tuple(_entry(n) for n in names + ["CPUExecutionProvider"])
        if key not in _ALIASES:
            raise ValueError(
                f"providers={providers!r} is unknown; use 'auto', 'cpu', 'cuda' or a list of ONNX Runtime "
                f"provider names (available here: {', '.join(available)})."
            )
        entries = [_entry(_ALIASES[key])]
    else:
        entries = []
        for p in providers:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], (dict, tuple)):  # (name, options)
                entries.append(_entry(_ALIASES.get(str(p[0]).lower(), str(p[0])), dict(p[1])))
            elif isinstance(p, str):
                entries.append(_entry(_ALIASES.get(p.lower(), p)))
            else:
                raise ValueError(
                    f"providers entry {p!r} is neither a provider name nor a (name, options dict) pair."
                )
        if not entries:
            raise ValueError("providers is an empty list; use 'auto', 'cpu', 'cuda' or provider names.")
    for name, _ in entries:
        if name not in available:
            hint = (
                " Install the GPU build on a machine with CUDA: pip uninstall onnxruntime, then pip install 'skdce[gpu]'."
                if name == "CUDAExecutionProvider"
                else ""
            )
            raise ValueError(
                f"provider {name!r} is not available in this onnxruntime (available: {', '.join(available)}).{hint}"
            )
    if all(name != "CPUExecutionProvider" for name, _ in entries):
        entries.append(_entry("CPUExecutionProvider"))
    return tuple(entries)


@dataclass(frozen=True)
class Providers:
    """Resolved providers: the ONNX Runtime entries, and whether they were asked for by name.

    ``required`` providers that ONNX Runtime drops while loading (CUDA listed
    by onnxruntime-gpu whose libraries or GPU are missing) raise; others (what
    ``"auto"`` picked) fall back to the CPU with a logged warning.
    """

    entries: tuple
    required: bool


def providers_of(providers="auto") -> Providers:
    """``providers`` as the user gives them (or already resolved) -> :class:`Providers`, resolved once."""
    if isinstance(providers, Providers):
        return providers
    required = not (isinstance(providers, str) and providers.lower() == "auto")
    return Providers(resolve_providers(providers), required)


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
                f"image input (N, 3, H, W), optionally a context input (N, 1, H, W), and an alpha-map output (N, 3k, H, W)."
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(
                f"ONNX model {str(path)!r} takes input of shape {shape}; skdce needs (N, 3, H, W) RGB images."
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
        check_finite(maps, self.path, "curve parameters")
        return maps


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
    """The cached :class:`Session` for ``(path, providers, threads)``; ``providers`` raw or :class:`Providers`."""
    threads = check_num_threads(threads)
    providers = providers_of(providers)
    key = (str(Path(path).resolve()), providers, threads)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = Session(Path(path), providers, threads)
        return session


_metadata: dict = {}


def read_metadata(path: Path) -> dict:
    """The ``metadata_props`` of an ONNX file, as a dict of strings (cached per file version)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _metadata.get(key)
    if cached is not None:
        return dict(cached)
    ort = _ort()
    try:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValueError(f"cannot load ONNX model {str(path)!r}: {exc}") from exc
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    with _lock:
        _metadata[key] = meta
    return dict(meta)
