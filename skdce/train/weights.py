"""Reading trained weights back: training checkpoints and the ONNX files skdce exported.

The trainer resumes from checkpoints and fine-tunes from ONNX files; the
exporter rebuilds networks from checkpoints. Both read them here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .model import build_model

__all__ = ["load_checkpoint", "model_from_checkpoint", "model_from_onnx"]


def load_checkpoint(path) -> dict:
    """Load a checkpoint written by :func:`train` (tensors only, ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
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
        raise ValueError(f"{str(path)!r} is a torch file but not a skdce training checkpoint (it holds {held}); "
                         f"pass the checkpoint.pt that skdce train writes into its run folder.")
    return ckpt


def model_from_checkpoint(path) -> tuple[torch.nn.Module, dict, list]:
    """Rebuild the network of a :func:`skdce.train.train` checkpoint: ``(model, config, history)``.

    A run with a weight average (``ema``) gives the averaged weights.
    """
    ckpt = load_checkpoint(path)
    config = json.loads(ckpt["config"])
    model = build_model(config["architecture"])
    model.load_state_dict(ckpt.get("ema", ckpt["model"]))  # strict: every tensor must match
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
