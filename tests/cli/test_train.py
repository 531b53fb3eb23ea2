"""``skdce train`` and ``skdce export`` (skdce/cli/train.py): train, resume, export, use."""

import json

import pytest

from skdce.io import read_image, write_image

from click.testing import CliRunner

from skdce.cli import main

from ._helpers import dark, invoke


def test_train_resume_export_and_use(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    data = tmp_path / "low"
    data.mkdir()
    for i in range(4):
        write_image(data / f"{i}.png", dark((32, 32, 3)))
    config = tmp_path / "tiny.toml"
    config.write_text('architecture = "zero-dce"\ndata_dir = "low"\nimage_size = 32\nbatch_size = 2\nepochs = 1\nthreads = 1\n')
    run = tmp_path / "run"
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stderr and (run / "checkpoint.pt").is_file()
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0 and f"resuming from {run / 'checkpoint.pt'}" in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 2)  # train longer
    assert result.exit_code == 0 and "epoch 2/2" in result.stderr and "epoch 1/" not in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 2, "--batch-size", 4)
    assert result.exit_code == 1 and "different configuration" in result.output

    model = tmp_path / "tiny.onnx"
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 0, result.output
    assert "iterations    8" in result.output and model.is_file()
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 1 and "exists; pass --overwrite" in result.output

    facts = json.loads(invoke("models", model, "--json").stdout)
    assert facts[-1]["bundled"] is False and facts[-1]["file"] == str(model)
    result = invoke("enhance", data / "0.png", "-o", tmp_path / "out", "--model", model)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out" / "0.png")[0].shape == (32, 32, 3)


def test_export_never_replaces_its_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"a checkpoint")
    (tmp_path / "link.onnx").symlink_to(ckpt)
    for out in (ckpt, tmp_path / "link.onnx"):
        result = CliRunner().invoke(main, ["export", str(ckpt), "-o", str(out), "--overwrite"])
        assert result.exit_code == 2 and "is the checkpoint being exported" in result.output
    assert ckpt.read_bytes() == b"a checkpoint"
