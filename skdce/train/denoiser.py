"""A small learned denoiser for the curve output, trained self-supervised (Neighbor2Neighbor).

The network filters what the engine's guided filter filters
(:func:`skdce.engine.stages.guided.denoise_bands`): the plain curve output ``y`` of a
low-light image, steered by the per-pixel noise the curves added
(:func:`skdce.engine.stages.gain.added_noise`). Its input is the four planes RGB + noise
map, its output the denoised RGB as a residual added to the input. It never
sees a clean image: Neighbor2Neighbor [1]_ trains it on the noisy curve
outputs alone, by predicting one random sub-image of every 2x2 cell from its
neighbouring sub-image (the two see independent noise and nearly the same
signal), plus a regulariser that ties the sub-images of the full-resolution
prediction together.

Host inference of the bundled export lives in :mod:`skdce.denoise_net`; this
module holds the torch network, the data preparation, the trainer and the
ONNX export. Train with::

    nice -n 10 python -m skdce.train.denoiser weights/denoiser-n2n.toml \\
        --data ../shared/data/lol --run runs/denoiser-n2n

A run writes a checkpoint every ``checkpoint_every`` steps and resumes from
the last one when started again with the same ``--run`` folder.

References
----------
.. [1] T. Huang, S. Li, X. Jia, H. Lu, J. Liu, "Neighbor2Neighbor:
   Self-Supervised Denoising from Single Noisy Images", CVPR 2021.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._base.validate import check_int, check_real
from ..io._atomic import atomic_path
from .data import _read_rgb, read_split
from .export import save_with_facts

__all__ = [
    "DenoiserConfig", "load_denoiser_config", "DenoiserNet", "n2n_loss", "subsample", "neighbour_indices",
    "denoiser_input", "prepare_inputs", "train_denoiser", "load_denoiser_checkpoint", "export_denoiser",
    "quantize_denoiser", "net_from_onnx", "bundle_denoiser",
]

#: The noise map is multiplied by this before it enters the network (noise std
#: of a few hundredths to about the range of the image planes).
NOISE_SCALE = 10.0
OPSET = 17


@dataclass
class DenoiserConfig:
    """Everything that determines a denoiser training run.

    Attributes
    ----------
    data_dir : str
        Folder of the noisy low-light images (relative to ``--data``).
    train_list : str
        File listing the training names (relative to ``--data``).
    model : str
        The curve estimator whose plain curve outputs are the training inputs.
    width, depth : int
        Channels of the hidden layers, and the number of 3x3 convolutions
        (the receptive radius is ``depth``).
    crop, batch : int
        Random square crops (even) with flips, per step.
    steps, lr : int, float
        Adam steps with a cosine learning-rate decay from ``lr``.
    gamma : float
        Final weight of the Neighbor2Neighbor regulariser (ramped linearly from 0).
    denoise : float
        Strength of the noise map (as ``skdce.enhance(denoise=...)``).
    seed : int
        Seeds the weights and every step's crops and sub-images.
    checkpoint_every : int
        Steps between checkpoints.
    threads : int
        Torch threads.
    """

    data_dir: str = "low"
    train_list: str = "train.txt"
    model: str = "zero-dce++"
    width: int = 16
    depth: int = 4
    crop: int = 96
    batch: int = 8
    steps: int = 3000
    lr: float = 2e-3
    gamma: float = 2.0
    denoise: float = 1.0
    seed: int = 0
    checkpoint_every: int = 250
    threads: int = 1

    def __post_init__(self):
        for name in ("width", "depth", "crop", "batch", "steps", "checkpoint_every", "threads"):
            setattr(self, name, check_int(name, getattr(self, name), min=1))
        if self.depth < 2:
            raise ValueError(f"depth={self.depth} is too small; the network needs at least 2 convolutions.")
        if self.crop % 2:
            raise ValueError(f"crop={self.crop} must be even: Neighbor2Neighbor splits it into 2x2 cells.")
        self.seed = check_int("seed", self.seed, min=0)
        self.lr = check_real("lr", self.lr, lo=0, hi=1)
        self.gamma = check_real("gamma", self.gamma, lo=0, hi=100)
        self.denoise = check_real("denoise", self.denoise, lo=0, hi=4)


def load_denoiser_config(path) -> DenoiserConfig:
    """Read a :class:`DenoiserConfig` from a TOML file; unknown keys are an error."""
    path = Path(path)
    data = tomllib.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(DenoiserConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; the recipe takes {sorted(known)}.")
    return DenoiserConfig(**data)


class DenoiserNet(torch.nn.Module):
    """``depth`` 3x3 convolutions with ReLUs; (N, 4, H, W) RGB + noise map -> (N, 3, H, W) denoised RGB.

    The noise plane is scaled by :data:`NOISE_SCALE`; the last convolution
    predicts a residual added to the input RGB. Zero padding: a pixel depends
    on pixels at most ``depth`` away (:attr:`halo`), so tiles with that much
    context join exactly.
    """

    def __init__(self, width: int = 16, depth: int = 4):
        super().__init__()
        self.width, self.depth = int(width), int(depth)
        chans = [4] + [self.width] * (self.depth - 1) + [3]
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))

    @property
    def halo(self) -> int:
        """The receptive radius in pixels."""
        return self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = x[:, :3]
        h = torch.cat([rgb, x[:, 3:4] * NOISE_SCALE], dim=1)
        for conv in self.convs[:-1]:
            h = torch.relu(conv(h))
        return rgb + self.convs[-1](h)


def denoiser_input(y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` curve output and ``(H, W)`` noise map -> ``(1, 4, H, W)`` float32 network input."""
    planes = np.empty((1, 4) + y.shape[:2], np.float32)
    planes[0, :3] = np.moveaxis(y, -1, 0)
    planes[0, 3] = noise
    return planes


