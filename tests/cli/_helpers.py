"""Helpers of the CLI tests: images to feed the commands, and ways to run them.

``invoke`` runs a command in this process through click's CliRunner;
``run_cli`` runs ``python -m skdce.cli`` in a subprocess (for signals,
terminals and concurrent processes).
"""

import functools
import hashlib
import subprocess
import sys

import numpy as np
from click.testing import CliRunner
from PIL import Image, ImageCms

from skdce.cli import main
from skdce.io import TEMP_SUFFIX, write_image


RNG = np.random.default_rng(7)
COMMANDS = ["enhance", "train", "export", "evaluate", "models", "info", "demo", "serve"]


def dark(shape, dtype=np.uint8):
    top = 60 if dtype == np.uint8 else 15000
    return RNG.integers(0, top, shape).astype(dtype)


@functools.lru_cache(maxsize=1)
def icc_profile() -> bytes:  # built once: the profile records its creation time
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "skdce-cam"
    exif[0x0112] = orientation
    return exif.tobytes()


def run_cli(*args, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "skdce.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder):
    return [str(p) for p in folder.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def small_batch(folder, n, size=16):
    folder.mkdir()
    data = write_image(folder.parent / "one.png", dark((size, size, 3))).read_bytes()
    for i in range(n):
        (folder / f"img{i:02d}.png").write_bytes(data)
    (folder.parent / "one.png").unlink()
    return folder
