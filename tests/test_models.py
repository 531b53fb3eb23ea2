"""skdce.models: the registry of bundled weights (manifest.json), user .onnx records, checksums."""

import hashlib
import json
import shutil

import numpy as np
import pytest

import skdce
from skdce import enhance
from skdce import models as models_mod


def test_model_registry():
    names = skdce.list_models()
    assert names[0] == skdce.models.DEFAULT_MODEL == "zero-dce++"
    assert set(names) == {"zero-dce", "zero-dce-int8", "zero-dce++"}
    int8 = skdce.get_model("zero-dce-int8")
    assert int8.precision == "int8" and int8.n_maps == 24
    info = skdce.get_model("zero-dce")
    assert info.bundled and info.path.is_file() and len(info.sha256) == 64
    assert info.iterations == 8 and not info.shared_curve and info.scale_factor == 1
    assert info.recipe["config"].endswith(".toml")
    # a user path to the same file works the same way
    user = skdce.get_model(str(info.path))
    assert not user.bundled and user.n_maps == 24


@pytest.mark.parametrize("name", ["zero-dce", "zero-dce-int8", "zero-dce++"])
def test_bundled_and_user_records_share_one_schema(name):
    """A bundled model and a user path to the same file give the same record: same facts, same recipe schema."""
    import dataclasses

    bundled = skdce.get_model(name)
    user = skdce.get_model(bundled.path)
    assert type(user) is type(bundled)
    for field in dataclasses.fields(bundled):
        if field.name not in ("name", "sha256", "bundled", "recipe"):
            assert getattr(user, field.name) == getattr(bundled, field.name), field.name
    assert user.precision == ("int8" if name.endswith("int8") else "fp32")  # a user int8 file said fp32
    assert not any(key.startswith("skdce_") for key in user.recipe)
    for key in ("architecture", "license", "config", "validation", "recipe", "iterations", "shared_curve"):
        assert type(user.recipe[key]) is type(bundled.recipe[key]), key
    assert user.recipe["architecture"] == bundled.recipe["architecture"]
    assert user.recipe["validation"]["images"] == bundled.recipe["validation"]["images"]


def test_default_model_follows_the_provider(monkeypatch):
    import onnxruntime

    from skdce.models import default_model

    assert default_model("cpu") == "zero-dce++"
    cpu_only = [p for p in onnxruntime.get_available_providers() if p != "CUDAExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider"] + cpu_only)
    assert default_model("auto") == default_model("cuda") == skdce.models.GPU_DEFAULT_MODEL == "zero-dce++"
    assert default_model("cpu") == "zero-dce++"


def test_sha256_mismatch(tmp_path, monkeypatch, image):
    src = models_mod.weights_dir()
    shutil.copy(src / "zero-dce.onnx", tmp_path / "zero-dce.onnx")
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["models"] = {"zero-dce": dict(manifest["models"]["zero-dce"], sha256="0" * 64)}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(models_mod, "weights_dir", lambda: tmp_path)
    models_mod._manifest.cache_clear()
    try:
        with pytest.raises(ValueError, match="has sha256 [0-9a-f]{64}, but the manifest expects 0000.*Reinstall skdce"):
            enhance(image, model="zero-dce")
    finally:
        models_mod._manifest.cache_clear()


def test_manifest_entries_resolve_to_their_files():
    """Every manifest entry names a bundled file whose sha256 is the one recorded (hashed here, not by skdce)."""
    manifest = json.loads((models_mod.weights_dir() / "manifest.json").read_text())["models"]
    assert sorted(manifest) == sorted(skdce.list_models())
    for name, entry in manifest.items():
        info = skdce.get_model(name)
        assert info.path == models_mod.weights_dir() / entry["file"] and info.path.is_file(), name
        assert info.sha256 == entry["sha256"] == hashlib.sha256(info.path.read_bytes()).hexdigest(), name
        assert models_mod.sha256_file(info.path) == entry["sha256"]
        models_mod.verify(info)  # does not raise
        config = entry.get("config")
        if config is not None:  # the recipe a bundled model was trained with ships beside it
            assert (models_mod.weights_dir() / config).is_file(), (name, config)


def test_verify_rechecks_a_replaced_file(tmp_path):
    """verify() hashes a bundled file once per process, and refuses one whose bytes differ from the manifest's."""
    info = skdce.get_model("zero-dce")
    copy = tmp_path / "zero-dce.onnx"
    copy.write_bytes(info.path.read_bytes()[:-1] + b"\0")
    bad = models_mod.ModelInfo(name="zero-dce", path=copy, sha256=info.sha256, bundled=True)
    with pytest.raises(ValueError, match=r"model file .*zero-dce.onnx' has sha256 [0-9a-f]{64}, but the manifest "
                                         r"expects " + info.sha256):
        models_mod.verify(bad)
    models_mod.verify(models_mod.ModelInfo(name="mine", path=copy))  # no sha256 recorded: nothing to check


