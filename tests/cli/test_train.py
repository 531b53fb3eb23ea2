"""``skdce train`` and ``skdce export`` (skdce/cli/train.py): train, resume, export, use."""

import json

import pytest
from click.testing import CliRunner

from skdce.cli import main
from skdce.io import read_image, write_image

from .._helpers import dark, invoke


def test_train_resume_export_and_use(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    data = tmp_path / "low"
    data.mkdir()
    for i in range(4):
        write_image(data / f"{i}.png", dark((32, 32, 3)))
    config = tmp_path / "tiny.toml"
    config.write_text('architecture = "zero-dce"\ndata_dir = "low"\nimage_size = 32\nbatch_size = 2\nepochs = 1\n'
                      'threads = 1\n')
    run = tmp_path / "run"
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stderr and (run / "checkpoint.pt").is_file()
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0 and f"resuming from {run / 'checkpoint.pt'}" in result.stderr
    assert "nothing to train" in result.stderr and "trained 1 epoch" not in result.stderr  # said 'trained 1 epochs'
    assert "already holds all 1 epochs" in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 2)  # train longer
    assert result.exit_code == 0 and "epoch 2/2" in result.stderr and "epoch 1/" not in result.stderr
    assert "trained 1 epoch in" in result.stderr and "(2 in all)" in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 1)  # said 'already holds all 1 epochs'
    assert result.exit_code == 0 and "already holds 2 epochs, more than the 1 asked; it is kept" in result.stderr
    assert json.loads((run / "config.json").read_text())["epochs"] == 2  # was rewritten to 1
    result = invoke("train", config, "--run-dir", run, "--epochs", 2, "--batch-size", 4)
    assert result.exit_code == 1 and "different configuration (batch_size: 2 there, 4 now); use a new run" \
        in result.output, result.output

    model = tmp_path / "tiny.onnx"
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 0, result.output
    assert "iterations    8" in result.output and model.is_file()
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 1 and "exists; pass --overwrite" in result.output

    facts = json.loads(invoke("models", model, "--json").stdout)
    assert facts[-1]["bundled"] is False and facts[-1]["file"] == str(model)
    assert facts[-1]["license"] is None  # the user's own weights: skdce's licence is not claimed for them
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


def test_train_and_export_write_faults_are_messages(tmp_path):
    """A file in the way of the run folder or of the model's folder: one line, no traceback."""
    pytest.importorskip("torch")
    (tmp_path / "file").write_text("in the way")
    config = tmp_path / "tiny.toml"
    config.write_text('architecture = "zero-dce"\ndata_dir = "low"\nimage_size = 32\nbatch_size = 2\nepochs = 1\n')
    (tmp_path / "low").mkdir()
    for i in range(2):
        write_image(tmp_path / "low" / f"{i}.png", dark((32, 32, 3)))
    result = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "file" / "run")])
    assert result.exit_code == 1 and "a file is in the way of a folder on this path" in result.output, result.output
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"not read before the output is checked")
    result = CliRunner().invoke(main, ["export", str(ckpt), "-o", str(tmp_path / "file" / "m.onnx")])
    assert result.exit_code == 1 and "Traceback" not in result.output


class Unpicklable:
    """Not among torch's safe globals: loading it would import and run code."""


def test_export_and_resume_refuse_torch_files_that_are_not_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"a": 1}, tmp_path / "dict.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    torch.save({"a": Unpicklable()}, tmp_path / "unsafe.pt")  # a class: code would run on load
    (tmp_path / "junk.pt").write_bytes(b"\xff\xd8 not a torch file")
    said = {"dict.pt": "not a skdce training checkpoint (it holds ['a'])", "tensor.pt": "(it holds Tensor)",
            "unsafe.pt": "holds Python objects besides tensors", "junk.pt": "is not a torch file skdce can read"}
    for name, message in said.items():
        result = CliRunner().invoke(main, ["export", str(tmp_path / name), "-o", str(tmp_path / "m.onnx")])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "weights_only=False" not in result.output and "weights_only` set to `False`" not in result.output
    config = tmp_path / "tiny.toml"
    config.write_text('architecture = "zero-dce"\ndata_dir = "low"\nimage_size = 32\nbatch_size = 2\nepochs = 1\n')
    (tmp_path / "low").mkdir()
    write_image(tmp_path / "low" / "0.png", dark((32, 32, 3)))
    (tmp_path / "run").mkdir()
    torch.save({"a": 1}, tmp_path / "run" / "checkpoint.pt")
    result = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1 and "not a skdce training checkpoint" in result.output, result.output


