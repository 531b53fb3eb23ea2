"""skdce.enhance on ONNX Runtime's CUDA execution provider against its CPU one.

Run: python benchmarks/bench_gpu.py [--repeats 5] [--sizes 600x400,1200x900,4000x3000] [--batch 64]
                                    [--quick] [--json out.json]

Needs onnxruntime-gpu (in place of onnxruntime) and a GPU; on any other
machine it says that CUDA is unavailable and times the CPU alone. All in one
run, side by side:

1. the providers that ``providers="cuda"`` and ``"auto"`` resolve to, and the
   ones the loaded ONNX Runtime session really runs (``Session.providers``);
   also ``"auto"`` in a subprocess that sees no GPU (CUDA_VISIBLE_DEVICES="");
2. max |CUDA - CPU| of ``enhance`` (the fused graph, and ``fused=False``)
   and ``estimate_curves`` per model, on a 600x400 image, an odd 17x33 one
   and a 1001x777 one (several tiles);
3. where ONNX Runtime places each model's nodes on CUDA (from its profiler):
   the int8 model's quantized operators may stay on the CPU;
4. medians of ``enhance`` per model and size, CUDA vs CPU (ratio = CPU time /
   CUDA time, above 1 means CUDA is faster), the first CUDA call on a new size
   (cuDNN's algorithm search) apart, CUDA with ``fused=False`` (network on
   the GPU, curves and denoiser on the host), ``zero-dce`` on CUDA with
   ``tile_size=None`` (one network run per image), and eager PyTorch of the
   same network on the GPU (host-to-host, like ``enhance``) where torch has
   CUDA;
5. the network alone on tiles of two shapes, run alternately as the 512
   tiling of a 600x400 image does, against one shape repeated: ONNX Runtime's
   CUDA convolutions redo their set-up whenever the input shape changes;
6. end to end: skdce on CUDA (the fused graph of skdce/engine/fused.py, image
   uploaded once and the result downloaded once through I/O binding)
   against eager PyTorch of the same pipeline on the same GPU
   (``_torch_pipeline.py``: skdce.train.model networks, torch curves and the
   torch twin of the denoiser), every model, each size, with and without
   denoising (ratio = torch time / skdce time; the target is 2x or more),
   max |skdce - torch|, and throughput for a batch of ``--batch`` images at
   1200x900; ``providers="auto"`` checked to run the fused graph on CUDA;
7. ``precision="fp16"`` against fp32 in the fused graph: time, max
   difference and, where the LOL data is found (``--lol``), its validation
   PSNR / SSIM (the criterion: within 0.05 dB and 0.002).

Where CUDA is unavailable, sections 6 and 7 run on the CPU (skdce's host
path and its fused graph, torch on the CPU) so that the script is checked
end to end; ``--quick`` makes that a run of a minute (small sizes, one
repeat, a batch of 4, 3 LOL images).

torch, where installed, is imported before onnxruntime: onnxruntime-gpu then
finds the CUDA and cuDNN libraries that torch's wheels loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from _timing import low_light, median_time

try:  # before onnxruntime (see above); optional
    import torch
except ImportError:  # pragma: no cover - torch is optional here
    torch = None

import onnxruntime as ort

import skdce
from skdce.engine.fused import get_fused_session
from skdce.engine.runtime import get_session, providers_of, resolve_providers
from skdce.engine.stages.boxes import illumination_context

if torch is not None:
    from _torch_pipeline import eager_pipeline

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
#: What is timed against the CPU: "cuda", or "cpu" for a dry run of every section on a CPU-only machine.
GPU_ALIAS, GPU = "cuda", CUDA



def parse_sizes(text):
    """``"600x400,4000x3000"`` (width x height) -> [(h, w), ...]."""
    sizes = []
    for part in text.split(","):
        w, h = part.lower().split("x")
        sizes.append((int(h), int(w)))
    return sizes


def cuda_status():
    """(usable, message): whether skdce can run a model on CUDA here, and why not."""
    available = ort.get_available_providers()
    if GPU not in available:
        return False, f"CUDA is unavailable: this onnxruntime ({ort.__version__}) has providers {', '.join(available)}"
    try:
        session = get_session(skdce.get_model("zero-dce").path, GPU_ALIAS)
    except ValueError as exc:
        return False, f"CUDA is unavailable: {exc}"
    return True, f"CUDA session providers: {', '.join(session.providers)}"


def device_name():
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        return out.stdout.strip() or "no GPU found by nvidia-smi"
    except (OSError, subprocess.TimeoutExpired):
        return "no GPU (nvidia-smi not found)"


def net_feeds(session, x):
    """The feeds of a bare network session: the NCHW image and, where it takes one, its illumination context."""
    feeds = {session.get_inputs()[0].name: x}
    if len(session.get_inputs()) > 1:
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        feeds[session.get_inputs()[1].name] = illumination_context(nhwc)[:, None]
    return feeds


def check_providers(results):
    print("\n== 1. providers")
    for req in [GPU_ALIAS, "auto"]:
        try:
            chosen = resolve_providers(req)
            running = get_session(skdce.get_model("zero-dce").path, req).providers
            line = f"resolve_providers({req!r}) = {list(chosen)}; session runs {list(running)}"
        except ValueError as exc:
            line = f"providers={req!r}: ValueError: {exc}"
        print("  " + line)
        results[f"providers {req}"] = line
    # "auto" where onnxruntime-gpu is installed but no GPU is visible: should fall back to the CPU.
    code = (
        "import sys\n"
        "try:\n    import torch\nexcept ImportError:\n    pass\n"
        "import numpy as np, skdce\n"
        "from skdce.engine.runtime import get_session\n"
        "try:\n"
        "    out = skdce.enhance(np.full((8, 8, 3), 30, np.uint8), model='zero-dce', providers='auto')\n"
        "    print('ok, runs', list(get_session(skdce.get_model('zero-dce').path, 'auto').providers))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__ + ':', exc)\n"
    )
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    line = (res.stdout.strip() or res.stderr.strip()[-500:]).splitlines()
    line = line[-1] if line else f"exit code {res.returncode}"
    print(f"  providers='auto' with CUDA_VISIBLE_DEVICES='': {line}")
    results["auto without visible GPU"] = line


def check_outputs(models, results):
    print("\n== 2. max |CUDA - CPU|")
    for h, w in [(400, 600), (33, 17), (777, 1001)]:
        img = low_light(h, w, seed=1)
        for m in models:
            out = {p: skdce.enhance(img, model=m, providers=p) for p in ("cpu", GPU_ALIAS)}
            unfused = skdce.enhance(img, model=m, providers=GPU_ALIAS, fused=False)
            maps = {p: skdce.estimate_curves(img, model=m, providers=p) for p in ("cpu", GPU_ALIAS)}
            d_img = float(np.abs(out[GPU_ALIAS] - out["cpu"]).max())
            d_unfused = float(np.abs(unfused - out["cpu"]).max())
            d_map = float(np.abs(maps[GPU_ALIAS] - maps["cpu"]).max())
            print(f"  {m:14s} {w}x{h}: enhance (fused) {d_img:.2e}   enhance fused=False {d_unfused:.2e}   "
                  f"estimate_curves {d_map:.2e}")
            results[f"diff {m} {w}x{h}"] = {"enhance": d_img, "enhance_unfused": d_unfused, "estimate_curves": d_map}
    # The network alone, with ONNX Runtime's TF32 convolutions on (its default) and off.
    path = str(skdce.get_model("zero-dce").path)
    x = low_light(400, 600, seed=1).astype(np.float32).transpose(2, 0, 1)[None] / 255
    cpu = ort.InferenceSession(path, providers=[CPU])
    ref = cpu.run(None, net_feeds(cpu, x))[0]
    for tf32 in ("1", "0"):
        s = ort.InferenceSession(path, providers=[(GPU, {"use_tf32": tf32}) if GPU == CUDA else GPU, CPU])
        y = s.run(None, net_feeds(s, x))[0]
        d = float(np.abs(y - ref).max())
        print(f"  zero-dce network alone, 600x400, CUDA use_tf32={tf32}: max |alpha CUDA - CPU| {d:.2e}")
        results[f"diff zero-dce network use_tf32={tf32}"] = d


def node_placement(path, providers, x):
    """{provider: {op: (count, total microseconds)}} of one profiled run of ``path``."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as skdce
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = os.path.join(tmp, "prof")
        s = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
        feed = net_feeds(s, x)
        for _ in range(3):  # the last run's kernels are what we keep
            s.run(None, feed)
        with open(s.end_profiling()) as fh:
            events = json.load(fh)
    runs = [e for e in events if e.get("name") == "model_run"]
    last_start = runs[-1]["ts"] if runs else 0
    table = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for e in events:
        args = e.get("args", {})
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= last_start:
            entry = table[args.get("provider", "?")][args.get("op_name", "?")]
            entry[0] += 1
            entry[1] += e.get("dur", 0)
    return {p: {op: tuple(v) for op, v in ops.items()} for p, ops in table.items()}


