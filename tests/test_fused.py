"""The fused graph (skdce/engine/fused.py) on ONNX Runtime's CPU provider against the host path.

Tolerances (max |fused - host| on [0, 1]), and why:

=====================================  =========  =============================================
case                                   max diff   reason
=====================================  =========  =============================================
full model, ``denoise=0``              1e-6       same network kernels, curves carried in
                                                  float64 like the compiled kernel (measured 0)
``zero-dce++``, ``denoise=0``          1e-6       the graph upsamples the alphas with the host
                                                  upsampler's taps and roundings (measured 0)
any model, ``denoise > 0``             5e-5       the graph's box means sum float32 windows,
                                                  scipy's run double sums; the guided filter's
                                                  ``mean(x**2) - mean(x)**2`` cancels in flat
                                                  regions and amplifies that to about 2e-5
                                                  (mean below 3e-6 at strength 1.7)
LOL images, both paths against a       1.5x the   where the noise map is 0 beside amplified
float64 evaluation                     host's     pixels the filter divides by variances near
                                       error      its 1e-12 regulariser: both float32 paths
                                                  differ from float64 by ~1e-2 at a few pixels
                                                  of LOL 700.png (host 1.2e-2, fused 1.1e-2)
``precision="fp16"``                   2e-2       the network in float16 (figures on LOL:
                                                  ``benchmarks/eval_fused.py``)
=====================================  =========  =============================================
"""

from pathlib import Path

import numpy as np
import pytest

import skdce
from skdce.engine.graph import build_fused

MODELS = [m for m in ("zero-dce", "zero-dce-int8", "zero-dce++") if m in skdce.list_models()]
LOL = Path(__file__).resolve().parents[2] / "shared" / "data" / "lol"
#: (max, mean) tolerances of the table above
EXACT, DENOISED = (1e-6, 1e-7), (5e-5, 3e-6)
#: (max, count above 1e-3) at pixels where the filter's variance meets its regulariser (test_lol_images)
DEGENERATE = (2.5e-2, 50)


def _compare(image, tol, **kwargs):
    host = skdce.enhance(image, providers="cpu", fused=False, **kwargs)
    fused = skdce.enhance(image, providers="cpu", fused=True, **kwargs)
    assert fused.shape == host.shape and fused.dtype == host.dtype
    diff = np.abs(fused.astype(np.float64) - host)
    assert diff.max() <= tol[0], f"max |fused - host| = {diff.max():.3g} > {tol[0]:g}"
    assert diff.mean() <= tol[1], f"mean |fused - host| = {diff.mean():.3g} > {tol[1]:g}"
    return fused


def _tol(denoise):
    return DENOISED if denoise else EXACT


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return (data.astronaut()[::3, ::3] // 4).astype(np.uint8)  # 171 x 171, dark


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("denoise", [0, 1.0])
def test_random_float32(model, denoise):
    rng = np.random.default_rng(1)
    image = (rng.random((37, 53, 3)) * 0.4).astype(np.float32)
    _compare(image, _tol(denoise), model=model, denoise=denoise)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("denoise", [0, 1.0])
def test_real_uint8(model, denoise, astronaut):
    _compare(astronaut, _tol(denoise), model=model, denoise=denoise)


@pytest.mark.parametrize("model", MODELS)
def test_gray_rgba_uint16_batch_strength(model, astronaut):
    rng = np.random.default_rng(2)
    gray = astronaut[:64, :80].mean(axis=-1).astype(np.uint8)
    _compare(gray, DENOISED, model=model, channel_axis=None)
    _compare(gray[None].repeat(2, axis=0), EXACT, model=model, channel_axis=None, denoise=0)
    rgba = np.concatenate([astronaut[:50, :60], rng.integers(0, 255, (50, 60, 1), np.uint8)], axis=-1)
    out = _compare(rgba, DENOISED, model=model)
    np.testing.assert_allclose(out[..., 3], rgba[..., 3] / 255, atol=1e-7, rtol=0)  # passed through
    _compare(astronaut[:40, :48].astype(np.uint16) * 257, DENOISED, model=model, strength=1.7)
    batch = (rng.random((3, 29, 31, 3)) * 0.3).astype(np.float32)
    _compare(batch, DENOISED, model=model, strength=0.5)
    _compare(batch.astype(np.float16), DENOISED, model=model)


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
@pytest.mark.parametrize("denoise", [0, 1.0])
def test_tiled(model, denoise, astronaut):
    # tiles of 40 on 171 x 171: inner and edge tiles, each with the pipeline's halo
    fused = _compare(astronaut, _tol(denoise), model=model, tile_size=40, denoise=denoise)
    whole = skdce.enhance(astronaut, model=model, providers="cpu", fused=True, tile_size=None, denoise=denoise)
    np.testing.assert_allclose(fused, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 3), (5, 1, 3), (3, 9, 1)])
def test_tiny_images(shape):
    """Axes shorter than the box radius: the graph's reflection matches scipy's."""
    rng = np.random.default_rng(3)
    image = (rng.random(shape) * 0.3).astype(np.float32)
    for model in MODELS:
        _compare(image, DENOISED, model=model)


