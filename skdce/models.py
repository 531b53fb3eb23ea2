"""The model registry: one record per set of weights.

Bundled models are listed in ``weights/manifest.json`` (shipped inside the
wheel as ``skdce/weights``) with their sha256, recipe and validation figures.
A path to any compatible ``.onnx`` file works wherever a model name does.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["ModelInfo", "list_models", "get_model", "weights_dir", "default_model", "DEFAULT_MODEL",
           "GPU_DEFAULT_MODEL"]

#: The model ``enhance`` uses by default: ``zero-dce++``, whose network sees a
#: copy of the image 64 pixels on its longer side and whose curves are applied
#: at full resolution, so its cost at camera sizes is the curves' and the
#: denoiser's (weights/README.md has its recipe and figures). The full-resolution
#: ``zero-dce`` (fp32) and ``zero-dce-int8`` remain as options.
DEFAULT_MODEL = "zero-dce++"
#: The default where the model runs on CUDA: the same network (the fused graph
#: holds its downscaling, curves and denoiser).
GPU_DEFAULT_MODEL = "zero-dce++"


def default_model(providers="auto") -> str:
    """The model ``model=None`` means: ``zero-dce++`` (on the CPU and on CUDA alike)."""
    from ._base.providers import providers_of

    return GPU_DEFAULT_MODEL if providers_of(providers).entries[0][0] == "CUDAExecutionProvider" else DEFAULT_MODEL


def weights_dir() -> Path:
    """The folder holding the bundled ONNX files and ``manifest.json``."""
    packaged = resources.files("skdce") / "weights"
    if packaged.is_dir():  # an installed wheel
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "weights"  # a source checkout


@dataclass(frozen=True)
class ModelInfo:
    """The facts of one curve estimator.

    Attributes
    ----------
    name : str
        Registry name (``"zero-dce"``) or the file path of a user model.
    path : pathlib.Path
        The ONNX file.
    iterations : int
        How many times the curve is applied (8).
    shared_curve : bool or None
        ``True`` when one 3-map curve serves every iteration (Zero-DCE++),
        ``False`` for one map triple per iteration (Zero-DCE, 24 maps);
        ``None`` for a user ``.onnx`` file that does not say (the number of
        maps it outputs decides).
    scale_factor : float
        Default downscaling of the input before curve estimation (12 for
        Zero-DCE++, 1 for Zero-DCE).
    net_size : int or None
        Shared-curve models: the longer side of the copy the network sees
        (the scale then follows the image size, and the curves do not depend on
        it); None: ``scale_factor`` decides.
    black_point : float
        The share of the lift the curves give each channel's black that is
        taken out (:mod:`skdce.tone`; 0: none); the model was trained with
        that step.
    auto_exposure : bool
        Shared-curve models: whether ``exposure="auto"`` follows the curves
        with :func:`skdce.engine.stages.tone.auto_exposure` (the manifest's or
        the file's ``auto_exposure``; True unless it says false).
    sha256 : str or None
        Expected checksum of ``path`` (bundled models); checked on first use.
    bundled : bool
        Whether the model ships with skdce.
    precision : str
        ``"fp32"`` or ``"int8"`` (statically quantised).
    recipe : dict
        Every fact of the record, in the manifest's schema whether the model is
        bundled (its ``manifest.json`` entry) or a user ``.onnx`` file (its
        ``skdce_*`` metadata without the prefix, JSON values decoded):
        ``architecture``, ``recipe`` (the training configuration), ``config``,
        ``validation``, ``license``, ...; keys the file does not hold are absent.
    """

    name: str
    path: Path
    iterations: int = 8
    shared_curve: bool | None = False
    scale_factor: float = 1.0
    net_size: int | None = None
    black_point: float = 0.0
    auto_exposure: bool = True
    sha256: str | None = None
    bundled: bool = False
    precision: str = "fp32"
    recipe: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def n_maps(self) -> int:
        """Alpha maps the network outputs (3 or 3 * iterations)."""
        return 3 if self.shared_curve else 3 * self.iterations


@lru_cache(maxsize=1)
def _manifest() -> dict:
    path = weights_dir() / "manifest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["models"]


def list_models() -> list[str]:
    """Names of the bundled models, the default first.

    Examples
    --------
    >>> import skdce
    >>> "zero-dce" in skdce.list_models()
    True
    """
    names = sorted(_manifest())
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


_verified: set = set()
_verify_lock = threading.Lock()


def sha256_file(path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(info: ModelInfo) -> None:
    """Check a bundled model's file against its sha256 (once per process)."""
    if info.sha256 is None:
        return
    with _verify_lock:
        if info.path in _verified:
            return
        got = sha256_file(info.path)
        if got != info.sha256:
            raise ValueError(
                f"model file {str(info.path)!r} has sha256 {got}, but the manifest expects "
                f"{info.sha256}; the file is corrupt or was replaced. Reinstall skdce."
            )
        _verified.add(info.path)


#: ``skdce_*`` metadata kept as text (the rest is JSON); renamed keys: metadata name -> manifest name
_TEXT_KEYS = {"name", "architecture", "commit", "license", "config_file", "precision"}
_MANIFEST_NAMES = {"config_file": "config"}


def _facts_from_metadata(meta: dict) -> dict:
    """An ONNX file's ``skdce_*`` metadata in the manifest's schema: no prefix, JSON decoded."""
    facts = {}
    for key, value in meta.items():
        if not key.startswith("skdce_"):
            continue
        key = key[len("skdce_"):]
        if key not in _TEXT_KEYS:
            try:
                value = json.loads(value)
            except ValueError:
                pass  # not JSON: kept as written
        facts[_MANIFEST_NAMES.get(key, key)] = value
    return facts


#: Bounds of a model's facts: the curve is applied ``iterations`` times per pixel (8 in
#: Zero-DCE), and ``scale_factor`` shrinks the image before a shared-curve estimate.
MAX_ITERATIONS = 64
MAX_SCALE_FACTOR = 1024.0


def _checked_facts(name: str, facts: dict) -> tuple[int, bool | None, float, int | None, bool]:
    """``(iterations, shared_curve, scale_factor, net_size, black_point)`` of ``facts``, refused when absurd
    (read from a file's metadata)."""
    from ._base.validate import check_bool, check_int, check_real

    shared = facts.get("shared_curve")
    try:
        iterations = check_int("skdce_iterations", facts.get("iterations", 8), min=1, max=MAX_ITERATIONS)
        shared = None if shared is None else check_bool("skdce_shared_curve", shared)
        scale = check_real("skdce_scale_factor", facts.get("scale_factor", 1), lo=1, hi=MAX_SCALE_FACTOR)
        net_size = facts.get("net_size")
        net_size = None if net_size is None else check_int("skdce_net_size", net_size, min=8, max=4096)
        black_point = float(check_real("skdce_black_point", facts.get("black_point", 0.0), lo=0, hi=1))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model {name!r}: {str(exc).rstrip('.')}; the file is broken or was not written by "
                         f"skdce export (re-export it).") from None
    return iterations, shared, scale, net_size, black_point


