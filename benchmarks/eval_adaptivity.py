"""Measure whether an enhancer adapts to its input, side by side in one run.

Run: python benchmarks/eval_adaptivity.py [--data ../shared/data/lol] [--models zero-dce,zero-dce++]
     [--limit N] [--step K] [--denoise FLOAT] [--threads T] [--json PATH]

Inputs are the well-exposed LOL validation references (``normal/``, the names
in ``val.txt``), 8-bit RGB read with PIL. Every enhancer is called as
``skdce.enhance(x, model=name)`` (its default denoising unless ``--denoise``
is given); the identity (output = input) is scored as a baseline. Outputs go
to uint8 as ``np.round(np.clip(out, 0, 1) * 255)``; a "mean" is over all
pixels and channels, divided by 255. Figures are means over the images:

- keep dB: ``peak_signal_noise_ratio(x, out, data_range=255)`` of each
  well-exposed x; an infinite value (out == x, as for the identity) counts as
  100 dB. An adaptive enhancer leaves a well-exposed image almost alone.
- blown pp: percentage of output values > 250 minus that of the input, in
  percentage points.
- exposure spread: each reference darkened in linear light (sRGB as gamma 2.2:
  ``((x/255)**2.2 * g)**(1/2.2)``, rounded to uint8) by the gains 0.04, 0.08,
  0.15, 0.25, 0.4, each enhanced; ``np.std / np.mean`` of the five output
  means. 0: every exposure comes out equally bright.
- mixed lighting: the left half (columns < W//2) darkened by 0.12 in linear
  light. "bright half moves": output minus input mean of the right half
  (0: the bright half is left alone); "dark/bright ratio": output mean of the
  left half over that of the right half (1: the halves are evened out).
- alpha std within image: from ``skdce.estimate_curves(img, model=name)`` of
  the mixed-lighting image, the std over pixels of each alpha map, averaged
  over the maps. 0: one curve for the whole image.
- alpha std across brightness: the mean alpha (over pixels and maps) of each
  of the five darkened versions; the std of those five means. 0: the curve
  does not depend on the exposure. The identity has no alphas ("-").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

import skdce

GAINS = (0.04, 0.08, 0.15, 0.25, 0.4)
MIXED_GAIN = 0.12
PSNR_CAP = 100.0
BLOWN = 250
IDENTITY = "identity"

COLUMNS = [
    ("enhancer", None),
    ("keep dB", "keep_db"),
    ("blown pp", "blown_pp"),
    ("exposure spread", "exposure_spread"),
    ("bright half moves", "bright_half_moves"),
    ("dark/bright ratio", "dark_bright_ratio"),
    ("alpha std within image", "alpha_std_within"),
    ("alpha std across brightness", "alpha_std_across"),
]


def to_u8(x):
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def darken(x_u8, gain, cols=None):
    """Scale ``x_u8`` by ``gain`` in linear light (gamma 2.2); only ``cols`` if given."""
    out = x_u8.copy()
    region = (slice(None), cols if cols is not None else slice(None))
    lin = (x_u8[region] / 255.0) ** 2.2
    out[region] = to_u8((lin * gain) ** (1 / 2.2))
    return out


def mean01(x_u8):
    return float(x_u8.mean()) / 255


def alpha_maps(img, model, threads):
    """``(K, H*W)`` alpha maps of one image."""
    a = np.asarray(skdce.estimate_curves(img, model=model, num_threads=threads))
    if a.ndim == 2:
        a = a[..., None]
    return np.moveaxis(a, -1, 0).reshape(a.shape[-1], -1)


def evaluate(label, images, denoise, threads):
    if label == IDENTITY:
        run = lambda x: x  # noqa: E731
    else:
        kw = {} if denoise is None else {"denoise": denoise}
        run = lambda x: to_u8(skdce.enhance(x, model=label, num_threads=threads, **kw))  # noqa: E731
    f = {k: [] for _, k in COLUMNS[1:]}
    for x in images:
        out = run(x)
        with np.errstate(divide="ignore"):  # out == x: infinite PSNR, capped
            f["keep_db"].append(min(float(peak_signal_noise_ratio(x, out, data_range=255)), PSNR_CAP))
        f["blown_pp"].append(100 * (np.mean(out > BLOWN) - np.mean(x > BLOWN)))

        darks = [darken(x, g) for g in GAINS]
        means = np.array([mean01(run(d)) for d in darks])
        f["exposure_spread"].append(np.std(means) / np.mean(means))

        half = x.shape[1] // 2
        mixed = darken(x, MIXED_GAIN, slice(0, half))
        m_out = run(mixed)
        bright_out, dark_out = mean01(m_out[:, half:]), mean01(m_out[:, :half])
        f["bright_half_moves"].append(bright_out - mean01(x[:, half:]))
        f["dark_bright_ratio"].append(dark_out / bright_out)

        if label != IDENTITY:
            f["alpha_std_within"].append(float(alpha_maps(mixed, label, threads).std(axis=1).mean()))
            f["alpha_std_across"].append(float(np.std([alpha_maps(d, label, threads).mean() for d in darks])))
    return {k: (float(np.mean(v)) if v else None) for k, v in f.items()}


def table(results):
    head = [c for c, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    fmt = {"keep_db": "{:.2f}", "blown_pp": "{:+.3f}", "bright_half_moves": "{:+.4f}",
           "alpha_std_within": "{:.2e}", "alpha_std_across": "{:.2e}"}
    for label, r in results.items():
        cells = [label] + [
            "-" if r[k] is None else fmt.get(k, "{:.4f}").format(r[k]) for _, k in COLUMNS[1:]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(root.parent / "shared" / "data" / "lol"),
                   help="LOL folder holding val.txt and normal/ (default: %(default)s)")
    p.add_argument("--models", default=None, help="comma-separated bundled names or .onnx paths (default: all bundled)")
    p.add_argument("--names", default=None,
                   help="file listing the validation names to use, e.g. weights/splits/tune.txt (default: val.txt)")
    p.add_argument("--step", type=int, default=1, help="use every K-th validation name (applied before --limit)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N (stepped) validation names")
    p.add_argument("--denoise", type=float, default=None, help="passed to enhance (default: enhance's own default)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: its choice)")
    p.add_argument("--json", help="also write the settings and results to this file")
    args = p.parse_args()
    if args.step < 1:
        p.error("--step must be >= 1")

    data = Path(args.data)
    names_file = Path(args.names) if args.names else data / "val.txt"
    names = [n for n in names_file.read_text().split("\n") if n.strip() and not n.startswith("#")]
    names = [n.strip() for n in names][:: args.step][: args.limit]
    images = [np.asarray(Image.open(data / "normal" / n).convert("RGB")) for n in names]
    models = [m for m in args.models.split(",") if m] if args.models is not None else skdce.list_models()

    settings = {
        "data": str(data), "models": ",".join(models), "step": args.step, "limit": args.limit,
        "denoise": "enhance default" if args.denoise is None else args.denoise,
        "threads": args.threads, "images": len(images),
    }
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "images"))
    print(f"images: {len(images)} well-exposed references from {data / 'normal'}\n", flush=True)

    results = {}
    for label in [IDENTITY] + models:
        t0 = time.perf_counter()
        results[label] = evaluate(label, images, args.denoise, args.threads)
        results[label]["seconds"] = time.perf_counter() - t0
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "results": results}, indent=1))


if __name__ == "__main__":
    main()
