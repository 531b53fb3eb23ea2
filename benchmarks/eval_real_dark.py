"""Measure enhancers on real dark photos, which have no reference: exposure, deep shadow, noise, colour.

Run: python benchmarks/eval_real_dark.py [--photos ../shared/data/sice/images] [--below 0.15]
     [--runs zero-dce++:auto,zero-dce++:model,zero-dce-int8:auto] [--json PATH]

Every photo of ``--photos`` whose mean (all channels, /255) is below
``--below`` is enhanced by each run, ``MODEL:EXPOSURE`` (``skdce.enhance(x,
model=MODEL, exposure=EXPOSURE)``, its other defaults), and rounded to 8
bits. Figures are means over the photos: the output's mean brightness; the
share of its pixels in deep shadow (luminance, the channel mean, below 0.1), and
the part of that share whose input luminance is under 3 of 255 levels
(``SIGNAL_LEVELS``: a JPEG's shadows there hold a level or two and its
blocks, nothing a curve could lift into a picture);
its noise per unit of brightness (``estimate_sigma`` over the mean, as
``eval_darkened.py``); and its channel means over their grey (R / G / B).
The SICE photos are training inputs, not held out: this looks at the kind of
scene, not at a held-out score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.restoration import estimate_sigma

import skdce

#: Input luminance (8-bit levels) under which a pixel holds no signal to lift.
SIGNAL_LEVELS = 3


def _exposure(text: str):
    return text if text in ("auto", "model") else float(text)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", default=str(root.parent / "shared" / "data" / "sice" / "images"))
    p.add_argument("--below", type=float, default=0.15, help="keep photos whose mean is below this")
    p.add_argument("--runs", default="zero-dce++:auto,zero-dce++:model", help="comma-separated MODEL:EXPOSURE")
    p.add_argument("--json")
    args = p.parse_args()
    files = sorted(f for f in Path(args.photos).iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
    photos = [x for x in (np.asarray(Image.open(f).convert("RGB")) for f in files) if x.mean() / 255 < args.below]
    print(f"{len(photos)} photos of {args.photos} with a mean below {args.below}")
    results = {}
    for run in ["input"] + args.runs.split(","):
        rows = []
        for x in photos:
            if run == "input":
                out = x
            else:
                model, exposure = run.rsplit(":", 1)
                out = np.round(skdce.enhance(x, model=model, exposure=_exposure(exposure)) * 255).astype(np.uint8)
            f = out / 255.0
            mean = f.mean()
            chan = f.reshape(-1, 3).mean(axis=0)
            deep = f.mean(axis=-1) < 0.1
            rows.append([mean, float(deep.mean()), float((deep & (x.mean(axis=-1) < SIGNAL_LEVELS)).mean()),
                         estimate_sigma(f, channel_axis=-1, average_sigmas=True) / max(mean, 1e-3),
                         *(chan / max(chan.mean(), 1e-6))])
        r = np.mean(rows, axis=0)
        keys = ["mean", "below_0.1", "below_0.1_no_signal", "noise_per_mean", "r", "g", "b"]
        results[run] = dict(zip(keys, map(float, r), strict=True))
        print(f"{run:24s} mean {r[0]:.3f}  below 0.1 {100 * r[1]:5.1f}% (input under {SIGNAL_LEVELS} levels "
              f"{100 * r[2]:4.1f}%)  noise/mean {r[3]:.4f}  R/G/B of grey {r[4]:.2f} / {r[5]:.2f} / {r[6]:.2f}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
