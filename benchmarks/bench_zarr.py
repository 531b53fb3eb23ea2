"""An image larger than memory: ``skdce enhance big.zarr -o out.zarr`` (or a TIFF), time and peak memory.

Run: python benchmarks/bench_zarr.py [--megapixels 200] [--chunk 1024] [--folder /tmp] [--tiff]

``--tiff`` writes the image as a tiled TIFF (256 x 256 tiles, deflate) and
runs ``skdce enhance big.tif -o out.tif`` instead: read through tifffile's
Zarr store, written band by band.

Writes a synthetic low-light uint8 RGB image of the given size to a Zarr
store chunk by chunk (the whole image is never in memory), runs the real CLI
on it in a fresh subprocess with the default model and denoising, and prints
the wall time, the throughput and the subprocess's peak RSS (``ru_maxrss`` of
the child; the bound to check is 2 GB whatever the size). Needs ``skdce[dask]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_synthetic(path: Path, megapixels: float, chunk: int) -> tuple[int, int]:
    import zarr

    w = int(np.sqrt(megapixels * 1e6 * 1.5))
    h = int(megapixels * 1e6 / w)
    z = zarr.open(str(path), mode="w", shape=(h, w, 3), chunks=(chunk, chunk, 3), dtype=np.uint8)
    rng = np.random.default_rng(0)
    for y0 in range(0, h, chunk):
        rows = min(chunk, h - y0)
        ramp = np.linspace(5, 60, w, dtype=np.float32)[None, :, None]
        band = ramp * (0.6 + 0.4 * rng.random((rows, 1, 3), dtype=np.float32)) + rng.normal(0, 3, (rows, w, 3))
        z[y0 : y0 + rows] = np.clip(np.round(band), 0, 255).astype(np.uint8)
    return h, w


def write_synthetic_tiff(path: Path, megapixels: float, tile: int = 256) -> tuple[int, int]:
    import tifffile

    w = int(np.sqrt(megapixels * 1e6 * 1.5))
    h = int(megapixels * 1e6 / w)
    rng = np.random.default_rng(0)

    def tiles():  # row by row, as the file stores them: never the whole image in memory
        for y0 in range(0, h, tile):
            rows = min(tile, h - y0)
            ramp = np.linspace(5, 60, w, dtype=np.float32)[None, :, None]
            band = ramp * (0.6 + 0.4 * rng.random((rows, 1, 3), dtype=np.float32)) + rng.normal(0, 3, (rows, w, 3))
            band = np.clip(np.round(band), 0, 255).astype(np.uint8)
            for x0 in range(0, w, tile):
                yield np.ascontiguousarray(band[:, x0 : x0 + tile])

    tifffile.imwrite(path, tiles(), shape=(h, w, 3), dtype=np.uint8, tile=(tile, tile), photometric="rgb",
                     compression="zlib", bigtiff=h * w * 3 > 2**31)
    return h, w


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--megapixels", type=float, default=200)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--folder", default=None, help="where to put the stores (default: a temporary folder)")
    p.add_argument("--tiff", action="store_true", help="a tiled TIFF in and out instead of Zarr stores")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.folder, prefix="skdce-bench-zarr-"))
    try:
        src, dst = (folder / "big.tif", folder / "out.tif") if args.tiff else (folder / "big.zarr", folder / "out.zarr")
        t0 = time.perf_counter()
        if args.tiff:
            h, w = write_synthetic_tiff(src, args.megapixels)
        else:
            h, w = write_synthetic(src, args.megapixels, args.chunk)
        layout = "256 x 256 tiles" if args.tiff else f"chunks {args.chunk}"
        print(f"wrote {w}x{h} ({h * w / 1e6:.0f} MP) uint8 RGB, {layout}: {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o", str(dst), "--quiet"], check=True)
        seconds = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"skdce enhance {src.name} -o {dst.name}: {seconds:.0f} s ({h * w / 1e6 / seconds:.2f} MP/s), "
              f"peak RSS {rss:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
