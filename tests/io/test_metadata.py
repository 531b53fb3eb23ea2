"""Tests of skdce.io._metadata: EXIF orientation applied and reset, ICC, EXIF and dpi carried through."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from skdce.io import ImageMeta, apply_orientation, read_image, write_image


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_applied_and_reset(tmp_path, random_image, exif_bytes, exif_tags, orientation, suffix):
    image = random_image((6, 10, 3), np.uint8)
    path = tmp_path / f"o{suffix}"
    Image.fromarray(image).save(path, exif=exif_bytes(orientation), quality=100, lossless=True)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    back, meta = read_image(path)
    if suffix == ".png":
        np.testing.assert_array_equal(back, expected)
    assert back.shape == expected.shape
    assert meta.orientation == orientation
    tags = exif_tags(meta.exif)
    assert tags[0x0112] == 1 and tags[0x010F] == "skdce-test"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_of_16_bit_png_and_tiff(tmp_path, random_image, exif_bytes, orientation):
    image = random_image((4, 7, 3), np.uint16)
    meta = ImageMeta("PNG", "RGB", 16, exif=exif_bytes(orientation))
    back, got = read_image(write_image(tmp_path / "o.png", image, meta))
    np.testing.assert_array_equal(back, apply_orientation(image, orientation))
    assert got.orientation == orientation
    import tifffile

    tifffile.imwrite(tmp_path / "o.tif", image, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    back, got = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(back, apply_orientation(image, orientation))
    assert got.orientation == orientation


@pytest.mark.parametrize(
    "suffix,dtype",
    [(".jpg", np.uint8), (".png", np.uint8), (".png", np.uint16), (".webp", np.uint8), (".tif", np.uint8),
     (".tif", np.uint16)],
)
@pytest.mark.parametrize("layout", ["L", "RGBA"])
def test_icc_exif_and_dpi_are_carried(tmp_path, layouts, random_image, srgb_icc, exif_bytes, exif_tags, suffix, dtype,
                                      layout):
    icc = srgb_icc
    meta = ImageMeta("JPEG", "RGB", 8, icc_profile=icc, exif=exif_bytes(), dpi=(240.0, 240.0))
    shape = (8, 8, 3) if suffix == ".jpg" else layouts[layout]
    image = random_image(shape, dtype)
    back, got = read_image(write_image(tmp_path / f"m{suffix}", image, meta))
    if suffix in (".png", ".tif"):
        np.testing.assert_array_equal(back, image)
    assert got.icc_profile == icc
    assert exif_tags(got.exif)[0x010F] == "skdce-test"  # TIFF too: written into its directory, read back
    if suffix != ".webp":
        assert got.dpi == pytest.approx((240, 240), abs=0.01)
