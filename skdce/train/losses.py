"""Torch twins of :mod:`skdce.losses` (NCHW tensors, same definitions).

``tests/train/test_losses.py`` checks each against the NumPy oracle in float64.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..losses import DEFAULT_WEIGHTS, SRGB_GAMMA, LossTerms, _check_color, _check_prior, _grey_world_terms, _lift_gamma

__all__ = [
    "spatial_consistency_loss",
    "exposure_control_loss",
    "exposure_target_torch",
    "adaptive_exposure_loss",
    "color_constancy_loss",
    "adaptive_color_loss",
    "prior_color_loss",
    "illumination_smoothness_loss",
    "zero_reference_loss",
]


def _pool_gray(image: torch.Tensor, size: int) -> torch.Tensor:
    return F.avg_pool2d(image.mean(dim=1, keepdim=True), size)


def spatial_consistency_loss(enhanced: torch.Tensor, original: torch.Tensor, pool_size: int = 4) -> torch.Tensor:
    e = _pool_gray(enhanced, pool_size)
    o = _pool_gray(original, pool_size)
    d = F.pad(e - o, (1, 1, 1, 1))  # zero-padded borders, as the reference code
    centre = d[:, :, 1:-1, 1:-1]
    total = 0
    for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
        nb = d[:, :, 1 + dy : d.shape[2] - 1 + dy, 1 + dx : d.shape[3] - 1 + dx]
        total = total + (centre - nb) ** 2
    return total.mean()


def exposure_control_loss(enhanced: torch.Tensor, level: float = 0.6, patch_size: int = 16) -> torch.Tensor:
    return ((_pool_gray(enhanced, patch_size) - level) ** 2).mean()


@torch.no_grad()
def exposure_target_torch(original, context, level=0.43, level_high=0.7, patch_size=16, knee=None) -> torch.Tensor:
    """Per-patch target levels, the twin of :func:`skdce.losses.exposure_target`."""
    m = _pool_gray(original, patch_size).clamp(1e-4, 1.0)
    c = F.avg_pool2d(context, patch_size).clamp(1e-3, 0.999)
    return m ** _lift_gamma(c, level, level_high, knee, torch)


def adaptive_exposure_loss(enhanced, original, context, level=0.43, level_high=0.7, patch_size=16,
                           knee=None) -> torch.Tensor:
    target = exposure_target_torch(original, context, level, level_high, patch_size, knee)
    return ((_pool_gray(enhanced, patch_size) - target) ** 2).mean()


def color_constancy_loss(enhanced: torch.Tensor) -> torch.Tensor:
    m = enhanced.mean(dim=(2, 3))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    d4 = (r - g) ** 4 + (r - b) ** 4 + (g - b) ** 4
    # eps keeps the gradient finite where all channel means agree (a gray image);
    # it shifts the value by at most 1e-12.
    return (torch.sqrt(d4 + 1e-24) - 1e-12).mean()


def adaptive_color_loss(enhanced: torch.Tensor, context: torch.Tensor, level: float = 0.43) -> torch.Tensor:
    darkness = (1.0 - context.mean(dim=(1, 2, 3)) / level).clamp(0.0, 1.0)
    means = (enhanced.clamp(0.0, 1.0) ** SRGB_GAMMA).mean(dim=(2, 3))
    # eps as in color_constancy_loss: a finite gradient at exact grey
    return (darkness * (torch.sqrt(_grey_world_terms(means) + 1e-24) - 1e-12)).mean()


def prior_color_loss(enhanced: torch.Tensor, context: torch.Tensor, level: float = 0.43,
                     prior: dict | None = None) -> torch.Tensor:
    mean, inv = (torch.as_tensor(v, dtype=enhanced.dtype, device=enhanced.device) for v in _check_prior(prior))
    darkness = (1.0 - context.mean(dim=(1, 2, 3)) / level).clamp(0.0, 1.0)
    j = (enhanced.clamp(0.0, 1.0) ** SRGB_GAMMA).mean(dim=(2, 3)) + 1e-6
    u = torch.stack([torch.log(j[:, 0] / j[:, 1]), torch.log(j[:, 2] / j[:, 1])], dim=-1) - mean
    return (darkness * 0.5 * torch.einsum("ni,ij,nj->n", u, inv, u)).mean()


def illumination_smoothness_loss(alphas: torch.Tensor) -> torch.Tensor:
    n, _, h, w = alphas.shape
    dh = ((alphas[:, :, 1:, :] - alphas[:, :, :-1, :]) ** 2).sum() / ((h - 1) * w)
    dw = ((alphas[:, :, :, 1:] - alphas[:, :, :, :-1]) ** 2).sum() / (h * (w - 1))
    return 2 * (dh + dw) / n


def zero_reference_loss(
    enhanced: torch.Tensor,
    original: torch.Tensor,
    alphas: torch.Tensor,
    *,
    weights: dict | None = None,
    level: float = 0.6,
    patch_size: int = 16,
    context: torch.Tensor | None = None,
    level_high: float = 0.7,
    knee: float | None = None,
    color: str = "grey-world",
    color_prior: dict | None = None,
) -> LossTerms:
    """Weighted sum of the four terms; returns :class:`skdce.losses.LossTerms` of tensors.

    With ``context`` the exposure term is :func:`adaptive_exposure_loss`, else the fixed-level one.
    """
    wt = {**DEFAULT_WEIGHTS, **(weights or {})}
    spa = wt["spatial"] * spatial_consistency_loss(enhanced, original)
    if context is None:
        exp = wt["exposure"] * exposure_control_loss(enhanced, level, patch_size)
    else:
        exp = wt["exposure"] * adaptive_exposure_loss(enhanced, original, context, level, level_high, patch_size, knee)
    _check_color(color, context)
    if color == "adaptive":
        col = wt["color"] * adaptive_color_loss(enhanced, context, level)
    elif color == "prior":
        col = wt["color"] * prior_color_loss(enhanced, context, level, color_prior)
    else:
        col = wt["color"] * color_constancy_loss(enhanced)
    tv = wt["smoothness"] * illumination_smoothness_loss(alphas)
    return LossTerms(spa + exp + col + tv, spa, exp, col, tv)
