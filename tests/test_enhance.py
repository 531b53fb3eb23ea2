"""skdce.enhance / estimate_curves with the bundled ONNX weights and the real onnxruntime."""

import threading

import numpy as np
import pytest

import skdce
import skdce.data
from skdce import apply_le_curves, enhance, estimate_curves

from ._helpers import curves_only, ort_error


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce-int8", "zero-dce++"])
def test_enhance_equals_curves_api(image, model):
    if model not in skdce.list_models():
        pytest.skip(f"{model} is not bundled")
    alphas = estimate_curves(image, model=model)
    info = skdce.get_model(model)
    assert alphas.shape == image.shape[:2] + (info.n_maps,)
    assert alphas.dtype == np.float32 and np.abs(alphas).max() <= 1
    out = enhance(image, model=curves_only(model), denoise=0)
    np.testing.assert_allclose(out, apply_le_curves(image, alphas), atol=1e-6, rtol=0)
    assert out.mean() > image.mean()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("block", [None, 40])
@pytest.mark.parametrize("denoise", [0, 1])
def test_compiled_and_numpy_kernels_agree(image, monkeypatch, kernel_calls, dtype, block, denoise):
    """Both models through the compiled kernel and through NumPy (``kernel_calls`` proves the C side ran).

    Zero-DCE++ without denoising has its maps interpolated inside the kernel
    (float32 output); its box downscaling runs in C too.
    """
    from skdce.engine import workers as _workers
    from skdce.engine.stages import boxes, curve

    if block is not None:  # blocks of a few pixels: rows split into pieces
        monkeypatch.setattr(_workers, "BLOCK", block)
    rgba = np.concatenate([image, np.linspace(0, 1, image.shape[1], dtype=np.float32)[None, :, None]
                           .repeat(image.shape[0], 0)], axis=-1)
    img = (rgba * np.iinfo(dtype).max).round().astype(dtype) if np.dtype(dtype).kind == "u" else rgba.astype(dtype)
    for model in ("zero-dce", "zero-dce++"):
        kernel_calls.clear()
        compiled = enhance(img, model=model, scale_factor=4 if model == "zero-dce++" else None, denoise=denoise)
        assert kernel_calls["le_curves"] > 0, model
        assert model != "zero-dce++" or kernel_calls["box_mean"] > 0
        with monkeypatch.context() as m:
            m.setattr(curve, "_kernels", None)
            m.setattr(boxes, "_kernels", None)
            numpy = enhance(img, model=model, scale_factor=4 if model == "zero-dce++" else None, denoise=denoise)
        atol = 1e-12 if dtype == np.float64 else 1e-5 if np.dtype(dtype).kind == "u" else 1e-6
        np.testing.assert_allclose(compiled, numpy, atol=atol, rtol=0, err_msg=model)
        np.testing.assert_array_equal(compiled[..., 3], numpy[..., 3])


@pytest.mark.parametrize("h, w, tile", [(1, 1, 16), (17, 33, 16), (61, 47, 20), (100, 37, 32)])
def test_tiled_equals_untiled(h, w, tile):
    rng = np.random.default_rng(h + w)
    img = (rng.random((h, w, 3)) * 0.3).astype(np.float32)
    whole = estimate_curves(img, tile_size=None)
    tiled = estimate_curves(img, tile_size=tile)
    np.testing.assert_allclose(tiled, whole, atol=1e-6, rtol=0)
    np.testing.assert_allclose(enhance(img, tile_size=tile), enhance(img, tile_size=None), atol=1e-6, rtol=0)


def test_strength(image):
    np.testing.assert_array_equal(enhance(image, strength=0.0, denoise=0), image)
    m = curves_only(skdce.models.DEFAULT_MODEL)
    a = estimate_curves(image, model=m)
    np.testing.assert_allclose(enhance(image, model=m, strength=0.5, denoise=0), apply_le_curves(image, 0.5 * a),
                               atol=1e-6)
    np.testing.assert_allclose(enhance(image, model=m, strength=2.0, denoise=None),
                               apply_le_curves(image, np.clip(2 * a, -1, 1)), atol=1e-6)
    dark = skdce.data.low_light_sample("chelsea")  # a photo: the fixture is noise, which auto exposure keeps dark
    means = [enhance(dark, strength=s).mean() for s in (0.0, 0.5, 1.0)]
    assert means[0] < means[1] < means[2]


