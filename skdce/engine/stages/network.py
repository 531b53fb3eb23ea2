"""Stage: the curve estimator (DCE-Net or Zero-DCE++ on ONNX Runtime); its one home.

The network maps an RGB image in [0, 1] and its illumination context
(:mod:`skdce.engine.stages.boxes`) to alpha maps in [-1, 1]: 24 maps (one
RGB triple per iteration, the full model) or 3 (one curve shared by every
iteration, Zero-DCE++, estimated on a box-downscaled copy of the image and
upsampled). Side by side:

* the host code: :func:`estimate_tile` (a tile's maps, computed with the
  network's :data:`HALO` of context so tiles join exactly) and
  :func:`small_maps` (Zero-DCE++ on its small copies, with the black lifts
  of :mod:`skdce.engine.stages.tone`);
* the ONNX graph builders of the fused pipeline: :func:`onnx_network` (the
  model's own graph spliced in), :func:`onnx_image_input`,
  :func:`onnx_net_rgb` and :func:`onnx_finish_alphas`;
* the torch twin is the trained network itself, :mod:`skdce.train.model`
  (exported to the ONNX file the host runs; ``tests/train`` holds them equal);
* the float64 oracle of what skdce does around the network (the scaling,
  clipping and gray averaging of its maps): :func:`reference_finish_maps`.
"""

from __future__ import annotations

import numpy as np

from ..._base.image import unit_scale
from .boxes import ContextMap, box_downscale, small_size
from .curve import run_blocks
from .tone import auto_exposure as auto_exposure_stops
from .tone import black_lift, finish_tone, noise_limit, white_areas, white_size

__all__ = ["HALO", "net_input", "finish_maps", "estimate_tile", "net_scale", "resolve_scale", "small_copies",
           "small_context", "small_maps", "limit_maps", "reference_finish_maps",
           "onnx_network", "onnx_image_input", "onnx_net_rgb", "onnx_finish_alphas"]

#: DCE-Net has seven 3x3 convolutions: a 15x15 receptive field, so a tile
#: needs 7 pixels of real context on each side to be exact.
HALO = 7


def net_input(block: np.ndarray, n_color: int) -> np.ndarray:
    """``(h, w, C)`` image block -> contiguous ``(1, 3, h, w)`` float32 network input."""
    rgb = block[..., :n_color]
    scale = np.float32(unit_scale(rgb.dtype))
    x = np.empty((1, 3) + rgb.shape[:2], np.float32)
    for ch in range(3):  # a gray image repeats its one channel
        np.multiply(rgb[..., min(ch, n_color - 1)], scale, out=x[0, ch], casting="unsafe")
    return x