def check_placement(models, results):
    print("\n== 3. node placement on CUDA (one profiled 600x400 run after two warm-ups; ops after ORT's fusions)")
    x = low_light(400, 600).astype(np.float32).transpose(2, 0, 1)[None] / 255
    for m in models:
        info = skdce.get_model(m)
        if info.shared_curve:  # as skdce runs it: on the 12x downscaled copy
            x_m = np.ascontiguousarray(x[:, :, ::12, ::12])
        else:
            x_m = x
        table = node_placement(info.path, [GPU, CPU], x_m)
        for prov, ops in table.items():
            desc = ", ".join(f"{op} x{n} {us / 1e3:.2f} ms" for op, (n, us) in sorted(ops.items()))
            print(f"  {m:14s} {prov}: {desc}")
        results[f"placement {m}"] = table


def eager_gpu(net, img_u8):
    """Eager Zero-DCE (network with its context, curves, no denoising) on the GPU, host image in and out."""
    return eager_pipeline(net, skdce.get_model("zero-dce"), img_u8[None], "cuda", False)[0]


def timings(models, sizes, repeats, use_cuda, results):
    print(f"\n== 4. enhance() medians over {repeats} repeats (after one warm-up), ratio = CPU / CUDA")
    net = None
    if use_cuda and torch is not None and torch.cuda.is_available():
        from skdce.train.export import model_from_onnx

        net = model_from_onnx(skdce.get_model("zero-dce").path).cuda()
    for h, w in sizes:
        img = low_light(h, w)
        for m in models:
            t_cpu = median_time(lambda: skdce.enhance(img, model=m, providers="cpu"), repeats)
            line = f"  {m:14s} {w}x{h}: cpu {t_cpu * 1e3:8.1f} ms"
            entry = {"cpu_s": t_cpu}
            if use_cuda:
                t0 = time.perf_counter()
                skdce.enhance(img, model=m, providers=GPU_ALIAS)  # first call at this size
                first = time.perf_counter() - t0
                t_cuda = median_time(lambda: skdce.enhance(img, model=m, providers=GPU_ALIAS), repeats)
                t_unfused = median_time(lambda: skdce.enhance(img, model=m, providers=GPU_ALIAS, fused=False), repeats)
                line += (f"  cuda {t_cuda * 1e3:8.1f} ms  ratio {t_cpu / t_cuda:5.2f}x  "
                         f"(first cuda call {first * 1e3:.0f} ms; fused=False {t_unfused * 1e3:.1f} ms, "
                         f"{t_unfused / t_cuda:.2f}x the fused time)")
                entry.update(cuda_s=t_cuda, cuda_first_s=first, ratio=t_cpu / t_cuda, cuda_unfused_s=t_unfused)
            print(line)
            results[f"time {m} {w}x{h}"] = entry
            if use_cuda and m == "zero-dce":
                t_whole = median_time(lambda: skdce.enhance(img, model=m, providers=GPU_ALIAS, tile_size=None), repeats)
                print(f"  {m:14s} {w}x{h}: cuda tile_size=None {t_whole * 1e3:8.1f} ms  ratio {t_cpu / t_whole:5.2f}x")
                results[f"time {m} {w}x{h} cuda tile_size=None"] = t_whole
        if net is not None:
            def run():
                eager_gpu(net, img)
                torch.cuda.synchronize()

            t = median_time(run, repeats)
            t_onnx = results[f"time zero-dce {w}x{h}"]["cuda_s"] if "zero-dce" in models else float("nan")
            print(f"  eager torch GPU zero-dce {w}x{h}: {t * 1e3:8.1f} ms  "
                  f"(skdce zero-dce cuda / torch {t_onnx / t:5.2f}x)")
            results[f"time torch-gpu zero-dce {w}x{h}"] = t


