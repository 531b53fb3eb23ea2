"""Fixtures of the training tests: a folder of tiny generated images and a recipe of a few seconds on it."""

import numpy as np
import pytest


@pytest.fixture
def folder(tmp_path):
    from PIL import Image

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


@pytest.fixture
def config(folder):
    """``config(**overrides)``: a :class:`~skdce.train.TrainConfig` of 3 short epochs on ``folder``."""
    from skdce.train import TrainConfig

    def make(**kw):
        base = dict(
            data_dir=str(folder / "low"), train_list=str(folder / "train.txt"), val_list=str(folder / "val.txt"),
            image_size=32, crop_size=16, epochs=3, batch_size=2, lr=1e-3, patch_size=8, threads=1, seed=3,
        )
        base.update(kw)
        return TrainConfig(**base)

    return make