@pytest.mark.parametrize("model, exc, match", [
    ("", ValueError, r"model='' is empty; pass a bundled model name \(zero-dce\+\+, "),
    ("  ", ValueError, "is empty"),
    (None, TypeError, "model must be a model name or a path to an .onnx file, got NoneType"),
])
def test_bad_model_names(model, exc, match):
    with pytest.raises(exc, match=match):
        skdce.get_model(model)


def test_folder_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder; pass the path of an .onnx file in it"):
        skdce.get_model(tmp_path)
    (tmp_path / "named.onnx").mkdir()  # a folder named like a model file
    with pytest.raises(ValueError, match=r"named.onnx' is a folder"):
        skdce.get_model(tmp_path / "named.onnx")


def _user_model(path, metadata=None, fill=None):
    """A tiny user .onnx file: its 3 curve maps are the image (or the constant ``fill``), with ``skdce_*`` metadata."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    out = helper.make_tensor_value_info("alphas", TensorProto.FLOAT, ["N", 3, "H", "W"])
    if fill is None:
        nodes, inits = [helper.make_node("Identity", ["image"], ["alphas"])], []
    else:
        inits = [helper.make_tensor("c", TensorProto.FLOAT, [1], [fill])]
        nodes = [helper.make_node("Mul", ["image", "c"], ["alphas"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [inp], [out], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=f"skdce_{key}", value=value)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    "key, value",
    [("iterations", "1000000000"), ("iterations", "0"), ("iterations", "-3"), ("iterations", "2.5"),
     ("iterations", "many"), ("iterations", "true"), ("scale_factor", "-1"), ("scale_factor", "0"),
     ("scale_factor", "NaN"), ("scale_factor", "1e400"), ("scale_factor", "1e9"), ("shared_curve", '"yes"'),
     ("shared_curve", "7")],
)
def test_absurd_metadata_is_refused_before_any_work(tmp_path, key, value):
    """1e9 iterations ran for many minutes; negative ones reached the kernel as an internal error."""
    path = _user_model(tmp_path / "odd.onnx", {"shared_curve": "true", key: value})
    with pytest.raises(ValueError, match=rf"odd.onnx': skdce_{key}=.* must be .*; the file is broken .*re-export it"):
        skdce.get_model(path)


def test_a_model_that_outputs_nan_is_an_error_not_black_pixels(tmp_path, image):
    path = _user_model(tmp_path / "nan.onnx", {"shared_curve": "true"}, fill=float("nan"))
    with pytest.raises(ValueError, match="nan.onnx' output NaN or infinite curve parameters"):
        enhance(image, model=path)
    with pytest.raises(ValueError, match="output NaN or infinite"):
        skdce.estimate_curves(image, model=path)
    with pytest.raises(ValueError, match="nan.onnx' output NaN or infinite pixels"):
        enhance(image, model=path, fused=True, exposure="model")  # the whole pipeline in one graph (the CUDA default)
    ok = _user_model(tmp_path / "ok.onnx", fill=0.5)
    assert np.isfinite(enhance(image, model=ok)).all()


def test_cli_refuses_broken_models_with_a_message(tmp_path):
    import subprocess
    import sys

    from skdce.io import read_image, write_image

    src = write_image(tmp_path / "a.png", (np.arange(48).reshape(4, 4, 3) % 40).astype(np.uint8))
    odd = _user_model(tmp_path / "odd.onnx", {"iterations": "1000000000", "shared_curve": "true"})
    nan = _user_model(tmp_path / "nan.onnx", fill=float("nan"))
    cmd = [sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o", str(tmp_path / "out"), "--model"]
    result = subprocess.run(cmd + [str(odd)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "skdce_iterations=1000000000 is out of range" in result.stderr
    result = subprocess.run(cmd + [str(nan)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "output NaN or infinite" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "a.png").exists()
    assert read_image(src)[0].shape == (4, 4, 3)


def test_scale_factor_for_a_shared_model_without_metadata(tmp_path, image):
    """A user file with 3 maps and no skdce_shared_curve is a shared-curve model (its outputs say so), but
    scale_factor=4 was refused as if it estimated at full resolution."""
    path = _user_model(tmp_path / "plain.onnx", fill=0.5)
    assert enhance(image, model=path, scale_factor=4).shape == image.shape
    with pytest.raises(ValueError, match="scale_factor=4 applies to shared-curve models"):
        enhance(image, model="zero-dce-int8", scale_factor=4)  # 24 maps: full resolution
