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

from .._base.validate import check_bool, check_int, check_real
from ..losses import COLOR_TERMS, DEFAULT_WEIGHTS, _check_levels, _check_prior

__all__ = ["TrainConfig", "load_config"]


#: Largest ``image_size`` and ``crop_size``: a training batch holds images of this square size.
MAX_IMAGE_SIZE = 4096


def _zero_is_none(value):
    """TOML has no null: a number 0 means "none" (False is not a number here)."""
    return None if type(value) in (int, float) and value == 0 else value


@dataclass
class TrainConfig:
    """Everything that determines a training run.

    Attributes
    ----------
    architecture : {"zero-dce", "zero-dce++"}
        DCE-Net (24 maps, one RGB curve per iteration) or Zero-DCE++
        (depthwise-separable, one shared 3-map curve).
    data_dir : str
        Folder of training images (any format Pillow reads).
    train_list, val_list : str or None
        Files listing the image names of each split, one per line
        (``train_list=None``: every image in ``data_dir``; ``val_list=None``: no validation).
    reference_dir : str or None
        Well-exposed references with the validation names, for PSNR/SSIM only.
    image_size : int or None
        Resize every image to this square size (0 or None: keep the native size).
    crop_size : int or None
        Random square crops with horizontal flips of the (resized) images (0 or None: whole images).
    epochs, batch_size, lr, weight_decay, grad_clip : int, int, float, float, float
        Adam optimisation (reference: batch 8, lr 1e-4, weight decay 1e-4, clip 0.1).
    seed : int
        Seeds the weights, the shuffling and the crops.
    extra_dirs : list of str
        Folders of extra training inputs (every image in them), e.g. unpaired
        well-exposed photos: inputs only, never targets.
    gain_range, gain_prob : (float, float) or None, float
        Exposure augmentation: with probability ``gain_prob`` an image is
        re-exposed by a gain drawn log-uniformly from ``gain_range``, in linear light.
    mixed_prob, mixed_range : float, (float, float)
        Mixed-lighting augmentation: with probability ``mixed_prob`` one half
        of an image (left, right, top or bottom, drawn at random) is re-exposed
        by a gain drawn log-uniformly from ``mixed_range`` in linear light
        (after ``gain_prob``'s change), so that the network sees well-exposed
        regions beside dark ones and learns to leave them (their exposure
        target is themselves). 0 (the default) draws nothing: older recipes
        train as before.
    level, patch_size : float, int
        Exposure control: the well-exposedness level E and the patch size.
    exposure_target : {"adaptive", "fixed"}
        ``"fixed"``: every patch is pulled toward ``level`` (the paper).
        ``"adaptive"``: toward a level derived from the input and its context
        (:func:`skdce.losses.exposure_target`): dark surroundings are lifted
        toward ``level``, over-exposed ones lowered toward ``level_high``,
        and well-exposed ones kept.
    level_high : float
        Upper end of the well-exposed range (adaptive target only).
    knee : float or None
        Where the adaptive target's lift starts to fade (0 or absent: a hard
        knee at ``level``; see :func:`skdce.losses.exposure_target`).
    color_loss : {"grey-world", "adaptive", "prior"}
        The colour term: :func:`skdce.losses.color_constancy_loss`,
        :func:`skdce.losses.adaptive_color_loss` (linear light, weighted by darkness)
        or :func:`skdce.losses.prior_color_loss` (a prior learned from
        well-exposed photos, weighted likewise; see ``color_prior``).
    weights : dict
        Loss weights (``spatial``, ``exposure``, ``color``, ``smoothness``).
    scale_factor : float
        Zero-DCE++: downscaling before curve estimation during training.
    net_size : int or None
        Zero-DCE++: downscale each image so that its longer side is this many
        pixels before curve estimation (overrides ``scale_factor``; the
        bundled model then sees the same size at any resolution).
    black_point : float
        Zero-DCE++: the share (0 to 1; true is 1) of the lift of each
        channel's black taken out of the output
        (:func:`skdce.engine.stages.tone.torch_black_lift`), in training as in ``enhance``.
    color_prior : dict or None
        ``{mean, cov}`` of :func:`skdce.losses.prior_color_loss` (None: its default).
    init_weights : str or None
        Start from these weights instead of random ones: an ONNX file written
        by :func:`skdce.train.export.export_onnx` of the same architecture
        (a path relative to the config file's folder), i.e. fine-tune it.
    init_sha256 : str or None
        The expected sha256 of ``init_weights`` (checked: a recipe must not
        silently start from other weights).
    val_every : int
        Validate every this many epochs (and after the last).
    threads : int or None
        torch CPU threads (None: torch's default). Part of the recipe: results
        are bit-identical for the same seed and thread count.
    ema : float
        Decay of an exponential moving average of the weights, updated after
        every optimiser step (0: off). With it on, validation, the returned
        model and exports use the averaged weights.
    keep_epochs : bool
        Also write ``epoch-NNN.pt`` after every epoch (the weights that would be
        exported, with the config and history), to export an earlier epoch later.
    """

    architecture: str = "zero-dce"
    data_dir: str = "data/low"
    train_list: str | None = None  # None: every image in data_dir
    val_list: str | None = None
    reference_dir: str | None = None  # references for PSNR/SSIM (validation only)
    image_size: int | None = 256  # resize every image to this square size (0 or None: keep)
    crop_size: int | None = None  # random square crops (with flips) of the resized images (0 or None: none)
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    seed: int = 0
    extra_dirs: list = field(default_factory=list)
    gain_range: list | None = None
    gain_prob: float = 0.0
    mixed_prob: float = 0.0
    mixed_range: list = field(default_factory=lambda: [0.03, 0.3])
    level: float = 0.6
    level_high: float = 0.7
    exposure_target: str = "adaptive"
    knee: float | None = None
    color_loss: str = "grey-world"
    patch_size: int = 16
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    scale_factor: float = 1.0  # Zero-DCE++: downscaling used when training
    net_size: int | None = None  # Zero-DCE++: the network input's longer side (overrides scale_factor)
    black_point: float = 0.0
    color_prior: dict | None = None
    init_weights: str | None = None
    init_sha256: str | None = None
    val_every: int = 1
    threads: int | None = None
    ema: float = 0.0
    keep_epochs: bool = False

    def __post_init__(self):
        try:
            self._check()
        except TypeError as exc:  # a value of the wrong type in a config file is a bad value there
            raise ValueError(str(exc)) from None

    def _check(self):
        if self.architecture not in ("zero-dce", "zero-dce++"):
            raise ValueError(f"architecture={self.architecture!r} is unknown; use 'zero-dce' or 'zero-dce++'.")
        for key in ("epochs", "batch_size", "patch_size", "val_every"):
            check_int(key, getattr(self, key), min=1)
        for key in ("image_size", "crop_size", "threads", "net_size"):
            value = _zero_is_none(getattr(self, key))
            setattr(self, key, value)
            if value is not None:
                # net_size: at least 8, as skdce.models loads it (a smaller one was exported, then refused)
                check_int(key, value, min=8 if key == "net_size" else 1,
                          max=MAX_IMAGE_SIZE if key != "threads" else None,
                          hint="or absent (0)." if key == "threads" else
                          f"or absent (0: native size); at most {MAX_IMAGE_SIZE} (a batch of that size needs "
                          f"gigabytes per image).")
        check_int("seed", self.seed, min=0, hint="a whole number, e.g. 0.")
        self.lr = check_real("lr", self.lr, lo=0, lo_open=True, hint="e.g. 1e-4 (the reference).")
        self.weight_decay = check_real("weight_decay", self.weight_decay, lo=0, hint="e.g. 1e-4; 0 turns it off.")
        self.grad_clip = check_real("grad_clip", self.grad_clip, lo=0, lo_open=True, hint="e.g. 0.1 (the reference).")
        self.scale_factor = check_real("scale_factor", self.scale_factor, lo=1, hi=64,
                                       hint="1 trains at full resolution; zero-dce++ is published with 12.")
        for key in ("architecture", "data_dir", "exposure_target", "color_loss"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{key}={getattr(self, key)!r} must be a string in the config (quoted).")
        for key in ("train_list", "val_list", "reference_dir", "init_weights"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise ValueError(f"{key}={getattr(self, key)!r} must be a path (a quoted string) or absent.")
        if self.init_sha256 is not None:
            digest = self.init_sha256.lower() if isinstance(self.init_sha256, str) else ""
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"init_sha256={self.init_sha256!r} must be the 64 hexadecimal digits of the "
                                 f"init_weights file's sha256 (sha256sum FILE), or absent.")
            self.init_sha256 = digest  # sha256_file gives lower case: an upper-case digest matched nothing
        if not isinstance(self.weights, dict):
            raise ValueError(f"weights={self.weights!r} must be a table of loss weights, e.g. [weights] exposure = 10.")
        for key, value in self.weights.items():
            self.weights[key] = check_real(f"weights.{key}", value, lo=0, hint="a loss weight is a number >= 0.")
        self.ema = check_real("ema", self.ema, lo=0, hi=1, hi_open=True, hint="0 turns the weight average off.")
        if self.exposure_target not in ("adaptive", "fixed"):
            raise ValueError(f"exposure_target={self.exposure_target!r} is unknown; use 'adaptive' or 'fixed'.")
        self.knee = _zero_is_none(self.knee)
        _check_levels(self.level, self.level_high, self.knee)
        if self.color_loss not in COLOR_TERMS:
            raise ValueError(f"color_loss={self.color_loss!r} is unknown; use one of {COLOR_TERMS}.")
        if self.color_loss in ("adaptive", "prior") and self.exposure_target != "adaptive":
            raise ValueError(f"color_loss={self.color_loss!r} needs exposure_target='adaptive' (both read the "
                             f"input's context).")
        if self.gain_range is not None:
            self.gain_range = _gain_range("gain_range", self.gain_range)
        self.gain_prob = check_real("gain_prob", self.gain_prob, lo=0, hi=1)
        self.mixed_range = _gain_range("mixed_range", self.mixed_range)
        self.mixed_prob = check_real("mixed_prob", self.mixed_prob, lo=0, hi=1)
        if not isinstance(self.extra_dirs, list) or not all(isinstance(d, str) for d in self.extra_dirs):
            raise ValueError(f"extra_dirs={self.extra_dirs!r} must be a list of folder paths.")
        check_bool("keep_epochs", self.keep_epochs, hint="true or false in the config.")
        self.black_point = {True: 1.0, False: 0.0}.get(self.black_point, self.black_point)  # true/false allowed
        self.black_point = check_real("black_point", self.black_point, lo=0, hi=1, hint="the share of the black's "
                                      "lift taken out: 0 (none) to 1 (all), or true/false.")
        if (self.net_size or self.black_point) and self.architecture != "zero-dce++":
            raise ValueError("net_size and black_point apply to architecture='zero-dce++' only.")
        if self.color_prior is not None:
            _check_prior(self.color_prior)
        if self.crop_size and self.crop_size < self.patch_size:
            raise ValueError(f"crop_size={self.crop_size} is smaller than patch_size={self.patch_size}.")
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"weights has unknown keys {sorted(unknown)}; valid keys are {sorted(DEFAULT_WEIGHTS)}.")
        self.weights = {**DEFAULT_WEIGHTS, **self.weights}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _gain_range(name: str, value) -> list:
    """``[low, high]`` gains of an exposure augmentation, ``0 < low <= high``, checked."""
    lo_hi = list(value) if isinstance(value, (list, tuple)) else []
    if len(lo_hi) != 2:
        raise ValueError(f"{name}={value!r} must be [low, high] with 0 < low <= high.")
    hint = f"{name} is [low, high] with 0 < low <= high."
    low = check_real(f"{name}[0]", lo_hi[0], lo=0, lo_open=True, hint=hint)
    return [low, check_real(f"{name}[1]", lo_hi[1], lo=low, hint=hint)]


