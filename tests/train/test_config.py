"""skdce.train.config: TrainConfig's checks and recipe files (TOML), paths resolved against the data folder."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from skdce.train import TrainConfig, load_config, train  # noqa: E402


@pytest.mark.parametrize("bad, match", [(dict(ema=1.0),
                                         r"ema=1.0 is out of range: ema must be a real number in \[0, 1\)"),
                                        (dict(ema=-0.1), "ema=-0.1 is out of range"),
                                        (dict(ema=True), r"ema=True \(bool\) must be a real number"),
                                        (dict(keep_epochs=1), r"keep_epochs=1 \(int\) must be True or False"),
                                        (dict(epochs="3"), r"epochs='3' \(str\) must be an integer >= 1"),
                                        (dict(gain_range=[2, 1]), r"gain_range\[1\]=1 is out of range"),
                                        (dict(knee=0.9),
                                         r"knee=0.9 is out of range: knee must be a real number in \(0, 0.6\)")])
def test_average_options_are_checked(config, bad, match):
    with pytest.raises(ValueError, match=match):
        config(**bad)


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



@pytest.mark.parametrize(
    "line, said",
    [('lr = "fast"', r"lr='fast' \(str\) must be a real number > 0"),
     ("seed = 1.5", r"seed=1.5 \(float\) must be an integer >= 0"),
     ("scale_factor = 0", r"scale_factor=0 is out of range: .* in \[1, 64\]"),
     ("image_size = 100000000", r"image_size=100000000 is out of range: .* in \[1, 4096\]"),
     ("grad_clip = -1", r"grad_clip=-1 is out of range"),
     ("weight_decay = true", r"weight_decay=True \(bool\) must be a real number"),
     ('weights = {exposure = "x"}', r"weights.exposure='x' \(str\) must be a real number >= 0"),
     ('train_list = 3', r"train_list=3 must be a path"),
     ("data_dir = 5", r"data_dir=5 must be a string"),
     ("init_weights = 5", r"init_weights=5 must be a path"),
     ("init_sha256 = 12", r"init_sha256=12 must be the 64 hexadecimal digits"),
     ('init_sha256 = "abc"', r"init_sha256='abc' must be the 64 hexadecimal digits")],
)
def test_wrong_typed_configs_are_messages(tmp_path, line, said):
    """Were TypeError/RuntimeError tracebacks deep in torch (lr = "fast", seed = 1.5) or a huge allocation."""
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "low"\n{line}\n' if not line.startswith("data_dir") else f"{line}\n")
    with pytest.raises(ValueError, match=said):
        load_config(path)


def test_net_size_bounds_are_the_loaders(config):
    """A net_size the model loader refuses (skdce.models: 8 to 4096) is refused before training, not after export."""
    with pytest.raises(ValueError, match=r"net_size=4 is out of range"):
        config(architecture="zero-dce++", net_size=4)
    assert config(architecture="zero-dce++", net_size=8).net_size == 8


def test_init_sha256_upper_case_is_accepted(config):
    """sha256_file gives lower case: an upper-case digest from another tool failed as a mismatch."""
    assert config(init_sha256="AB" * 32).init_sha256 == "ab" * 32
