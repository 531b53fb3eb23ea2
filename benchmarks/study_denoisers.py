"""Study: the guided filter against the learned Neighbor2Neighbor denoiser, quality per millisecond.

Run from the repository root (2 cores shared with other work: about 6 minutes)::

    python benchmarks/study_denoisers.py [--crops /tmp/denoisers_crops.png]

Both denoisers filter the same thing, the plain curve output of ``zero-dce++``
(``skdce.enhance(x, model="zero-dce++", denoise=0)``), steered by the same map,
the noise the curves added (:func:`skdce.engine.stages.gain.added_noise` at the default
strength 1, what :func:`skdce.enhance` computes):

- ``guided``: :func:`skdce.engine.stages.guided.denoise_bands`, the engine's filter today;
- ``learned``: :func:`skdce.denoise_net.learned_denoise_block`, the bundled
  network (``weights/denoiser-n2n.onnx``, trained on ``train.txt`` low images);
- ``none``: the curve output itself.

Images: the LOL validation *tuning* half (``weights/splits/tune.txt``; the
locked half is never read) against ``normal/``, and every 10th photo of
``unpaired-normal/`` darkened by :func:`skdce.data.darken` at gains 0.05, 0.1
and 0.2 against the photo itself. Scores on 8-bit outputs: PSNR, SSIM, and the
residual noise ``estimate_sigma`` divided by the output's mean brightness
(noise per unit of brightness; needs PyWavelets, ``pip install 'skdce[bench]'``).
Times: the denoising step alone, median per 600x400 image on one thread (the
two methods interleaved, alternating which goes first) and per 12 MP image on
every core (interleaved, ``--repeats`` each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image, ImageDraw
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import estimate_sigma

import skdce
from skdce.data import darken
from skdce.denoise_net import learned_denoise_block
from skdce.engine.stages.gain import added_noise
from skdce.engine.stages.guided import denoise_bands
from skdce.engine.stages.noise import noise_level

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import low_light  # noqa: E402

MODEL = "zero-dce++"
GAINS = (0.05, 0.1, 0.2)
ROOT = Path(__file__).resolve().parents[1]


def curves_and_noise(x: np.ndarray, threads=1) -> tuple[np.ndarray, np.ndarray]:
    """The plain curve output of ``x`` and the noise the curves added (the engine's denoiser inputs)."""
    info = skdce.get_model(MODEL)
    alphas = skdce.estimate_curves(x, model=MODEL, num_threads=threads)
    y = skdce.enhance(x, model=MODEL, denoise=0, num_threads=threads)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    noise = added_noise(x, alphas[:, :, None, :], info.iterations, scale, noise_level(x), np.float32, threads)
    return y, noise


METHODS = {
    "guided": lambda y, n, t: denoise_bands(y, n, t),
    "learned": lambda y, n, t: learned_denoise_block(y, n, t),
}


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def scores(out: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """PSNR, SSIM against the 8-bit ``ref`` and the residual noise per unit of brightness of an output."""
    u8 = to_u8(out)
    f = u8 / 255.0
    sigma = float(estimate_sigma(f, channel_axis=-1, average_sigmas=True))
    return (peak_signal_noise_ratio(ref, u8, data_range=255),
            structural_similarity(ref, u8, channel_axis=-1, data_range=255),
            sigma / max(float(f.mean()), 1e-6))


def images(lol: Path):
    """``(set, name, input, reference)``: the tuning half of LOL val, then the darkened photos."""
    from skdce.train.data import read_split  # names, without the file's comments

    for name in read_split(ROOT / "weights" / "splits" / "tune.txt"):
        low = np.asarray(Image.open(lol / "low" / name).convert("RGB"))
        ref = np.asarray(Image.open(lol / "normal" / name).convert("RGB"))
        yield "LOL tune", name, low, ref
    photos = sorted(p for p in (lol / "unpaired-normal").iterdir() if p.suffix.lower() in (".jpg", ".png"))
    for i, path in enumerate(photos[::10]):
        ref = np.asarray(Image.open(path).convert("RGB"))
        for gain in GAINS:
            yield f"darkened x{gain:g}", path.name, darken(ref, gain=gain, seed=i), ref


def crop_sheet(rows: list[tuple[str, dict[str, np.ndarray], np.ndarray]], path: Path, size=150, zoom=2):
    """Crops (where the noise map is highest) of every method side by side, one row per image."""
    from scipy.ndimage import uniform_filter

    labels = list(rows[0][1])
    tile = size * zoom
    sheet = Image.new("RGB", (len(labels) * tile, len(rows) * (tile + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (title, outs, noise) in enumerate(rows):
        local = uniform_filter(noise, size)
        cy, cx = np.unravel_index(np.argmax(local), local.shape)
        y0 = int(np.clip(cy - size // 2, 0, noise.shape[0] - size))
        x0 = int(np.clip(cx - size // 2, 0, noise.shape[1] - size))
        for c, label in enumerate(labels):
            crop = Image.fromarray(to_u8(outs[label])[y0 : y0 + size, x0 : x0 + size]).resize((tile, tile),
                                                                                              Image.NEAREST)
            sheet.paste(crop, (c * tile, r * (tile + 14) + 14))
            draw.text((c * tile + 4, r * (tile + 14)), f"{title}: {label}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", type=Path, default=ROOT.parent / "shared" / "data" / "lol")
    p.add_argument("--repeats", type=int, default=5, help="12 MP timing runs of each method")
    p.add_argument("--crops", type=Path, default=Path("/tmp/denoisers_crops.png"))
    p.add_argument("--limit", type=int, default=0, help="at most this many images per set (0: all)")
    args = p.parse_args()

    per_set: dict[str, dict[str, list]] = {}
    ms = {m: [] for m in METHODS}
    crops = []
    counts: dict[str, int] = {}
    for k, (group, name, x, ref) in enumerate(images(args.lol)):
        counts[group] = counts.get(group, 0) + 1
        if args.limit and counts[group] > args.limit:
            continue
        y, noise = curves_and_noise(x)
        outs = {"none": y, **dict.fromkeys(METHODS)}
        order = list(METHODS) if k % 2 == 0 else list(METHODS)[::-1]
        for m in order:
            t0 = time.perf_counter()
            outs[m] = METHODS[m](y, noise, 1)
            ms[m].append(1000 * (time.perf_counter() - t0))
        table = per_set.setdefault(group, {m: [] for m in outs})
        for m, out in outs.items():
            table[m].append(scores(out, ref))
        if counts[group] in (1, 3) and len(crops) < 8:
            crops.append((f"{group} {name}", {**{m: outs[m] for m in ("none", "guided", "learned")},
                                              "reference": ref / 255.0}, noise))
        if counts[group] % 10 == 1:
            print(f"  {group} {counts[group]}: {name}", flush=True)
    crop_sheet(crops, args.crops)

    big = low_light(3000, 4000, seed=1)
    y, noise = curves_and_noise(big, threads=None)
    big_ms = {m: [] for m in METHODS}
    for r in range(args.repeats + 1):  # the first round warms up
        for m in (METHODS if r % 2 else list(METHODS)[::-1]):
            t0 = time.perf_counter()
            METHODS[m](y, noise, None)
            if r:
                big_ms[m].append(1000 * (time.perf_counter() - t0))

    small = {m: statistics.median(v) for m, v in ms.items()}
    large = {m: statistics.median(v) for m, v in big_ms.items()}
    print("\nzero-dce++ curve outputs denoised on the same noise map; 8-bit; noise/brightness = "
          "estimate_sigma / mean of the output\n")
    print("| set (images) | method | PSNR dB | SSIM | noise / brightness |")
    print("|---|---|---|---|---|")
    for group, table in per_set.items():
        for m, rows in table.items():
            psnr, ssim, nb = np.mean(rows, axis=0)
            print(f"| {group} ({len(rows)}) | {m} | {psnr:.2f} | {ssim:.4f} | {nb:.4f} |")
    print(f"\n| method | ms per 600x400, 1 thread | ms per 12 MP, {os.cpu_count()} threads |")
    print("|---|---|---|")
    for m in METHODS:
        print(f"| {m} | {small[m]:.1f} | {large[m]:.0f} |")
    print(f"\nlearned / guided time: {small['learned'] / small['guided']:.2f}x at 600x400, "
          f"{large['learned'] / large['guided']:.2f}x at 12 MP; crops in {args.crops}")


if __name__ == "__main__":
    main()
