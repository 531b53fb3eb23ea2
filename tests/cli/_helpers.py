"""Helpers of the CLI tests: images to feed the commands (the ways to run them are in tests/_helpers.py).

``invoke`` runs a command in this process through click's CliRunner;
``run_cli`` runs ``python -m skdce.cli`` in a subprocess (for signals,
terminals and concurrent processes); :class:`GatedRun` interrupts one at a known point.
"""

import functools

from PIL import Image, ImageCms

from skdce.io import write_image

from .._helpers import dark

COMMANDS = ["enhance", "train", "export", "evaluate", "models", "info", "demo", "serve"]


@functools.lru_cache(maxsize=1)
def icc_profile() -> bytes:  # built once: the profile records its creation time
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "skdce-cam"
    exif[0x0112] = orientation
    return exif.tobytes()


def small_batch(folder, n, size=16):
    """``n`` copies of one dark ``size`` x ``size`` PNG, ``img00.png``..., in the new folder ``folder``."""
    folder.mkdir()
    data = write_image(folder.parent / "one.png", dark((size, size, 3))).read_bytes()
    for i in range(n):
        (folder / f"img{i:02d}.png").write_bytes(data)
    (folder.parent / "one.png").unlink()
    return folder
