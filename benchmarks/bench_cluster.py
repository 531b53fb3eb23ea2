"""Folders of files on Dask workers: files per second of ``skdce enhance`` locally and on 1 and 2 workers.

Run: python benchmarks/bench_cluster.py [--files 32] [--repeats 3] [--twelve-mp]

Writes ``--files`` low-light 600x400 PNGs (the astronaut sample resized and
darkened with :func:`skdce.data.darken`), then times the real CLI in a fresh
subprocess, ``--repeats`` times each (medians): the local runner
(``--jobs 1``, ONNX Runtime on all cores; ``--jobs 2``) and ``--cluster
local:1`` and ``local:2`` (one file and one ONNX Runtime thread per worker).
The cluster figures include starting the cluster; the per-file costs
printed after them say where the time goes: enhancing (one thread), reading
and writing the PNG, loading the model (once per worker), a Dask task's
scheduling round trip, and starting a LocalCluster. ``--twelve-mp`` also
times one 12 MP (4000x3000) photo, the figure the cost model of
docs/user_guide/scaling.rst starts from. Needs ``skdce[dask]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402


def make_inputs(folder: Path, n: int) -> np.ndarray:
    from skimage import data, transform

    import skdce
    from skdce.io import write_image

    base = transform.resize(data.astronaut(), (400, 600), anti_aliasing=True)
    folder.mkdir(parents=True)
    first = None
    for i in range(n):
        dark = skdce.data.darken(np.roll(base, 17 * i, axis=1).astype(np.float32), seed=i)
        image = np.round(dark * 255).astype(np.uint8)
        write_image(folder / f"img{i:04d}.png", image)
        first = image if first is None else first
    return first


def run_cli(src: Path, dst: Path, *extra) -> float:
    shutil.rmtree(dst, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o", str(dst), "--quiet", *extra],
                   check=True)
    return time.perf_counter() - t0


def per_file_costs(image: np.ndarray, folder: Path, repeats: int) -> dict:
    import skdce
    from skdce.engine.runtime import Session, providers_of
    from skdce.io import read_image, write_image

    path = folder / "probe.png"
    write_image(path, image)
    enhanced = np.round(skdce.enhance(image, num_threads=1) * 255).astype(np.uint8)
    info = skdce.get_model("zero-dce-int8")
    return {
        "enhance (1 thread)": median_time(lambda: skdce.enhance(image, num_threads=1), repeats),
        "read PNG": median_time(lambda: read_image(path), repeats),
        "write PNG": median_time(lambda: write_image(folder / "probe-out.png", enhanced, overwrite=True), repeats),
        "model load (per worker)": median_time(lambda: Session(info.path, providers_of("cpu"), 1), repeats),
    }


def cluster_overheads(repeats: int) -> dict:
    import logging

    import distributed

    starts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as lc,
            distributed.Client(lc) as client,
        ):
            client.wait_for_workers(2)
            starts.append(time.perf_counter() - t0)
            n = 2000
            t0 = time.perf_counter()
            distributed.wait(client.map(int, range(n), pure=False))
            per_task = (time.perf_counter() - t0) / n
    return {"LocalCluster(2) start": statistics.median(starts), "task round trip (2000 no-op tasks)": per_task}


def twelve_mp(repeats: int) -> dict:
    import skdce

    rng = np.random.default_rng(0)
    ramp = np.linspace(5, 60, 4000, dtype=np.float32)[None, :, None]
    photo = np.clip(np.round(ramp * (0.6 + 0.4 * rng.random((3000, 1, 3))) + rng.normal(0, 3, (3000, 4000, 3))),
                    0, 255).astype(np.uint8)
    from skdce.io import read_image, write_image

    folder = Path(tempfile.mkdtemp(prefix="skdce-bench-12mp-"))
    try:
        write_image(folder / "photo.jpg", photo, quality=95)
        io = {"read 12 MP JPEG": median_time(lambda: read_image(folder / "photo.jpg"), repeats),
              "write 12 MP JPEG (q95)": median_time(
                  lambda: write_image(folder / "out.jpg", photo, quality=95, overwrite=True), repeats)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    runs = [("zero-dce++", 1), ("zero-dce-int8", 1), ("zero-dce", 1), ("zero-dce++", None), ("zero-dce-int8", None)]
    return {**io, **{f"{model}, {'1 thread' if threads else 'all cores'}":
                     median_time(lambda: skdce.enhance(photo, model=model, num_threads=threads), repeats)
                     for model, threads in runs}}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--twelve-mp", action="store_true", help="also time one 12 MP photo per model")
    p.add_argument("--only-twelve-mp", action="store_true", help="time the 12 MP photo only")
    args = p.parse_args()
    if args.only_twelve_mp:
        for label, seconds in twelve_mp(min(2, args.repeats)).items():
            print(f"  {label:<36} {seconds:8.2f} s")
        return
    folder = Path(tempfile.mkdtemp(prefix="skdce-bench-cluster-"))
    try:
        image = make_inputs(folder / "in", args.files)
        print(f"{args.files} files of 600x400, {os.cpu_count()} CPUs; medians of {args.repeats} runs")
        runs = {
            "local, --jobs 1": (),
            "local, --jobs 2": ("--jobs", "2"),
            "--cluster local:1": ("--cluster", "local:1"),
            "--cluster local:2": ("--cluster", "local:2"),
        }
        for label, extra in runs.items():
            seconds = statistics.median(run_cli(folder / "in", folder / "out", *extra) for _ in range(args.repeats))
            print(f"  {label:<20} {seconds:6.2f} s  {args.files / seconds:6.2f} files/s")
        print("per-file costs (median):")
        costs = {**per_file_costs(image, folder, max(5, args.repeats)), **cluster_overheads(args.repeats)}
        for label, seconds in costs.items():
            print(f"  {label:<36} {seconds * 1e3:8.2f} ms")
        if args.twelve_mp:
            print("one 12 MP (4000x3000) uint8 photo: file I/O, and skdce.enhance with denoise on (median):")
            for label, seconds in twelve_mp(min(2, args.repeats)).items():
                print(f"  {label:<36} {seconds:8.2f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
