"""skdce.models: the registry of bundled weights (manifest.json), user .onnx records, checksums."""

import json
import shutil

import pytest

import skdce
from skdce import enhance
from skdce import models as models_mod


def test_model_registry():
    names = skdce.list_models()
    assert names[0] == skdce.models.DEFAULT_MODEL == "zero-dce-int8"
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

    assert default_model("cpu") == "zero-dce-int8"
    cpu_only = [p for p in onnxruntime.get_available_providers() if p != "CUDAExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider"] + cpu_only)
    assert default_model("auto") == default_model("cuda") == "zero-dce"  # no int8 convolutions on CUDA
    assert default_model("cpu") == "zero-dce-int8"


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