def check_shape_switching(repeats, results):
    print("\n== 5. zero-dce network alone: one tile shape repeated vs two shapes alternating (ms per run)")
    path = str(skdce.get_model("zero-dce").path)
    a, b = (low_light(400, w).astype(np.float32).transpose(2, 0, 1)[None] / 255 for w in (519, 95))
    for opts in ({}, {"cudnn_conv_algo_search": "HEURISTIC"}):
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as skdce
        s = ort.InferenceSession(path, so, providers=[(GPU, opts) if GPU == CUDA else GPU, CPU])
        fa, fb = net_feeds(s, a), net_feeds(s, b)
        same = median_time(lambda: s.run(None, fa), 2 * repeats)
        alt = median_time(lambda: (s.run(None, fa), s.run(None, fb)), repeats) / 2
        print(f"  {GPU} {opts or '(skdce: defaults)'}: 519x400 repeated {same * 1e3:6.1f}   "
              f"519x400/95x400 alternating {alt * 1e3:6.1f}")
        results[f"shape switching {opts}"] = {"same_s": same, "alternating_s": alt}


def _torch_net(model):
    """The torch network of ``model`` (the int8 model's fp32 original: eager torch has no int8 twin)."""
    from skdce.train.export import model_from_onnx

    info = skdce.get_model(model)
    name = "zero-dce" if info.precision == "int8" else model
    return model_from_onnx(skdce.get_model(name).path), info, name


