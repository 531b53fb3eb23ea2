"""Study: how best to remove the noise that the enhancement curves amplify.

Run from the repository root (on a 2-core CPU shared with other work: about
11 minutes, 4 once the trained weights are cached; ``--quick``: about 2):

    python benchmarks/study_denoise.py            # full study
    python benchmarks/study_denoise.py --quick    # 5 images, under a minute of training

What it measures. Every method filters the plain curve output
(``skdce.enhance(..., denoise=0)``) and is steered by the same noise map, the
expected noise of that output: ``sigma * gain``, with ``sigma`` the noise level
of the input (:func:`skdce.engine.stages.noise.noise_level`) and ``gain`` the slope of the
channel-mean curve at the channel-mean level (:func:`skdce.curve_gain`).
Methods that take a scalar get the map's mean. The methods:

- ``none``: the curve output itself;
- ``guided xS``: skdce's two-stage guided filter
  (:func:`skdce.engine.stages.guided.denoise_block`) steered by ``S`` times the map;
- ``skdce.enhance(denoise=1)``: the library's own call, whose map may differ
  from the study's (skdce now filters only the noise the curve *added*);
- ``tv cC``: :func:`skimage.restoration.denoise_tv_chambolle`, ``weight = C * mean``;
- ``nlm kK``: :func:`skimage.restoration.denoise_nl_means` (fast mode, 5x5
  patches, distance 6), ``h = K * mean`` and ``sigma = mean``;
- ``n2n``: a 4-layer CNN (RGB + noise-map input, residual output) trained
  self-supervised with Neighbor2Neighbor (Huang et al., CVPR 2021) on the curve
  outputs of the ``train.txt`` low images, no clean images; evaluated in torch
  (fp32) and as a static int8 ONNX model in ONNX Runtime.

Scores, on every 5th name of ``val.txt`` (37 images; 5 with ``--quick``), 8-bit
outputs: PSNR and SSIM against ``normal/`` (references are used only here),
the residual noise ``estimate_sigma(out / 255)`` (needs PyWavelets), and the
median wall time per image of the denoising step alone and of the whole
enhancement (curves + noise map + denoising), all on one thread. The trained
weights are cached under ``--cache`` (``/tmp``); crops of a few outputs, side by
side, are written to ``--crops``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread everywhere unless asked otherwise

import numpy as np
import torch
from PIL import Image, ImageDraw
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

import skdce
from skdce.engine.stages.guided import denoise_block
from skdce.engine.stages.noise import noise_level
from skdce.train.denoiser import DenoiserNet, denoiser_input, n2n_loss, random_crops

DEFAULT_MODEL = Path("/work/runs/zero-dce-a.onnx")
GUIDED_AMOUNTS = (0.5, 1.0, 2.0)
TV_CONSTANTS = (0.5, 1.0, 2.0)
NLM_CONSTANTS = (0.4, 0.8, 1.6)
#: Neighbor2Neighbor training: crop size, batch, learning rate, final regulariser weight.
CROP, BATCH, LR, GAMMA = 128, 8, 1e-3, 2.0
FULL_STEPS, QUICK_STEPS = 2800, 250


def read_rgb(path: Path) -> np.ndarray:
    """An image file as a uint8 ``(H, W, 3)`` array."""
    return np.asarray(Image.open(path).convert("RGB"))


def to_u8(x: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8, as the scores see it."""
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def timed(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def curves_and_noise(low: np.ndarray, model) -> tuple[np.ndarray, np.ndarray, float]:
    """The plain curve output of ``low`` and its expected noise, the map ``sigma * gain``.

    Returns
    -------
    y : (H, W, 3) float32
        ``enhance(low, denoise=0)``.
    noise : (H, W) float32
        Expected noise std of ``y``: the input's noise level times the slope of
        the channel-mean curve at the channel-mean level.
    seconds : float
        Wall time of the whole computation (curve estimation included).
    """
    t0 = time.perf_counter()
    alphas = skdce.estimate_curves(low, model=model, num_threads=1)
    y = skdce.apply_le_curves(low, alphas, num_threads=1)
    level = low.mean(axis=-1, dtype=np.float32) / np.float32(255)
    mean_alphas = alphas.reshape(alphas.shape[:2] + (-1, 3)).mean(axis=-1)
    gain = skdce.curve_gain(level, mean_alphas, channel_axis=None)
    noise = (np.float32(noise_level(low)) * gain).astype(np.float32)
    return y, noise, time.perf_counter() - t0


# --- the learned denoiser -------------------------------------------------------------------


def TinyDenoiser() -> DenoiserNet:
    """The study's network: :class:`skdce.train.denoiser.DenoiserNet` with four 3x3 convolutions 32 wide."""
    return DenoiserNet(width=32, depth=4)


def train_n2n(images: list[np.ndarray], steps: int, seed: int) -> tuple[DenoiserNet, float]:
    """Neighbor2Neighbor training of a :class:`TinyDenoiser` on noisy ``(4, H, W)`` images (RGB + noise map).

    Loss: ``|f(g1) - g2|^2 + gamma * |f(g1) - g2 - (g1(f(y)) - g2(f(y)))|^2``,
    ``f(y)`` without gradient, ``gamma`` ramped linearly from 0 to ``GAMMA`` as
    in the authors' code; Adam with a cosine learning-rate decay.

    Returns
    -------
    net : DenoiserNet
    seconds : float
        Wall time of the training loop.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = TinyDenoiser()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    t0 = time.perf_counter()
    for step in range(steps):
        batch = random_crops(images, CROP, BATCH, rng)
        loss = n2n_loss(net, batch, gen, GAMMA * step / steps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            seconds = time.perf_counter() - t0
            print(f"  n2n step {step:5d}/{steps}  loss {loss.item():.6f}  {seconds:6.0f} s", flush=True)
    return net.eval(), time.perf_counter() - t0


def run_torch(net: DenoiserNet, y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Denoise one image with the torch network."""
    with torch.no_grad():
        out = net(torch.from_numpy(denoiser_input(y, noise)))
    return out[0].numpy().transpose(1, 2, 0)


def export_int8(net: DenoiserNet, calibration: list[np.ndarray], folder: Path):
    """Export ``net`` to ONNX, quantise it statically (as skdce's int8 model) and open a 1-thread session."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    fp32, int8 = folder / "n2n.onnx", folder / "n2n-int8.onnx"
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.rand(1, 4, 64, 64), str(fp32), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter({"x": c[None].astype(np.float32)} for c in calibration)

        def get_next(self):
            return next(self._batches, None)

    quantize_static(str(fp32), str(int8), Reader(), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])


def learned_denoiser(args, model) -> tuple[DenoiserNet, object, str]:
    """Train (or load from the cache) the Neighbor2Neighbor network and its int8 ONNX session."""
    train_names = (args.lol / "train.txt").read_text().split()
    if args.quick:
        train_names = train_names[::10]
    steps = args.steps or (QUICK_STEPS if args.quick else FULL_STEPS)
    info = skdce.get_model(model if model is not None else skdce.models.default_model("cpu"))
    digest = hashlib.sha256(Path(info.path).read_bytes()).hexdigest()[:12]  # a retrained model invalidates the cache
    folder = args.cache / f"n2n-{Path(info.path).stem}-{digest}-{len(train_names)}img-{steps}steps-seed{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "weights.pt"
    t0 = time.perf_counter()
    images = []
    for i, name in enumerate(train_names):
        if weights.exists() and i >= 10:  # only the calibration images are needed
            break
        y, noise, _ = curves_and_noise(read_rgb(args.lol / "low" / name), model)
        images.append(np.concatenate([y, noise[..., None]], axis=-1).transpose(2, 0, 1).astype(np.float16))
    prep = time.perf_counter() - t0
    if weights.exists():
        saved = torch.load(weights)
        net = TinyDenoiser()
        net.load_state_dict(saved["state"])
        net.eval()
        note = f"cached {weights} (trained in {saved['seconds']:.0f} s)"
    else:
        print(f"  curve outputs of {len(images)} training images: {prep:.0f} s", flush=True)
        net, seconds = train_n2n(images, steps, args.seed)
        torch.save({"state": net.state_dict(), "seconds": seconds}, weights)
        note = f"trained {steps} steps on {len(images)} images in {seconds:.0f} s (+{prep:.0f} s of curve outputs)"
    session = export_int8(net, images[:10], folder)
    return net, session, note


# --- evaluation ------------------------------------------------------------------------------


def score(out_u8: np.ndarray, ref_u8: np.ndarray | None, residual) -> tuple[float, float, float]:
    """PSNR, SSIM (NaN without ``ref_u8``) and the residual noise (NaN without PyWavelets) of an 8-bit output."""
    nan = float("nan")
    return (
        nan if ref_u8 is None else peak_signal_noise_ratio(ref_u8, out_u8, data_range=255),
        nan if ref_u8 is None else structural_similarity(ref_u8, out_u8, channel_axis=-1, data_range=255),
        residual(out_u8) if residual else nan,
    )


def residual_estimator():
    """``estimate_sigma`` of an 8-bit image on the [0, 1] scale, or None where PyWavelets is missing."""
    try:
        import pywt  # noqa: F401  (estimate_sigma needs it)
    except ImportError:
        return None
    from skimage.restoration import estimate_sigma

    return lambda u8: float(estimate_sigma(u8 / 255.0, channel_axis=-1, average_sigmas=True))


def scalar_methods():
    """``{label: (steered-by, fn(y, noise_map))}`` of the skimage methods, which take the map's mean."""
    methods = {}
    for c in TV_CONSTANTS:
        methods[f"tv c{c:g}"] = lambda y, n, c=c: denoise_tv_chambolle(y, weight=c * float(n.mean()), channel_axis=-1)
    for k in NLM_CONSTANTS:
        methods[f"nlm k{k:g}"] = lambda y, n, k=k: denoise_nl_means(
            y, h=k * float(n.mean()), sigma=float(n.mean()), fast_mode=True,
            patch_size=5, patch_distance=6, channel_axis=-1,
        )
    return methods


def save_crops(name: str, outputs: dict[str, np.ndarray], noise: np.ndarray, folder: Path, size: int = 160):
    """Write a labelled grid of the same crop of every output (2x, nearest) where the noise map is highest."""
    from scipy.ndimage import uniform_filter

    local = uniform_filter(noise, size)
    cy, cx = np.unravel_index(np.argmax(local), local.shape)
    y0 = int(np.clip(cy - size // 2, 0, noise.shape[0] - size))
    x0 = int(np.clip(cx - size // 2, 0, noise.shape[1] - size))
    tile, cols = 2 * size, 4
    rows = -(-len(outputs) // cols)
    grid = Image.new("RGB", (cols * tile, rows * (tile + 14)), "white")
    draw = ImageDraw.Draw(grid)
    for i, (label, img) in enumerate(outputs.items()):
        crop = Image.fromarray(img[y0 : y0 + size, x0 : x0 + size]).resize((tile, tile), Image.NEAREST)
        r, c = divmod(i, cols)
        grid.paste(crop, (c * tile, r * (tile + 14) + 14))
        draw.text((c * tile + 4, r * (tile + 14)), label, fill="black")
    folder.mkdir(parents=True, exist_ok=True)
    grid.save(folder / f"{Path(name).stem}_y{y0}_x{x0}.png")


def cell(value: float, fmt: str) -> str:
    """A table cell: ``value`` formatted, or "-" for NaN."""
    return "-" if np.isnan(value) else format(value, fmt)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "lol")
    p.add_argument("--model", default=str(DEFAULT_MODEL) if DEFAULT_MODEL.exists() else None,
                   help=f"model name or .onnx path (default {DEFAULT_MODEL}, else skdce's default)")
    p.add_argument("--quick", action="store_true", help="5 validation images, 30 training images, 250 steps")
    p.add_argument("--steps", type=int, help="Neighbor2Neighbor training steps (default 2800; 250 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=Path("/tmp/study_denoise"), help="trained weights")
    p.add_argument("--crops", type=Path, default=Path("/tmp/study_crops"), help="side-by-side crops")
    p.add_argument("--n-crops", type=int, default=3, help="validation images to save crops of")
    args = p.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()

    names = (args.lol / "val.txt").read_text().split()[::5]
    names = names[:5] if args.quick else names
    print(f"model {args.model}; {len(names)} validation images (every 5th of val.txt)", flush=True)
    net, session, n2n_note = learned_denoiser(args, args.model)
    print(f"  n2n: {n2n_note}", flush=True)
    t_trained = time.perf_counter()

    residual = residual_estimator()
    steering = {"none": "-", "reference (normal/)": "-", "skdce.enhance(denoise=1)": "skdce's own map"}
    steering.update({f"guided x{a:g}": "per-pixel map" for a in GUIDED_AMOUNTS})
    steering.update({label: "map mean" for label in scalar_methods()})
    steering.update({"n2n torch fp32": "per-pixel map", "n2n ORT int8": "per-pixel map"})
    results = {label: {"scores": [], "step": [], "whole": []} for label in steering}

    def record(label, out, ref, step, whole):
        u8 = to_u8(out) if out.dtype != np.uint8 else out
        results[label]["scores"].append(score(u8, ref, residual))
        results[label]["step"].append(step)
        results[label]["whole"].append(whole)
        return u8

    for i, name in enumerate(names):
        low, ref = read_rgb(args.lol / "low" / name), read_rgb(args.lol / "normal" / name)
        y, noise, t_base = curves_and_noise(low, args.model)
        outputs = {}
        out, t = timed(skdce.enhance, low, model=args.model, denoise=0, num_threads=1)
        outputs["none"] = record("none", out, ref, 0.0, t)
        out, t = timed(skdce.enhance, low, model=args.model, denoise=1.0, num_threads=1)
        outputs["skdce.enhance(denoise=1)"] = record("skdce.enhance(denoise=1)", out, ref, float("nan"), t)
        for a in GUIDED_AMOUNTS:
            out, t_step = timed(denoise_block, y, np.float32(a) * noise)
            outputs[f"guided x{a:g}"] = record(f"guided x{a:g}", out, ref, t_step, t_base + t_step)
        for label, fn in scalar_methods().items():
            out, t_step = timed(fn, y, noise)
            outputs[label] = record(label, out, ref, t_step, t_base + t_step)
        out, t_step = timed(run_torch, net, y, noise)
        outputs["n2n torch fp32"] = record("n2n torch fp32", out, ref, t_step, t_base + t_step)
        out, t_step = timed(lambda: session.run(None, {"x": denoiser_input(y, noise)})[0][0].transpose(1, 2, 0))
        outputs["n2n ORT int8"] = record("n2n ORT int8", out, ref, t_step, t_base + t_step)
        outputs["reference (normal/)"] = record("reference (normal/)", ref, None, float("nan"), float("nan"))
        if i < args.n_crops:
            save_crops(name, outputs, noise, args.crops)
        print(f"  {i + 1}/{len(names)} {name}: sigma*gain mean {noise.mean():.4f}", flush=True)

    t_eval = time.perf_counter()
    probe_y, probe_noise, _ = curves_and_noise(read_rgb(args.lol / "low" / names[0]), args.model)
    torch_ms = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = [timed(run_torch, net, probe_y, probe_noise)[1] for _ in range(4)][1:]
        torch_ms[threads] = 1000 * statistics.median(times)
    torch.set_num_threads(1)

    print(f"\nLOL val, every 5th name ({len(names)} images), model {args.model}, 8-bit outputs; "
          f"ms: median per {low.shape[1]}x{low.shape[0]} image, 1 thread\n")
    print("| method | steered by | PSNR dB | SSIM | residual sigma | denoise ms | whole ms |")
    print("|---|---|---|---|---|---|---|")
    for label, r in results.items():
        psnr, ssim, sig = np.mean(r["scores"], axis=0)
        step, whole = (1000 * statistics.median(r[k]) for k in ("step", "whole"))
        print(f"| {label} | {steering[label]} | {cell(psnr, '.2f')} | {cell(ssim, '.4f')} | {cell(sig, '.4f')} "
              f"| {cell(step, '.0f')} | {cell(whole, '.0f')} |")
    print(f"\nn2n: {n2n_note}; torch fp32 denoise step {torch_ms[1]:.0f} ms at 1 thread, {torch_ms[2]:.0f} ms at 2")
    print(f"wall time: setup/training {t_trained - t_start:.0f} s, evaluation {t_eval - t_trained:.0f} s, "
          f"total {time.perf_counter() - t_start:.0f} s; crops in {args.crops}")


if __name__ == "__main__":
    main()