def _record(name: str, path: Path, facts: dict, *, sha256: str | None = None, bundled: bool = False) -> ModelInfo:
    """The one way a :class:`ModelInfo` is made, bundled or not: ``facts`` in the manifest's schema."""
    iterations, shared, scale_factor, net_size, black_point = _checked_facts(name, facts)
    return ModelInfo(
        name=name,
        path=path,
        iterations=iterations,
        shared_curve=shared,
        scale_factor=scale_factor,
        net_size=net_size,
        black_point=black_point,
        auto_exposure=bool(facts.get("auto_exposure", True)),
        sha256=sha256,
        bundled=bundled,
        precision=str(facts.get("precision", "fp32")),
        recipe=dict(facts),
    )


def _from_metadata(path: Path) -> ModelInfo:
    from ._base.providers import read_metadata

    return _record(str(path), path, _facts_from_metadata(read_metadata(path)))


def get_model(model) -> ModelInfo:
    """Look up a bundled model by name, or describe a user ``.onnx`` file.

    Parameters
    ----------
    model : str, os.PathLike or ModelInfo
        A name from :func:`list_models`, or the path of an ``.onnx`` file.

    Returns
    -------
    ModelInfo

    Examples
    --------
    >>> import skdce
    >>> info = skdce.get_model("zero-dce")
    >>> info.iterations, info.shared_curve, info.n_maps
    (8, False, 24)
    """
    if isinstance(model, ModelInfo):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a model name or a path to an .onnx file, got {type(model).__name__}.")
    if isinstance(model, str) and not model.strip():
        raise ValueError(
            f"model={model!r} is empty; pass a bundled model name ({', '.join(list_models()) or 'none installed'}), "
            f"the path of an .onnx file, or None for the default."
        )
    entry = _manifest().get(str(model))
    if entry is not None:
        return _record(str(model), weights_dir() / entry["file"], entry, sha256=entry["sha256"], bundled=True)
    path = Path(model)
    if path.suffix.lower() == ".onnx" or path.exists():
        if path.is_dir():
            raise ValueError(f"model={str(path)!r} is a folder; pass the path of an .onnx file in it.")
        if path.exists() and not path.is_file():
            raise ValueError(f"model={str(path)!r} is not a regular file (a FIFO, a device or a socket); pass the "
                             f"path of an .onnx file.")
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
        return _from_metadata(path)
    raise ValueError(
        f"model={str(model)!r} is neither a bundled model ({', '.join(list_models()) or 'none installed'}) "
        f"nor an .onnx file; see skdce.list_models()."
    )
