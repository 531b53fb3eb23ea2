"""ONNX Runtime sessions: imported lazily, one cached session per (model, providers, threads)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

__all__ = ["resolve_providers", "get_session", "read_metadata", "Session"]

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


def resolve_providers(providers="auto") -> tuple[str, ...]:
    """Turn ``"auto" | "cpu" | "cuda" | [names]`` into ONNX Runtime provider names.

    ``"auto"`` takes CUDA when onnxruntime-gpu sees a GPU, else the CPU.
    Asking for CUDA (or any provider) that is not available raises.
    """
    available = _ort().get_available_providers()
    if isinstance(providers, str):
        key = providers.lower()
        if key == "auto":
            return ("CUDAExecutionProvider", "CPUExecutionProvider") if "CUDAExecutionProvider" in available else ("CPUExecutionProvider",)
        if key not in _ALIASES:
            raise ValueError(
                f"providers={providers!r} is unknown; use 'auto', 'cpu', 'cuda' or a list of ONNX Runtime "
                f"provider names (available here: {', '.join(available)})."
            )
        names = [_ALIASES[key]]
    else:
        names = [_ALIASES.get(str(p).lower(), str(p)) for p in providers]
        if not names:
            raise ValueError("providers is an empty list; use 'auto', 'cpu', 'cuda' or provider names.")
    for name in names:
        if name not in available:
            hint = (
                " Install the GPU build on a machine with CUDA: pip uninstall onnxruntime, then pip install 'skdce[gpu]'."
                if name == "CUDAExecutionProvider"
                else ""
            )
            raise ValueError(
                f"provider {name!r} is not available in this onnxruntime (available: {', '.join(available)}).{hint}"
            )
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")
    return tuple(names)


class Session:
    """A loaded model: the ONNX Runtime session and the providers it really uses."""

    def __init__(self, path: Path, providers: tuple[str, ...], threads: int | None):
        ort = _ort()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
        except Exception as exc:
            raise ValueError(f"cannot load ONNX model {str(path)!r}: {exc}") from exc
        self.providers = tuple(self.session.get_providers())
        missing = [p for p in providers if p not in self.providers]
        if missing:  # e.g. CUDA listed by onnxruntime-gpu but its libraries failed to load
            raise ValueError(
                f"ONNX Runtime could not start {', '.join(missing)} for {str(path)!r} (it runs "
                f"{', '.join(self.providers)}); check the CUDA/cuDNN installation, or pass providers='cpu'."
            )
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ValueError(
                f"ONNX model {str(path)!r} has {len(inputs)} inputs and {len(outputs)} outputs; skdce needs one "
                f"image input (N, 3, H, W) and an alpha-map output (N, 3k, H, W)."
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(
                f"ONNX model {str(path)!r} takes input of shape {shape}; skdce needs (N, 3, H, W) RGB images."
            )
        out_shape = outputs[0].shape
        if len(out_shape) != 4 or not isinstance(out_shape[1], int) or out_shape[1] % 3:
            raise ValueError(
                f"ONNX model {str(path)!r} outputs shape {out_shape}; skdce needs alpha maps (N, 3k, H, W)."
            )
        self.n_maps = out_shape[1]
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self.input_type = inputs[0].type
        logger.info("skdce: loaded %s with providers %s", path, ", ".join(self.providers))

    def run(self, batch):
        """Run the estimator on an (N, 3, H, W) float32 array."""
        return self.session.run([self.output_name], {self.input_name: batch})[0]


def get_session(path: Path, providers="auto", threads: int | None = None) -> Session:
    """The cached :class:`Session` for ``(path, providers, threads)``."""
    key = (str(Path(path).resolve()), resolve_providers(providers), threads)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = Session(Path(path), key[1], threads)
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
