"""Can the scene's right brightness be learned from well-exposed photos alone? A study, not a shipped rule.

Run: python benchmarks/study_exposure_key.py [--data ../shared/data] [--step 1]

Issue #20 asks for exposure decided per scene: a white kitchen should come out
bright, a dark glass table dark, and no global key gets that right. A darkening
of a well-exposed photo keeps the *shape* of its tones (their ratios in linear
light) and loses only their level, so a model that predicts a photo's mean
brightness from that shape alone can be trained on darkenings of photos, with
no reference of a dark image: a target drawn from the statistics of
well-exposed photos, which the issue allows.

Training photos: the SICE photos with a mean in [0.3, 0.65] (the set of
``fit_exposure.py``) and the ``unpaired-normal/`` photos that neither
``eval_darkened.py --step 10`` nor the keep figures use (not every 10th, not
every 6th). Each is darkened three times by :func:`skdce.data.darken` at gains
drawn log-uniformly from [0.03, 0.35]. Features of the darkening's 64-pixel box
copy in linear light (:func:`features`): the luminance percentiles 5 to 97 and
99.9 against the 99th, in stops; the saturation of the brighter half; the top
third's brightness against the whole. Target: the photo's mean, in stops. A
ridge regression (numpy; ``lam`` 1 on standardised features), cross-validated
over photos.

Scored on the LOL tuning half (``weights/splits/tune.txt``, against
``normal/``) and on ``eval_darkened.py``'s darkenings (every 10th
``unpaired-normal/`` photo at gains 0.05 / 0.1 / 0.2, against the photo): the
default call with ``exposure="model"``, then uniform exposure steps
(:func:`skdce.tone.finish_tone`) that bring its mean to (a) the predicted mean,
(b) the training photos' median mean (one global key), (c) the reference's own
mean (an oracle, the ceiling of any global brightness); beside the shipped
``exposure="auto"``. The locked half is never read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import skdce
from skdce.data import darken
from skdce.tone import finish_tone

PERCENTILES = (5, 10, 25, 50, 75, 90, 97, 99.9)
GAINS = (0.05, 0.1, 0.2)


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def small(x: np.ndarray, size: int = 64) -> np.ndarray:
    """A box-filtered copy of ``x`` (uint8) with ``size`` pixels on its longer side, float64 in [0, 1]."""
    im = Image.fromarray(x)
    s = size / max(im.size)
    return np.asarray(im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BOX),
                      np.float64) / 255


def features(sm: np.ndarray) -> np.ndarray:
    """Exposure-free features of a small sRGB copy: unchanged, up to rounding and noise, by a gain in linear light."""
    lin = sm**2.2
    y = lin.mean(axis=-1)
    top = np.percentile(y, 99) + 1e-4
    f = [np.log2((np.percentile(y, q) + 1e-4) / top) for q in PERCENTILES]
    hi = y >= np.median(y)
    f.append(np.mean((lin.max(-1) - lin.min(-1))[hi] / (lin.max(-1)[hi] + 1e-3)))
    f.append(np.log2((y[: len(y) // 3].mean() + 1e-4) / (y.mean() + 1e-4)))
    return np.array(f)


def ridge(x: np.ndarray, t: np.ndarray, lam: float = 1.0):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    a = np.c_[(x - mu) / sd, np.ones(len(x))]
    w = np.linalg.solve(a.T @ a + lam * np.diag([1.0] * x.shape[1] + [0.0]), a.T @ t)
    return lambda z: np.c_[(z - mu) / sd, np.ones(len(z))] @ w


def stops_to_mean(out: np.ndarray, target: float) -> float:
    """Uniform exposure steps (bisection in [-2, 2] stops) after which ``out``'s mean is ``target``."""
    s = np.ascontiguousarray(out[::4, ::4][None], np.float32)
    lo, hi = -2.0, 2.0
    for _ in range(18):
        e = 0.5 * (lo + hi)
        lo, hi = (e, hi) if finish_tone(s.copy(), None, e).mean() < target else (lo, e)
    return 0.5 * (lo + hi)