_PATH_KEYS = ("data_dir", "train_list", "val_list", "reference_dir")


def load_config(path, *, data=None, **overrides) -> TrainConfig:
    """Read a TOML config.

    Relative paths in it (``data_dir``, the split files, ``reference_dir``,
    ``extra_dirs``) resolve against ``data`` when given (the dataset's folder,
    ``skdce train RECIPE --data DIR``), else against the file's folder.
    """
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
    root = Path(data) if data is not None else path.parent
    if data is not None and not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist; pass the folder that holds the dataset.")
    for key in _PATH_KEYS:
        if isinstance(raw.get(key), str):  # anything else is refused by TrainConfig, naming the key
            raw[key] = str((root / raw[key]).resolve())
    if isinstance(raw.get("init_weights"), str):  # a file beside the recipe, wherever the data lives
        raw["init_weights"] = str((path.parent / raw["init_weights"]).resolve())
    if isinstance(raw.get("extra_dirs"), list):
        raw["extra_dirs"] = [str((root / d).resolve()) if isinstance(d, str) else d for d in raw["extra_dirs"]]
    for key, value in overrides.items():  # command-line values: relative to the working directory
        if value is not None:
            raw[key] = str(Path(value).resolve()) if key in _PATH_KEYS else value
    return TrainConfig(**raw)
