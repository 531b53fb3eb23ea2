"""DCE-Net and its Zero-DCE++ variant as thin ``torch.nn.Module`` classes.

Both networks *estimate* curves: they map an RGB image in [0, 1], and its
illumination context (:mod:`skdce.engine.stages.context`), to alpha maps in [-1, 1]. Applying the curves is a separate, plain function
(:func:`apply_le_curves_torch`), the twin of :func:`skdce.apply_le_curves`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "DCENet",
    "DCENetPP",
    "apply_le_curves_torch",
    "box_downscale_torch",
    "illumination_context_torch",
    "lift_torch",
    "remove_lift_torch",
    "build_model",
]

_FEATURES = 32


def apply_le_curves_torch(image: torch.Tensor, alphas: torch.Tensor, n_iter: int = 8) -> torch.Tensor:
    """Apply ``LE(x) = x + a*x*(1 - x)`` iteratively (NCHW tensors).

    ``alphas`` has either 3 channels (one map reused ``n_iter`` times, Zero-DCE++)
    or ``3 * k`` channels (one map per iteration, Zero-DCE; ``n_iter`` is then ``k``).
    """
    channels = image.shape[1]
    k = alphas.shape[1] // channels
    maps = [alphas] * n_iter if k == 1 else list(torch.split(alphas, channels, dim=1))
    x = image
    for a in maps:
        x = x + a * x * (1 - x)
    return x


def box_downscale_torch(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Average ``image`` over the pixel bins that :func:`skdce.engine.stages.boxes.box_downscale` uses.

    Bin ``i`` of an axis of length ``n`` scaled to ``m`` covers
    ``[floor(i*n/m), floor((i+1)*n/m))``: disjoint bins covering every pixel.
    """
    out = image
    for axis, m in ((2, size[0]), (3, size[1])):
        n = out.shape[axis]
        if n == m:
            continue
        edges = (torch.arange(m + 1, dtype=torch.int64, device=out.device) * n) // m
        idx = torch.arange(n, device=out.device)
        pool = ((idx[None, :] >= edges[:-1, None]) & (idx[None, :] < edges[1:, None])).to(out.dtype)
        pool = pool / pool.sum(dim=1, keepdim=True)
        out = torch.movedim(torch.movedim(out, axis, -1) @ pool.T, -1, axis)
    return out


