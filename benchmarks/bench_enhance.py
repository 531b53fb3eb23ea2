"""skdce.enhance against eager PyTorch of the same architecture and weights.

Run: python benchmarks/bench_enhance.py [--repeats 5] [--memory]

Everything is measured side by side in one run: medians over repeats, printed
with the ratio (eager torch time / skdce time; above 1 means skdce is faster).
The eager reference does what the published implementation does: the whole
image as one NCHW float32 tensor, the network (with its illumination-context
input, computed by the torch twin), then 8 curve steps, each allocating new
tensors, and no denoising. The same weights are loaded into torch from the
bundled ONNX file (whose tiny weights are already flushed to zero,
``skdce.train.export.flush_tiny_weights``). Torch runs with its defaults, as
the published code does, and is also timed with ``torch.set_flush_denormal(True)``
(the "ftz" figures). skdce is timed with its default denoising and without it
(``denoise=0``). ``--memory`` adds peak RSS at 12 and 24 megapixels, each in
a fresh subprocess. Needs ``skdce[train]`` (torch, onnx).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

import skdce
from skdce.engine.stages.boxes import torch_illumination_context
from skdce.train.export import model_from_onnx

from _timing import low_light, median_time

MACS_PER_PIXEL = 79_200  # DCE-Net: 3->32, 5 x 32->32 or 64->32, 64->24 3x3 convolutions (approx.)


def eager_zero_dce(net, img_u8):
    x = torch.from_numpy(img_u8).float().div(255).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        r = net(x, torch_illumination_context(x))
        for i in range(8):
            a = r[:, 3 * i : 3 * i + 3]
            x = x + a * (x - torch.pow(x, 2))
    return x


def eager_zero_dce_pp(net, img_u8, scale=12):
    x = torch.from_numpy(img_u8).float().div(255).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        small = F.interpolate(x, scale_factor=1 / scale, mode="bilinear")
        a = net(small, torch_illumination_context(small))
        a = F.interpolate(a, size=x.shape[-2:], mode="bilinear")
        for _ in range(8):
            x = x + a * (x - torch.pow(x, 2))
    return x


def _flushed(run):
    """``run()`` with torch flushing subnormal floats to zero."""
    torch.set_flush_denormal(True)
    try:
        return run()
    finally:
        torch.set_flush_denormal(False)


def matmul_gflops(repeats):
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    t_np = median_time(lambda: a @ a, repeats)
    ta = torch.from_numpy(a)
    t_torch = median_time(lambda: ta @ ta, repeats)
    return 2 * 2048**3 / min(t_np, t_torch) / 1e9



def _peak_rss(model, h, w):
    code = (
        "import numpy as np, skdce\n"
        f"img = np.random.default_rng(0).integers(20, 40, ({h}, {w}, 3), dtype=np.uint8)\n"
        f"out = skdce.enhance(img, model={model!r}, providers='cpu')\n"
        # VmHWM: the peak RSS of this process image (ru_maxrss would include the parent's at fork)
        "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(res.stdout.strip())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--default-only", action="store_true",
                   help="only the default call against eager torch (issue #20's ratios) and, with --memory, its RSS")
    args = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    results = {"torch_threads": torch.get_num_threads()}

    full = skdce.get_model("zero-dce")
    net = model_from_onnx(full.path)
    peak = matmul_gflops(args.repeats)
    results["matmul_gflops"] = peak
    print(f"float32 2048^3 matmul: {peak:.1f} GFLOP/s (best of numpy and torch)")
    models = [m for m in skdce.list_models() if not skdce.get_model(m).shared_curve]
    for h, w in [] if args.default_only else [(400, 600), (900, 1200)]:
        img = low_light(h, w)
        t_ref = median_time(lambda: eager_zero_dce(net, img), args.repeats)
        t_ftz = _flushed(lambda: median_time(lambda: eager_zero_dce(net, img), args.repeats))
        print(f"\nzero-dce {w}x{h}: eager torch {t_ref * 1e3:.0f} ms (ftz {t_ftz * 1e3:.0f} ms)")
        results[f"zero-dce {w}x{h} eager torch ftz"] = t_ftz
        for m in models:
            for denoise in (1.0, 0.0):
                t = median_time(lambda: skdce.enhance(img, model=m, providers="cpu", denoise=denoise), args.repeats)
                gflops = 2 * MACS_PER_PIXEL * h * w / t / 1e9
                label = f"{m} denoise={denoise:g}"
                print(f"  skdce {label:26s} {t * 1e3:7.0f} ms  speed-up {t_ref / t:4.2f}x  "
                      f"{gflops:5.1f} GFLOP/s effective")
                results[f"zero-dce {w}x{h} {label}"] = {"torch_s": t_ref, "skdce_s": t, "speedup": t_ref / t,
                                                        "gflops": gflops}

    if "zero-dce++" in skdce.list_models() and not args.default_only:
        pp = skdce.get_model("zero-dce++")
        net_pp = model_from_onnx(pp.path)
        for h, w in [(900, 1200), (3000, 4000)]:
            img = low_light(h, w)
            t_ref = median_time(lambda: eager_zero_dce_pp(net_pp, img), args.repeats)
            t_ftz = _flushed(lambda: median_time(lambda: eager_zero_dce_pp(net_pp, img), args.repeats))
            print(f"\nzero-dce++ {w}x{h}: eager torch {t_ref * 1e3:.0f} ms (ftz {t_ftz * 1e3:.0f} ms)")
            results[f"zero-dce++ {w}x{h} eager torch ftz"] = t_ftz
            for denoise in (1.0, 0.0):
                t = median_time(lambda: skdce.enhance(img, model="zero-dce++", providers="cpu", denoise=denoise),
                                args.repeats)
                print(f"  skdce zero-dce++ denoise={denoise:g} {t * 1e3:7.0f} ms  speed-up {t_ref / t:.2f}x")
                results[f"zero-dce++ {w}x{h} denoise={denoise:g}"] = {"torch_s": t_ref, "skdce_s": t,
                                                                       "speedup": t_ref / t}

    # The targets of issue #20: the default call, denoising included, against eager torch
    # Zero-DCE at 600x400 (full resolution) and eager torch Zero-DCE++ (scale 12) at 12 MP,
    # neither of them denoising.
    default = skdce.models.default_model("cpu")
    pp_net = model_from_onnx(skdce.get_model("zero-dce++").path)
    print(f"\ndefault call skdce.enhance(img) ({default}, denoised):")
    for (h, w), label, ref in [((400, 600), "eager zero-dce", lambda img: eager_zero_dce(net, img)),
                               ((3000, 4000), "eager zero-dce++ scale 12", lambda img: eager_zero_dce_pp(pp_net, img))]:
        img = low_light(h, w)
        ours = lambda: skdce.enhance(img, providers="cpu")  # noqa: E731
        ref(img), ours()  # warm-up
        t_ref, t = [], []
        for _ in range(args.repeats):  # interleaved: both see the same machine load
            for fn, times in ((lambda: ref(img), t_ref), (ours, t)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        t_ref, t = float(np.median(t_ref)), float(np.median(t))
        print(f"  {w}x{h}: skdce {t * 1e3:7.0f} ms, {label} {t_ref * 1e3:7.0f} ms: {t_ref / t:.2f}x")
        results[f"default {w}x{h} vs {label}"] = {"torch_s": t_ref, "skdce_s": t, "speedup": t_ref / t}

    if args.memory:
        print()
        for model in [default] if args.default_only else skdce.list_models():
            for h, w in [(3000, 4000), (4000, 6000)]:
                mb = _peak_rss(model, h, w)
                print(f"peak RSS {model} {w}x{h} ({h * w / 1e6:.0f} MP, uint8 in, float32 out, denoised): {mb:.0f} MB")
                results[f"rss {model} {h * w // 10**6}MP"] = mb
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    print(f"\n(this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
