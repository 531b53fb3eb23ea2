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