def test_export_refuses_hand_made_checkpoints_naming_the_file_and_the_reason(tmp_path):
    """They crashed with load_state_dict's RuntimeError, a KeyError, int()'s ValueError, or 'Expecting value'."""
    torch = pytest.importorskip("torch")
    from skdce.train import build_model

    pp = build_model("zero-dce++").state_dict()
    ok = '{"architecture": "zero-dce"}'
    payloads = {
        "empty.pt": ({}, ok, "[]", r"its weights do not fit its architecture 'zero-dce': missing 14 tensors"),
        "swapped.pt": (pp, ok, "[]", "its weights do not fit its architecture 'zero-dce': missing"),
        "noarch.pt": (pp, "{}", "[]", "its config has no 'architecture', not 'zero-dce' or 'zero-dce++'"),
        "badjson.pt": (pp, "{arch", "[]", "its config is not JSON: Expecting property name"),
        "badhist.pt": (pp, ok, "nope", "its history is not JSON: Expecting value"),
        "listcfg.pt": (pp, "[]", "[]", "its config is a list, not a JSON object"),
        "bignet.pt": (pp, '{"architecture": "zero-dce++", "net_size": "big"}', "[]",
                      "its config's net_size='big' (str) must be an integer >= 8"),
    }
    for name, (state, config, history, reason) in payloads.items():
        torch.save({"model": state, "config": config, "history": history}, tmp_path / name)
        result = CliRunner().invoke(main, ["export", str(tmp_path / name), "-o", str(tmp_path / "m.onnx")])
        said = f"{str(tmp_path / name)!r} is a torch file but not a skdce training checkpoint ({reason}"
        assert result.exit_code == 1 and said in result.output, (name, result.output)
        assert "Traceback" not in result.output and not (tmp_path / "m.onnx").exists()

    # a byte changed inside torch's zip: torch.load reads it without a word; its CRC says so
    torch.save({"model": {"w": torch.arange(4096.0)}, "config": ok, "history": "[]"}, tmp_path / "flip.pt")
    data = bytearray((tmp_path / "flip.pt").read_bytes())
    at = data.index(torch.arange(4096.0).numpy().tobytes()[400:420]) + 4
    data[at] ^= 0xFF
    (tmp_path / "flip.pt").write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["export", str(tmp_path / "flip.pt"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1 and "flip.pt' is corrupt (its part " in result.output, result.output
    assert "fails its checksum" in result.output


def test_export_into_a_missing_folder_says_so(tmp_path, monkeypatch):
    """It said "[Errno 2] No such file or directory: 'nodir/x/.m.onnx.719876bc.skdce-tmp'", the temporary file."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from skdce.train import build_model

    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"model": build_model("zero-dce").state_dict(), "config": '{"architecture": "zero-dce"}',
                "history": "[]"}, ckpt)
    out = tmp_path / "nodir" / "x" / "m.onnx"
    said = f"cannot write the model: the output folder {str(out.parent)!r} does not exist; create it first"
    result = CliRunner().invoke(main, ["export", str(ckpt), "-o", str(out)])
    assert result.exit_code == 1 and said in result.output and "skdce-tmp" not in result.output, result.output
    # the folder removed after the check: the temporary file's ENOENT says the same
    from pathlib import Path

    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: True if self == out.parent else real_exists(self))
    result = CliRunner().invoke(main, ["export", str(ckpt), "-o", str(out)])
    assert result.exit_code == 1 and said in result.output and "skdce-tmp" not in result.output, result.output