def score(out: np.ndarray, ref: np.ndarray):
    u = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
    return (peak_signal_noise_ratio(ref, u, data_range=255),
            structural_similarity(ref, u, channel_axis=-1, data_range=255), u.mean() / 255)


def main():
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(root.parent / "shared" / "data"))
    p.add_argument("--step", type=int, default=1, help="score every K-th image of each set")
    args = p.parse_args()
    data = Path(args.data)
    normal = sorted((data / "lol" / "unpaired-normal").iterdir())
    train = [read(f) for i, f in enumerate(normal) if i % 10 and i % 6]
    train += [x for x in map(read, sorted((data / "sice" / "images").iterdir())) if 0.3 <= x.mean() / 255 <= 0.65]
    rng = np.random.default_rng(0)
    rows, targets, photo = [], [], []
    for k, x in enumerate(train):
        for j in range(3):
            gain = float(np.exp(rng.uniform(np.log(0.03), np.log(0.35))))
            dark = np.round(darken(x, gain=gain, seed=1000 * k + j) * 255).astype(np.uint8)
            rows.append(features(small(dark)))
            targets.append(np.log2(x.mean() / 255))
            photo.append(k)
    x, t, photo = np.array(rows), np.array(targets), np.array(photo)
    fold = np.random.default_rng(1).integers(5, size=len(train))[photo]
    cv = np.zeros_like(t)
    for k in range(5):
        cv[fold == k] = ridge(x[fold != k], t[fold != k])(x[fold == k])
    rmse = np.sqrt(np.mean((cv - t) ** 2))
    print(f"training: {len(train)} photos, {len(t)} darkenings; target sd {t.std():.3f} stops; "
          f"cross-validated rmse {rmse:.3f} stops, correlation {np.corrcoef(cv, t)[0, 1]:.3f}")
    predict, key = ridge(x, t), 2 ** np.median(t)

    lol = data / "lol"
    names = [n.strip() for n in open(root / "weights" / "splits" / "tune.txt") if n.strip() and n[0] != "#"]
    sets = {"LOL tuning half": [(read(lol / "low" / n), read(lol / "normal" / n)) for n in names[:: args.step]],
            "darkened photos": [(np.round(darken(ph, gain=g, seed=i) * 255).astype(np.uint8), ph)
                                for i, ph in enumerate(map(read, normal[::10])) for g in GAINS][:: args.step]}
    for name, pairs in sets.items():
        res, pred = {k: [] for k in ("auto (shipped)", "model", "one key", "predicted", "oracle")}, []
        for low, ref in pairs:
            model = skdce.enhance(low, exposure="model")
            guess = 2 ** predict(features(small(low))[None])[0]
            pred.append((np.log2(guess), np.log2(ref.mean() / 255)))
            res["auto (shipped)"].append(score(skdce.enhance(low), ref))
            res["model"].append(score(model, ref))
            for k, target in (("one key", key), ("predicted", guess), ("oracle", ref.mean() / 255)):
                res[k].append(score(finish_tone(model[None].copy(), None, stops_to_mean(model, target))[0], ref))
        pred = np.array(pred)
        print(f"\n{name} ({len(pairs)}): predicted against the reference's mean: correlation "
              f"{np.corrcoef(pred.T)[0, 1]:.3f}, rmse {np.sqrt(np.mean((pred[:, 0] - pred[:, 1]) ** 2)):.3f} stops, "
              f"bias {np.mean(pred[:, 0] - pred[:, 1]):+.3f} stops")
        print("| exposure | PSNR dB | SSIM | mean |\n|---|---|---|---|")
        for k, v in res.items():
            v = np.array(v)
            print(f"| {k} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.4f} | {v[:, 2].mean():.3f} |")


if __name__ == "__main__":
    main()
