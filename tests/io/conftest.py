"""Shared fixtures of the skdce.io tests: random images, an sRGB profile, EXIF blocks, PNG chunks."""

import os

import numpy as np
import pytest
from PIL import Image, ImageCms

from skdce.io import TEMP_SUFFIX
from skdce.io._write import _png_chunk


@pytest.fixture
def layouts():
    """A small shape of each layout ``read_image`` returns, by mode."""
    return {"L": (9, 13), "LA": (9, 13, 2), "RGB": (9, 13, 3), "RGBA": (9, 13, 4)}


@pytest.fixture
def random_image():
    """``random_image(shape, dtype)``: uniform over the whole range of an unsigned dtype."""
    rng = np.random.default_rng(1234)

    def make(shape, dtype):
        return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=np.uint64).astype(dtype)

    return make


@pytest.fixture(scope="session")
def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def exif_bytes():
    """``exif_bytes(orientation=1, make="skdce-test")``: an EXIF block as Pillow writes it."""

    def make(orientation=1, make="skdce-test") -> bytes:
        exif = Image.Exif()
        exif[0x010F] = make
        exif[0x0112] = orientation
        return exif.tobytes()

    return make


@pytest.fixture
def exif_tags():
    """``exif_tags(exif)``: the tags of an EXIF block, as a dict."""

    def parse(exif: bytes) -> dict:
        parsed = Image.Exif()
        parsed.load(exif)
        return dict(parsed)

    return parse


@pytest.fixture
def temp_files():
    """``temp_files(folder)``: the atomic writer's temporary files left in ``folder``."""
    return lambda folder: [p for p in os.listdir(folder) if p.endswith(TEMP_SUFFIX)]


@pytest.fixture
def png_chunk():
    """``png_chunk(kind, payload)``: one PNG chunk (length, type, payload, CRC), from skdce's PNG writer."""
    return _png_chunk


@pytest.fixture
def with_chunk():
    """``with_chunk(png, kind, payload)``: ``png`` with one more chunk right after IHDR."""
    return lambda png, kind, payload: png[:33] + _png_chunk(kind, payload) + png[33:]
