"""ONNX Runtime's foundations: the lazy import, the providers it has, and the metadata of a model file.

Both the model registry (:mod:`skdce.models`) and the engine's sessions
(:mod:`skdce.engine.runtime`) stand on these.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ort", "CUDA_DEFAULTS", "resolve_providers", "Providers", "providers_of", "file_identity", "drop_stale",
           "read_metadata"]

_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
_lock = threading.Lock()


def ort():
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
    available = ort().get_available_providers()
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
                " Install the GPU build on a machine with CUDA: pip uninstall onnxruntime, then "
                "pip install 'skdce[gpu]'."
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


_metadata: dict = {}


def file_identity(path) -> tuple:
    """``(resolved path, mtime in ns, size)``: a version of a model file, the key of everything cached per file.

    The metadata (:func:`read_metadata`) and the sessions
    (:func:`skdce.engine.runtime.get_session`) share it, so a file replaced
    on disk is read again by both, never its new metadata over its old session.
    A file that cannot be read gives ``(resolved path, None, None)`` (loading it then says why).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return (str(path.resolve()), None, None)
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def drop_stale(cache: dict, identity: tuple) -> None:
    """Remove from ``cache`` the entries of other versions of ``identity``'s file (its path, another mtime or size).

    Every cache per file version (metadata, sessions, fused graphs) keys its entries by a tuple whose first item
    is the :func:`file_identity`; a file replaced on disk then keeps one version cached, not one per change (a
    server re-reading a retrained model would hold every old session, and its device memory, otherwise).
    """
    for key in [k for k in cache if k[0][0] == identity[0] and k[0] != identity]:
        del cache[key]


def read_metadata(path: Path) -> dict:
    """The ``metadata_props`` of an ONNX file, as a dict of strings (cached per file version)."""
    path = Path(path)
    identity = file_identity(path)
    if identity[1] is None:
        path.stat()  # the file cannot be read: the OSError that says why (FileNotFoundError for a missing one)
    key = (identity,)
    with _lock:
        cached = _metadata.get(key)
    if cached is not None:
        return dict(cached)
    onnxruntime = ort()
    try:
        opts = onnxruntime.SessionOptions()
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = onnxruntime.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValueError(f"cannot load ONNX model {str(path)!r}: {exc}") from exc
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    with _lock:
        drop_stale(_metadata, identity)
        _metadata[key] = meta
    return dict(meta)
