"""Stage: the two-stage guided filter that removes the noise the curves added; its one home.

1. the luminance (channel mean) is smoothed by a self-guided filter, which
   keeps edges whose contrast exceeds the local noise;
2. each colour channel is fitted, window by window, as an affine function of
   that smoothed luminance; what the fit leaves out is put back where it is
   strong next to the noise (colour detail) and dropped where it is not
   (speckle). A gray image's one channel goes through this stage too, so it
   is filtered as the same image repeated in three channels is.

The strength is a per-pixel noise map (:mod:`skdce.engine.stages.gain`).
Every step is a box filter (:mod:`skdce.engine.stages.boxes`), so a pixel
depends on pixels at most :data:`DENOISE_HALO` away. Side by side:

* the host code: :func:`denoise_bands` (the compiled ``denoise`` of
  ``skdce/native/_gfilter.c`` in bands of rows where it was built, else
  :func:`denoise_block` on scipy's box filters);
* the ONNX graph builder of the fused pipeline: :func:`onnx_guided`;
* the torch twin (the eager baseline of ``benchmarks/``): :func:`torch_guided`;
* the float64 oracle: :func:`denoise_block` on float64 input.

The public face is :func:`skdce.denoise.guided_denoise`; the module notes of
:mod:`skdce.denoise` say why it is written here (no maintained library has a
guided filter with a per-pixel regulariser).
"""

from __future__ import annotations

import numpy as np

from ..workers import executor, run_tasks, threads
from .boxes import box_filter, onnx_box_filter, torch_box_filter

try:  # the compiled filter (skdce/native/_gfilter.c); without it denoise_block runs on scipy's box filters
    from ...native import _gfilter
except ImportError:  # pragma: no cover - a build without a C compiler
    _gfilter = None

__all__ = ["DENOISE_HALO", "denoise_block", "denoise_bands", "onnx_guided", "torch_guided"]

#: Window radii of the two stages (5x5 luminance, 7x7 colour windows).
LUMA_RADIUS, COLOR_RADIUS = 2, 3
#: How far a pixel's result reaches: two box filters in the first stage, three in the second.
DENOISE_HALO = 2 * LUMA_RADIUS + 3 * COLOR_RADIUS
#: Regularisers of the two stages, in units of the local noise variance: an edge
#: is kept where the window's variance clearly exceeds the noise's.
LUMA_EPS, COLOR_EPS = 1.0, 0.5
#: Colour detail the fit leaves out is kept in proportion power / (power + COLOR_KEEP * noise variance).
#: 128 (was 32): chosen on the tuning half of LOL and our darkenings (``weights/README.md``, "The colour
#: stage"): coloured speckle goes, the luminance's grain and texture stay; fine colour-only texture (a
#: stained tissue at gain 0.1) loses a little.
COLOR_KEEP = 128.0


