"""skdce.train.trainer: real torch training on tiny generated images: losses fall, runs are seeded, resume is exact."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skdce.train import train  # noqa: E402


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_losses_fall_and_seed_reproduces(config, tmp_path):
    cfg = config(epochs=4)
    m1 = train(cfg, tmp_path / "a")
    m2 = train(cfg, tmp_path / "b")
    for k, v in state(m1).items():
        assert torch.equal(v, state(m2)[k]), k
    log = json.loads((tmp_path / "a" / "log.json").read_text())
    assert len(log) == 4
    assert log[-1]["train_total"] < log[0]["train_total"]
    assert "val_exposure" in log[-1]
    assert (tmp_path / "a" / "log.csv").read_text().startswith("epoch,train_total")
    m3 = train(config(epochs=4, seed=4), tmp_path / "c")
    assert not torch.equal(state(m3)["estimator.convs.0.conv.weight"], state(m1)["estimator.convs.0.conv.weight"])


class Stop(Exception):
    pass


@pytest.mark.parametrize("arch, ema", [("zero-dce", 0.0), ("zero-dce++", 0.0), ("zero-dce", 0.9)])
def test_resume_is_exact(config, tmp_path, arch, ema):
    cfg = config(architecture=arch, scale_factor=2.0 if arch == "zero-dce++" else 1.0, ema=ema)
    full = train(cfg, tmp_path / "full")

    def interrupt(row):
        if row["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", on_epoch=interrupt)
    assert json.loads((tmp_path / "cut" / "log.json").read_text())[-1]["epoch"] == 1
    resumed = train(cfg, tmp_path / "cut")
    for k, v in state(full).items():
        assert torch.equal(v, state(resumed)[k]), k
    def losses(run):
        rows = json.loads((tmp_path / run / "log.json").read_text())
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert losses("cut") == losses("full")
    # a different recipe in the same folder is refused; more epochs are allowed
    with pytest.raises(ValueError, match="different configuration"):
        train(config(architecture=arch, lr=5e-4), tmp_path / "cut")
    train(config(architecture=arch, epochs=4, scale_factor=cfg.scale_factor, ema=ema), tmp_path / "cut")


def test_weight_average_and_epoch_snapshots(config, tmp_path):
    from skdce.train.export import model_from_checkpoint

    plain = train(config(epochs=2), tmp_path / "plain")
    averaged = train(config(epochs=2, ema=0.5, keep_epochs=True), tmp_path / "ema")
    ckpt = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=True)
    # the raw weights follow the same path as without averaging; the average differs from them
    for k, v in state(plain).items():
        assert torch.equal(ckpt["model"][k], v), k
        assert torch.equal(ckpt["ema"][k], state(averaged)[k]), k
    key = "estimator.convs.0.conv.weight"
    assert not torch.equal(ckpt["ema"][key], ckpt["model"][key])
    # exports and snapshots use the average
    assert torch.equal(state(model_from_checkpoint(tmp_path / "ema" / "checkpoint.pt")[0])[key], ckpt["ema"][key])
    assert sorted(p.name for p in (tmp_path / "ema").glob("epoch-*.pt")) == ["epoch-001.pt", "epoch-002.pt"]
    last, cfg, history = model_from_checkpoint(tmp_path / "ema" / "epoch-002.pt")
    assert torch.equal(state(last)[key], ckpt["ema"][key]) and len(history) == 2 and cfg["ema"] == 0.5
    first, _, history = model_from_checkpoint(tmp_path / "ema" / "epoch-001.pt")
    assert len(history) == 1 and not torch.equal(state(first)[key], ckpt["ema"][key])
    # a snapshot exports but does not resume (it was a KeyError traceback)
    (tmp_path / "ema" / "checkpoint.pt").write_bytes((tmp_path / "ema" / "epoch-001.pt").read_bytes())
    with pytest.raises(ValueError, match=r"checkpoint.pt' holds no optimiser state, epoch or weight average to "
                                         r"resume from \(an epoch-NNN.pt snapshot"):
        train(config(epochs=3, ema=0.5, keep_epochs=True), tmp_path / "ema")



def test_fine_tune_starts_from_init_weights(config, tmp_path):
    from skdce.models import sha256_file
    from skdce.train import train
    from skdce.train.export import export_onnx, model_from_onnx

    base = train(config(architecture="zero-dce++", crop_size=0, epochs=1, scale_factor=2.0), tmp_path / "base")
    onnx_path = export_onnx(base, tmp_path / "base.onnx")
    # zero epochs of fine-tuning: the model is the init file's, not a fresh random one
    tuned = train(config(architecture="zero-dce++", crop_size=0, epochs=1, net_size=8, black_point=True,
                         color_loss="prior", init_weights=str(onnx_path), init_sha256=sha256_file(onnx_path),
                         lr=1e-12), tmp_path / "tuned")
    init = model_from_onnx(onnx_path)
    for a, b in zip(tuned.state_dict().values(), init.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="init_sha256"):
        train(config(architecture="zero-dce++", crop_size=0, init_weights=str(onnx_path), init_sha256="0" * 64),
              tmp_path / "bad")
    with pytest.raises(ValueError, match="holds a DCENetPP"):
        train(config(init_weights=str(onnx_path)), tmp_path / "wrong")


@pytest.mark.parametrize("size, crop, match", [
    ((48, 80), 64, r"crop_size=64 is larger than the training images' short side: they are 48x80 \(height x width, "
                   r"at their own size, image_size=0\); set crop_size to at most 48 \(or 0 to train on whole "
                   r"images\), or image_size to at least 64"),
    ((48, 80), 96, "crop_size=96 is larger than the training images' short side: they are 48x80"),
])
def test_crop_larger_than_the_images_is_an_error(tmp_path, size, crop, match):
    """Between the short and the long side it was torch's 'random_ expects 'from' to be less than 'to''; larger
    than both it trained on whole images without a word."""
    from PIL import Image

    from skdce.train import TrainConfig

    data = tmp_path / "rect"
    data.mkdir()
    for i in range(2):
        Image.fromarray(np.full((*size, 3), 20 + i, np.uint8)).save(data / f"{i}.png")
    cfg = TrainConfig(data_dir=str(data), image_size=0, crop_size=crop, epochs=1, batch_size=2, patch_size=8,
                      threads=1)
    with pytest.raises(ValueError, match=match):
        train(cfg, tmp_path / "run")
    with pytest.raises(ValueError, match=r"they are 32x32 \(height x width, resized to image_size=32\)"):
        train(TrainConfig(**{**cfg.to_dict(), "image_size": 32, "crop_size": 40}), tmp_path / "run2")