@pytest.mark.parametrize("strength, exc, match", [
    (-0.1, ValueError, r"strength=-0.1 is out of range: strength must be a real number in \[0, 2\]; 0 leaves"),
    (3, ValueError, "out of range"),
    ("1", TypeError, r"strength='1' \(str\) must be a real number in \[0, 2\]"),
    (True, TypeError, r"strength=True \(bool\) must be a real number"),
    (np.nan, ValueError, r"strength=nan is not finite: strength must be a real number in \[0, 2\]"),
])
def test_bad_strength(image, strength, exc, match):
    with pytest.raises(exc, match=match):
        enhance(image, strength=strength)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float32, np.float64])
def test_dtypes(image, dtype):
    if np.dtype(dtype).kind == "u":
        top = np.iinfo(dtype).max
        img = np.round(image * top).astype(dtype)
        ref = img.astype(np.float64) / top
    else:
        img = image.astype(dtype)
        ref = img.astype(np.float64)
    out = enhance(img)
    assert out.dtype == (np.float64 if dtype == np.float64 else np.float32)
    np.testing.assert_allclose(out, enhance(ref.astype(np.float32)), atol=2e-5)


def test_layouts(image):
    ref = enhance(image)
    np.testing.assert_allclose(np.moveaxis(enhance(np.moveaxis(image, -1, 0), channel_axis=0), 0, -1), ref, atol=1e-6)
    batch = np.stack([image, image[::-1].copy()])
    out = enhance(batch)
    np.testing.assert_allclose(out[0], ref, atol=1e-6)
    np.testing.assert_allclose(out[1], enhance(image[::-1].copy()), atol=1e-6)
    nchw = np.ascontiguousarray(np.moveaxis(batch, -1, 1))
    np.testing.assert_allclose(np.moveaxis(enhance(nchw, channel_axis=1), 1, -1), out, atol=1e-6)


def test_rgba_and_gray(image):
    rng = np.random.default_rng(1)
    alpha = rng.random(image.shape[:2] + (1,)).astype(np.float32)
    rgba = np.concatenate([image, alpha], axis=-1)
    out = enhance(rgba)
    np.testing.assert_array_equal(out[..., 3], alpha[..., 0])
    np.testing.assert_allclose(out[..., :3], enhance(image), atol=1e-6)
    gray = image.mean(axis=-1)
    g = enhance(gray, channel_axis=None)
    assert g.shape == gray.shape
    a = estimate_curves(gray, channel_axis=None, model="zero-dce-int8")
    assert a.shape == gray.shape + (8,)
    np.testing.assert_allclose(enhance(gray, channel_axis=None, denoise=0, model="zero-dce-int8"),
                               apply_le_curves(gray, a, channel_axis=None), atol=1e-6)
    m = curves_only(skdce.models.DEFAULT_MODEL)  # a shared curve: one map for gray
    a = estimate_curves(gray, channel_axis=None, model=m)
    assert a.shape == gray.shape
    np.testing.assert_allclose(enhance(gray, channel_axis=None, denoise=0, model=m),
                               apply_le_curves(gray, a, channel_axis=None), atol=1e-6)
    np.testing.assert_allclose(enhance(gray[..., None])[..., 0], g, atol=1e-6)
    la = np.stack([gray, alpha[..., 0]], axis=-1)
    np.testing.assert_array_equal(enhance(la)[..., 1], alpha[..., 0])


