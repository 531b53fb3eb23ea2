"""The whole pipeline as one ONNX graph per model: network, curves and denoiser on the device.

:func:`build_fused` derives, from a model's own ONNX file, a graph whose
input is the image and whose output is the enhanced image:

``image -> network -> 8 curve steps -> two-stage guided filter -> enhanced``

with the same arithmetic as the host path (:mod:`skdce.curves`,
:func:`skdce.curve_gain`, :func:`skdce.denoise.denoise_block`), so that on
CUDA the image is uploaded once and the result downloaded once, and nothing
in between crosses the bus. What stays on the host, and why:

* the noise level (:func:`skdce.denoise.estimate_noise`): a median of a
  strided sample of at most 2**18 pixels, about 13 ms per image on one core
  at any size from 0.3 MP up, estimated on skdce's worker threads while the
  device runs; it enters the graph as one number per image (an in-graph
  median would need a TopK over the whole sample, per channel);
* the box means of the illumination context (full model) and the
  box-downscaled copy of Zero-DCE++ (with its context): one threaded pass of
  the compiled box-mean kernel, which sums in double; in float32 on the
  device, running sums over thousands of pixels would lose about 1e-5, more
  than every other step. What crosses the bus is small: the context grids
  (a few rows, interpolated to full size in the graph) and Zero-DCE++'s
  copy, 1/144 of the image.

Inputs are ``(N, H, W, c)`` in the image's own dtype (uint8, uint16 or
float32, colour channels only), so integer images cross the bus at their own
size; the graph scales and transposes them. Curves and denoiser compute in
float32, the full model's per-iteration curves carried in float64 like the
compiled kernel; float64 images therefore stay on the host path.
"""

from __future__ import annotations

import threading

import numpy as np

from .runtime import _ort, logger, session_options
from .stages.context import CONTEXT_GRIDS
from ..denoise import COLOR_EPS, COLOR_KEEP, COLOR_RADIUS, LUMA_EPS, LUMA_RADIUS

__all__ = ["build_fused", "FusedSession", "get_fused_session", "PRECISIONS"]

#: ``precision`` of the fused graph: the network's arithmetic (curves and denoiser stay float32).
PRECISIONS = ("fp32", "fp16")
#: Graph input dtypes; other images are converted to float32 on [0, 1] first.
INPUT_TYPES = ("uint8", "uint16", "float32")


def _onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "skdce's fused graph (the pipeline on CUDA) is built with the onnx package: pip install 'skdce[gpu]', "
            "which includes it, or pip install onnx; fused=False keeps the host path."
        ) from exc
    return onnx