def check_auto(use_cuda, results):
    """``providers="auto"`` runs the fused graph on CUDA (where CUDA is usable)."""
    img = low_light(64, 96)
    out = skdce.enhance(img, model="zero-dce", providers="auto")
    session = get_fused_session(skdce.get_model("zero-dce"), providers_of("auto"), None, n_color=3, dtype="uint8",
                                denoise=True,
                                precision="fp32")
    first = session.providers[0]
    ok = first == CUDA if use_cuda else True
    same = float(np.abs(out - skdce.enhance(img, model="zero-dce", providers=GPU_ALIAS)).max())
    line = (f"providers='auto' resolves to {resolve_providers('auto')[0][0]}; its fused graph runs on {first}; "
            f"max |auto - {GPU_ALIAS}| {same:.1e}: {'PASS' if ok else 'FAIL'}")
    print("  " + line)
    results["auto picks cuda"] = line


def end_to_end(models, sizes, repeats, batch, use_cuda, results):
    on_gpu = use_cuda and torch is not None and torch.cuda.is_available()
    device, prov = ("cuda", GPU_ALIAS) if on_gpu else ("cpu", "cpu")
    where = "CUDA" if on_gpu else "the CPU (CUDA unavailable: skdce's default CPU path, torch on the CPU)"
    print(f"\n== 6. end to end on {where}: medians over {repeats} repeats, ratio = eager torch / skdce")
    if torch is None:
        print("  torch is not installed: skipped (pip install 'skdce[train]')")
        return
    if on_gpu:
        check_auto(use_cuda, results)

    def sync():
        if on_gpu:
            torch.cuda.synchronize()

    for k, (h, w) in enumerate(sizes):
        img = low_light(h, w)
        for m in models:
            net, info, torch_name = _torch_net(m)
            net = net.to(device)
            for denoise in (1.0, 0):
                run_skdce = lambda: skdce.enhance(img, model=m, providers=prov, denoise=denoise)  # noqa: E731

                def run_torch():
                    out = eager_pipeline(net, info, img[None], device, bool(denoise))
                    sync()
                    return out

                t_s, t_t = median_time(run_skdce, repeats), median_time(run_torch, repeats)
                label = f"{m} {w}x{h} denoise={denoise:g}"
                line = f"  {label:36s} skdce {t_s * 1e3:8.1f} ms  torch {t_t * 1e3:8.1f} ms  ratio {t_t / t_s:5.2f}x"
                entry = {"skdce_s": t_s, "torch_s": t_t, "ratio": t_t / t_s}
                if k == 0:
                    diff = float(np.abs(run_skdce() - run_torch()[0]).max())
                    line += f"  max |skdce - torch| {diff:.1e}" + ("" if torch_name == m else " (torch: fp32 network)")
                    entry["max_diff"] = diff
                print(line)
                results[f"e2e {label}"] = entry
    h, w = 900, 1200
    if batch:
        imgs = np.stack([low_light(h, w, seed=s) for s in range(batch)])
        print(f"  throughput, a batch of {batch} at {w}x{h}:")
        for m in models:
            net, info, _ = _torch_net(m)
            net = net.to(device)
            chunk = 8 if on_gpu else 2
            for denoise in (1.0, 0):
                t_s = median_time(lambda: skdce.enhance(imgs, model=m, providers=prov, denoise=denoise), repeats)

                def run_torch():
                    for b in range(0, batch, chunk):
                        eager_pipeline(net, info, imgs[b : b + chunk], device, bool(denoise))
                    sync()

                t_t = median_time(run_torch, repeats)
                print(f"    {m:14s} denoise={denoise:g}: skdce {batch / t_s:7.1f} images/s  torch {batch / t_t:7.1f} "
                      f"images/s (chunks of {chunk})  ratio {t_t / t_s:5.2f}x")
                results[f"batch {batch} {m} denoise={denoise:g}"] = {"skdce_s": t_s, "torch_s": t_t}


