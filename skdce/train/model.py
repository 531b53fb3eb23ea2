"""DCE-Net and its Zero-DCE++ variant as thin ``torch.nn.Module`` classes.

Both networks *estimate* curves: they map an RGB image in [0, 1], and its
illumination context (:mod:`skdce.engine.stages.boxes`), to alpha maps in [-1, 1]. Applying the
curves is a separate, plain function (:func:`apply_le_curves_torch`), the twin of
:func:`skdce.apply_le_curves`; it and the other twins (box means, context, black point) live with
their stages in :mod:`skdce.engine.stages`, next to the host code they are tested against.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..engine.stages.boxes import small_size, torch_box_downscale, torch_illumination_context
from ..engine.stages.curve import torch_le_curves
from ..engine.stages.network import net_scale
from ..engine.stages.tone import torch_black_lift, torch_remove_lift

__all__ = [
    "DCENet",
    "DCENetPP",
    "apply_le_curves_torch",
    "build_model",
]

_FEATURES = 32


#: The curve stage's torch twin under the name skdce.train has exported since 0.1.
apply_le_curves_torch = torch_le_curves


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
            context = torch_illumination_context(image)
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
        channel's black (:func:`~skdce.engine.stages.tone.torch_black_lift`, on the small copy) taken out of the result.
        """
        h, w = image.shape[-2:]
        scale = net_scale(h, w, net_size, scale_factor)
        if scale == 1:
            small = image
            alphas = small_alphas = self(image, torch_illumination_context(image))
        else:
            size = small_size(h, w, scale)
            small = torch_box_downscale(image, size)
            small_alphas = self(small, torch_illumination_context(small))
            alphas = F.interpolate(small_alphas, size=(h, w), mode="bilinear", align_corners=False)
        out = apply_le_curves_torch(image, alphas, self.iterations)
        if black_point:
            lift = torch_black_lift(small, apply_le_curves_torch(small, small_alphas, self.iterations))
            out = torch_remove_lift(out, lift * black_point)
        return out, alphas


def build_model(name: str) -> nn.Module:
    """Return a new, randomly initialised network for ``"zero-dce"`` or ``"zero-dce++"``."""
    if name == "zero-dce":
        return DCENet()
    if name == "zero-dce++":
        return DCENetPP()
    raise ValueError(f"architecture={name!r} is unknown; use 'zero-dce' or 'zero-dce++'")