def illumination_context_torch(image: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` context of NCHW images: the twin of :func:`skdce.engine.stages.context.illumination_context`."""
    from ..engine.stages.context import CONTEXT_GRIDS, context_size

    gray = image.mean(dim=1, keepdim=True)
    h, w = gray.shape[-2:]
    out = None
    for grid in CONTEXT_GRIDS:
        small = box_downscale_torch(gray, context_size(h, w, grid))
        up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        out = up if out is None else torch.maximum(out, up)
    return out


#: The tone that stands for the scene's black: the 1st percentile of each channel.
BLACK_QUANTILE = 0.01


def lift_torch(small: torch.Tensor, small_enhanced: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` lift of each channel's black: its 1st percentile after the curves minus before.

    Measured on the downscaled copy the network sees, where the box means have
    averaged the sensor noise away: the scene's blacks, not its noise floor.
    The twin of :func:`skdce.tone.black_lift`.
    """
    n, c = small.shape[:2]
    before = torch.quantile(small.reshape(n, c, -1), BLACK_QUANTILE, dim=2)
    after = torch.quantile(small_enhanced.reshape(n, c, -1), BLACK_QUANTILE, dim=2)
    return (after - before).clamp(0.0, 0.5)


def remove_lift_torch(image: torch.Tensor, lift: torch.Tensor) -> torch.Tensor:
    """``(y - d) / (1 - d)`` per channel, floored at 0: the lifted black back to black, white kept."""
    d = lift[:, :, None, None]
    return ((image - d) / (1.0 - d)).clamp(min=0.0)


def net_scale(h: int, w: int, net_size: int | None, scale_factor: float) -> float:
    """The downscaling of the network's input: to ``net_size`` on the longer side when given."""
    return max(1.0, max(h, w) / net_size) if net_size else float(scale_factor)


class _Conv(nn.Module):
    """3x3 convolution, plain or depthwise-separable, with 'same' zero padding."""

    def __init__(self, cin: int, cout: int, separable: bool):
        super().__init__()
        if separable:
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, 3, padding=1, groups=cin),
                nn.Conv2d(cin, cout, 1),
            )
        else:
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _CurveEstimator(nn.Module):
    """Seven convolutions with the symmetric skips of DCE-Net, tanh output.

    The input is the RGB image and its one-channel illumination context (4 channels).
    """

    def __init__(self, n_maps: int, separable: bool):
        super().__init__()
        f = _FEATURES
        self.convs = nn.ModuleList(
            [
                _Conv(4, f, separable),
                _Conv(f, f, separable),
                _Conv(f, f, separable),
                _Conv(f, f, separable),
                _Conv(2 * f, f, separable),  # cat(x3, x4)
                _Conv(2 * f, f, separable),  # cat(x2, x5)
                _Conv(2 * f, n_maps, separable),  # cat(x1, x6)
            ]
        )

    def forward(self, image: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        c = self.convs
        x1 = F.relu(c[0](torch.cat([image, context], 1)))
        x2 = F.relu(c[1](x1))
        x3 = F.relu(c[2](x2))
        x4 = F.relu(c[3](x3))
        x5 = F.relu(c[4](torch.cat([x3, x4], 1)))
        x6 = F.relu(c[5](torch.cat([x2, x5], 1)))
        return torch.tanh(c[6](torch.cat([x1, x6], 1)))


class DCENet(nn.Module):
    """Zero-DCE's DCE-Net: 24 alpha maps, one RGB triple per iteration (8 iterations).

    ``forward(image, context)`` returns the alpha maps; :meth:`enhance` returns
    ``(enhanced, alphas)``, computing the context of ``image`` unless it is given
    (a crop takes the context of its whole image).
    """

    iterations = 8
    shared_curve = False

    def __init__(self):
        super().__init__()
        self.estimator = _CurveEstimator(3 * self.iterations, separable=False)

    def forward(self, image: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.estimator(image, context)

    def enhance(self, image: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if context is None:
            context = illumination_context_torch(image)
        alphas = self(image, context)
        return apply_le_curves_torch(image, alphas), alphas


class DCENetPP(nn.Module):
    """Zero-DCE++: depthwise-separable DCE-Net, one 3-map curve shared by all iterations.

    ``forward(image, context)`` estimates the maps at the resolution it is given.
    :meth:`enhance` box-downscales by ``scale_factor`` (output size ``ceil(H / s), ceil(W / s)``,
    never cropped), estimates with the context of the small image, upsamples the maps bilinearly (half-pixel centres)
    to the full size and applies the curve 8 times.
    """

    iterations = 8
    shared_curve = True

    def __init__(self):
        super().__init__()
        self.estimator = _CurveEstimator(3, separable=True)

    def forward(self, image: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.estimator(image, context)

    def enhance(self, image: torch.Tensor, scale_factor: float = 1.0, *, net_size: int | None = None,
                black_point: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(enhanced, full-size alphas)``; ``net_size`` sets the scale per image (see :func:`net_scale`).

        ``black_point`` (0 to 1) is the share of the lift the curves gave each
        channel's black (:func:`lift_torch`, on the small copy) taken out of the result.
        """
        h, w = image.shape[-2:]
        scale = net_scale(h, w, net_size, scale_factor)
        if scale == 1:
            small = image
            alphas = small_alphas = self(image, illumination_context_torch(image))
        else:
            size = (max(1, math.ceil(h / scale)), max(1, math.ceil(w / scale)))
            small = box_downscale_torch(image, size)
            small_alphas = self(small, illumination_context_torch(small))
            alphas = F.interpolate(small_alphas, size=(h, w), mode="bilinear", align_corners=False)
        out = apply_le_curves_torch(image, alphas, self.iterations)
        if black_point:
            lift = lift_torch(small, apply_le_curves_torch(small, small_alphas, self.iterations))
            out = remove_lift_torch(out, lift * black_point)
        return out, alphas


def build_model(name: str) -> nn.Module:
    """Return a new, randomly initialised network for ``"zero-dce"`` or ``"zero-dce++"``."""
    if name == "zero-dce":
        return DCENet()
    if name == "zero-dce++":
        return DCENetPP()
    raise ValueError(f"architecture={name!r} is unknown; use 'zero-dce' or 'zero-dce++'")
