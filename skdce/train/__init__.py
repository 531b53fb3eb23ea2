"""Training and export of DCE-Net weights (needs the ``skdce[train]`` extra: torch).

This subpackage is the only part of skdce that imports torch.
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skdce.train needs PyTorch; install it with: pip install 'skdce[train]'"
    ) from exc

from .config import TrainConfig, load_config
from .model import DCENet, DCENetPP, apply_le_curves_torch, build_model
from .trainer import evaluate_model, train
from .weights import load_checkpoint

__all__ = [
    "TrainConfig",
    "load_config",
    "DCENet",
    "DCENetPP",
    "apply_le_curves_torch",
    "build_model",
    "train",
    "load_checkpoint",
    "evaluate_model",
]
