"""Score enhancers on the LOL validation split, side by side in one run.

Run: python benchmarks/eval_lol.py [--lol ../shared/data/lol] [--models zero-dce zero-dce++ other.onnx]

Mean PSNR and SSIM over the 185 validation images (``val.txt``) at full
resolution, 8-bit RGB, ``skimage.metrics.peak_signal_noise_ratio(data_range=255)``
and ``structural_similarity(channel_axis=-1, data_range=255)``, no cropping, no
GT-mean rescaling; plus the mean output intensity and the noise left in the
outputs, the mean of ``skimage.restoration.estimate_sigma(out / 255,
channel_axis=-1, average_sigmas=True)`` (needs PyWavelets). Each model runs
with ``enhance``'s default denoising unless ``--denoise`` says otherwise. The unenhanced input is
scored as a baseline. Any ``.onnx`` file (for instance other published weights
converted to ONNX by their owner) can be scored beside the bundled models.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import estimate_sigma

import skdce


def score(enhanced_u8, reference_u8):
    return (
        peak_signal_noise_ratio(reference_u8, enhanced_u8, data_range=255),
        structural_similarity(reference_u8, enhanced_u8, channel_axis=-1, data_range=255),
    )


def _exposure(text):
    return text if text == "auto" else float(text)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", default=str(root.parent / "shared" / "data" / "lol"))
    p.add_argument("--models", nargs="*", default=None, help="bundled names or .onnx paths (default: all bundled)")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--denoise", type=float, default=None, help="denoise strength passed to enhance (default: its own)")
    p.add_argument("--names", default=None,
                   help="file listing the validation names to use, e.g. weights/splits/tune.txt (default: val.txt)")
    p.add_argument("--exposure", default="auto", help="passed to enhance (default: auto)")
    p.add_argument("--step", type=int, default=1, help="score every K-th validation image (applied before --limit)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N (stepped) validation images")
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args()

    lol = Path(args.lol)
    names_file = Path(args.names) if args.names else lol / "val.txt"
    names = [n for n in names_file.read_text().split("\n") if n.strip() and not n.startswith("#")]
    names = [n.strip() for n in names][:: args.step][: args.limit]
    pairs = [
        (np.asarray(Image.open(lol / "low" / n).convert("RGB")),
         np.asarray(Image.open(lol / "normal" / n).convert("RGB")))
        for n in names
    ]
    models = args.models if args.models is not None else skdce.list_models()
    results = {}
    for label in ["input"] + models:
        t0 = time.perf_counter()
        psnr, ssim, mean, noise = [], [], [], []
        for low, ref in pairs:
            if label == "input":
                out = low
            else:
                kw = {} if args.denoise is None else {"denoise": args.denoise}
                out = skdce.enhance(low, model=label, strength=args.strength, exposure=_exposure(args.exposure), **kw)
                out = np.round(out * 255).astype(np.uint8)
            ps, ss = score(out, ref)
            psnr.append(ps)
            ssim.append(ss)
            mean.append(out.mean() / 255)
            noise.append(estimate_sigma(out / 255.0, channel_axis=-1, average_sigmas=True))
        results[label] = {
            "psnr": float(np.mean(psnr)),
            "ssim": float(np.mean(ssim)),
            "mean_intensity": float(np.mean(mean)),
            "noise_sigma": float(np.mean(noise)),
            "seconds": time.perf_counter() - t0,
        }
        r = results[label]
        print(f"{label:24s} PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}  mean {r['mean_intensity']:.3f}  "
              f"noise {r['noise_sigma']:.4f}  "
              f"({len(pairs)} images, {r['seconds']:.0f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
