"""skdce: zero-reference low-light image enhancement (Zero-DCE) for NumPy images.

``import skdce`` is light: it imports NumPy only. onnxruntime is imported the
first time a model runs, torch only by :mod:`skdce.train`.
"""

from . import context, data, denoise, losses
from .context import illumination_context
from .curves import apply_le_curves, curve_gain
from .models import ModelInfo, get_model, list_models
from .pipeline import enhance, estimate_curves

__version__ = "0.2.0.dev0"

__all__ = [
    "apply_le_curves",
    "curve_gain",
    "illumination_context",
    "enhance",
    "estimate_curves",
    "get_model",
    "list_models",
    "ModelInfo",
    "context",
    "data",
    "denoise",
    "losses",
    "__version__",
]
