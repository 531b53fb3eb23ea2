"""skdce.engine.runtime: ONNX Runtime providers, cached sessions, CUDA fallback and allocation failures."""

import numpy as np
import pytest

import skdce
from skdce import enhance

from ._helpers import ort_error


def test_session_is_cached():
    from skdce.engine.runtime import get_session

    info = skdce.get_model("zero-dce")
    assert get_session(info.path, "cpu") is get_session(info.path, "cpu")
    assert get_session(info.path, "cpu").providers[0] == "CPUExecutionProvider"


def test_cuda_missing_raises(image):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="'CUDAExecutionProvider' is not available.*skdce\\[gpu\\]"):
        enhance(image, providers="cuda")


def test_provider_options(image):
    from skdce.engine.runtime import get_session

    plain = enhance(image, model="zero-dce", providers="cpu")
    custom = [("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})]
    np.testing.assert_array_equal(enhance(image, model="zero-dce", providers=custom), plain)
    assert get_session(skdce.get_model("zero-dce").path, custom).providers == ("CPUExecutionProvider",)


def test_auto_falls_back_where_cuda_cannot_start(image, monkeypatch, caplog):
    """onnxruntime-gpu lists CUDA even without a usable GPU: "auto" then runs on the CPU, "cuda" raises."""
    import warnings

    import onnxruntime

    from skdce.engine import runtime as _runtime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA")
    cpu_only = onnxruntime.get_available_providers()
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider"] + cpu_only)
    monkeypatch.setattr(_runtime, "_sessions", {})
    (cuda, _) = _runtime.resolve_providers("cuda")
    assert cuda == ("CUDAExecutionProvider", tuple(sorted(_runtime.CUDA_DEFAULTS.items())))
    (custom, _) = _runtime.resolve_providers([("cuda", {"device_id": 1, "use_tf32": "1"})])
    assert dict(custom[1]) == {**_runtime.CUDA_DEFAULTS, "device_id": "1", "use_tf32": "1"}
    model = skdce.get_model("zero-dce")
    with warnings.catch_warnings():  # onnxruntime's own warning about the provider it cannot load
        warnings.simplefilter("ignore")
        with caplog.at_level("WARNING", logger="skdce"):
            out = enhance(image, model="zero-dce", providers="auto")
        assert _runtime.get_session(model.path, "auto").providers == ("CPUExecutionProvider",)
        assert "CUDAExecutionProvider could not start" in caplog.text
        with pytest.raises(ValueError, match="could not start CUDAExecutionProvider"):
            enhance(image, model="zero-dce", providers="cuda")
    monkeypatch.undo()
    np.testing.assert_array_equal(out, enhance(image, model="zero-dce", providers="cpu"))


def test_allocation_failure_while_loading_is_not_a_corrupt_file(tmp_path, monkeypatch):
    import onnxruntime

    from skdce.engine import runtime as _runtime

    def fail(*args, **kwargs):
        raise ort_error("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for initializer")

    monkeypatch.setattr(onnxruntime, "InferenceSession", fail)
    with pytest.raises(MemoryError, match="loading ONNX model .* needs more memory than is available") as info:
        _runtime.Session(skdce.get_model("zero-dce").path, _runtime.providers_of("cpu"), None)
    assert "cannot load" not in str(info.value)



def test_a_model_file_replaced_on_disk_is_loaded_again(tmp_path, image):
    """A zero-dce++ file replaced by a zero-dce one: the new metadata (net_size, shared curve) ran on the old,
    cached session, a result matching neither model."""
    import shutil

    from skdce.engine.runtime import get_session

    swap, fresh = tmp_path / "swap.onnx", tmp_path / "fresh.onnx"
    shutil.copyfile(skdce.get_model("zero-dce++").path, swap)
    first = enhance(image, model=swap, providers="cpu")
    np.testing.assert_array_equal(first, enhance(image, model="zero-dce++", providers="cpu"))
    old = get_session(swap, "cpu")
    shutil.copyfile(skdce.get_model("zero-dce").path, swap)
    shutil.copyfile(swap, fresh)
    np.testing.assert_array_equal(enhance(image, model=swap, providers="cpu"),
                                  enhance(image, model=fresh, providers="cpu"))
    assert get_session(swap, "cpu") is not old and get_session(swap, "cpu").n_maps == 24
    assert get_session(swap, "cpu") is get_session(swap, "cpu")  # still one session per file version


def test_a_model_file_replaced_on_disk_is_built_again_for_the_fused_graph(tmp_path, image):
    """The fused graph is cached per version of the file too (it was cached by path and the model's facts: the
    old graph ran for other weights of the same kind)."""
    import shutil

    swap, fresh = tmp_path / "swap.onnx", tmp_path / "fresh.onnx"
    shutil.copyfile(skdce.get_model("zero-dce").path, swap)
    enhance(image, model=swap, providers="cpu", fused=True)
    shutil.copyfile(skdce.get_model("zero-dce-int8").path, swap)  # 24 maps too, other weights
    shutil.copyfile(swap, fresh)
    np.testing.assert_array_equal(enhance(image, model=swap, providers="cpu", fused=True),
                                  enhance(image, model=fresh, providers="cpu", fused=True))
    from skdce._base import providers
    from skdce.engine import fused, runtime

    for cache in (fused._models, fused._sessions, runtime._sessions, providers._metadata):  # one version kept
        assert len({key[0] for key in cache if key[0][0] == str(swap.resolve())}) == 1


def _graph(path, in_type="FLOAT", in_shape=("N", 3, "H", "W"), stride=None):
    """A tiny ONNX curve estimator: 3 alpha maps, the image (cast to float) or a 1x1 convolution of it."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image", getattr(TensorProto, in_type), list(in_shape))
    out = helper.make_tensor_value_info("alphas", TensorProto.FLOAT, ["N", 3, None, None])
    if stride:
        inits = [helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], np.eye(3).ravel().tolist())]
        nodes = [helper.make_node("Conv", ["image", "w"], ["alphas"], strides=[stride, stride])]
    else:
        inits, nodes = [], [helper.make_node("Cast", ["image"], ["alphas"], to=TensorProto.FLOAT)]
    model = helper.make_model(helper.make_graph(nodes, "g", [inp], [out], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("kw, match", [
    ({"in_type": "DOUBLE"}, r"takes tensor\(double\) as its input 'image'; skdce feeds float32"),
    ({"in_type": "UINT8"}, r"takes tensor\(uint8\) as its input 'image'; .*Re-export it with float32 inputs"),
    ({"in_shape": (1, 3, 32, 32)}, r"takes input of shape \[1, 3, 32, 32\], a fixed height and width; skdce needs "
                                   r"\(N, 3, H, W\) with free H and W"),
    ({"in_shape": ("N", 3, 32, "W")}, r"takes input of shape \['N', 3, 32, 'W'\], a fixed height and width"),
])
def test_user_models_skdce_cannot_feed_are_refused_on_load(tmp_path, image, kw, match):
    """They failed deep in ONNX Runtime ('Unexpected input data type', 'Got invalid dimensions')."""
    path = _graph(tmp_path / "odd.onnx", **kw)
    with pytest.raises(ValueError, match=r"ONNX model '.*odd.onnx' " + match):
        enhance(image, model=path)


def test_a_model_whose_maps_are_not_the_input_size_is_an_error(tmp_path, image):
    """A stride-2 convolution's half-size maps failed in NumPy's broadcasting ('could not broadcast')."""
    path = _graph(tmp_path / "half.onnx", stride=2)
    with pytest.raises(ValueError, match=r"ONNX model '.*half.onnx' output shape \(1, 3, 23, 34\) for an input of "
                                         r"shape \(1, 3, 45, 67\); skdce needs alpha maps \(N, 3k, H, W\) of the "
                                         r"input's height and width"):
        enhance(image, model=path)
    with pytest.raises(ValueError, match="half.onnx' output shape"):
        skdce.estimate_curves(image, model=path)
    ok = _graph(tmp_path / "ok.onnx", stride=1)
    assert enhance(image, model=ok).shape == image.shape
