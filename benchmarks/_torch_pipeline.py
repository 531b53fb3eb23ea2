"""Eager PyTorch of skdce's whole pipeline, the reference that bench_gpu.py times skdce against.

Network (:mod:`skdce.train.model`, the weights read from the bundled ONNX
file), curves, and the torch twin of the denoiser: the same noise estimate
(Immerkaer on the rows :func:`skdce.denoise.noise_rows` samples, median on
the device), curve slope and two-stage guided filter as :mod:`skdce.denoise`,
each step an eager torch call. Host uint8 images in, host float32 out, as
``skdce.enhance``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from skdce.denoise import COLOR_EPS, COLOR_KEEP, COLOR_RADIUS, LUMA_EPS, LUMA_RADIUS, noise_rows
from skdce.engine.stages.boxes import small_size
from skdce.train.model import box_downscale_torch, illumination_context_torch

_IMMERKAER = ((1, -2, 1), (-2, 4, -2), (1, -2, 1))


def noise_torch(x: torch.Tensor) -> torch.Tensor:
    """:func:`skdce.denoise.estimate_noise` of one ``(1, c, H, W)`` image on [0, 1] (a 0-d tensor)."""
    h, w = x.shape[-2:]
    starts = noise_rows(h, w)
    if starts is None:
        return torch.zeros((), device=x.device)
    idx = torch.as_tensor(starts, device=x.device)
    rows = [x[0][:, idx + k] for k in range(3)]  # (c, bands, W)
    r = sum(_IMMERKAER[k][j] * rows[k][..., j : w - 2 + j] for k in range(3) for j in range(3))
    r = r.abs().flatten(1).sort(dim=1).values
    n = r.shape[1]
    med = 0.5 * (r[:, (n - 1) // 2] + r[:, n // 2])  # NumPy's median: the mean of the two middle values
    return (1.4826 * med / 6.0).mean()


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """scipy ``uniform_filter(mode="reflect")``: symmetric extension (axes longer than r), then the mean."""
    x = torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], dim=-2)
    x = torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1)
    return F.avg_pool2d(x, 2 * r + 1, stride=1)


def guided_torch(y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """:func:`skdce.denoise.denoise_block` of ``(N, 3, H, W)`` with an ``(N, 1, H, W)`` noise map."""
    luma = y.mean(dim=1, keepdim=True)
    var_n = noise * noise
    m = _box(luma, LUMA_RADIUS)
    v = _box(luma * luma, LUMA_RADIUS) - m * m
    a = v / (v + LUMA_EPS * var_n + 1e-12)
    b = m - a * m
    guide = _box(a, LUMA_RADIUS) * luma + _box(b, LUMA_RADIUS)
    mg = _box(guide, COLOR_RADIUS)
    vg = _box(guide * guide, COLOR_RADIUS) - mg * mg + COLOR_EPS * var_n + 1e-12
    mp = _box(y, COLOR_RADIUS)
    a = (_box(guide * y, COLOR_RADIUS) - mg * mp) / vg
    b = mp - a * mg
    fit = _box(a, COLOR_RADIUS) * guide + _box(b, COLOR_RADIUS)
    rest = y - fit
    power = _box(rest * rest, COLOR_RADIUS)
    return (fit + rest * (power / (power + COLOR_KEEP * var_n + 1e-12))).clamp(0, 1)


def eager_pipeline(net, info, images_u8: np.ndarray, device, denoise: bool) -> np.ndarray:
    """Enhance ``(N, H, W, 3)`` uint8 host images with eager torch on ``device``: ``(N, H, W, 3)`` float32."""
    with torch.no_grad():
        x = torch.from_numpy(images_u8).to(device).permute(0, 3, 1, 2).float().div(255)
        h, w = x.shape[-2:]
        if info.shared_curve:
            small = box_downscale_torch(x, small_size(h, w, info.scale_factor))
            a = net(small, illumination_context_torch(small))
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
            maps = [a] * info.iterations
        else:
            maps = list(torch.split(net(x, illumination_context_torch(x)), 3, dim=1))
        y = x
        for a in maps:
            y = y + a * (y - y * y)
        y = y.clamp_max(1)
        if denoise:
            sigma = torch.stack([noise_torch(x[b : b + 1]) for b in range(x.shape[0])]).view(-1, 1, 1, 1)
            level = x.mean(dim=1, keepdim=True)
            gain = torch.ones_like(level)
            for a in maps:
                am = a.mean(dim=1, keepdim=True)
                gain = gain * (1 + am * (1 - 2 * level))
                level = level + am * (level - level * level)
            y = guided_torch(y, sigma * torch.sqrt(torch.clamp_min(gain * gain - 1, 0)))
        return y.permute(0, 2, 3, 1).cpu().numpy()