def test_threads_agree(image):
    rng = np.random.default_rng(3)
    images = [(rng.random((40 + i, 50, 3)) * 0.3).astype(np.float32) for i in range(6)]
    expected = [enhance(im) for im in images]
    results = [None] * (len(images) * 3)
    errors = []

    def work(i):
        try:
            results[i] = enhance(images[i % len(images)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r, expected[i % len(images)])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"model": "zero-dce-xl"}, ValueError, "model='zero-dce-xl' is neither a bundled model"),
        ({"model": "missing.onnx"}, FileNotFoundError, "model file 'missing.onnx' does not exist"),
        ({"model": 3}, TypeError, "model must be a model name or a path"),
        ({"providers": "tpu"}, ValueError, "providers='tpu' is unknown; use 'auto', 'cpu', 'cuda'"),
        ({"providers": ["FancyExecutionProvider"]}, ValueError, "provider 'FancyExecutionProvider' is not available"),
        ({"providers": [("cpu", "fast")]}, ValueError, "neither a provider name nor a \\(name, options dict\\) pair"),
        ({"tile_size": "big"}, TypeError, r"tile_size='big' \(str\) must be an integer >= 16; or 'auto'.*or None"),
        ({"tile_size": 8}, ValueError, "tile_size=8 is out of range: tile_size must be an integer >= 16"),
        ({"scale_factor": 4, "model": "zero-dce-int8"}, ValueError, "scale_factor=4 applies to shared-curve models"),
    ],
)
def test_bad_arguments(image, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        enhance(image, **kwargs)


@pytest.mark.parametrize(
    "image_arg, exc, match",
    [
        (np.zeros((0, 5, 3), np.float32), ValueError, "image is empty"),
        (np.full((4, 4, 3), 1.5, np.float32), ValueError, r"outside \[0, 1\]"),
        (np.full((4, 4, 3), np.nan, np.float32), ValueError, "contains NaN"),
        (np.zeros((4, 4, 5), np.float32), ValueError, "has 5 channels"),
        (np.zeros((4, 4, 3), np.complex64), TypeError, "not an image dtype"),
        (np.zeros((4, 4, 3), object), TypeError, "not an image dtype"),
    ],
)
def test_bad_images(image_arg, exc, match):
    with pytest.raises(exc, match=match):
        enhance(image_arg)


def _onnx_model(path, in_shape, out_channels):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, in_shape)
    out = helper.make_tensor_value_info("alphas", TensorProto.FLOAT, ["N", out_channels, "H", "W"])
    if out_channels == in_shape[1]:
        node = helper.make_node("Identity", ["image"], ["alphas"])
    else:
        const = helper.make_tensor("w", TensorProto.FLOAT, [out_channels, in_shape[1], 1, 1],
                                   [0.0] * (out_channels * in_shape[1]))
        node = helper.make_node("Conv", ["image", "w"], ["alphas"])
        graph = helper.make_graph([node], "g", [inp], [out], initializer=[const])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        return path
    graph = helper.make_graph([node], "g", [inp], [out])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_mismatched_models(tmp_path, image):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load ONNX model .*corrupt.onnx"):
        enhance(image, model=bad)
    rank3 = _onnx_model(tmp_path / "rank3.onnx", ["N", 3, "H"], 3)
    with pytest.raises(ValueError, match=r"takes input of shape \['N', 3, 'H'\]; skdce needs \(N, 3, H, W\)"):
        enhance(image, model=rank3)
    gray = _onnx_model(tmp_path / "gray.onnx", ["N", 1, "H", "W"], 1)
    with pytest.raises(ValueError, match="skdce needs \\(N, 3, H, W\\) RGB images"):
        enhance(image, model=gray)
    five = _onnx_model(tmp_path / "five.onnx", ["N", 3, "H", "W"], 5)
    with pytest.raises(ValueError, match="skdce needs alpha maps \\(N, 3k, H, W\\)"):
        enhance(image, model=five)
    # a valid user model without skdce metadata: its alphas are the image itself (one shared map)
    ident = _onnx_model(tmp_path / "identity.onnx", ["N", 3, "H", "W"], 3)
    info = skdce.get_model(ident)
    assert info.shared_curve is None and info.scale_factor == 1
    np.testing.assert_allclose(enhance(image, model=ident, denoise=0, exposure="model"), apply_le_curves(image, image),
                               atol=1e-6)
    zero3 = _onnx_model(tmp_path / "zero3.onnx", ["N", 3, "H", "W"], 6)
    with pytest.raises(ValueError, match="outputs 6 maps; expected 3"):
        enhance(image, model=zero3)


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, skdce; print(sorted(m for m in ('torch', 'onnxruntime', 'onnx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _FailingSession:
    def __init__(self, exc):
        self.exc = exc

    def run(self, *args, **kwargs):
        raise self.exc


@pytest.mark.parametrize("message", [
    "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. "
    "Name:'/conv1/Conv' Status Message: Failed to allocate memory for requested buffer of size 4294967296",
    "[ONNXRuntimeError] : 1 : FAIL : bad allocation",
    "BFCArena::AllocateRawInternal: Available memory of 0 is smaller than requested bytes of 1073741824 (arena)",
    "CUDA failure 2: out of memory ; GPU=0",
])
@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_allocation_failure_is_a_memory_error(image, monkeypatch, model, message):
    from skdce.engine.runtime import get_session

    session = get_session(skdce.get_model(model).path, "auto")
    monkeypatch.setattr(session, "session", _FailingSession(ort_error(message)))
    for call in (lambda: enhance(image, model=model), lambda: estimate_curves(image, model=model)):
        with pytest.raises(MemoryError, match=r"on a \d+x\d+ input needs more memory than is available; pass a "
                                              r"smaller tile_size= \(e\.g\. tile_size=256\), "
                                              r"or use model='zero-dce\+\+'"):
            call()


def test_other_runtime_errors_pass_through(image, monkeypatch):
    from skdce.engine.runtime import get_session

    session = get_session(skdce.get_model("zero-dce").path, "auto")
    monkeypatch.setattr(session, "session", _FailingSession(ort_error("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT")))
    with pytest.raises(Exception, match="INVALID_ARGUMENT") as info:
        enhance(image, model="zero-dce")
    assert not isinstance(info.value, MemoryError)


def test_numpy_memory_error_is_explained(image, monkeypatch):
    from skdce.engine import host as _enhance

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 37.3 GiB for an array with shape (100000, 100000) and data type float32")

    monkeypatch.setattr(_enhance, "enhance_tile", no_memory)
    with pytest.raises(MemoryError, match=r"the image of shape \(45, 67, 3\) needs more memory than is available; "
                                          r"pass a smaller tile_size=.*Unable to allocate 37.3 GiB"):
        enhance(image, model="zero-dce")


def test_a_result_too_large_says_so_at_once():
    """Smaller tiles do not shrink the result: the error says what does (and comes before the values are read)."""
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(2_000_000, 1_000_000, 3), strides=(0, 0, 0))
    with pytest.raises(MemoryError, match=r"the result, of shape \(2000000, 1000000, 3\) and dtype float32 "
                                          r"\(22351.7 GiB\), does not fit in memory; enhance a dask array"):
        enhance(huge)


def test_a_ragged_list_and_unknown_dask_chunks_are_named():
    with pytest.raises(ValueError, match=r"image cannot be made into an array \(.*\); pass an \(H, W, C\) array"):
        enhance([[[0.1, 0.1, 0.1]], [[0.1, 0.1]]])
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(np.full((8, 8, 3), 0.1, np.float32), chunks=4)
    unknown = lazy[lazy[:, 0, 0] > 0]
    with pytest.raises(ValueError, match=r"dask array of unknown chunk sizes .*compute_chunk_sizes\(\)"):
        enhance(unknown)


def test_auto_tiles_only_images_larger_than_a_tile(monkeypatch):
    """``tile_size="auto"`` (512 on the CPU): an image of at most 512 * 512 pixels is one tile, a larger one is
    tiled."""
    from skdce.engine import host as _enhance

    calls = []
    real = _enhance.estimate_tile
    monkeypatch.setattr(_enhance, "estimate_tile", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    rng = np.random.default_rng(0)
    for (h, w), tiles in (((400, 600), 1), ((256, 1024), 1), ((520, 520), 4)):
        img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        calls.clear()
        auto = enhance(img, model="zero-dce-int8")
        assert len(calls) == tiles, (h, w, calls)
        np.testing.assert_allclose(auto, enhance(img, tile_size=None, model="zero-dce-int8"), atol=1e-6, rtol=0)
    calls.clear()
    enhance(rng.integers(0, 60, (400, 600, 3), dtype=np.uint8), tile_size=512, model="zero-dce-int8")
    assert len(calls) == 2  # an explicit size is kept


def test_dark_quantised_image_is_still_denoised(rng):
    """A dark JPEG's flat 8-bit blocks hide their noise from the estimate (its median response is 0), yet the
    curves stretch the one-level steps between them: the filter is steered by at least the rounding."""
    levels = rng.integers(2, 5, (8, 12, 3))
    dark = np.repeat(np.repeat(levels, 8, axis=0), 8, axis=1).astype(np.uint8)

    def steps(out):  # the jumps across the block edges
        y = out.mean(axis=-1)
        return np.abs(np.diff(y, axis=1)[:, 7::8]).mean() + np.abs(np.diff(y, axis=0)[7::8]).mean()

    raw, filtered = enhance(dark, denoise=0), enhance(dark)
    assert raw.mean() > 5 * dark.mean() / 255  # the curves lift it, and its steps with it
    assert steps(filtered) < 0.7 * steps(raw)
    da = pytest.importorskip("dask.array")
    lazy = enhance(da.from_array(dark, chunks=(32, 40, 3))).compute()
    np.testing.assert_allclose(lazy, filtered, atol=2e-6, rtol=0)
    fused = enhance(dark, fused=True, providers="cpu")
    assert np.abs(fused.astype(np.float64) - filtered).max() < 2.5e-2
