"""``skdce models`` and ``skdce info`` (skdce/cli/info.py)."""

import json

import numpy as np

from .._helpers import invoke


def test_models_and_info():
    result = invoke("models", "--json")
    assert result.exit_code == 0
    facts = {f["name"]: f for f in json.loads(result.stdout)}
    assert facts["zero-dce"]["bundled"] and facts["zero-dce"]["iterations"] == 8
    assert len(facts["zero-dce"]["sha256"]) == 64
    assert "zero-dce  (bundled)" in invoke("models").output

    result = invoke("info", "--json", "--providers", "cpu")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["skdce"] == "0.2.0.dev0" and data["versions"]["numpy"] == np.__version__
    assert "CPUExecutionProvider" in data["providers_available"]
    assert data["providers_chosen"] == ["CPUExecutionProvider"] == data["providers_running"]
    assert data["cpu_count"] >= 1
    text = invoke("info").output
    assert "providers running" in text and "onnxruntime threads" in text


def _onnx(path, out_channels, in_shape=("N", 3, "H", "W")):
    """A tiny ONNX network with no skdce metadata: a 1x1 convolution of the image to ``out_channels`` maps."""
    import pytest

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, list(in_shape))
    out = helper.make_tensor_value_info("alphas", TensorProto.FLOAT, ["N", out_channels, None, None])
    size = [out_channels, in_shape[1], 1, 1]
    weights = helper.make_tensor("w", TensorProto.FLOAT, size, [0.01] * (size[0] * size[1]))
    graph = helper.make_graph([helper.make_node("Conv", ["image", "w"], ["alphas"])], "g", [inp], [out], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_models_says_what_a_user_file_is_and_lists_the_rest(tmp_path):
    """A file without skdce metadata is described by what it outputs (it was listed as zero-dce with 24 maps);
    a broken file or one that is no DCE-Net is said on stderr (exit 1) and the others are still listed."""
    three = _onnx(tmp_path / "three.onnx", 3)
    gray = _onnx(tmp_path / "gray.onnx", 3, in_shape=("N", 1, "H", "W"))  # a valid network, but no DCE-Net
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    result = invoke("models", three, "--json")
    assert result.exit_code == 0, result.output
    facts = {f["name"]: f for f in json.loads(result.stdout)}
    mine = facts[str(three)]
    assert mine["maps"] == 3 and mine["curve"] == "shared" and mine["architecture"].startswith("unknown")
    result = invoke("models", gray, tmp_path / "broken.onnx", three)
    assert result.exit_code == 1
    assert "zero-dce  (bundled)" in result.stdout and f"{three}  (user model)" in result.stdout
    assert f"skdce models: {gray}: " in result.stderr and "skdce needs (N, 3, H, W) RGB images" in result.stderr
    assert f"skdce models: {tmp_path / 'broken.onnx'}: " in result.stderr


def test_info_unknown_providers_is_a_usage_error():
    """--providers bogus: exit 2 with the message on stderr, as enhance says it (it was exit 1, on stdout)."""
    result = invoke("info", "--providers", "bogus")
    assert result.exit_code == 2 and result.stdout == ""
    assert "Invalid value for '--providers': 'bogus' is no provider name" in result.stderr
    # a provider this build lacks is what info diagnoses: the report, its error, exit 1
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        result = invoke("info", "--providers", "cuda", "--json")
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert "CUDAExecutionProvider" in report["error"] and report["providers_available"]