@pytest.mark.skipif(not (LOL / "val.txt").is_file(), reason="LOL data not found at ../shared/data/lol")
@pytest.mark.slow
def test_lol_images():
    """Against a float64 evaluation of the pipeline: the fused graph is no further from it than the host path.

    700.png has pixels where the curve does not amplify (noise map 0) beside
    ones where it does: there the guided filter divides by window variances
    near its 1e-12 regulariser, below float32 resolution, and both float32
    evaluations differ from float64 by 1e-2 to 2e-2 at a few dozen pixels
    (the host path: 0.013 at 13 pixels; the fused graph: 0.019 at 22), so the
    maximum there is bounded by that size, not by the host path's.
    """
    from skimage import io

    names = (LOL / "val.txt").read_text().split()
    for name in [names[0]] + (["700.png"] if "700.png" in names else []):
        image = io.imread(LOL / "low" / name)[..., :3]
        for model in MODELS:
            ref = skdce.enhance(image / 255.0, model=model, providers="cpu")  # float64 curves and denoiser
            err = {}
            for fused in (False, True):
                out = skdce.enhance(image, model=model, providers="cpu", fused=fused)
                err[fused] = np.abs(out - ref)
            assert err[True].max() <= max(1.5 * err[False].max(), DENOISED[0], DEGENERATE[0]), (name, model)
            assert np.sum(err[True] > 1e-3) <= max(2 * np.sum(err[False] > 1e-3), DEGENERATE[1]), (name, model)
            assert err[True].mean() <= max(1.5 * err[False].mean(), DENOISED[1]), (name, model)


def test_fp16_close():
    rng = np.random.default_rng(4)
    image = (rng.random((32, 40, 3)) * 0.3).astype(np.float32)
    for model in ("zero-dce", "zero-dce++"):
        ref = skdce.enhance(image, model=model, providers="cpu", fused=True)
        half = skdce.enhance(image, model=model, providers="cpu", fused=True, precision="fp16")
        assert np.abs(half - ref).max() < 2e-2


def test_graph_io():
    info = skdce.get_model("zero-dce")
    model = build_fused(info.path, n_color=3, dtype="uint8", denoise=True)
    assert [i.name for i in model.graph.input] == ["image", "context_cols0", "context_rows0", "context_wy0",
                                                  "context_cols1", "context_rows1", "context_wy1", "strength", "noise"]
    assert [o.name for o in model.graph.output] == ["enhanced"]
    shared = build_fused(skdce.get_model("zero-dce++").path, shared=True, n_color=1, denoise=False)
    assert [i.name for i in shared.graph.input] == ["image", "small", "alpha_scale", "small_context", "strength",
                                                    "up_rows", "up_wy", "up_cols", "up_wx"]


def test_errors():
    image = np.full((8, 8, 3), 0.1)
    with pytest.raises(ValueError, match="fused=True computes in float32"):
        skdce.enhance(image, model="zero-dce", providers="cpu", fused=True)
    with pytest.raises(ValueError, match="applies to the fused graph"):
        skdce.enhance(image.astype(np.float32), model="zero-dce", providers="cpu", precision="fp16")
    with pytest.raises(ValueError, match="precision='bf16' must be one of"):
        skdce.enhance(image, model="zero-dce", providers="cpu", precision="bf16")
    for bad in ("yes", 1):
        with pytest.raises(TypeError, match=rf"fused={bad!r} \({type(bad).__name__}\) must be True or False; or None"):
            skdce.enhance(image, model="zero-dce", providers="cpu", fused=bad)
    if "zero-dce-int8" in MODELS:
        with pytest.raises(ValueError, match="is quantised"):
            skdce.enhance(image.astype(np.float32), model="zero-dce-int8", providers="cpu", fused=True,
                          precision="fp16")
    # float64 with fused=None stays on the host path: float64 out
    assert skdce.enhance(image, model="zero-dce", providers="cpu").dtype == np.float64


def test_default_wiring(monkeypatch, astronaut):
    """fused=None: the host path where the network runs on the CPU, the fused graph where it runs on CUDA."""
    from skdce.engine import runtime as _runtime

    img = astronaut[:48, :64]
    host = skdce.enhance(img, model="zero-dce", providers="cpu", fused=False)
    fused = skdce.enhance(img, model="zero-dce", providers="cpu", fused=True)
    assert not np.array_equal(host, fused)  # the denoiser's roundings tell the two paths apart
    np.testing.assert_array_equal(skdce.enhance(img, model="zero-dce", providers="cpu"), host)
    monkeypatch.setattr(_runtime.Session, "on_gpu", property(lambda self: True))  # as a CUDA session reports
    np.testing.assert_array_equal(skdce.enhance(img, model="zero-dce", providers="cpu"), fused)
    # float64 stays on the host path (float64 arithmetic) even there
    assert skdce.enhance(img / 255.0, model="zero-dce", providers="cpu").dtype == np.float64


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_user_model_without_context(tmp_path, model):
    """A user network with the image as its only input (its context made inside it)."""
    import onnx
    from onnx import helper

    proto = onnx.load(str(skdce.get_model(model).path))
    context = [i for i in proto.graph.input if i.name == "context"][0]
    proto.graph.input.remove(context)
    proto.graph.node.insert(0, helper.make_node("ReduceMean", ["image"], ["context"], axes=[1], keepdims=1))
    path = tmp_path / "one_input.onnx"
    onnx.save(proto, str(path))
    rng = np.random.default_rng(5)
    _compare((rng.random((30, 41, 3)) * 0.3).astype(np.float32), DENOISED, model=str(path))


def test_auto_exposure_reads_white_as_the_host():
    from .test_tone import lamp_scene

    img = lamp_scene()  # held by its white area (tests/test_tone.py): both paths keep the curves' exposure
    _compare(img, DENOISED)
    np.testing.assert_allclose(skdce.enhance(img, providers="cpu", fused=True),
                               skdce.enhance(img, providers="cpu", fused=True, exposure="model"), atol=1e-6, rtol=0)
    _compare(lamp_scene("half"), DENOISED)  # half the stops: the 512-pixel copy's reading, not the 64-pixel one's
