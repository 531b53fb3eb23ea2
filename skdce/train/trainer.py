"""The training loop: seeded, deterministic on CPU, resumable after an interruption.

A run folder holds ``config.json`` (the resolved configuration),
``checkpoint.pt`` (model, optimiser, weight average and history after the last
finished epoch, written atomically), ``log.csv`` and ``log.json`` (losses and
metrics per epoch) and, with ``keep_epochs``, ``epoch-NNN.pt`` for every epoch.
Epoch ``e`` draws its shuffling and crops from a generator seeded with
``(seed, e)``, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .._base.image import to_uint
from ..io._atomic import atomic_path
from .config import TrainConfig
from .data import ImageSet, list_images, load_images, read_split
from .losses import zero_reference_loss
from .model import build_model
from .weights import load_checkpoint, load_weights, model_from_onnx

__all__ = ["train", "load_checkpoint", "evaluate_model"]

_TERMS = ("total", "spatial", "exposure", "color", "smoothness")


def _init_weights(model: torch.nn.Module, generator: torch.Generator) -> None:
    # Gaussian weights (mean 0, std 0.02) and zero biases, as the paper describes.
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            with torch.no_grad():
                module.weight.normal_(0.0, 0.02, generator=generator)
                module.bias.zero_()


def _load_init(model: torch.nn.Module, config: TrainConfig) -> None:
    """Start from the ONNX weights ``config.init_weights`` (fine-tuning), checked against ``init_sha256``."""
    from ..models import sha256_file

    path = Path(config.init_weights)
    if not path.is_file():
        raise FileNotFoundError(f"init_weights {str(path)!r} does not exist.")
    if config.init_sha256 and sha256_file(path) != config.init_sha256:
        raise ValueError(f"init_weights {str(path)!r} has sha256 {sha256_file(path)}, not the recipe's "
                         f"init_sha256 {config.init_sha256}; restore the file the recipe names.")
    source = model_from_onnx(path)
    if type(source) is not type(model):
        raise ValueError(f"init_weights {str(path)!r} holds a {type(source).__name__}, but the recipe trains a "
                         f"{type(model).__name__} (architecture={config.architecture!r}).")
    model.load_state_dict(source.state_dict())


def _forward(model, batch, context, config: TrainConfig):
    if config.architecture == "zero-dce++":  # estimates on a downscaled copy, with that copy's context
        return model.enhance(batch, config.scale_factor, net_size=config.net_size, black_point=config.black_point)
    return model.enhance(batch, context)


def _loss(enhanced, batch, alphas, context, config: TrainConfig):
    return zero_reference_loss(
        enhanced, batch, alphas, weights=config.weights, level=config.level, patch_size=config.patch_size,
        context=context if config.exposure_target == "adaptive" else None, level_high=config.level_high,
        knee=config.knee, color=config.color_loss, color_prior=config.color_prior,
    )


def _psnr_ssim(enhanced: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    out = to_uint(enhanced.clamp(0, 1).permute(0, 2, 3, 1).numpy(), np.uint8)
    ref = reference.numpy()
    p = [peak_signal_noise_ratio(r, o, data_range=255) for r, o in zip(ref, out)]
    s = [structural_similarity(r, o, channel_axis=-1, data_range=255) for r, o in zip(ref, out)]
    return float(np.mean(p)), float(np.mean(s))


@torch.no_grad()
def evaluate_model(model, images: ImageSet, config: TrainConfig, references: torch.Tensor | None = None) -> dict:
    """Mean validation losses (and PSNR/SSIM when ``references`` are given)."""
    model.eval()
    sums = dict.fromkeys(_TERMS, 0.0)
    psnr, ssim, mean, count = 0.0, 0.0, 0.0, 0
    batches = images.batches(config.batch_size, crop=None, generator=None)
    for start, (batch, context) in zip(range(0, len(images), config.batch_size), batches):
        enhanced, alphas = _forward(model, batch, context, config)
        terms = _loss(enhanced, batch, alphas, context, config)
        for k, v in zip(_TERMS, terms):
            sums[k] += float(v) * len(batch)
        if references is not None:
            p, s = _psnr_ssim(enhanced, references[start : start + len(batch)])
            psnr += p * len(batch)
            ssim += s * len(batch)
        mean += float(enhanced.mean()) * len(batch)
        count += len(batch)
    out = {f"val_{k}": v / count for k, v in sums.items()}
    out["val_mean_intensity"] = mean / count
    if references is not None:
        out["val_psnr"] = psnr / count
        out["val_ssim"] = ssim / count
    model.train()
    return out


def _load_set(config: TrainConfig, list_file, reference_dir=None, extra_dirs=()):
    names = read_split(list_file) if list_file else list_images(config.data_dir)
    images = [load_images(config.data_dir, names, config.image_size)]
    for folder in extra_dirs:  # unpaired inputs: every image of the folder
        extra = list_images(folder)
        images.append(load_images(folder, extra, config.image_size))
        names = names + [str(Path(folder) / n) for n in extra]
    shapes = {tuple(t.shape[1:]) for t in images}
    if len(shapes) > 1:
        raise ValueError(f"training folders hold images of different sizes {sorted(shapes)}; "
                         f"set image_size to resize them.")
    refs = load_images(reference_dir, names, config.image_size) if reference_dir else None
    return ImageSet(torch.cat(images), names), refs


def _check_crop(config: TrainConfig, images: ImageSet) -> None:
    """Refuse a ``crop_size`` larger than a side of the (resized) training images: it cannot crop them."""
    _, h, w, _ = images.images.shape
    if config.crop_size and config.crop_size > min(h, w):
        size = f"resized to image_size={config.image_size}" if config.image_size else "at their own size, image_size=0"
        raise ValueError(
            f"crop_size={config.crop_size} is larger than the training images' short side: they are {h}x{w} "
            f"(height x width, {size}); set crop_size to at most {min(h, w)} (or 0 to train on whole images), or "
            f"image_size to at least {config.crop_size}."
        )


def _atomic_save(obj, path: Path) -> None:
    with atomic_path(path, overwrite=True) as tmp:  # skdce.io._atomic: fsync, rename; no partial checkpoint
        torch.save(obj, tmp)


@torch.no_grad()
def _update_average(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for avg, param in zip(average.parameters(), model.parameters()):
        avg.mul_(decay).add_(param, alpha=1.0 - decay)


def _write_logs(run_dir: Path, history: list[dict]) -> None:
    (run_dir / "log.json").write_text(json.dumps(history, indent=1))
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(run_dir / "log.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)


def train(
    config: TrainConfig,
    run_dir,
    *,
    resume: bool = True,
    on_step: Callable[[int, int, int, float], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> torch.nn.Module:
    """Train a network as ``config`` says, checkpointing into ``run_dir`` after every epoch.

    With ``resume=True`` an existing checkpoint of the same configuration is
    continued from its last finished epoch; a checkpoint of another
    configuration is an error (naming the keys that differ). A checkpoint that
    already holds ``config.epochs`` or more is returned as it is (its
    ``config.json`` is not rewritten to a smaller ``epochs``). Returns the trained model.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)

    cfg = config.to_dict()
    model = build_model(config.architecture)
    _init_weights(model, torch.Generator().manual_seed(config.seed))
    if config.init_weights:
        _load_init(model, config)
    model = model.to(memory_format=torch.channels_last)  # 2-3x faster convolutions on CPU
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # the exponential moving average of the weights (a copy of the model), or the model itself
    average = copy.deepcopy(model) if config.ema else model
    history: list[dict] = []
    start_epoch = 0

    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        if not resume:
            raise FileExistsError(
                f"{str(ckpt_path)!r} exists; resume it, or pick an empty run folder."
            )
        ckpt = load_checkpoint(ckpt_path)
        saved = json.loads(ckpt["config"])
        differ = sorted(k for k in saved.keys() | cfg.keys() if k != "epochs" and saved.get(k) != cfg.get(k))
        if differ:
            said = "; ".join(f"{k}: {saved.get(k)!r} there, {cfg.get(k)!r} now" for k in differ[:5])
            raise ValueError(
                f"{str(ckpt_path)!r} was written with a different configuration ({said}"
                f"{f'; and {len(differ) - 5} more' if len(differ) > 5 else ''}); "
                f"use a new run folder or the original configuration (only 'epochs' may change)."
            )
        if not {"optimizer", "epoch"} <= ckpt.keys() or (config.ema and "ema" not in ckpt):
            raise ValueError(f"{str(ckpt_path)!r} holds no optimiser state, epoch or weight average to resume from "
                             f"(an epoch-NNN.pt snapshot, which exports but does not resume?); use a new run folder.")
        load_weights(model, ckpt["model"], ckpt_path)
        optimizer.load_state_dict(ckpt["optimizer"])
        if config.ema:
            load_weights(average, ckpt["ema"], ckpt_path, "averaged weights")
        history = json.loads(ckpt["history"])
        start_epoch = int(ckpt["epoch"])
    if start_epoch <= config.epochs:  # a checkpoint past a smaller epochs keeps the configuration it was run with
        (run_dir / "config.json").write_text(json.dumps(cfg, indent=1))

    if start_epoch >= config.epochs:
        return average

    train_set, _ = _load_set(config, config.train_list, extra_dirs=config.extra_dirs)
    _check_crop(config, train_set)
    val_set, val_refs = (None, None)
    if config.val_list:
        val_set, val_refs = _load_set(config, config.val_list, config.reference_dir)

    model.train()
    steps = math.ceil(len(train_set) / config.batch_size)
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        sums = dict.fromkeys(_TERMS, 0.0)
        seen = 0
        batches = train_set.batches(config.batch_size, crop=config.crop_size, generator=gen,
                                    gain_range=config.gain_range, gain_prob=config.gain_prob,
                                    mixed_prob=config.mixed_prob, mixed_range=config.mixed_range)
        for step, (batch, context) in enumerate(batches):
            batch = batch.contiguous(memory_format=torch.channels_last)
            context = context.contiguous(memory_format=torch.channels_last)
            enhanced, alphas = _forward(model, batch, context, config)
            terms = _loss(enhanced, batch, alphas, context, config)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            if config.ema:
                _update_average(average, model, config.ema)
            for k, v in zip(_TERMS, terms):
                sums[k] += v.item() * len(batch)
            seen += len(batch)
            if on_step is not None:
                on_step(epoch + 1, step + 1, steps, terms.total.item())
        row = {"epoch": epoch + 1, **{f"train_{k}": v / seen for k, v in sums.items()}}
        if val_set is not None and ((epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs):
            row.update(evaluate_model(average, val_set, config, val_refs))
        row["seconds"] = round(time.perf_counter() - t0, 3)
        history.append(row)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
            "config": json.dumps(cfg),
            "history": json.dumps(history),
        }
        if config.ema:
            state["ema"] = average.state_dict()
        if config.keep_epochs:  # what an export of this epoch needs, in the checkpoint's format
            snapshot = {k: state[k] for k in ("epoch", "config", "history")}
            _atomic_save({"model": average.state_dict(), **snapshot}, run_dir / f"epoch-{epoch + 1:03d}.pt")
        _atomic_save(state, ckpt_path)
        _write_logs(run_dir, history)
        if on_epoch is not None:
            on_epoch(row)
    return average
