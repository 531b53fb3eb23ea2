"""The fused graph against the host path: LOL validation figures (fp32, fp16) and CPU times, side by side.

Run: python benchmarks/eval_fused.py [--lol ../shared/data/lol] [--limit N] [--repeats 5] [--skip-lol] [--models a,b]

1. For each float model, mean PSNR / SSIM over the LOL validation images
   (as ``eval_lol.py``: 8-bit RGB, ``enhance()`` defaults) of the host path
   (``fused=False``), the fused graph (``fused=True``) and the fused graph with
   its network in float16 (``precision="fp16"``), all on ONNX Runtime's CPU
   provider, with the differences to the host path and the fp16 criterion
   (within 0.05 dB and 0.002 SSIM of fp32), and max |fused - host|.
2. Medians of ``enhance`` on the CPU, host path vs fused graph, every model,
   600x400 and 1200x900, with and without denoising, run alternately;
   ratio = fused time / host time (above 1: the host path is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import skdce

from _timing import low_light

VARIANTS = {"host": dict(fused=False), "fused": dict(fused=True), "fused fp16": dict(fused=True, precision="fp16")}


def lol_figures(lol: Path, limit, results):
    names = (lol / "val.txt").read_text().split()[:limit]
    def rgb(path):
        return np.asarray(Image.open(path).convert("RGB"))

    pairs = [(rgb(lol / "low" / n), rgb(lol / "normal" / n)) for n in names]
    print(f"== 1. LOL validation, {len(pairs)} images, enhance() defaults, CPU provider")
    for model in ("zero-dce", "zero-dce++"):
        scores = {v: [] for v in VARIANTS}
        max_diff = {v: 0.0 for v in VARIANTS}
        for low, ref in pairs:
            host = None
            for v, kw in VARIANTS.items():
                out = skdce.enhance(low, model=model, providers="cpu", **kw)
                if host is None:
                    host = out
                max_diff[v] = max(max_diff[v], float(np.abs(out - host).max()))
                u8 = np.round(out * 255).astype(np.uint8)
                scores[v].append((peak_signal_noise_ratio(ref, u8, data_range=255),
                                  structural_similarity(ref, u8, channel_axis=-1, data_range=255)))
        base = np.mean(scores["host"], axis=0)
        for v in VARIANTS:
            psnr, ssim = np.mean(scores[v], axis=0)
            ok = abs(psnr - base[0]) <= 0.05 and abs(ssim - base[1]) <= 0.002
            print(f"  {model:10s} {v:10s} PSNR {psnr:7.3f} dB  SSIM {ssim:.4f}  (vs host {psnr - base[0]:+.4f} dB, "
                  f"{ssim - base[1]:+.5f})  max |out - host| {max_diff[v]:.2e}  {'within' if ok else 'OUTSIDE'} "
                  f"0.05 dB / 0.002")
            results[f"lol {model} {v}"] = dict(psnr=psnr, ssim=ssim, max_diff=max_diff[v], within=bool(ok))



def cpu_times(repeats, models, results):
    print(f"\n== 2. CPU medians over {repeats} alternating repeats, ratio = fused / host")
    for h, w in [(400, 600), (900, 1200)]:
        img = low_light(h, w)
        for model in models:
            for denoise in (1.0, 0):
                runs = {v: (lambda kw=kw: skdce.enhance(img, model=model, providers="cpu", denoise=denoise, **kw))
                        for v, kw in list(VARIANTS.items())[:2]}
                times = {v: [] for v in runs}
                for f in runs.values():
                    f()  # warm-up: sessions, graphs
                for _ in range(repeats):
                    for v, f in runs.items():
                        t0 = time.perf_counter()
                        f()
                        times[v].append(time.perf_counter() - t0)
                med = {v: statistics.median(t) for v, t in times.items()}
                ratio = med["fused"] / med["host"]
                print(f"  {model:14s} {w}x{h} denoise={denoise:g}: host {med['host'] * 1e3:7.1f} ms  "
                      f"fused {med['fused'] * 1e3:7.1f} ms  ratio {ratio:5.2f}")
                results[f"cpu {model} {w}x{h} denoise={denoise:g}"] = dict(host_s=med["host"], fused_s=med["fused"],
                                                                          ratio=ratio)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", default=str(root.parent / "shared" / "data" / "lol"))
    p.add_argument("--limit", type=int, default=None, help="only the first N validation images")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-lol", action="store_true")
    p.add_argument("--skip-times", action="store_true")
    p.add_argument("--models", default=",".join(skdce.list_models()), help="models timed in section 2")
    p.add_argument("--json")
    args = p.parse_args()
    results = {}
    if not args.skip_lol:
        lol_figures(Path(args.lol), args.limit, results)
    if not args.skip_times:
        cpu_times(args.repeats, args.models.split(","), results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
