"""Real torch training on tiny generated images: losses fall, runs are seeded, resume is exact."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from skdce.train import TrainConfig, load_config, train  # noqa: E402
from skdce.train.data import list_images, load_images, read_split  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "low"
    d.mkdir()
    for i in range(6):
        base = rng.random((1, 1, 3)) * 0.15 + 0.02
        img = np.clip(base + rng.normal(0, 0.02, (40, 40, 3)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(d / f"{i}.png")
    (tmp_path / "train.txt").write_text("\n".join(f"{i}.png" for i in range(4)) + "\n")
    (tmp_path / "val.txt").write_text("4.png\n5.png\n")
    return tmp_path


def config(folder, **kw):
    base = dict(
        data_dir=str(folder / "low"), train_list=str(folder / "train.txt"), val_list=str(folder / "val.txt"),
        image_size=32, crop_size=16, epochs=3, batch_size=2, lr=1e-3, patch_size=8, threads=1, seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_losses_fall_and_seed_reproduces(folder, tmp_path):
    cfg = config(folder, epochs=4)
    m1 = train(cfg, tmp_path / "a")
    m2 = train(cfg, tmp_path / "b")
    for k, v in state(m1).items():
        assert torch.equal(v, state(m2)[k]), k
    log = json.loads((tmp_path / "a" / "log.json").read_text())
    assert len(log) == 4
    assert log[-1]["train_total"] < log[0]["train_total"]
    assert "val_exposure" in log[-1]
    assert (tmp_path / "a" / "log.csv").read_text().startswith("epoch,train_total")
    m3 = train(config(folder, epochs=4, seed=4), tmp_path / "c")
    assert not torch.equal(state(m3)["estimator.convs.0.conv.weight"], state(m1)["estimator.convs.0.conv.weight"])


class Stop(Exception):
    pass


@pytest.mark.parametrize("arch, ema", [("zero-dce", 0.0), ("zero-dce++", 0.0), ("zero-dce", 0.9)])
def test_resume_is_exact(folder, tmp_path, arch, ema):
    cfg = config(folder, architecture=arch, scale_factor=2.0 if arch == "zero-dce++" else 1.0, ema=ema)
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
        train(config(folder, architecture=arch, lr=5e-4), tmp_path / "cut")
    train(config(folder, architecture=arch, epochs=4, scale_factor=cfg.scale_factor, ema=ema), tmp_path / "cut")


def test_weight_average_and_epoch_snapshots(folder, tmp_path):
    from skdce.train.export import model_from_checkpoint

    plain = train(config(folder, epochs=2), tmp_path / "plain")
    averaged = train(config(folder, epochs=2, ema=0.5, keep_epochs=True), tmp_path / "ema")
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


@pytest.mark.parametrize("bad, match", [(dict(ema=1.0), r"ema=1.0 is out of range: ema must be a real number in \[0, 1\)"),
                                        (dict(ema=-0.1), "ema=-0.1 is out of range"),
                                        (dict(ema=True), r"ema=True \(bool\) must be a real number"),
                                        (dict(keep_epochs=1), r"keep_epochs=1 \(int\) must be True or False"),
                                        (dict(epochs="3"), r"epochs='3' \(str\) must be an integer >= 1"),
                                        (dict(gain_range=[2, 1]), r"gain_range\[1\]=1 is out of range"),
                                        (dict(knee=0.9), r"knee=0.9 is out of range: knee must be a real number in \(0, 0.6\)")])
def test_average_options_are_checked(folder, bad, match):
    with pytest.raises(ValueError, match=match):
        config(folder, **bad)


def test_config_file(folder, tmp_path):
    path = folder / "cfg.toml"
    path.write_text('data_dir = "low"\ntrain_list = "train.txt"\nepochs = 1\nimage_size = 32\n')
    cfg = load_config(path)
    assert cfg.data_dir == str((folder / "low").resolve())
    assert cfg.weights["smoothness"] == 200.0
    path.write_text('data_dir = "low"\nepoch = 3\n')
    with pytest.raises(ValueError, match=r"unknown keys \['epoch'\]; valid keys are"):
        load_config(path)
    path.write_text("data_dir = \n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_config(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(folder / "missing.toml")
    with pytest.raises(ValueError, match="weights has unknown keys"):
        TrainConfig(weights={"tv": 1})
    with pytest.raises(ValueError, match="epochs=0 is out of range: epochs must be an integer >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="architecture='unet' is unknown"):
        TrainConfig(architecture="unet")


def test_data_folder_handling(tmp_path):
    d = tmp_path / "imgs"
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        list_images(d)
    d.mkdir()
    with pytest.raises(ValueError, match="holds no image files"):
        list_images(d)
    # grayscale 8-bit, 16-bit, RGBA and JPEG files are all read as RGB
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(d / "gray.png")
    Image.fromarray(np.full((20, 30), 40000, np.uint16)).save(d / "gray16.png")
    Image.fromarray(np.full((20, 30, 4), 50, np.uint8)).save(d / "rgba.png")
    Image.fromarray(np.full((20, 30, 3), 50, np.uint8)).save(d / "photo.jpg")
    names = list_images(d)
    imgs = load_images(d, names, 16)
    assert imgs.shape == (4, 16, 16, 3) and imgs.dtype == torch.uint8
    assert int(imgs[names.index("gray16.png")].float().mean().round()) == round(40000 / 65535 * 255)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="cannot read training image .*broken.png.*Remove or replace"):
        load_images(d, list_images(d), 16)
    (d / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.jpg"):
        load_images(d, ["empty.jpg"], 16)
    with pytest.raises(FileNotFoundError, match="1 listed files are missing"):
        load_images(d, ["nope.png"], 16)
    (tmp_path / "split.txt").write_text("# only comments\n\n")
    with pytest.raises(ValueError, match="lists no files"):
        read_split(tmp_path / "split.txt")
    with pytest.raises(ValueError, match="different sizes"):
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(d / "small.png")
        load_images(d, ["small.png", "gray.png"], None)


def test_recipe_paths_resolve_against_data_folder(folder, tmp_path):
    """`skdce train RECIPE --data DIR`: the recipe's relative paths are the dataset's, not the recipe file's."""
    extra = folder / "unpaired"
    extra.mkdir()
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(extra / "u0.png")
    recipe = tmp_path / "recipes" / "r.toml"
    recipe.parent.mkdir()
    recipe.write_text('data_dir = "low"\ntrain_list = "train.txt"\nextra_dirs = ["unpaired"]\n'
                      'val_list = "val.txt"\nimage_size = 32\ngain_range = [0.1, 2.0]\ngain_prob = 0.5\n')
    cfg = load_config(recipe, data=folder)
    assert cfg.data_dir == str((folder / "low").resolve())
    assert cfg.extra_dirs == [str(extra.resolve())]
    with pytest.raises(FileNotFoundError, match="data folder"):
        load_config(recipe, data=tmp_path / "missing")
    with pytest.raises(ValueError, match="gain_range"):
        TrainConfig(gain_range=[2.0, 1.0])
    cfg.epochs, cfg.batch_size, cfg.patch_size, cfg.crop_size, cfg.threads = 1, 2, 8, 16, 1
    train(cfg, tmp_path / "run")  # the unpaired image is a training input
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert len(log) == 1 and np.isfinite(log[0]["train_total"])
