"""Eager PyTorch of skdce's whole pipeline, the reference that bench_gpu.py times skdce against.

Network (:mod:`skdce.train.model`, the weights read from the bundled ONNX
file), curves, and the torch twin of the denoiser: the same noise estimate
(Immerkaer on the sampled rows, median on the device), curve slope and
two-stage guided filter as the engine: the torch twins of its stages
(:mod:`skdce.engine.stages`), each step an eager torch call. Host uint8 images in, host float32 out, as
``skdce.enhance``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from skdce.engine.stages.boxes import small_size, torch_box_downscale, torch_illumination_context
from skdce.engine.stages.gain import torch_added_noise
from skdce.engine.stages.guided import torch_guided
from skdce.engine.stages.noise import torch_filter_noise_level


def eager_pipeline(net, info, images_u8: np.ndarray, device, denoise: bool) -> np.ndarray:
    """Enhance ``(N, H, W, 3)`` uint8 host images with eager torch on ``device``: ``(N, H, W, 3)`` float32."""
    with torch.no_grad():
        x = torch.from_numpy(images_u8).to(device).permute(0, 3, 1, 2).float().div(255)
        h, w = x.shape[-2:]
        if info.shared_curve:
            small = torch_box_downscale(x, small_size(h, w, info.scale_factor))
            a = net(small, torch_illumination_context(small))
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
            maps = [a] * info.iterations
        else:
            maps = list(torch.split(net(x, torch_illumination_context(x)), 3, dim=1))
        y = x
        for a in maps:
            y = y + a * (y - y * y)
        y = y.clamp_max(1)
        if denoise:
            sigma = torch.stack([torch_filter_noise_level(x[b : b + 1]) for b in range(x.shape[0])]).view(-1, 1, 1, 1)
            y = torch_guided(y, torch_added_noise(x.mean(dim=1, keepdim=True), maps, sigma))
        return y.permute(0, 2, 3, 1).cpu().numpy()
