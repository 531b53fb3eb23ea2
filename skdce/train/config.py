"""Training configuration: one TOML file per bundled model, kept beside its weights.

Relative paths in the file are resolved against the file's own folder, so
``weights/zero-dce.toml`` finds ``../../shared/data/lol`` from any working
directory. Unknown keys are an error (a typo must not silently train the default).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..losses import DEFAULT_WEIGHTS

__all__ = ["TrainConfig", "load_config"]


@dataclass
class TrainConfig:
    """Everything that determines a training run."""

    architecture: str = "zero-dce"
    data_dir: str = "data/low"
    train_list: str | None = None  # None: every image in data_dir
    val_list: str | None = None
    reference_dir: str | None = None  # references for PSNR/SSIM (validation only)
    image_size: int | None = 256  # resize every image to this square size (None: keep)
    crop_size: int | None = None  # random square crops (with flips) of the resized images
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    seed: int = 0
    level: float = 0.6
    patch_size: int = 16
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    scale_factor: float = 1.0  # Zero-DCE++: downscaling used when training
    val_every: int = 1
    threads: int | None = None

    def __post_init__(self):
        if self.architecture not in ("zero-dce", "zero-dce++"):
            raise ValueError(f"architecture={self.architecture!r} is unknown; use 'zero-dce' or 'zero-dce++'.")
        for key in ("epochs", "batch_size", "patch_size", "val_every"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value!r} must be a positive integer.")
        for key in ("image_size", "crop_size", "threads"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{key}={value!r} must be a positive integer or absent.")
        if self.crop_size and self.crop_size < self.patch_size:
            raise ValueError(f"crop_size={self.crop_size} is smaller than patch_size={self.patch_size}.")
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"weights has unknown keys {sorted(unknown)}; valid keys are {sorted(DEFAULT_WEIGHTS)}.")
        self.weights = {**DEFAULT_WEIGHTS, **self.weights}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_PATH_KEYS = ("data_dir", "train_list", "val_list", "reference_dir")


def load_config(path, **overrides) -> TrainConfig:
    """Read a TOML config; relative paths resolve against the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"config file {str(path)!r} has unknown keys {unknown}; valid keys are {sorted(known)}.")
    for key in _PATH_KEYS:
        if raw.get(key) is not None:
            raw[key] = str((path.parent / raw[key]).resolve())
    for key, value in overrides.items():  # command-line values: relative to the working directory
        if value is not None:
            raw[key] = str(Path(value).resolve()) if key in _PATH_KEYS else value
    return TrainConfig(**raw)