def denoise_block(y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Two-stage guided filter of a float ``(h, w, c)`` block, ``noise`` an ``(h, w)`` std map."""
    dt = y.dtype.type
    luma = y.mean(axis=-1, dtype=y.dtype)
    var_n = noise.astype(y.dtype, copy=False) ** 2
    # stage 1: self-guided luminance
    m = box_filter(luma, LUMA_RADIUS)
    v = box_filter(luma * luma, LUMA_RADIUS) - m * m
    a = v / (v + dt(LUMA_EPS) * var_n + dt(1e-12))
    b = m - a * m
    guide = box_filter(a, LUMA_RADIUS) * luma + box_filter(b, LUMA_RADIUS)
    # stage 2: each channel as an affine function of the smoothed luminance
    mg = box_filter(guide, COLOR_RADIUS)
    vg = box_filter(guide * guide, COLOR_RADIUS) - mg * mg + dt(COLOR_EPS) * var_n + dt(1e-12)
    out = np.empty_like(y)
    for ch in range(y.shape[-1]):
        p = y[..., ch]
        mp = box_filter(p, COLOR_RADIUS)
        a = (box_filter(guide * p, COLOR_RADIUS) - mg * mp) / vg
        b = mp - a * mg
        fit = box_filter(a, COLOR_RADIUS) * guide + box_filter(b, COLOR_RADIUS)
        # what the fit leaves out is noise where it is small next to the noise level,
        # detail where it is large: a Wiener-style weight keeps the detail
        rest = p - fit
        power = box_filter(rest * rest, COLOR_RADIUS)
        out[..., ch] = fit + rest * (power / (power + dt(COLOR_KEEP) * var_n + dt(1e-12)))
    return np.clip(out, 0, 1, out=out)


def denoise_bands(y: np.ndarray, noise: np.ndarray, num_threads=None) -> np.ndarray:
    """:func:`denoise_block` in bands of rows on the worker threads.

    With the compiled filter (``skdce/native/_gfilter.c``) each band is computed
    from the whole block, so the bands join bit for bit; it equals
    :func:`denoise_block` up to the rounding of the box sums (a few 1e-7
    in float32; ``skdce/native/_gfilter.c``). The NumPy fallback filters each band
    with :data:`DENOISE_HALO` rows of context
    (scipy's filters release the GIL), so the bands join as the whole block
    would (to float rounding of the running sums).
    """
    h = y.shape[0]
    # a band per thread (the compiled filter streams down its rows with a few rows
    # of scratch per plane, so a band may be of any size), none thinner than
    # 4 * DENOISE_HALO rows: each band recomputes 2 * DENOISE_HALO rows of context
    bands = min(threads(num_threads), max(1, h // (4 * DENOISE_HALO)))
    edges = np.linspace(0, h, bands + 1).astype(int)
    if _gfilter is not None and y.dtype in (np.float32, np.float64):
        y = np.ascontiguousarray(y)
        noise = np.ascontiguousarray(noise, dtype=y.dtype)
        out = np.empty_like(y)
        params = (LUMA_RADIUS, COLOR_RADIUS, LUMA_EPS, COLOR_EPS, COLOR_KEEP)
        run_tasks(lambda k: _gfilter.denoise(y, noise, out, edges[k], edges[k + 1], *params), range(bands),
                   num_threads)
        return out

    if bands == 1:
        return denoise_block(y, noise)
    out = np.empty_like(y)

    def band(k):
        r0, r1 = edges[k], edges[k + 1]
        e0, e1 = max(0, r0 - DENOISE_HALO), min(h, r1 + DENOISE_HALO)
        out[r0:r1] = denoise_block(y[e0:e1], noise[e0:e1])[r0 - e0 : r1 - e0]

    list(executor().map(band, range(bands)))
    return out


# ---- the ONNX graph builder of the fused pipeline (skdce.engine.graph) ----


def onnx_guided(g, y, noise, n_color):
    """The two-stage guided filter of :func:`denoise_block` on ``(N, c, H, W)`` float32."""
    tiny = g.const(1e-12)
    luma = y if n_color == 1 else g.mean3(y)
    var_n = g.op("Mul", noise, noise)
    # stage 1: self-guided luminance
    mm = onnx_box_filter(g, g.op("Concat", luma, g.op("Mul", luma, luma), axis=1), LUMA_RADIUS, y)
    m, m2 = g.slice(mm, 0, 1, 1), g.slice(mm, 1, 2, 1)
    v = g.op("Sub", m2, g.op("Mul", m, m))
    a = g.op("Div", v, g.op("Add", g.op("Add", v, g.op("Mul", g.const(LUMA_EPS), var_n)), tiny))
    b = g.op("Sub", m, g.op("Mul", a, m))
    ab = onnx_box_filter(g, g.op("Concat", a, b, axis=1), LUMA_RADIUS, y)
    guide = g.op("Add", g.op("Mul", g.slice(ab, 0, 1, 1), luma), g.slice(ab, 1, 2, 1))
    # stage 2: each channel as an affine function of the smoothed luminance
    gg = onnx_box_filter(g, g.op("Concat", guide, g.op("Mul", guide, guide), axis=1), COLOR_RADIUS, y)
    mg, g2 = g.slice(gg, 0, 1, 1), g.slice(gg, 1, 2, 1)
    vg = g.op("Add", g.op("Add", g.op("Sub", g2, g.op("Mul", mg, mg)), g.op("Mul", g.const(COLOR_EPS), var_n)), tiny)
    pp = onnx_box_filter(g, g.op("Concat", y, g.op("Mul", guide, y), axis=1), COLOR_RADIUS, y)
    mp, gp = g.slice(pp, 0, n_color, 1), g.slice(pp, n_color, 2 * n_color, 1)
    a = g.op("Div", g.op("Sub", gp, g.op("Mul", mg, mp)), vg)
    b = g.op("Sub", mp, g.op("Mul", a, mg))
    ab = onnx_box_filter(g, g.op("Concat", a, b, axis=1), COLOR_RADIUS, y)
    fit = g.op("Add", g.op("Mul", g.slice(ab, 0, n_color, 1), guide), g.slice(ab, n_color, 2 * n_color, 1))
    rest = g.op("Sub", y, fit)
    power = onnx_box_filter(g, g.op("Mul", rest, rest), COLOR_RADIUS, y)
    keep = g.op("Div", power, g.op("Add", g.op("Add", power, g.op("Mul", g.const(COLOR_KEEP), var_n)), tiny))
    out = g.op("Add", fit, g.op("Mul", rest, keep))
    return g.op("Clip", out, g.const(0.0), g.const(1.0))


# ---- the torch twin ----


def torch_guided(y, noise):
    """:func:`denoise_block` of ``(N, 3, H, W)`` tensors with an ``(N, 1, H, W)`` noise map."""
    luma = y.mean(dim=1, keepdim=True)
    var_n = noise * noise
    m = torch_box_filter(luma, LUMA_RADIUS)
    v = torch_box_filter(luma * luma, LUMA_RADIUS) - m * m
    a = v / (v + LUMA_EPS * var_n + 1e-12)
    b = m - a * m
    guide = torch_box_filter(a, LUMA_RADIUS) * luma + torch_box_filter(b, LUMA_RADIUS)
    mg = torch_box_filter(guide, COLOR_RADIUS)
    vg = torch_box_filter(guide * guide, COLOR_RADIUS) - mg * mg + COLOR_EPS * var_n + 1e-12
    mp = torch_box_filter(y, COLOR_RADIUS)
    a = (torch_box_filter(guide * y, COLOR_RADIUS) - mg * mp) / vg
    b = mp - a * mg
    fit = torch_box_filter(a, COLOR_RADIUS) * guide + torch_box_filter(b, COLOR_RADIUS)
    rest = y - fit
    power = torch_box_filter(rest * rest, COLOR_RADIUS)
    return (fit + rest * (power / (power + COLOR_KEEP * var_n + 1e-12))).clamp(0, 1)