def check_precision(precision) -> str:
    """Validate ``precision`` (``"fp32"`` or ``"fp16"``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} must be one of {', '.join(map(repr, PRECISIONS))}.")
    return precision


class _Graph:
    """A small helper that appends ONNX nodes and constants with unique names."""

    def __init__(self):
        from onnx import TensorProto

        self.nodes, self.inits, self.n = [], [], 0
        self.T = TensorProto
        self._index_cache = {}

    def op(self, op_type, *inputs, n_out=1, domain="", **attrs):
        from onnx import helper

        self.n += 1
        outs = [f"f{self.n}_{op_type}_{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"fused/{op_type}_{self.n}",
                                           domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=np.float32):
        from onnx import numpy_helper

        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def slice(self, x, start, end, axis):
        return self.op("Slice", x, self.const([start], np.int64), self.const([end], np.int64),
                       self.const([axis], np.int64))

    def mean3(self, x):
        """The mean over axis 1 of three channels, ``((c0 + c1) + c2) / 3`` as NumPy sums float32."""
        s = self.op("Add", self.slice(x, 0, 1, 1), self.slice(x, 1, 2, 1))
        s = self.op("Add", s, self.slice(x, 2, 3, 1))
        return self.op("Div", s, self.const(3.0))

    def dim(self, x, axis):
        """The length of ``x`` along ``axis`` as an int64 scalar."""
        shape = self.op("Shape", x)
        return self.op("Gather", shape, self.const(axis, np.int64), axis=0)

    def reflect_index(self, x, axis, radius):
        """Indices of ``x`` along ``axis`` extended by ``radius`` the way scipy's ``mode="reflect"`` does.

        ``d c b a | a b c d | d c b a``: the symmetric extension of period
        ``2 n``, also for axes shorter than the radius.
        """
        key = (x, axis, radius)
        if key in self._index_cache:
            return self._index_cache[key]
        n = self.dim(x, axis)
        r = self.const(radius, np.int64)
        idx = self.op("Range", self.op("Neg", r), self.op("Add", n, r), self.const(1, np.int64))
        period = self.op("Mul", n, self.const(2, np.int64))
        m = self.op("Mod", idx, period, fmod=0)  # integer Mod: the divisor's sign, so in [0, 2n)
        mirrored = self.op("Sub", self.op("Sub", period, self.const(1, np.int64)), m)
        out = self.op("Where", self.op("Less", m, n), m, mirrored)
        self._index_cache[key] = out
        return out

    def box(self, x, radius, like):
        """scipy's ``uniform_filter(size=2 r + 1, mode="reflect")`` of each ``(N, C, H, W)`` plane.

        ``like`` names a tensor of the same height and width (the reflection
        indices are built once per shape). The extension is gathered, then
        averaged without padding: every window holds ``2 r + 1`` real samples.
        """
        k = 2 * radius + 1
        rows = self.op("Gather", x, self.reflect_index(like, 2, radius), axis=2)
        x = self.op("AveragePool", rows, kernel_shape=[k, 1])
        cols = self.op("Gather", x, self.reflect_index(like, 3, radius), axis=3)
        return self.op("AveragePool", cols, kernel_shape=[1, k])


def _network(g: _Graph, net, path, precision: str, image: str, context: str) -> str:
    """Append the network ``net`` (the ``onnx.ModelProto`` of ``path``, names prefixed ``net/``) to ``g``.

    Returns the name of its float32 alpha output.
    """
    import onnx
    from onnx import compose, numpy_helper

    net = compose.add_prefix(net, "net/")
    graph = net.graph
    inits = list(graph.initializer)
    if precision == "fp16":
        if any(n.op_type.startswith("QLinear") or n.op_type in ("QuantizeLinear", "DequantizeLinear")
               for n in graph.node):
            raise ValueError(f"precision='fp16' applies to float networks; {str(path)!r} is quantised (int8).")
        inits = [numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)
                 if t.data_type == onnx.TensorProto.FLOAT else t for t in inits]
        image = g.op("Cast", image, to=g.T.FLOAT16)
        context = g.op("Cast", context, to=g.T.FLOAT16)
    names = [i.name for i in graph.input]
    g.nodes.append(onnx.helper.make_node("Identity", [image], [names[0]], name="fused/net_image"))
    if len(names) > 1:
        g.nodes.append(onnx.helper.make_node("Identity", [context], [names[1]], name="fused/net_context"))
    g.nodes.extend(graph.node)
    g.inits.extend(inits)
    alphas = graph.output[0].name
    if precision == "fp16":
        alphas = g.op("Cast", alphas, to=g.T.FLOAT)
    return alphas


def _to_nchw_float(g: _Graph, x: str, dtype: str, n_color: int):
    """``(N, H, W, c)`` raw input -> (NCHW raw, NCHW float32 on [0, 1] as the network sees it)."""
    raw = g.op("Transpose", x, perm=[0, 3, 1, 2])
    x32 = g.op("Cast", raw, to=g.T.FLOAT) if dtype != "float32" else raw
    if dtype != "float32":  # as skdce.engine.host._net_input: float32 product with float32(1 / max)
        x32 = g.op("Mul", x32, g.const(np.float32(1.0 / np.iinfo(dtype).max)))
    return raw, x32


def _net_rgb(g: _Graph, x32: str, n_color: int) -> str:
    """The network's RGB input: a gray image repeats its one channel."""
    return x32 if n_color == 3 else g.op("Expand", x32, g.const([1, 3, 1, 1], np.int64))


