"""How much of the LOL SSIM gap could brightness close at all? A diagnostic that reads the references.

Run: python benchmarks/study_ssim_ceiling.py [--lol ../shared/data/lol] [--names weights/splits/tune.txt]
     [--step 2] [--model zero-dce++] [--json PATH]

Each low image of ``--names`` (every ``--step``-th) is enhanced with the
default call, and its output is scored against the reference as it is and
after *oracles* that take brightness from the reference, each a gain the
output could have received from a perfect exposure decision:

- ``mean``: the whole output scaled so that its mean is the reference's;
- ``channel means``: each channel scaled so that its mean is the reference's (exposure and white balance);
- ``local sigma S``: each pixel scaled by the reference's local mean over the output's, both Gaussian-blurred
  with standard deviation S pixels (per channel): a brightness that is right region by region, down to S.

Two rows put the oracles in scale: the reference blurred by a Gaussian of
1 pixel, and the reference plus the output's fine residual (the output less
its own 1.5-pixel blur), against the reference itself.

The oracles read the references, so nothing may be chosen by this script; it
is meant for the tuning half (``weights/splits/tune.txt``, the default) and
never for the locked half, which is scored once per bundled call. SSIM is
``structural_similarity(channel_axis=-1, data_range=255)`` on 8-bit images, as
in ``eval_lol.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import skdce
from skdce.models import DEFAULT_MODEL

SIGMAS = (40, 20, 10, 5)


def to_u8(image):
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def oracles(out, ref):
    """``{name: image}``: ``out`` (float64 in [0, 1]) with brightness taken from ``ref`` in each way."""
    found = {"as is": out,
             "mean": out * ref.mean() / max(out.mean(), 1e-6),
             "channel means": out * ref.mean(axis=(0, 1)) / np.maximum(out.mean(axis=(0, 1)), 1e-6)}
    for s in SIGMAS:
        blur = lambda a, s=s: ndimage.gaussian_filter(a, (s, s, 0))  # noqa: E731
        found[f"local sigma {s}"] = out * blur(ref) / np.maximum(blur(out), 1e-4)
    found["reference, blurred 1 px"] = ndimage.gaussian_filter(ref, (1, 1, 0))
    found["reference + output's fine residual"] = ref + out - ndimage.gaussian_filter(out, (1.5, 1.5, 0))
    return found


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lol", default=str(root.parent / "shared" / "data" / "lol"))
    p.add_argument("--names", default=str(root / "weights" / "splits" / "tune.txt"))
    p.add_argument("--step", type=int, default=2)
    p.add_argument("--model", default=None, help="bundled name or .onnx path (default: the default model)")
    p.add_argument("--json")
    args = p.parse_args()
    if Path(args.names).name == "locked.txt":
        p.error("the locked half is scored once per bundled call, by eval_lol.py; run this on the tuning half")
    lol = Path(args.lol)
    names = [n.strip() for n in Path(args.names).read_text().splitlines() if n.strip() and not n.startswith("#")]
    names = names[:: args.step]
    rows = {}
    for name in names:
        low = np.asarray(Image.open(lol / "low" / name).convert("RGB"))
        ref_u8 = np.asarray(Image.open(lol / "normal" / name).convert("RGB"))
        out = skdce.enhance(low, model=args.model).astype(np.float64)
        for key, image in oracles(out, ref_u8 / 255.0).items():
            u8 = to_u8(image)
            rows.setdefault(key, []).append([peak_signal_noise_ratio(ref_u8, u8, data_range=255),
                                             structural_similarity(ref_u8, u8, channel_axis=-1, data_range=255)])
    print(f"{len(names)} images of {args.names} (every {args.step}), model {args.model or DEFAULT_MODEL}")
    results = {}
    for key, values in rows.items():
        psnr, ssim = np.mean(values, axis=0)
        results[key] = {"psnr": float(psnr), "ssim": float(ssim)}
        print(f"{key:36s} PSNR {psnr:6.2f}  SSIM {ssim:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
