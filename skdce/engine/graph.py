"""The fused pipeline as one ONNX graph: the stages' graph builders, assembled.

:func:`build_fused` derives, from a model's own ONNX file, a graph whose
input is the image and whose output is the enhanced image:

``image -> network -> curve steps -> gain map -> two-stage guided filter -> enhanced``

Each step is built by its stage (:mod:`skdce.engine.stages`), next to that
stage's host code and tested against it, so the graph computes what the host
path does. :class:`Graph` is the small builder they share. The driver that
runs the graph is :mod:`skdce.engine.fused`.
"""

from __future__ import annotations

import numpy as np

from .stages.boxes import CONTEXT_GRIDS, onnx_context, onnx_upsample
from .stages.curve import onnx_curves_per_iteration, onnx_curves_shared
from .stages.gain import onnx_gain_noise
from .stages.guided import onnx_guided
from .stages.network import onnx_finish_alphas, onnx_image_input, onnx_net_rgb, onnx_network

__all__ = ["Graph", "build_fused", "check_precision", "PRECISIONS", "INPUT_TYPES"]

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


class Graph:
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
        curve ``small`` ``(N, h, w, c)``, ``alpha_scale`` ``(N, 1, h, w)``
        (the factors of the positive alphas: ones, or auto exposure's noise
        limit) and ``small_context`` ``(N, 1, h, w)`` float32 and the upsampling taps ``up_rows``,
        ``up_wy``, ``up_cols``, ``up_wx`` (:func:`~skdce.engine.stages.boxes.onnx_upsample`); for the full
        model ``context_cols{k}``, ``context_rows{k}``, ``context_wy{k}`` per
        context grid (:func:`~skdce.engine.stages.boxes.onnx_context`); ``strength`` (a float32 scalar);
        with ``denoise``, ``noise`` ``(N,)`` float32, the denoiser strength
        times the image's noise level. Output ``enhanced`` ``(N, H, W, c)``
        float32.

    Notes
    -----
    The curve step is ``LE(x) = x + a x (1 - x)``. The denoiser is
    :func:`~skdce.engine.stages.guided.denoise_block` steered by
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
    g = Graph()
    T = g.T
    in_type = {"uint8": T.UINT8, "uint16": T.UINT16, "float32": T.FLOAT}[dtype]
    inputs = [helper.make_tensor_value_info("image", in_type, ["N", "H", "W", n_color])]
    raw, x32 = onnx_image_input(g, "image", dtype)
    if shared:
        inputs.append(helper.make_tensor_value_info("small", T.FLOAT, ["N", "h", "w", n_color]))
        inputs.append(helper.make_tensor_value_info("alpha_scale", T.FLOAT, ["N", 1, "h", "w"]))
        if has_context:
            inputs.append(helper.make_tensor_value_info("small_context", T.FLOAT, ["N", 1, "h", "w"]))
        small = g.op("Transpose", "small", perm=[0, 3, 1, 2])
        alphas = onnx_network(g, net, path, precision, onnx_net_rgb(g, small, n_color), "small_context")
    else:
        context = ""
        if has_context:
            for k in range(len(CONTEXT_GRIDS)):
                inputs += [helper.make_tensor_value_info(f"context_cols{k}", T.FLOAT, ["N", 1, f"g{k}", "W"]),
                           helper.make_tensor_value_info(f"context_rows{k}", T.INT64, [2, "H"]),
                           helper.make_tensor_value_info(f"context_wy{k}", T.FLOAT, [1, 1, "H", 1])]
            context = onnx_context(g, len(CONTEXT_GRIDS))
        alphas = onnx_network(g, net, path, precision, onnx_net_rgb(g, x32, n_color), context)
    inputs.append(helper.make_tensor_value_info("strength", T.FLOAT, []))
    if shared:
        inputs += [helper.make_tensor_value_info("up_rows", T.INT64, [2, "H"]),
                   helper.make_tensor_value_info("up_wy", T.FLOAT, [1, 1, "H", 1]),
                   helper.make_tensor_value_info("up_cols", T.INT64, [2, "W"]),
                   helper.make_tensor_value_info("up_wx", T.FLOAT, [1, 1, 1, "W"])]
        a = onnx_finish_alphas(g, alphas, "strength", n_color)
        # auto exposure's noise limit (skdce.engine.stages.tone.noise_limit, computed on the host): the positive
        # alphas times alpha_scale
        a = g.op("Where", g.op("Greater", a, g.const(0.0)), g.op("Mul", a, "alpha_scale"), a)
        a = onnx_upsample(g, a)
        y = onnx_curves_shared(g, raw, x32, dtype, a, iterations)
        mean_maps = [a if n_color == 1 else g.mean3(a)]
    else:
        maps = [onnx_finish_alphas(g, g.slice(alphas, 3 * i, 3 * i + 3, 1), "strength", n_color)
                for i in range(iterations)]
        y = onnx_curves_per_iteration(g, raw, dtype, maps)
        mean_maps = maps if n_color == 1 else None
    if denoise:
        inputs.append(helper.make_tensor_value_info("noise", T.FLOAT, ["N"]))
        if mean_maps is None:
            mean_maps = [g.mean3(a) for a in maps]
        level = x32 if n_color == 1 else g.mean3(g.op("Cast", raw, to=T.FLOAT))
        if n_color == 3 and dtype != "float32":  # mean of the raw values, then scaled (as the host path)
            level = g.op("Mul", level, g.const(np.float32(1.0 / np.iinfo(dtype).max)))
        y = onnx_guided(g, y, onnx_gain_noise(g, level, mean_maps, iterations, "noise"), n_color)
    out = g.op("Transpose", y, perm=[0, 2, 3, 1])
    g.nodes.append(helper.make_node("Identity", [out], ["enhanced"], name="fused/output"))
    graph = helper.make_graph(g.nodes, "skdce_fused", inputs,
                              [helper.make_tensor_value_info("enhanced", T.FLOAT, ["N", "H", "W", n_color])],
                              initializer=g.inits)
    model = helper.make_model(graph, opset_imports=list(net.opset_import), ir_version=net.ir_version)
    model.producer_name = "skdce"
    onnx.checker.check_model(model)
    return model
