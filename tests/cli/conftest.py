"""Fixtures shared by the CLI tests."""

import numpy as np
import pytest
from PIL import Image

from skdce.io import write_image

from .._helpers import RNG, dark
from ._helpers import icc_profile, make_exif


@pytest.fixture
def photos(tmp_path):
    """A folder of good images in several formats and bit depths, plus broken files."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(dark((24, 32, 3))).save(folder / "a.png")
    Image.fromarray(dark((24, 32, 3))).save(folder / "b.jpg", quality=95)
    write_image(folder / "c16.png", dark((24, 32, 3), np.uint16))
    write_image(folder / "d16.tif", dark((24, 32, 3), np.uint16))
    write_image(folder / "gray16.tif", dark((24, 32), np.uint16))
    Image.fromarray(dark((24, 32))).save(folder / "gray.png")
    rgba = dark((24, 32, 4))
    rgba[..., 3] = RNG.integers(0, 256, (24, 32))
    Image.fromarray(rgba).save(folder / "rgba.png")
    Image.fromarray(dark((20, 30, 3))).save(folder / "rot.jpg", exif=make_exif(6), icc_profile=icc_profile())
    (folder / "empty.png").write_bytes(b"")
    (folder / "corrupt.jpg").write_bytes(b"this is not a JPEG file")
    return folder