# --- Neighbor2Neighbor ---------------------------------------------------------------------------

#: The neighbours of each position of a 2x2 cell (0 1 / 2 3): horizontally or vertically adjacent.
_NEIGHBOURS = torch.tensor([[1, 2], [0, 3], [0, 3], [1, 2]])


def neighbour_indices(n: int, h: int, w: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random positions of the two sub-images in each 2x2 cell: adjacent, different, shared by the channels."""
    first = torch.randint(0, 4, (n, 1, h // 2, w // 2), generator=gen)
    pick = torch.randint(0, 2, (n, 1, h // 2, w // 2), generator=gen)
    return first, _NEIGHBOURS[first, pick]


def subsample(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The sub-image of ``x`` (N, C, H, W) at position ``index`` (N, 1, H/2, W/2) of every 2x2 cell."""
    n, c, h, w = x.shape
    cells = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    return torch.gather(cells, -1, index.expand(n, c, -1, -1).unsqueeze(-1)).squeeze(-1)


def n2n_loss(net: torch.nn.Module, batch: torch.Tensor, gen: torch.Generator, gamma: float) -> torch.Tensor:
    """The Neighbor2Neighbor loss of ``net`` on a (N, 4, H, W) batch of noisy inputs.

    ``|f(g1) - g2|^2 + gamma * |f(g1) - g2 - (g1(f(y)) - g2(f(y)))|^2`` with
    ``g1``, ``g2`` the neighbouring sub-images (the noise plane goes with
    ``g1`` into the network; ``g2`` is the RGB target) and ``f(y)`` the
    prediction on the whole batch, without gradient (Huang et al., eq. 7).
    """
    n, _, h, w = batch.shape
    first, second = neighbour_indices(n, h, w, gen)
    g1, g2 = subsample(batch, first), subsample(batch[:, :3], second)
    with torch.no_grad():
        full = net(batch)
        gap = subsample(full, first) - subsample(full, second)
    diff = net(g1) - g2
    return diff.square().mean() + gamma * (diff - gap).square().mean()


# --- data ----------------------------------------------------------------------------------------


def prepare_inputs(low: np.ndarray, model: str = "zero-dce++", denoise: float = 1.0) -> np.ndarray:
    """The ``(4, H, W)`` float32 training input of one uint8 low-light image: curve output + noise map.

    The curve output is ``skdce.enhance(low, model=model, denoise=0, exposure="model")``
    (the plain curves: the image the engine hands its denoiser), the noise map the
    engine's :func:`skdce.engine.stages.gain.added_noise` at strength ``denoise``.
    """
    import skdce

    from ..engine.stages.gain import added_noise
    from ..engine.stages.noise import noise_level

    info = skdce.get_model(model)
    if not info.shared_curve:
        raise ValueError(f"model={model!r} has per-iteration curves; the denoiser is trained on a shared-curve "
                         f"model's outputs (e.g. 'zero-dce++').")
    alphas = skdce.estimate_curves(low, model=model, num_threads=1)
    y = skdce.enhance(low, model=model, denoise=0, exposure="model", num_threads=1)
    noise = added_noise(low, alphas[:, :, None, :], info.iterations, 1 / 255, denoise * noise_level(low),
                        np.float32, num_threads=1)
    return denoiser_input(y, noise)[0]


def _load_inputs(cfg: DenoiserConfig, data: Path, cache: Path) -> list[np.ndarray]:
    """Training inputs of every ``train_list`` image, as float16 ``(4, H, W)``; cached in ``cache``."""
    names = read_split(data / cfg.train_list)
    if cache.is_file():
        with np.load(cache) as saved:
            if list(saved["names"]) == names:
                return [saved[f"x{i}"] for i in range(len(names))]
    arrays = []
    for name in names:
        low = np.asarray(_read_rgb(data / cfg.data_dir / name).convert("RGB"))
        arrays.append(prepare_inputs(low, cfg.model, cfg.denoise).astype(np.float16))
    with atomic_path(cache, overwrite=True) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, names=np.array(names), **{f"x{i}": a for i, a in enumerate(arrays)})
    return arrays


