"""Reading trained weights back: training checkpoints and the ONNX files skdce exported.

The trainer resumes from checkpoints and fine-tunes from ONNX files; the
exporter rebuilds networks from checkpoints. Both read them here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .model import DCENetPP, build_model

__all__ = ["load_checkpoint", "load_weights", "model_from_checkpoint", "model_from_onnx"]


def _not_a_checkpoint(path, reason: str) -> ValueError:
    return ValueError(f"{str(path)!r} is a torch file but not a skdce training checkpoint ({reason}); pass the "
                      f"checkpoint.pt that skdce train writes into its run folder.")


def _corrupt_member(path: Path) -> str | None:
    """The first member of a torch zip file whose bytes fail their CRC (torch.load does not check), or None."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):  # not a zip (torch's legacy format, or junk): torch.load says
        return None


def _checked_config(path, config: dict) -> dict:
    """``config`` (a checkpoint's recipe), refused where the exporter could not use it."""
    from .._base.validate import check_int, check_real

    arch = config.get("architecture")
    if arch not in ("zero-dce", "zero-dce++"):
        said = "has no 'architecture'" if arch is None else f"has architecture={arch!r}"
        raise _not_a_checkpoint(path, f"its config {said}, not 'zero-dce' or 'zero-dce++'")
    try:
        if config.get("net_size") is not None:
            check_int("net_size", config["net_size"], min=8)
        check_real("black_point", config.get("black_point") or 0.0, lo=0, hi=1)
        check_real("scale_factor", config.get("scale_factor", 1.0), lo=1)
    except (TypeError, ValueError) as exc:
        raise _not_a_checkpoint(path, f"its config's {str(exc).rstrip('.')}") from None
    return config


def load_checkpoint(path) -> dict:
    """Load a checkpoint written by :func:`train` (tensors only, ``weights_only=True``).

    Its ``config`` (a JSON object naming the architecture) and ``history`` (a
    JSON list) are checked; a file that fails is a ValueError naming it and the
    reason. A torch zip file whose bytes were changed (a failed CRC, which
    ``torch.load`` does not check) is refused too.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
    corrupt = _corrupt_member(path)
    if corrupt is not None:
        raise ValueError(f"checkpoint {str(path)!r} is corrupt (its part {corrupt!r} fails its checksum); pass an "
                         f"intact checkpoint.pt written by skdce train.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):  # torch's advice: weights_only=False, unsafe
            raise ValueError(f"checkpoint {str(path)!r} holds Python objects besides tensors, which skdce does not "
                             f"load (they can run code); pass a checkpoint.pt written by skdce train.") from None
        raise ValueError(f"checkpoint {str(path)!r} is not a torch file skdce can read (truncated, corrupt or "
                         f"another format); pass a checkpoint.pt written by skdce train.") from None
    if not isinstance(ckpt, dict) or not {"model", "config", "history"} <= ckpt.keys() \
            or not isinstance(ckpt["config"], str) or not isinstance(ckpt["model"], dict):
        held = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise _not_a_checkpoint(path, f"it holds {held}")
    for key, kind in (("config", dict), ("history", list)):
        try:
            value = json.loads(ckpt[key]) if isinstance(ckpt[key], str) else ckpt[key]
        except ValueError as exc:
            raise _not_a_checkpoint(path, f"its {key} is not JSON: {exc}") from None
        if not isinstance(value, kind):
            raise _not_a_checkpoint(path, f"its {key} is a {type(value).__name__}, not a JSON "
                                          f"{'object' if kind is dict else 'list'}")
    if "ema" in ckpt and not isinstance(ckpt["ema"], dict):
        raise _not_a_checkpoint(path, f"its 'ema' is a {type(ckpt['ema']).__name__}, not weights")
    _checked_config(path, json.loads(ckpt["config"]))
    return ckpt


def load_weights(model: torch.nn.Module, state: dict, path, what: str = "weights") -> None:
    """``model.load_state_dict(state)`` (strict), a mismatch refused as a ValueError naming the checkpoint ``path``."""
    try:
        model.load_state_dict(state)  # strict: every tensor must match
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        expected = model.state_dict().keys()
        missing, unexpected = sorted(expected - state.keys()), sorted(state.keys() - expected)
        details = [f"missing {len(missing)} tensors, e.g. {missing[:2]}"] if missing else []
        details += [f"{len(unexpected)} unexpected tensors, e.g. {unexpected[:2]}"] if unexpected else []
        if not details:  # the same names, other shapes
            details = [" ".join(str(exc).splitlines()[1:2]).strip()[:200]]
        arch = "zero-dce++" if isinstance(model, DCENetPP) else "zero-dce"
        raise _not_a_checkpoint(path, f"its {what} do not fit its architecture {arch!r}: "
                                      f"{'; '.join(details)}") from None


def model_from_checkpoint(path) -> tuple[torch.nn.Module, dict, list]:
    """Rebuild the network of a :func:`skdce.train.train` checkpoint: ``(model, config, history)``.

    A run with a weight average (``ema``) gives the averaged weights.
    """
    ckpt = load_checkpoint(path)
    config = json.loads(ckpt["config"])
    model = build_model(config["architecture"])
    load_weights(model, ckpt.get("ema", ckpt["model"]), path)
    return model.eval(), config, json.loads(ckpt["history"])


def model_from_onnx(path) -> torch.nn.Module:
    """Rebuild the torch network of an fp32 ONNX file written by :func:`~skdce.train.export.export_onnx` (strict)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    arch = meta.get("skdce_architecture")
    if arch is None:
        raise ValueError(f"{str(path)!r} was not written by skdce (no skdce_architecture metadata).")
    model = build_model(arch)
    state = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in proto.graph.initializer}
    model.load_state_dict(state, strict=True)
    return model.eval()
