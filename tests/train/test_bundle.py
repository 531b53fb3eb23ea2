"""skdce.train.export.bundle_model: a training checkpoint becomes a bundled model (ONNX file + manifest entry)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import skdce  # noqa: E402
from skdce.models import sha256_file  # noqa: E402
from skdce.train import train  # noqa: E402
from skdce.train.export import bundle_model, model_from_checkpoint  # noqa: E402


@pytest.fixture
def checkpoint(config, tmp_path):
    cfg = config(architecture="zero-dce++", epochs=1, net_size=16, black_point=0.5)
    train(cfg, tmp_path / "run")
    return tmp_path / "run" / "checkpoint.pt"


def test_bundle_writes_the_file_and_its_manifest_entry(checkpoint, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "manifest.json").write_text(json.dumps({"models": {"other": {"file": "other.onnx"}}}))

    entry = bundle_model(checkpoint, "tiny++", weights, config_file="tiny++.toml", train_wall_time_s=1.5)

    path = weights / "tiny++.onnx"
    manifest = json.loads((weights / "manifest.json").read_text())["models"]
    assert set(manifest) == {"other", "tiny++"}  # the other entries are kept
    assert manifest["tiny++"] == entry
    assert entry["sha256"] == sha256_file(path) and entry["license"] == "BSD-3-Clause"
    assert entry["shared_curve"] is True and entry["net_size"] == 16 and entry["black_point"] == 0.5
    assert entry["config"] == "tiny++.toml" and entry["recipe"]["epochs"] == 1
    assert not {"data_dir", "train_list", "val_list"} & entry["recipe"].keys()  # no paths of this machine
    # the data split is the recipe's own, not a hard-coded one
    assert entry["data_split"] == {"train": f"train.txt of {tmp_path.name}/low", "validation": "val.txt"}
    assert set(entry["validation"]) >= {"val_exposure"}  # the run's last validation row by default

    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["skdce_name"] == "tiny++" and meta["skdce_license"] == "BSD-3-Clause"
    assert json.loads(meta["skdce_data_split"]) == entry["data_split"]


def test_bundled_model_runs_as_the_trained_network(checkpoint, tmp_path):
    entry = bundle_model(checkpoint, "tiny++", tmp_path, config_file="tiny++.toml",
                         data_split={"train": "mine", "validation": "none"})
    assert entry["data_split"] == {"train": "mine", "validation": "none"}
    info = skdce.get_model(tmp_path / "tiny++.onnx")
    assert info.net_size == 16 and info.black_point == 0.5

    model, _, _ = model_from_checkpoint(checkpoint)
    img = np.random.default_rng(0).random((24, 40, 3)).astype(np.float32) * 0.3
    got = skdce.enhance(img, model=info, denoise=0, exposure="model")
    with torch.no_grad():
        want, _ = model.enhance(torch.from_numpy(img).permute(2, 0, 1)[None], net_size=16, black_point=0.5)
    np.testing.assert_allclose(got, want[0].permute(1, 2, 0).numpy(), atol=2e-5, rtol=0)
