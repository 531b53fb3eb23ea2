"""Score enhancers on darkened well-exposed photos: inputs whose right answer is known.

Run: python benchmarks/eval_darkened.py [--photos ../shared/data/lol/unpaired-normal] [--models a,b] [--step 10]
     [--jpeg QUALITY]

Every ``--step``-th photo of a folder of well-exposed images is darkened by
:func:`skdce.data.darken` (linear light, Poisson shot noise and Gaussian read
noise like a sensor's) at each gain of ``--gains`` (about 2.3 to 4.3 stops),
rounded to 8 bits (and, with ``--jpeg``, stored as a JPEG of that quality with
Pillow's defaults, 4:2:0 chroma, as a camera or phone would, and read back)
and enhanced with ``skdce.enhance``'s defaults. Each output
is scored against the photo it came from: PSNR and SSIM (8-bit, as
``eval_lol.py``), its mean brightness against the photo's, the share of its
pixels left in deep shadow (luminance below 0.1) against the photo's, and its
noise per unit of brightness (``estimate_sigma`` over the mean).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import estimate_sigma

import skdce
from skdce.data import darken

GAINS = (0.05, 0.1, 0.2)


def stored(low: np.ndarray, quality: int | None) -> np.ndarray:
    """``low`` as read back from a JPEG file of ``quality`` (itself when None)."""
    if quality is None:
        return low
    buf = io.BytesIO()
    Image.fromarray(low).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", default=str(root.parent / "shared" / "data" / "lol" / "unpaired-normal"))
    p.add_argument("--models", default=None, help="comma-separated bundled names or .onnx paths (default: all bundled)")
    p.add_argument("--step", type=int, default=10)
    p.add_argument("--gains", default=",".join(map(str, GAINS)))
    p.add_argument("--jpeg", type=int, default=None, help="store each darkening as a JPEG of this quality first")
    p.add_argument("--json")
    args = p.parse_args()
    files = sorted(f for f in Path(args.photos).iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
    files = files[:: args.step]
    photos = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    gains = [float(g) for g in args.gains.split(",")]
    inputs = [(x, stored(np.round(darken(x, gain=g, seed=i) * 255).astype(np.uint8), args.jpeg))
              for i, x in enumerate(photos) for g in gains]
    models = args.models.split(",") if args.models else skdce.list_models()
    results = {}
    for label in ["input"] + models:
        rows = []
        for ref, low in inputs:
            out = low if label == "input" else np.round(skdce.enhance(low, model=label) * 255).astype(np.uint8)
            lum, ref_lum = out.mean(axis=-1) / 255, ref.mean(axis=-1) / 255
            mean = out.mean() / 255
            rows.append([
                peak_signal_noise_ratio(ref, out, data_range=255),
                structural_similarity(ref, out, channel_axis=-1, data_range=255),
                mean, ref.mean() / 255, float((lum < 0.1).mean()), float((ref_lum < 0.1).mean()),
                estimate_sigma(out / 255.0, channel_axis=-1, average_sigmas=True) / max(mean, 1e-3),
            ])
        r = dict(zip(["psnr", "ssim", "mean", "photo_mean", "deep_shadow", "photo_deep_shadow", "noise_per_mean"],
                     np.mean(rows, axis=0).tolist()))
        results[label] = r
        print(f"{Path(label).name:28s} PSNR {r['psnr']:6.2f}  SSIM {r['ssim']:.4f}  mean {r['mean']:.3f} "
              f"(photos {r['photo_mean']:.3f})  shadow<0.1 {r['deep_shadow']:.3f} (photos {r['photo_deep_shadow']:.3f})"
              f"  noise/mean {r['noise_per_mean']:.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(photos), "gains": gains, "jpeg": args.jpeg,
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