def random_crops(images: list[np.ndarray], crop: int, batch: int, rng: np.random.Generator) -> torch.Tensor:
    """``batch`` random ``crop`` x ``crop`` crops with flips of ``(4, H, W)`` arrays, as float32."""
    out = np.empty((batch, 4, crop, crop), np.float32)
    for i in range(batch):
        img = images[rng.integers(len(images))]
        y0 = rng.integers(img.shape[1] - crop + 1)
        x0 = rng.integers(img.shape[2] - crop + 1)
        c = img[:, y0 : y0 + crop, x0 : x0 + crop]
        if rng.random() < 0.5:
            c = c[:, :, ::-1]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        out[i] = c
    return torch.from_numpy(out)


# --- training ------------------------------------------------------------------------------------


def load_denoiser_checkpoint(path) -> dict:
    """A checkpoint of :func:`train_denoiser` (tensors and plain values only: ``weights_only=True``)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def _save(path: Path, state: dict) -> None:
    with atomic_path(path, overwrite=True) as tmp:
        torch.save(state, tmp)


def train_denoiser(cfg: DenoiserConfig, images: list[np.ndarray], run_dir, *, log=print) -> tuple[DenoiserNet, list]:
    """Train a :class:`DenoiserNet` on noisy ``(4, H, W)`` inputs with Neighbor2Neighbor; resumable.

    Every step draws its crops and sub-images from generators seeded with
    ``(seed, step)``, so a run resumed from ``run_dir/last.pt`` takes the same
    steps as one that was never stopped. Returns the network (eval mode) and
    the history ``[(step, loss), ...]`` of every logged step.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = DenoiserNet(cfg.width, cfg.depth)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    start, history, seconds = 0, [], 0.0
    last = run_dir / "last.pt"
    if last.is_file():
        ckpt = load_denoiser_checkpoint(last)
        if ckpt["config"] != dataclasses.asdict(cfg):
            raise ValueError(f"{last} was written by a different recipe; start a new run folder or delete it.")
        net.load_state_dict(ckpt["net"])
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
        start, history, seconds = ckpt["step"], [tuple(h) for h in ckpt["history"]], ckpt["seconds"]
        log(f"resumed {last} at step {start}")
    t0 = time.perf_counter() - seconds
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([cfg.seed, step])
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        batch = random_crops(images, cfg.crop, cfg.batch, rng)
        loss = n2n_loss(net, batch, gen, cfg.gamma * step / cfg.steps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        done = step + 1
        if done % max(1, cfg.steps // 20) == 0 or done == cfg.steps or step == start:
            history.append((done, loss.item()))
            log(f"step {done:6d}/{cfg.steps}  loss {history[-1][1]:.6f}  {time.perf_counter() - t0:6.0f} s")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _save(last, {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                         "step": done, "history": history, "seconds": time.perf_counter() - t0,
                         "config": dataclasses.asdict(cfg)})
    return net.eval(), history


# --- export --------------------------------------------------------------------------------------


def export_denoiser(net: DenoiserNet, path, *, metadata: dict | None = None, overwrite: bool = True) -> Path:
    """Write ``net`` to ``path`` as fp32 ONNX (opset 17): input ``x`` (N, 4, H, W), output ``y`` (N, 3, H, W).

    Batch, height and width are dynamic; ``metadata`` (strings, or values
    stored as JSON) lands in ``metadata_props`` with the network's shape. The
    file is written atomically.
    """
    import onnx

    net = net.eval()
    facts = {"skdce_architecture": "n2n-denoiser", "skdce_width": str(net.width), "skdce_depth": str(net.depth),
             "skdce_halo": str(net.halo), "skdce_noise_scale": json.dumps(NOISE_SCALE)}
    for key, value in (metadata or {}).items():
        facts[key] = value if isinstance(value, str) else json.dumps(value)
    with atomic_path(Path(path), overwrite=overwrite) as tmp:
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore")
            torch.onnx.export(net, torch.rand(1, 4, 32, 32), str(tmp), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"},
                                            "y": {0: "batch", 2: "height", 3: "width"}},
                              opset_version=OPSET, dynamo=False)
        save_with_facts(onnx.load(str(tmp)), tmp, facts)
    return Path(path)


def quantize_denoiser(src, dst, calibration: list[np.ndarray], *, overwrite: bool = True) -> Path:
    """Static int8 copy (QOperator, uint8 activations, int8 weights) of the fp32 export ``src``.

    Activation ranges are calibrated (min/max) on ``calibration``, a list of
    ``(4, H, W)`` inputs; the metadata of ``src`` is kept, with ``skdce_precision = "int8"``.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    batches = [{"x": np.ascontiguousarray(c[None], np.float32)} for c in calibration]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    with atomic_path(Path(dst), overwrite=overwrite) as tmp:
        quantize_static(str(src), str(tmp), Reader(), quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
        meta["skdce_precision"] = "int8"
        meta["skdce_calibration"] = json.dumps({"images": len(batches), "method": "minmax"})
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
    return Path(dst)


def net_from_onnx(path) -> DenoiserNet:
    """Rebuild the torch network of an fp32 :func:`export_denoiser` file (its weights and shape)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("skdce_precision", "fp32") != "fp32":
        raise ValueError(f"{path} is an {meta['skdce_precision']} file; rebuild from the fp32 export.")
    net = DenoiserNet(int(meta["skdce_width"]), int(meta["skdce_depth"]))
    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in proto.graph.initializer}
    net.load_state_dict({k: weights[k] for k in net.state_dict()}, strict=True)
    return net.eval()