def _context(g: _Graph, n_grids: int) -> str:
    """The illumination context from its grids, as :class:`skdce.engine.stages.context.ContextMap` computes it.

    Each grid arrives interpolated along the columns already (``context_cols``:
    a few rows of the tile's width, :class:`skdce.engine.stages.boxes.BilinearUpsampler`'s
    ``cols``); the rows are interpolated here, ``(c[i1] - c[i0]) * wy + c[i0]``,
    the same two roundings as the host's ``diff * wy + cols``, and the grids'
    maximum taken.
    """
    out = None
    for k in range(n_grids):
        cols, rows = f"context_cols{k}", f"context_rows{k}"
        c0 = g.op("Gather", cols, g.op("Gather", rows, g.const(0, np.int64), axis=0), axis=2)
        c1 = g.op("Gather", cols, g.op("Gather", rows, g.const(1, np.int64), axis=0), axis=2)
        up = g.op("Add", g.op("Mul", g.op("Sub", c1, c0), f"context_wy{k}"), c0)
        out = up if out is None else g.op("Max", out, up)
    return out


def _upsample(g: _Graph, a: str) -> str:
    """Bilinear (half-pixel) upsampling of the shared maps to the image or tile, from host taps.

    The arithmetic of :class:`skdce.engine.stages.boxes.BilinearUpsampler`:
    ``cols = a[j0] * (1 - wx) + a[j1] * wx``, then ``(cols[i1] - cols[i0]) * wy + cols[i0]``
    (``up_cols`` holds ``j0; j1``, ``up_rows`` ``i0; i1``), so a tile takes
    its own taps and the maps equal the host's bit for bit.
    """
    zero, one = g.const(0, np.int64), g.const(1, np.int64)
    left = g.op("Gather", a, g.op("Gather", "up_cols", zero, axis=0), axis=3)
    right = g.op("Gather", a, g.op("Gather", "up_cols", one, axis=0), axis=3)
    cols = g.op("Add", g.op("Mul", left, g.op("Sub", g.const(1.0), "up_wx")), g.op("Mul", right, "up_wx"))
    c0 = g.op("Gather", cols, g.op("Gather", "up_rows", zero, axis=0), axis=2)
    c1 = g.op("Gather", cols, g.op("Gather", "up_rows", one, axis=0), axis=2)
    return g.op("Add", g.op("Mul", g.op("Sub", c1, c0), "up_wy"), c0)


def _finish_alphas(g: _Graph, a: str, strength: str, n_color: int) -> str:
    """Scale by ``strength``, clip to [-1, 1]; gray images take the mean of the R, G, B maps."""
    a = g.op("Clip", g.op("Mul", a, strength), g.const(-1.0), g.const(1.0))
    return a if n_color == 3 else g.mean3(a)


def _curves_per_iteration(g, raw, dtype, maps):
    """The full model's curves, carried in float64 as the compiled kernel does (``skdce/_kernels.c``)."""
    v = g.op("Cast", raw, to=g.T.DOUBLE)
    if dtype != "float32":
        v = g.op("Mul", v, g.const(1.0 / np.iinfo(dtype).max, np.float64))
    one = g.const(1.0, np.float64)
    for a in maps:
        t = g.op("Mul", g.op("Sub", one, v), v)
        t = g.op("Mul", t, g.op("Cast", a, to=g.T.DOUBLE))
        v = g.op("Add", v, t)
    return g.op("Cast", g.op("Min", v, one), to=g.T.FLOAT)