def check_fp16(repeats, lol, lol_limit, use_cuda, results):
    prov = GPU_ALIAS if use_cuda else "cpu"
    print(f"\n== 7. precision='fp16' vs fp32 in the fused graph on {prov}")
    img = low_light(900, 1200)
    float_models = [m for m in skdce.list_models() if skdce.get_model(m).precision != "int8"]
    for m in float_models:
        run = {p: (lambda p=p: skdce.enhance(img, model=m, providers=prov, fused=True, precision=p))
               for p in ("fp32", "fp16")}
        times = {p: median_time(f, repeats) for p, f in run.items()}
        diff = float(np.abs(run["fp16"]() - run["fp32"]()).max())
        print(f"  {m:10s} 1200x900: fp32 {times['fp32'] * 1e3:7.1f} ms  fp16 {times['fp16'] * 1e3:7.1f} ms  "
              f"max |fp16 - fp32| {diff:.1e}")
        results[f"fp16 {m}"] = {**times, "max_diff": diff}
    names_file = lol / "val.txt"
    if not names_file.is_file():
        print(f"  no LOL data at {lol}: the validation check is skipped")
        return
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    names = names_file.read_text().split()[:lol_limit]
    for m in float_models:
        scores = {"fp32": [], "fp16": []}
        for n in names:
            low = np.asarray(Image.open(lol / "low" / n).convert("RGB"))
            ref = np.asarray(Image.open(lol / "normal" / n).convert("RGB"))
            for p in scores:
                out = skdce.enhance(low, model=m, providers=prov, fused=True, precision=p)
                u8 = np.round(out * 255).astype(np.uint8)
                scores[p].append((peak_signal_noise_ratio(ref, u8, data_range=255),
                                  structural_similarity(ref, u8, channel_axis=-1, data_range=255)))
        (p32, s32), (p16, s16) = np.mean(scores["fp32"], axis=0), np.mean(scores["fp16"], axis=0)
        ok = abs(p16 - p32) <= 0.05 and abs(s16 - s32) <= 0.002
        print(f"  {m:10s} LOL val ({len(names)} images): fp32 {p32:.3f} dB / {s32:.4f}, fp16 {p16:.3f} dB / "
              f"{s16:.4f}: {'PASS' if ok else 'FAIL'} (0.05 dB / 0.002)")
        results[f"fp16 lol {m}"] = {"fp32": [p32, s32], "fp16": [p16, s16], "pass": bool(ok)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sizes", default="600x400,1200x900,4000x3000", help="width x height, comma-separated")
    p.add_argument("--models", default=",".join(skdce.list_models()))
    p.add_argument("--require-cuda", action="store_true", help="exit with status 2 where CUDA does not run")
    p.add_argument("--gpu-provider", default="cuda", choices=["cuda", "cpu"],
                   help="'cpu' runs every section with the CPU in CUDA's place (a dry run of this script)")
    p.add_argument("--batch", type=int, default=64, help="images of the 1200x900 throughput run (0: none)")
    p.add_argument("--lol", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "lol"))
    p.add_argument("--lol-limit", type=int, default=None, help="LOL validation images of the fp16 check")
    p.add_argument("--quick", action="store_true", help="small sizes, one repeat, a batch of 4, 3 LOL images")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.batch, args.lol_limit = "96x64,160x120", 1, 4, 3
    global GPU_ALIAS, GPU
    GPU_ALIAS, GPU = args.gpu_provider, {"cuda": CUDA, "cpu": CPU}[args.gpu_provider]
    models = args.models.split(",")

    use_cuda, message = cuda_status()
    results = {
        "onnxruntime": ort.__version__,
        "available_providers": ort.get_available_providers(),
        "device": device_name(),
        "cuda": message,
        "cpu_count": os.cpu_count(),
    }
    print(f"onnxruntime {ort.__version__} ({os.path.dirname(ort.__file__)}), skdce {os.path.dirname(skdce.__file__)}")
    print(f"available providers: {', '.join(ort.get_available_providers())}")
    print(f"device: {results['device']}; {os.cpu_count()} CPUs")
    print(message)
    if not use_cuda:
        print("CUDA is unavailable here: only the CPU is timed (sections 1-3 need CUDA).")
        if args.require_cuda:
            sys.exit(2)
    else:
        check_providers(results)
        check_outputs(models, results)
        check_placement(models, results)
    timings(models, parse_sizes(args.sizes), args.repeats, use_cuda, results)
    if use_cuda:
        check_shape_switching(args.repeats, results)
    end_to_end(models, parse_sizes(args.sizes), args.repeats, args.batch, use_cuda, results)
    check_fp16(args.repeats, Path(args.lol), args.lol_limit, use_cuda, results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
