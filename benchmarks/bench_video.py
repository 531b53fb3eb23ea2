"""Video: skdce.video against enhancing each frame alone, and against eager PyTorch Zero-DCE++.

Run: python benchmarks/bench_video.py [--frames 48] [--sizes 720p,1080p] [--repeat 3] [--quality-only | --speed-only]

Two parts, each side by side in one run:

* **Quality** (a 240x320 photo, 24 frames of fresh sensor noise from
  :func:`skdce.data.darken`): a still clip and a clip panning 2 pixels a
  frame. Noise figure: PSNR against the noiseless dark frames enhanced by
  ``skdce.enhance`` (the target), for ``skdce.enhance`` on each frame alone
  and for :class:`skdce.video.VideoEnhancer`. Flicker figure: the standard
  deviation over time of the frame-to-frame change of the mean output level
  on the still clip (0 for a steady one), per frame and smoothed, over all
  24 frames and after the first half second (while the running average
  fills, the output level settles: less noise, less bias from the filter).
* **Speed** (720p and 1080p, ``--frames`` frames of a panning low-light
  clip): frames per second of eager PyTorch Zero-DCE++ (network, curves, no
  denoising: the published loop), of ``skdce.enhance`` per frame, of
  ``VideoEnhancer.push``, and of the whole command line run
  ``skdce enhance clip.mp4 -o out.mp4`` (process start, model load, decode,
  enhance, encode; H.264 CRF 18, the default preset), with zero-dce++ (the default of
  videos; ``--models zero-dce++,zero-dce-int8`` adds the default of images).
  Ratios are torch time / skdce time (above 1: skdce faster). The command
  line is timed on the whole clip and on its first frame alone (process
  start and model load): "per frame" is the difference over the other
  frames, what a longer clip approaches. On a shared machine the load of
  others moves every figure: each measurement is repeated ``--repeat``
  times, torch's and skdce's in turn, and the medians are printed, with the
  CPU seconds a frame of both (all threads; less moved by the load).
  ``--memory`` adds the peak memory of the whole command line run on a 48-
  and a 144-frame 720p clip (flat: frames are streamed). ``--compare DIR``
  also times the command line of another version of skdce, a source tree
  with its extensions built (``git archive main | tar -x -C DIR; cd DIR;
  python setup.py build_ext --inplace``), run with ``PYTHONPATH=DIR``, in
  turn with this one's: a before and after in one run. Each command line is
  run once untimed first, and with Python's bytecode caches written (as an
  installed package has them). Needs skdce[train,video].
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import skdce
from skdce.data import darken
from skdce.video import VIDEO_MODEL, VideoEnhancer

from _timing import low_light

SIZES = {"360p": (360, 640), "720p": (720, 1280), "1080p": (1080, 1920)}


def photo(h, w):
    import skimage.data

    img = skimage.data.astronaut()
    reps = (-(-h // img.shape[0]), -(-w // img.shape[1]))
    return np.pad(img, ((0, (reps[0] - 1) * img.shape[0]), (0, (reps[1] - 1) * img.shape[1]), (0, 0)),
                  mode="symmetric")[:h, :w]


def clip(h, w, n, step):
    """``(noisy dark frames, noiseless dark frames)``, float32, the camera moving ``step`` pixels a frame."""
    big = photo(h, w + step * n)
    crops = [big[:, step * i : step * i + w] for i in range(n)]
    noisy = [darken(c, seed=i) for i, c in enumerate(crops)]
    clean = [darken(c, photons=None, read_noise=0.0) for c in crops]
    return noisy, clean


def psnr(a, b):
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def flicker(frames):
    return float(np.std(np.diff([f.mean() for f in frames])))


def quality(model):
    print(f"quality, 240x320, 24 frames, model {model}:")
    for name, step in (("still", 0), ("pan 2 px/frame", 2)):
        noisy, clean = clip(240, 320, 24, step)
        target = [skdce.enhance(c, model=model) for c in clean]
        alone = [skdce.enhance(f, model=model) for f in noisy]
        video = VideoEnhancer(model=model, fps=24)
        steady = [video.push(f) for f in noisy]
        p_alone = np.mean([psnr(o, t) for o, t in zip(alone, target)])
        p_video = np.mean([psnr(o, t) for o, t in zip(steady, target)])
        p_in = np.mean([psnr(f, c) for f, c in zip(noisy, clean)])
        print(f"  {name:15s} PSNR per frame {p_alone:6.2f} dB, video {p_video:6.2f} dB ({p_video - p_alone:+.2f} dB); "
              f"input noise {p_in:.2f} dB against the clean dark frames")
        if step == 0:
            for label, first in (("flicker", 0), ("after 0.5 s", 12)):
                f_alone, f_video = flicker(alone[first:]), flicker(steady[first:])
                print(f"  {label:15s} per frame {f_alone:.6f}, video {f_video:.6f} ({f_video / f_alone:.2f}x); "
                      f"noiseless frames {flicker(target[first:]):.6f}")


def eager_pp():
    """Eager torch Zero-DCE++ on one frame (``bench_enhance.eager_zero_dce_pp``), as an (H, W, 3) array."""
    from bench_enhance import eager_zero_dce_pp

    from skdce.train.export import model_from_onnx

    net = model_from_onnx(skdce.get_model("zero-dce++").path)
    return lambda img_u8: eager_zero_dce_pp(net, img_u8).squeeze(0).permute(1, 2, 0).numpy()


def timed(fn, frames, cpu=None):
    """Median seconds per frame of ``fn`` over ``frames`` (after one warm-up call: sessions, caches); the
    CPU seconds per frame of all its threads are appended to the list ``cpu``."""
    fn(frames[0])
    times = []
    c0 = time.process_time()
    for f in frames:
        t0 = time.perf_counter()
        fn(f)
        times.append(time.perf_counter() - t0)
    if cpu is not None:
        cpu.append((time.process_time() - c0) / len(frames))
    return float(np.median(times))


def write_input(path, frames, fps=30):
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        v.codec_context.options = {"crf": "12", "preset": "ultrafast"}
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)


def cli_env(tree=None):
    """The environment of a timed command line: Python's bytecode caches written (an installed package has
    them), and ``PYTHONPATH=tree`` where another version's source tree is timed."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def cli_seconds(src, dst, *model, cpu=None, tree=None):
    """Wall seconds of ``skdce enhance src -o dst`` (of the source tree ``tree`` if given); its CPU seconds
    (user + system, all threads) are appended to the list ``cpu``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # run beside the clip: ``python -m`` puts the working folder first on sys.path, where a checkout's skdce
    # would be imported in place of the one under test
    subprocess.run([sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o", str(dst), "--overwrite", "--quiet",
                    *model], check=True, env=cli_env(tree), cwd=Path(src).parent)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return seconds


def peak_rss_mb(src, dst, *args):
    """Peak resident memory of ``skdce enhance src -o dst`` run in a fresh process (its VmHWM, MB)."""
    code = ("import sys\nfrom skdce.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024)\n")
    res = subprocess.run([sys.executable, "-c", code, "enhance", str(src), "-o", str(dst), "--overwrite", "--quiet",
                          *args], capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def memory(n_short=48, n_long=144):
    """Peak memory of the command line on a short and a long 720p clip: flat if frames are streamed.

    (Both clips are longer than the encoder's look-ahead, about 40 frames, whose buffers fill first.)
    """
    h, w = SIZES["720p"]
    big = low_light(h, w + 2 * n_short)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (n_short, n_long):
            src = Path(tmp) / f"in{n}.mp4"
            write_input(src, [np.ascontiguousarray(big[:, 2 * (i % n_short) : 2 * (i % n_short) + w])
                              for i in range(n)])
            peak = peak_rss_mb(src, Path(tmp) / "out.mp4")
            print(f"  720p, {n:3d} frames: peak memory of the whole CLI run {peak:6.0f} MB")


def speed(sizes, n, models, repeat, compare=None):
    torch_pp = eager_pp()
    for size in sizes:
        h, w = SIZES[size]
        big = low_light(h, w + 2 * n)
        frames = [np.ascontiguousarray(big[:, 2 * i : 2 * i + w]) for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            src, first = Path(tmp) / "in.mp4", Path(tmp) / "first.mp4"
            write_input(src, frames)
            write_input(first, frames[:1])
            for model in models:
                keys = ("torch", "alone", "video", "cli", "start", "torch_cpu", "cli_cpu", "start_cpu")
                keys += tuple(f"{k}_compare" for k in ("cli", "start", "cli_cpu", "start_cpu"))
                runs = {k: [] for k in keys}
                for tree in (None, compare) if compare else (None,):  # untimed: caches, bytecode
                    cli_seconds(src, Path(tmp) / "out.mp4", "--model", model, tree=tree)
                for _ in range(repeat):  # in turn: the load of others falls on both sides alike
                    runs["torch"].append(timed(torch_pp, frames, runs["torch_cpu"]))
                    runs["alone"].append(timed(lambda f: skdce.enhance(f, model=model), frames))
                    video = VideoEnhancer(model=model)
                    runs["video"].append(timed(video.push, frames))
                    runs["start"].append(cli_seconds(first, Path(tmp) / "out.mp4", "--model", model,
                                                     cpu=runs["start_cpu"]))
                    runs["cli"].append(cli_seconds(src, Path(tmp) / "out.mp4", "--model", model, cpu=runs["cli_cpu"]))
                    if compare:
                        runs["start_compare"].append(cli_seconds(first, Path(tmp) / "out.mp4", "--model", model,
                                                                 cpu=runs["start_cpu_compare"], tree=compare))
                        runs["cli_compare"].append(cli_seconds(src, Path(tmp) / "out.mp4", "--model", model,
                                                               cpu=runs["cli_cpu_compare"], tree=compare))
                med = {k: float(np.median(v)) if v else math.nan for k, v in runs.items()}
                t_torch = med["torch"]
                per_frame = max(med["cli"] - med["start"], 1e-9) / (n - 1)
                print(f"\n{size} ({w}x{h}), {n} frames, {model}, medians of {repeat}: eager torch zero-dce++ "
                      f"{1 / t_torch:6.2f} fps ({t_torch * 1000:.0f} ms a frame)")
                print(f"  enhance per frame  {1 / med['alone']:6.2f} fps ({t_torch / med['alone']:4.2f}x)   "
                      f"VideoEnhancer.push {1 / med['video']:6.2f} fps ({t_torch / med['video']:4.2f}x)")
                print(f"  whole CLI run      {med['cli']:6.2f} s = {n / med['cli']:6.2f} fps against torch's "
                      f"{t_torch * n:6.2f} s for the network and curves alone ({t_torch * n / med['cli']:4.2f}x); "
                      f"start and model load {med['start']:.2f} s (the one-frame run)")
                print(f"  CLI per frame      {1 / per_frame:6.2f} fps ({per_frame * 1000:.0f} ms a frame, "
                      f"{t_torch / per_frame:4.2f}x): decode, enhance, encode")
                # CPU time moves less with the load of others than wall time (but counts spinning threads)
                cpu_frame = max(med["cli_cpu"] - med["start_cpu"], 1e-9) / (n - 1)
                print(f"  CPU a frame        torch {med['torch_cpu'] * 1000:.0f} ms, CLI {cpu_frame * 1000:.0f} ms "
                      f"({med['torch_cpu'] / cpu_frame:4.2f}x); the whole CLI run {med['cli_cpu']:.2f} s "
                      f"({med['torch_cpu'] * n / med['cli_cpu']:4.2f}x)")
                if compare:
                    other = max(med["cli_compare"] - med["start_compare"], 1e-9) / (n - 1)
                    other_cpu = max(med["cli_cpu_compare"] - med["start_cpu_compare"], 1e-9) / (n - 1)
                    print(f"  {str(compare)}: whole CLI run {med['cli_compare']:6.2f} s "
                          f"({t_torch * n / med['cli_compare']:4.2f}x torch; this one "
                          f"{med['cli_compare'] / med['cli']:4.2f}x faster), start {med['start_compare']:.2f} s, "
                          f"per frame {other * 1000:.0f} ms "
                          f"({t_torch / other:4.2f}x torch), CPU a frame {other_cpu * 1000:.0f} ms")
                print(f"  runs (s): torch a frame {fmt(runs['torch'])}; CLI {fmt(runs['cli'])}"
                      + (f"; {compare} CLI {fmt(runs['cli_compare'])}" if compare else ""))


def fmt(values):
    return ", ".join(f"{v:.3f}" for v in values)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--repeat", type=int, default=3, help="runs of each speed figure (medians printed)")
    p.add_argument("--models", default=VIDEO_MODEL, help=f"comma-separated models of the speed part (default: "
                   f"{VIDEO_MODEL}; add zero-dce-int8 for the default of images)")
    p.add_argument("--sizes", default="720p,1080p", help=f"comma-separated, of {', '.join(SIZES)}")
    p.add_argument("--model", default=VIDEO_MODEL, help=f"model of the quality part (default: {VIDEO_MODEL}, "
                   f"the default of videos)")
    p.add_argument("--quality-only", action="store_true")
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--memory", action="store_true", help="also the peak memory of a 48- and a 144-frame 720p run")
    p.add_argument("--compare", type=Path, help="a source tree of another skdce (extensions built in place) whose "
                   "command line is timed in turn with this one's")
    args = p.parse_args()
    if not args.speed_only:
        quality(args.model)
    if not args.quality_only:
        speed(args.sizes.split(","), args.frames, args.models.split(","), args.repeat, args.compare)
    if args.memory:
        print("\nmemory:")
        memory()


if __name__ == "__main__":
    main()