def _curves_shared(g, raw, x32, dtype, a, n_iter):
    """One shared curve in float32 on ``s = |m - x|`` (``m = 1`` where ``a < 0``), as the compiled kernel."""
    m = g.op("Cast", g.op("Less", a, g.const(0.0)), to=g.T.FLOAT)
    c = g.op("Abs", a)
    if dtype == "float32":
        s = g.op("Abs", g.op("Sub", m, x32))
    else:  # formed in double: integer input is rounded once
        v = g.op("Mul", g.op("Cast", raw, to=g.T.DOUBLE), g.const(1.0 / np.iinfo(dtype).max, np.float64))
        s = g.op("Cast", g.op("Abs", g.op("Sub", g.op("Cast", m, to=g.T.DOUBLE), v)), to=g.T.FLOAT)
    one = g.const(1.0)
    for _ in range(n_iter):
        t = g.op("Mul", g.op("Mul", g.op("Sub", one, s), s), c)
        s = g.op("Add", s, t)
    return g.op("Abs", g.op("Sub", m, s))


def _gain_noise(g, level, mean_maps, n_iter, noise):
    """``noise * sqrt(max(gain**2 - 1, 0))``, gain the slope of the curves (as :func:`skdce.curves.gain_block`)."""
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


def _denoise(g, y, noise, n_color):
    """The two-stage guided filter of :func:`skdce.denoise.denoise_block` on ``(N, c, H, W)`` float32."""
    tiny = g.const(1e-12)
    luma = y if n_color == 1 else g.mean3(y)
    var_n = g.op("Mul", noise, noise)
    # stage 1: self-guided luminance
    mm = g.box(g.op("Concat", luma, g.op("Mul", luma, luma), axis=1), LUMA_RADIUS, y)
    m, m2 = g.slice(mm, 0, 1, 1), g.slice(mm, 1, 2, 1)
    v = g.op("Sub", m2, g.op("Mul", m, m))
    a = g.op("Div", v, g.op("Add", g.op("Add", v, g.op("Mul", g.const(LUMA_EPS), var_n)), tiny))
    b = g.op("Sub", m, g.op("Mul", a, m))
    ab = g.box(g.op("Concat", a, b, axis=1), LUMA_RADIUS, y)
    guide = g.op("Add", g.op("Mul", g.slice(ab, 0, 1, 1), luma), g.slice(ab, 1, 2, 1))
    if n_color == 1:
        return guide
    # stage 2: each channel as an affine function of the smoothed luminance
    gg = g.box(g.op("Concat", guide, g.op("Mul", guide, guide), axis=1), COLOR_RADIUS, y)
    mg, g2 = g.slice(gg, 0, 1, 1), g.slice(gg, 1, 2, 1)
    vg = g.op("Add", g.op("Add", g.op("Sub", g2, g.op("Mul", mg, mg)), g.op("Mul", g.const(COLOR_EPS), var_n)), tiny)
    pp = g.box(g.op("Concat", y, g.op("Mul", guide, y), axis=1), COLOR_RADIUS, y)
    mp, gp = g.slice(pp, 0, n_color, 1), g.slice(pp, n_color, 2 * n_color, 1)
    a = g.op("Div", g.op("Sub", gp, g.op("Mul", mg, mp)), vg)
    b = g.op("Sub", mp, g.op("Mul", a, mg))
    ab = g.box(g.op("Concat", a, b, axis=1), COLOR_RADIUS, y)
    fit = g.op("Add", g.op("Mul", g.slice(ab, 0, n_color, 1), guide), g.slice(ab, n_color, 2 * n_color, 1))
    rest = g.op("Sub", y, fit)
    power = g.box(g.op("Mul", rest, rest), COLOR_RADIUS, y)
    keep = g.op("Div", power, g.op("Add", g.op("Add", power, g.op("Mul", g.const(COLOR_KEEP), var_n)), tiny))
    out = g.op("Add", fit, g.op("Mul", rest, keep))
    return g.op("Clip", out, g.const(0.0), g.const(1.0))