def bundle_denoiser(src, folder, *, name: str, recipe: Path, training_data: str, figures: dict | None = None) -> dict:
    """Copy the export ``src`` into ``folder`` as ``<name>.onnx`` and record it in ``folder/denoisers.json``.

    The record holds the file, its sha256, the recipe (the TOML file's name
    and its values, with the ONNX metadata's), the training data, the licence
    (BSD-3-Clause) and ``figures``; the files are written atomically.
    """
    import onnx

    from ..models import sha256_file

    folder = Path(folder)
    dst = folder / f"{name}.onnx"
    data = Path(src).read_bytes()
    with atomic_path(dst, overwrite=True) as tmp:
        Path(tmp).write_bytes(data)
    meta = {p.key: p.value for p in onnx.load(str(dst)).metadata_props}
    record = {
        "file": dst.name,
        "sha256": sha256_file(dst),
        "architecture": f"{meta['skdce_depth']} 3x3 convolutions, {meta['skdce_width']} channels, ReLU, residual; "
                        "input RGB + noise map (x10), output RGB",
        "halo": int(meta["skdce_halo"]),
        "precision": meta.get("skdce_precision", "fp32"),
        "recipe_file": Path(recipe).name,
        "recipe": load_denoiser_config(recipe).__dict__,
        "training": "Neighbor2Neighbor (Huang et al., CVPR 2021), self-supervised: no clean image",
        "training_data": training_data,
        "license": "BSD-3-Clause",
    }
    if figures:
        record["figures"] = figures
    index = folder / "denoisers.json"
    records = json.loads(index.read_text())["denoisers"] if index.is_file() else {}
    records[name] = record
    with atomic_path(index, overwrite=True) as tmp:
        Path(tmp).write_text(json.dumps({"denoisers": records}, indent=2) + "\n")
    return record


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train the Neighbor2Neighbor denoiser and export it to ONNX.")
    p.add_argument("recipe", type=Path, help="TOML recipe (weights/denoiser-n2n.toml)")
    p.add_argument("--data", type=Path, required=True, help="the LOL folder (low/, train.txt)")
    p.add_argument("--run", type=Path, required=True, help="run folder: checkpoints, cached inputs, exports")
    args = p.parse_args(argv)
    cfg = load_denoiser_config(args.recipe)
    args.run.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    images = _load_inputs(cfg, args.data, args.run / "inputs.npz")
    print(f"{len(images)} training inputs ({cfg.model} curve outputs + noise maps): {time.perf_counter() - t0:.0f} s",
          flush=True)
    net, history = train_denoiser(cfg, images, args.run, log=lambda s: print(s, flush=True))
    meta = {"skdce_recipe": dataclasses.asdict(cfg), "skdce_history": history[-1:], "skdce_license": "BSD-3-Clause"}
    fp32 = export_denoiser(net, args.run / "denoiser-n2n.onnx", metadata=meta)
    calibration = [img[:, :256, :256].astype(np.float32) for img in images[:: max(1, len(images) // 16)]]
    int8 = quantize_denoiser(fp32, args.run / "denoiser-n2n-int8.onnx", calibration)
    print(f"wrote {fp32} and {int8}", flush=True)


if __name__ == "__main__":
    main()
