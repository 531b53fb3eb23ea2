"""Stage: the gain of the curves and the noise they add; its one home.

The slope of ``n`` curve steps is the product of each step's slope
``1 + a (1 - 2x)`` at the value it is applied to (the chain rule). Noise of
standard deviation ``s`` comes out of a flat region as about ``gain * s``,
so the curves *add* ``s * sqrt(max(gain**2 - 1, 0))``: the strength map that
steers the denoiser (:mod:`skdce.engine.stages.guided`). Side by side:

* the host code: :func:`gain_block` (NumPy) and :func:`added_noise` (the
  compiled ``noise_map`` of ``skdce/native/_gfilter.c`` where it was built,
  the same operations in the same order, else NumPy);
* the ONNX graph builder of the fused pipeline: :func:`onnx_gain_noise`;
* the torch twin (the eager baseline of ``benchmarks/``): :func:`torch_added_noise`;
* the float64 oracle: :func:`reference_gain`.

The public face is :func:`skdce.curve_gain`.
"""

from __future__ import annotations

import numpy as np

from ..workers import run_tasks

try:  # the compiled noise map (skdce/native/_gfilter.c); without it NumPy computes it
    from ...native import _gfilter
except ImportError:  # pragma: no cover - a build without a C compiler
    _gfilter = None

__all__ = ["gain_block", "added_noise", "onnx_gain_noise", "torch_added_noise", "reference_gain"]


def reference_gain(x, alphas, n_iter: int) -> np.ndarray:
    """The oracle: the slope of ``n_iter`` curve steps in float64, ``alphas`` ``(..., k, c)``."""
    x = np.asarray(x, np.float64)
    a = np.asarray(alphas, np.float64)
    gain = np.ones_like(x)
    for i in range(n_iter):
        ai = a[..., i if a.shape[-2] > 1 else 0, :]
        gain = gain * (1 + ai * (1 - 2 * x))
        x = x + ai * x * (1 - x)
    return gain


def gain_block(x: np.ndarray, a5: np.ndarray, n_iter: int, out: np.ndarray | None = None) -> np.ndarray:
    """Slope of the curves for a float block ``x`` (``(..., c)``) and broadcastable ``(..., k, c)`` alphas."""
    k = a5.shape[-2]
    x = x.copy()
    gain = np.ones_like(x) if out is None else out
    step = np.empty_like(x)
    for i in range(n_iter):
        a = a5[..., i if k > 1 else 0, :]
        np.multiply(x, -2, out=step)
        step += 1
        step *= a
        step += 1  # 1 + a (1 - 2x)
        gain *= step
        np.multiply(x, x, out=step)
        np.subtract(x, step, out=step)
        step *= a
        x += step  # x + a x (1 - x)
    return gain


def added_noise(x: np.ndarray, alphas: np.ndarray, n_iter: int, scale: float, amount: float, dtype,
                num_threads=None) -> np.ndarray:
    """The ``(h, w)`` noise the curves add to an ``(h, w, c)`` block, the filter's strength map.

    ``amount * sqrt(max(g**2 - 1, 0))``, ``g`` the slope of the curves
    (:func:`gain_block`) at the channel mean of ``x`` times
    ``scale`` with the channel mean of the ``(h, w, k, c)`` float32 ``alphas``
    (one curve of all iterations at the mean level: one plane, not ``c``);
    ``amount`` is the strength times the input's noise. Computed in ``dtype``;
    the compiled filter does the same operations in the same order.
    """
    dtype = np.dtype(dtype)
    h, w, _ = x.shape
    if (
        _gfilter is not None and dtype in (np.float32, np.float64) and alphas.dtype == np.float32
        and x.dtype in (np.uint8, np.uint16, np.float32, np.float64) and x.dtype.isnative
        and alphas.dtype.isnative and x.flags.aligned and alphas.flags.aligned
    ):
        out = np.empty((h, w), dtype)
        step = max(1, -(-h // 8))
        run_tasks(lambda r0: _gfilter.noise_map(x, alphas, out, r0, min(h, r0 + step), n_iter, scale, amount),
                   range(0, h, step), num_threads)
        return out
    level = x.mean(axis=-1, keepdims=True, dtype=dtype) * dtype.type(scale)
    gain = gain_block(level, alphas.mean(axis=-1, keepdims=True, dtype=dtype), n_iter)[..., 0]
    # the noise the curve added: gain * s out, s of it there before; nothing where gain <= 1
    np.multiply(gain, gain, out=gain)
    gain -= 1
    np.maximum(gain, 0, out=gain)
    np.sqrt(gain, out=gain)
    gain *= dtype.type(amount)
    return gain


# ---- the ONNX graph builder of the fused pipeline (skdce.engine.graph) ----


def onnx_gain_noise(g, level, mean_maps, n_iter, noise):
    """``noise * sqrt(max(gain**2 - 1, 0))``, gain the slope of the curves (as :func:`gain_block`)."""
    x, gain = level, None
    one, minus2 = g.const(1.0), g.const(-2.0)
    for i in range(n_iter):
        a = mean_maps[i if len(mean_maps) > 1 else 0]
        step = g.op("Add", g.op("Mul", g.op("Add", g.op("Mul", x, minus2), one), a), one)  # 1 + a (1 - 2x)
        gain = step if gain is None else g.op("Mul", gain, step)
        x = g.op("Add", x, g.op("Mul", g.op("Sub", x, g.op("Mul", x, x)), a))  # x + a x (1 - x)
    sq = g.op("Max", g.op("Sub", g.op("Mul", gain, gain), one), g.const(0.0))
    scale = g.op("Reshape", noise, g.const([-1, 1, 1, 1], np.int64))
    return g.op("Mul", g.op("Sqrt", sq), scale)


# ---- the torch twin ----


def torch_added_noise(level, maps, sigma):
    """``sigma * sqrt(max(gain**2 - 1, 0))`` of NCHW tensors: ``level`` the ``(N, 1, H, W)`` channel mean,
    ``maps`` the curve's ``(N, c, H, W)`` maps, one per iteration (a shared curve repeats its one),
    ``sigma`` the ``(N, 1, 1, 1)`` noise level."""
    gain = level.new_ones(level.shape)
    for a in maps:
        am = a.mean(dim=1, keepdim=True)
        gain = gain * (1 + am * (1 - 2 * level))
        level = level + am * (level - level * level)
    return sigma * (gain * gain - 1).clamp_min(0).sqrt()