def build_fused(path, *, iterations=8, shared=False, n_color=3, dtype="float32", denoise=True, precision="fp32"):
    """Build the fused enhancement graph of the network in ``path``.

    Parameters
    ----------
    path : path-like
        The network's ONNX file (image and context in, alpha maps out).
    iterations : int
        Curve iterations (the model's ``iterations``).
    shared : bool
        Zero-DCE++: one curve (3 maps) for every iteration, estimated on a
        downscaled copy and upsampled bilinearly in the graph.
    n_color : {1, 3}
        Colour channels of the image (1: gray, which gets the mean curve).
    dtype : {"uint8", "uint16", "float32"}
        The image input's dtype.
    denoise : bool
        Whether the guided filter follows the curves.
    precision : {"fp32", "fp16"}
        The network's arithmetic; ``"fp16"`` casts its weights and inputs to
        float16 and its alphas back to float32.

    Returns
    -------
    onnx.ModelProto
        Inputs ``image`` ``(N, H, W, c)`` of ``dtype``; for the shared
        curve ``small`` ``(N, h, w, c)`` and ``small_context``
        ``(N, 1, h, w)`` float32 and the upsampling taps ``up_rows``,
        ``up_wy``, ``up_cols``, ``up_wx`` (:func:`_upsample`); for the full
        model ``context_cols{k}``, ``context_rows{k}``, ``context_wy{k}`` per
        context grid (:func:`_context`); ``strength`` (a float32 scalar);
        with ``denoise``, ``noise`` ``(N,)`` float32, the denoiser strength
        times the image's noise level. Output ``enhanced`` ``(N, H, W, c)``
        float32.

    Notes
    -----
    The curve step is ``LE(x) = x + a x (1 - x)``. The denoiser is
    :func:`skdce.denoise.denoise_block` steered by
    ``noise * sqrt(max(gain**2 - 1, 0))``, ``gain`` the exact slope of the
    mean curve at the mean level (:func:`skdce.curve_gain`); its box filters
    gather the symmetric extension of scipy's ``mode="reflect"`` and average
    it without padding.
    """
    onnx = _onnx()
    from onnx import helper

    if n_color not in (1, 3):
        raise ValueError(f"n_color={n_color!r} must be 1 (gray) or 3 (RGB).")
    if dtype not in INPUT_TYPES:
        raise ValueError(f"dtype={dtype!r} must be one of {', '.join(INPUT_TYPES)}.")
    check_precision(precision)
    net = onnx.load(str(path))
    has_context = len(net.graph.input) > 1
    g = _Graph()
    T = g.T
    in_type = {"uint8": T.UINT8, "uint16": T.UINT16, "float32": T.FLOAT}[dtype]
    inputs = [helper.make_tensor_value_info("image", in_type, ["N", "H", "W", n_color])]
    raw, x32 = _to_nchw_float(g, "image", dtype, n_color)
    if shared:
        inputs.append(helper.make_tensor_value_info("small", T.FLOAT, ["N", "h", "w", n_color]))
        if has_context:
            inputs.append(helper.make_tensor_value_info("small_context", T.FLOAT, ["N", 1, "h", "w"]))
        small = g.op("Transpose", "small", perm=[0, 3, 1, 2])
        alphas = _network(g, net, path, precision, _net_rgb(g, small, n_color), "small_context")
    else:
        context = ""
        if has_context:
            for k in range(len(CONTEXT_GRIDS)):
                inputs += [helper.make_tensor_value_info(f"context_cols{k}", T.FLOAT, ["N", 1, f"g{k}", "W"]),
                           helper.make_tensor_value_info(f"context_rows{k}", T.INT64, [2, "H"]),
                           helper.make_tensor_value_info(f"context_wy{k}", T.FLOAT, [1, 1, "H", 1])]
            context = _context(g, len(CONTEXT_GRIDS))
        alphas = _network(g, net, path, precision, _net_rgb(g, x32, n_color), context)
    inputs.append(helper.make_tensor_value_info("strength", T.FLOAT, []))
    if shared:
        inputs += [helper.make_tensor_value_info("up_rows", T.INT64, [2, "H"]),
                   helper.make_tensor_value_info("up_wy", T.FLOAT, [1, 1, "H", 1]),
                   helper.make_tensor_value_info("up_cols", T.INT64, [2, "W"]),
                   helper.make_tensor_value_info("up_wx", T.FLOAT, [1, 1, 1, "W"])]
        a = _upsample(g, _finish_alphas(g, alphas, "strength", n_color))
        y = _curves_shared(g, raw, x32, dtype, a, iterations)
        mean_maps = [a if n_color == 1 else g.mean3(a)]
    else:
        maps = [_finish_alphas(g, g.slice(alphas, 3 * i, 3 * i + 3, 1), "strength", n_color) for i in range(iterations)]
        y = _curves_per_iteration(g, raw, dtype, maps)
        mean_maps = maps if n_color == 1 else None
    if denoise:
        inputs.append(helper.make_tensor_value_info("noise", T.FLOAT, ["N"]))
        if mean_maps is None:
            mean_maps = [g.mean3(a) for a in maps]
        level = x32 if n_color == 1 else g.mean3(g.op("Cast", raw, to=T.FLOAT))
        if n_color == 3 and dtype != "float32":  # mean of the raw values, then scaled (as _denoised_tile)
            level = g.op("Mul", level, g.const(np.float32(1.0 / np.iinfo(dtype).max)))
        y = _denoise(g, y, _gain_noise(g, level, mean_maps, iterations, "noise"), n_color)
    out = g.op("Transpose", y, perm=[0, 2, 3, 1])
    g.nodes.append(helper.make_node("Identity", [out], ["enhanced"], name="fused/output"))
    graph = helper.make_graph(g.nodes, "skdce_fused", inputs,
                              [helper.make_tensor_value_info("enhanced", T.FLOAT, ["N", "H", "W", n_color])],
                              initializer=g.inits)
    model = helper.make_model(graph, opset_imports=list(net.opset_import), ir_version=net.ir_version)
    model.producer_name = "skdce"
    onnx.checker.check_model(model)
    return model