def finish_maps(a: np.ndarray, n_color: int, strength: float) -> np.ndarray:
    """Scale by ``strength`` and bound to [-1, 1] (ONNX Runtime's tanh can overshoot 1 by an ulp)."""
    if strength != 1.0:
        a = a * np.float32(strength)
    a = np.clip(a, -1, 1, out=a if a.flags.writeable else None)
    if n_color == 1:  # a gray image: one curve per iteration, the mean of the R, G, B curves
        a = a.reshape(a.shape[:-1] + (a.shape[-1] // 3, 3)).mean(axis=-1)
    return a


def reference_finish_maps(a, n_color: int, strength: float) -> np.ndarray:
    """The oracle of :func:`finish_maps` in float64: ``clip(strength * a, -1, 1)``; gray: the mean of R, G, B."""
    a = np.clip(np.asarray(a, np.float64) * strength, -1, 1)
    if n_color == 1:
        a = a.reshape(a.shape[:-1] + (a.shape[-1] // 3, 3)).mean(axis=-1)
    return a


def estimate_tile(session, window, tile, size, n_color: int, strength: float, context=None) -> np.ndarray:
    """The ``(th, tw, K)`` alpha maps of ``tile`` (K = 24 or 3; averaged to gray if needed).

    ``window`` (:class:`skdce.engine.tiles.Window`) must hold the tile and
    :data:`HALO` pixels beyond it where the image of ``size`` does;
    ``context`` is the batch's :class:`~skdce.engine.stages.boxes.ContextMap`
    (None for models without one).
    """
    region = tile.grown(HALO, size)
    ctx = None if context is None else context.block(region.b, region.y0, region.y1, region.x0, region.x1)[None, None]
    a = session.run(net_input(window.read(region), n_color), ctx)[0]
    rows, cols = tile.inside(region)
    return finish_maps(np.moveaxis(a[:, rows, cols], 0, -1), n_color, strength)


def net_scale(h: int, w: int, net_size: int | None, scale_factor: float) -> float:
    """The downscaling of the network's input: to ``net_size`` on the longer side when given, else ``scale_factor``."""
    return max(1.0, max(h, w) / net_size) if net_size else float(scale_factor)


def resolve_scale(scale_factor, info, size) -> float:
    """The downscaling of a shared-curve model's input: given, or the model's (:func:`net_scale`)."""
    if scale_factor is not None:
        return scale_factor
    return net_scale(size[0], size[1], info.net_size, info.scale_factor)


def small_copies(src: np.ndarray, n_color: int, scale: float) -> list[np.ndarray]:
    """The ``(1, h, w, c)`` box-downscaled copies in [0, 1] of each image of ``(N, H, W, C)`` ``src``."""
    n, h, w, _ = src.shape
    size = small_size(h, w, scale)
    unit = np.float32(unit_scale(src.dtype))  # box_downscale keeps the integer scale
    rgb = [src[b : b + 1, :, :, :n_color] for b in range(n)]
    return [(box_downscale(x, size) if size != (h, w) else x) * unit for x in rgb]


def image_whites(src: np.ndarray, n_color: int) -> np.ndarray:
    """``(N,)`` :func:`~skdce.engine.stages.tone.white_areas` of each image of ``(N, H, W, C)`` ``src``, read on
    its box copy at :func:`~skdce.engine.stages.tone.white_size` (auto exposure leaves an image that reaches
    white)."""
    _, h, w, _ = src.shape
    size = white_size(h, w)
    unit = np.float32(unit_scale(src.dtype))
    rgb = src[..., :n_color]
    # float32, as Dask's box means are: the two decide alike at the ramp's edges
    return white_areas(((box_downscale(rgb, size) if size != (h, w) else rgb) * unit).astype(np.float32))


def small_context(session, small: np.ndarray) -> np.ndarray | None:
    """The ``(h, w)`` illumination context of a ``(1, h, w, c)`` small copy (None for models without one)."""
    if session.context_name is None:
        return None
    sh, sw = small.shape[1:3]
    return ContextMap(small).block(0, 0, sh, 0, sw)


def small_maps(session, smalls, *, n_color: int, strength: float, iterations: int, black_point: float = 0.0,
               auto_exposure: bool = False, noise=None, contexts=None, whites=None):
    """Zero-DCE++'s maps and tone on its small copies: ``(maps, lifts, stops, scales)``.

    ``smalls`` are the ``(1, h, w, c)`` copies in [0, 1] (:func:`small_copies`,
    or Dask's box means). ``maps`` is ``(N, h, w, c)``; ``lifts`` the ``(N, c)``
    :func:`~skdce.engine.stages.tone.black_lift` of each copy and its curves'
    result, times ``black_point`` (None without a black point); ``stops`` the
    ``(N,)`` :func:`~skdce.engine.stages.tone.auto_exposure` of each copy
    after its curves and black point at strength 1 (the model's own result), times ``strength`` (None unless
    ``auto_exposure``): a weaker strength does not earn more stops.
    With ``auto_exposure`` and ``noise`` (the ``(N,)`` input noise levels) the
    maps' positive alphas are first scaled by ``scales``, the ``(N, h, w)``
    :func:`~skdce.engine.stages.tone.noise_limit` of each copy (None otherwise).
    ``contexts``: the copies' :func:`small_context`, where the caller has them already; ``whites``: the
    images' :func:`~skdce.engine.stages.tone.white_areas` for auto exposure.
    """
    maps, lifts, stops, scales = [], [], [], []
    for b, small in enumerate(smalls):
        ctx = small_context(session, small) if contexts is None else contexts[b]
        raw = session.run(net_input(small[0], n_color), None if ctx is None else ctx[None, None])[0]
        raw = np.moveaxis(raw, 0, -1)
        rgb = np.asarray(small[..., :n_color], np.float32)
        sigma = float(noise[b]) if auto_exposure and noise is not None else None
        m, scale = _limited_maps(raw, small[0, ..., :n_color], strength, sigma, iterations)
        maps.append(m)
        if scale is not None:
            scales.append(scale)
        if black_point or auto_exposure:
            after = _small_result(rgb, m, n_color, iterations)
            lift = black_lift(rgb, after) * black_point if black_point else None
            if black_point:
                lifts.append(lift[0])
            if auto_exposure:
                # measured on the model's own result (strength 1), then scaled like the curves: strength 0 leaves
                # the image as it is, 2 doubles the enhancement, and a weaker strength never earns more stops
                if strength != 1.0:
                    after, lift = own_result(raw, small[0, ..., :n_color], rgb, iterations, sigma, black_point)
                white = None if whites is None else whites[b : b + 1]
                stops.append(strength * auto_exposure_stops(finish_tone(after, lift), small_input=rgb, whites=white)[0])
    return (np.ascontiguousarray(np.stack(maps), dtype=np.float32), np.stack(lifts) if lifts else None,
            np.array(stops) if stops else None, np.stack(scales) if scales else None)


def own_result(raw: np.ndarray, small: np.ndarray, rgb: np.ndarray, iterations: int, sigma: float | None,
               black_point: float):
    """``(after, lift)``: the ``(1, h, w, c)`` small copy ``rgb`` after the model's own curves (strength 1, the
    noise limit of ``small``, its ``(h, w, c)`` copy, for noise ``sigma``) and their black lift times
    ``black_point`` (None without one): what auto exposure measures at any strength (the stills' and the video's
    tone)."""
    maps = _limited_maps(raw, small, 1.0, sigma, iterations)[0]
    after = _small_result(rgb, maps, rgb.shape[-1], iterations)
    return after, (black_lift(rgb, after) * black_point if black_point else None)


def _limited_maps(raw: np.ndarray, small: np.ndarray, strength: float, sigma: float | None, iterations: int):
    """``(maps, scale)``: the network's ``(h, w, k)`` ``raw`` maps finished at ``strength``, their positive alphas
    scaled by the :func:`~skdce.engine.stages.tone.noise_limit` of ``small`` (its ``(h, w, c)`` copy) for noise
    ``sigma``; ``scale`` None (and no limit) where ``sigma`` is None."""
    maps = finish_maps(raw.copy(), small.shape[-1], strength)
    if sigma is None:
        return maps, None
    scale = noise_limit(maps, small, sigma, iterations)
    return limit_maps(maps, scale), scale


def _small_result(rgb: np.ndarray, maps: np.ndarray, n_color: int, iterations: int) -> np.ndarray:
    """The ``(1, h, w, c)`` small copy ``rgb`` after the curves of its ``(h, w, c)`` ``maps``."""
    after = np.empty_like(rgb)
    run_blocks(rgb, after, n_color, lambda _b, r0, r1, c0, c1: maps[r0:r1, c0:c1, None, :], n_iter=iterations,
               per_iter=False, int_scale=None, check_image=False, check_alpha=False)
    return after


def limit_maps(maps: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(h, w, c)`` maps with their positive alphas times the ``(h, w)`` ``scale`` (a new float32 array)."""
    return np.where(maps > 0, maps * scale[..., None], maps).astype(np.float32)


# ---- the ONNX graph builders of the fused pipeline (skdce.engine.graph) ----


def onnx_network(g, net, path, precision: str, image: str, context: str) -> str:
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


def onnx_image_input(g, x: str, dtype: str):
    """``(N, H, W, c)`` raw input -> (NCHW raw, NCHW float32 on [0, 1] as the network sees it)."""
    raw = g.op("Transpose", x, perm=[0, 3, 1, 2])
    x32 = g.op("Cast", raw, to=g.T.FLOAT) if dtype != "float32" else raw
    if dtype != "float32":  # as net_input: float32 product with float32(1 / max)
        x32 = g.op("Mul", x32, g.const(np.float32(1.0 / np.iinfo(dtype).max)))
    return raw, x32


def onnx_net_rgb(g, x32: str, n_color: int) -> str:
    """The network's RGB input: a gray image repeats its one channel."""
    return x32 if n_color == 3 else g.op("Expand", x32, g.const([1, 3, 1, 1], np.int64))


def onnx_finish_alphas(g, a: str, strength: str, n_color: int) -> str:
    """Scale by ``strength``, clip to [-1, 1]; gray images take the mean of the R, G, B maps."""
    a = g.op("Clip", g.op("Mul", a, strength), g.const(-1.0), g.const(1.0))
    return a if n_color == 3 else g.mean3(a)