class FusedSession:
    """An ONNX Runtime session of one fused graph, run with I/O binding on CUDA.

    Parameters
    ----------
    model : onnx.ModelProto
        From :func:`build_fused`.
    providers : tuple
        Resolved provider entries (:func:`skdce.engine.runtime.resolve_providers`).
    threads : int or None
        Intra-op threads.
    required : bool
        Whether providers that ONNX Runtime drops while loading raise (else a logged warning).
    label : str
        The model, for messages and the ``skdce`` logger.
    """

    def __init__(self, model, providers, threads, required, label):
        ort = _ort()
        opts = session_options(threads)
        try:
            self.session = ort.InferenceSession(
                model.SerializeToString(), sess_options=opts,
                providers=[(name, dict(options)) for name, options in providers],
            )
        except Exception as exc:
            raise ValueError(f"cannot load the fused graph of {label}: {exc}") from exc
        self.providers = tuple(self.session.get_providers())
        missing = [name for name, _ in providers if name not in self.providers]
        if missing and required:
            raise ValueError(
                f"ONNX Runtime could not start {', '.join(missing)} for the fused graph of {label} (it runs "
                f"{', '.join(self.providers)}); check the CUDA/cuDNN installation, or pass providers='cpu'."
            )
        if missing:
            logger.warning("skdce: %s could not start; the fused graph of %s runs on %s",
                           ", ".join(missing), label, ", ".join(self.providers))
        self.on_gpu = self.providers[0] == "CUDAExecutionProvider"
        logger.info("skdce: fused graph of %s with providers %s", label, ", ".join(self.providers))

    def run(self, feeds: dict, out: np.ndarray | None = None) -> np.ndarray:
        """Run on host arrays; on CUDA each input is uploaded once and the output downloaded once.

        ``out``, a C-contiguous float32 array of the output's shape, receives
        the result directly (no host-side copy); otherwise a new array is returned.
        """
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        if out is not None and out.dtype == np.float32 and out.flags.c_contiguous:
            binding.bind_output("enhanced", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
            self.session.run_with_iobinding(binding)
            return out
        binding.bind_output("enhanced", "cuda" if self.on_gpu else "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


_models: dict = {}
_sessions: dict = {}
_lock = threading.Lock()


def get_fused_session(info, providers, threads, *, n_color, dtype, denoise, precision) -> FusedSession:
    """The cached :class:`FusedSession` of a model variant (graphs are built once per variant, in memory)."""
    from .runtime import resolve_providers

    required = not (isinstance(providers, str) and providers.lower() == "auto")
    entries = resolve_providers(providers)
    variant = (str(info.path), info.iterations, bool(info.shared_curve), n_color, dtype, bool(denoise), precision)
    key = variant + (entries, threads, required)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            model = _models.get(variant)
            if model is None:
                model = _models[variant] = build_fused(
                    info.path, iterations=info.iterations, shared=bool(info.shared_curve), n_color=n_color,
                    dtype=dtype, denoise=denoise, precision=precision,
                )
            session = _sessions[key] = FusedSession(model, entries, threads, required, repr(info.name))
        return session


def _graph_input(block: np.ndarray) -> np.ndarray:
    """A contiguous graph input of an ``(n, h, w, c)`` block: uint8/uint16/float32 kept, others to float32."""
    if block.dtype.name in INPUT_TYPES:
        return np.ascontiguousarray(block)
    if block.dtype.kind == "u":  # uint32: scaled here (float32 keeps 24 bits of it)
        return (block * (1.0 / np.iinfo(block.dtype).max)).astype(np.float32)
    return np.ascontiguousarray(block, dtype=np.float32)  # float16: exact


def _input_type(dtype: np.dtype) -> str:
    return dtype.name if dtype.name in INPUT_TYPES else "float32"


def _context_feeds(context, b0, b1, r0, r1, c0, c1) -> dict:
    """The context inputs of images ``b0:b1``, rows ``r0:r1``, columns ``c0:c1`` (see :func:`_context`)."""
    if context is None:
        return {}
    feeds = {}
    for k, up in enumerate(context._ups):
        i0 = up.i0[r0:r1]
        i1 = np.minimum(i0 + 1, up.cols.shape[1] - 1)  # where i1 == i0 the weight is 0
        feeds[f"context_cols{k}"] = np.ascontiguousarray(np.moveaxis(up.cols[b0:b1, :, c0:c1], -1, 1))
        feeds[f"context_rows{k}"] = np.stack([i0, i1]).astype(np.int64)
        feeds[f"context_wy{k}"] = np.ascontiguousarray(up.wy[r0:r1, 0, 0], np.float32).reshape(1, 1, -1, 1)
    return feeds


#: Pixels per graph run when whole images are batched (a 2048 x 2048 tile's worth).
_RUN_PIXELS = 2048 * 2048


def enhance_fused(p, dst: np.ndarray, amount: float, providers, precision: str) -> None:
    """Write the enhanced colour channels of ``p.src`` into ``dst`` with the fused graph.

    ``p`` is :class:`skdce.engine.host._Prepared`. Images run tile by tile
    (``p.tile``), each tile with the pipeline's halo: the full model's
    network needs 7 pixels, the denoiser :data:`~skdce.denoise.DENOISE_HALO`;
    Zero-DCE++'s network sees the whole small copy in every tile (1/144 of
    the pixels) and each tile upsamples its own part of the maps; as every
    tile reruns that network, its ``tile_size="auto"`` is 2048 on every
    provider. The result
    does not depend on the tiling. Images that fit in one tile run several
    to a graph call.
    """
    from .host import AUTO_TILE, HALO, _tiles
    from .workers import executor as _executor
    from ..denoise import DENOISE_HALO, noise_level

    n, h, w, _ = p.src.shape
    nc = p.n_color
    session = get_fused_session(p.info, providers, p.num_threads, n_color=nc, dtype=_input_type(p.src.dtype),
                                denoise=bool(amount), precision=precision)
    strength = np.array(p.strength, np.float32)
    # The noise levels (about 13 ms per image above 0.3 MP on one core) are estimated on
    # skdce's worker threads (NumPy releases the GIL) while the device runs earlier images.
    sigmas = [_executor().submit(noise_level, p.src[b, ..., :nc]) for b in range(n)] if amount else None

    def feeds(b0, b1, r0, r1, c0, c1):
        f = {"image": _graph_input(p.src[b0:b1, r0:r1, c0:c1, :nc]), "strength": strength}
        if amount:
            f["noise"] = np.array([amount * sigmas[b].result() * p.noise_stretch(b) for b in range(b0, b1)],
                                  np.float32)
        return f

    if p.shared:
        smalls = p.small_inputs()
        sh, sw = smalls[0][0].shape[1:3]
        rows, cols = _taps(sh, h, True), _taps(sw, w, False)

        def extra(b0, b1, r0, r1, c0, c1):
            f = {"small": np.ascontiguousarray(np.concatenate([smalls[b][0] for b in range(b0, b1)]), np.float32),
                 "up_rows": rows[0][:, r0:r1], "up_wy": rows[1][r0:r1].reshape(1, 1, -1, 1),
                 "up_cols": cols[0][:, c0:c1], "up_wx": cols[1][c0:c1].reshape(1, 1, 1, -1)}
            if smalls[0][1] is not None:
                f["small_context"] = np.stack([smalls[b][1] for b in range(b0, b1)])[:, None]
            return f

        halo = DENOISE_HALO if amount else 0  # the network sees the whole small copy in every tile
        tile = AUTO_TILE["cuda"] if p.auto_tile else p.tile  # each tile reruns the small network
    else:

        def extra(b0, b1, r0, r1, c0, c1):
            return _context_feeds(p.context, b0, b1, r0, r1, c0, c1)

        halo = HALO + (DENOISE_HALO if amount else 0)
        tile = p.tile
    if tile is None or tile >= max(h, w):  # whole images, several per run
        per_run = max(1, _RUN_PIXELS // (h * w))
        for b0 in range(0, n, per_run):
            b1 = min(n, b0 + per_run)
            f = feeds(b0, b1, 0, h, 0, w)
            f.update(extra(b0, b1, 0, h, 0, w))
            target = dst[b0:b1, ..., :nc]
            result = session.run(f, out=target)  # written in place where dst has no alpha channel
            if result is not target:
                target[...] = result
        return
    for b in range(n):
        for y0, y1, x0, x1 in _tiles(h, w, tile):
            r0, r1, c0, c1 = max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo)
            f = feeds(b, b + 1, r0, r1, c0, c1)
            f.update(extra(b, b + 1, r0, r1, c0, c1))
            dst[b, y0:y1, x0:x1, :nc] = session.run(f)[0, y0 - r0 : y1 - r0, x0 - c0 : x1 - c0]


def _taps(n_in: int, n_out: int, rows: bool):
    """``(2, n_out)`` int64 source indices ``i0; i1`` and ``(n_out,)`` float32 weights of
    :class:`skdce.engine.stages.boxes.BilinearUpsampler` (whose row weights are 0 where ``i1 == i0``)."""
    from .stages.boxes import _taps as taps

    i0, i1, wt = taps(n_in, n_out)
    if rows:
        wt = np.where(i1 > i0, wt, 0)
    return np.stack([i0, i1]).astype(np.int64), wt.astype(np.float32)
