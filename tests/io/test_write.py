"""Tests of skdce.io._write: round trips, bit depths per format, the PNG encoder, errors, atomic writes."""

import os

import numpy as np
import pytest
from PIL import Image

from skdce.io import ImageFileError, ImageMeta, _write, read_image, write_image

# -- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_lossless_round_trip(tmp_path, layouts, random_image, temp_files, suffix, dtype, mode):
    image = random_image(layouts[mode], dtype)
    path = write_image(tmp_path / f"x{suffix}", image)
    back, meta = read_image(path)
    assert back.dtype == dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)
    assert meta.mode == mode and meta.bit_depth == np.dtype(dtype).itemsize * 8
    assert meta.format == {".png": "PNG", ".tif": "TIFF"}[suffix]
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("suffix,fmt", [(".jpg", "JPEG"), (".webp", "WEBP")])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lossy_formats_are_8_bit(tmp_path, suffix, fmt, dtype):
    image = np.full((16, 16, 3), np.iinfo(dtype).max // 2, dtype)
    back, meta = read_image(write_image(tmp_path / f"x{suffix}", image, quality=90))
    assert back.dtype == np.uint8 and back.shape == (16, 16, 3) and meta.format == fmt
    assert np.abs(back.astype(int) - 127).max() <= 2


def test_webp_keeps_alpha_and_writes_gray_as_rgb(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 200
    back, meta = read_image(write_image(tmp_path / "a.webp", rgba, quality=100))
    assert meta.mode == "RGBA" and np.all(back[..., 3] == 200)
    back, meta = read_image(write_image(tmp_path / "g.webp", np.full((8, 8), 90, np.uint8)))
    assert meta.mode == "RGB"


def test_16_bit_to_lossy_formats_rounds_like_to_uint(tmp_path):
    from skdce._base.image import to_uint

    image = np.arange(0, 65536, 257 // 2, dtype=np.uint16)[: 16 * 32].reshape(16, 32)
    image = np.repeat(image[..., None], 3, axis=-1)
    prepared, _ = _write._prepare(image, "JPEG", None)
    np.testing.assert_array_equal(prepared, to_uint(image, np.uint8))
    np.testing.assert_array_equal(prepared, np.round(image / 257).astype(np.uint8))


def test_tall_16_bit_png(tmp_path, random_image):
    image = np.cumsum(random_image((600, 5, 3), np.uint16), axis=0, dtype=np.uint16)  # > 2 blocks of 256 rows
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "tall.png", image))[0], image)


def test_16_bit_png_interoperates_with_pillow(tmp_path, random_image, srgb_icc, exif_bytes, exif_tags):
    gray = random_image((11, 7), np.uint16)
    with Image.open(write_image(tmp_path / "g.png", gray)) as im:  # Pillow reads 16-bit gray exactly
        np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), gray)
    rgb = random_image((11, 7, 3), np.uint16)
    meta = ImageMeta("PNG", "RGB", 16, icc_profile=srgb_icc, exif=exif_bytes(), dpi=(300.0, 300.0))
    with Image.open(write_image(tmp_path / "c.png", rgb, meta)) as im:  # ... and 16-bit RGB as its high bytes
        np.testing.assert_array_equal(np.asarray(im), (rgb >> 8).astype(np.uint8))
        assert im.info["icc_profile"] == meta.icc_profile
        assert exif_tags(im.info["exif"])[0x010F] == "skdce-test"
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    _, back = read_image(tmp_path / "c.png")
    assert back.icc_profile == meta.icc_profile and back.dpi == pytest.approx((300, 300), abs=0.01)
    assert exif_tags(back.exif)[0x010F] == "skdce-test"


@pytest.mark.parametrize("shape", [(13, 10, 3), (1, 1, 4), (9, 3), (2, 17, 2)])
def test_16_bit_png_is_written_by_imagecodecs(tmp_path, random_image, shape):
    import imagecodecs

    image = random_image(shape, np.uint16)
    data = write_image(tmp_path / "a.png", image).read_bytes()
    np.testing.assert_array_equal(imagecodecs.png_decode(data), image)
    assert data[12:16] == b"IHDR" and data[24] == 16


# -- errors and atomic writes --------------------------------------------------------------------------


def test_write_errors(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match="dtype float64; write_image takes uint8 or uint16"):
        write_image(tmp_path / "a.png", image.astype(float))
    with pytest.raises(ValueError, match=r"shape \(4, 4, 5\)"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="cannot tell the format"):
        write_image(tmp_path / "a.xyz", image)
    with pytest.raises(ValueError, match="format='gif' is not supported"):
        write_image(tmp_path / "a.png", image, format="gif")
    with pytest.raises(ValueError, match="JPEG has no alpha channel"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"quality=0 is out of range: quality must be an integer in \[1, 100\]"):
        write_image(tmp_path / "a.jpg", image, quality=0)
    with pytest.raises(ValueError, match=r"quality=101 is out of range"):
        write_image(tmp_path / "a.jpg", image, quality=101)
    for bad in (True, 90.0, "90"):
        with pytest.raises(TypeError,
                           match=rf"quality={bad!r} \({type(bad).__name__}\) must be an integer in \[1, 100\]"):
            write_image(tmp_path / "a.jpg", image, quality=bad)
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        write_image(tmp_path / "missing" / "a.png", image)
    assert sorted(os.listdir(tmp_path)) == []


def test_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        write_image(path, np.zeros((4, 4), np.uint8))
    assert path.read_bytes() == b"keep me"
    write_image(path, np.zeros((4, 4), np.uint8), overwrite=True)
    assert read_image(path)[0].shape == (4, 4)
    for bad in ("no", 0, None):  # "no" would have replaced the file
        with pytest.raises(TypeError, match=rf"overwrite={bad!r} \({type(bad).__name__}\) must be True or False"):
            write_image(path, np.ones((4, 4), np.uint8), overwrite=bad)
    assert read_image(path)[0].max() == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch, error):
    def boom(*args, **kwargs):
        raise error("stop")

    monkeypatch.setattr(_write, "_png_bytes", boom)
    with pytest.raises(KeyboardInterrupt if error is KeyboardInterrupt else ImageFileError, match="stop"):
        write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint16))
    assert os.listdir(tmp_path) == []


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_gray_webp_keeps_its_size(tmp_path):
    gray = np.tile(np.arange(0, 250, 25, dtype=np.uint8), (4, 1))  # 4 x 10: not square
    back, meta = read_image(write_image(tmp_path / "g.webp", gray, quality=100))
    assert back.shape == (4, 10, 3) and meta.mode == "RGB"  # was (4, 30, 3)
    assert np.abs(back[..., 0].astype(int) - gray).max() <= 3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("order", ["II", "MM"])
def test_exif_is_carried_into_tiff(tmp_path, dtype, order):
    """Text tags into the TIFF's directory, the Exif and GPS directories appended; Pillow and tifffile read them."""
    import tifffile

    exif = Image.Exif()
    exif[271], exif[272], exif[0x0112] = "skdce-cam", "model-x", 6
    exif.get_ifd(0x8769)[36867] = "2026:12:04 10:00:00"
    exif.get_ifd(0x8825)[1] = "N"
    data = exif.tobytes()
    if order == "II":  # Pillow writes big-endian EXIF; a little-endian block through a TIFF round trip
        Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "le.tif", exif=data)
        with Image.open(tmp_path / "le.tif") as im:
            data = im.getexif().tobytes()
    Image.fromarray(np.full((6, 4, 3), 30, np.uint8)).save(tmp_path / "e.jpg", exif=data)
    image, meta = read_image(tmp_path / "e.jpg")
    out = write_image(tmp_path / "e.tif", image.astype(dtype) * (257 if dtype == np.uint16 else 1), meta)
    with tifffile.TiffFile(out) as tf:
        tags = tf.pages.first.tags
        assert tags[271].value == "skdce-cam" and tags[272].value == "model-x" and 274 not in tags
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2026:12:04 10:00:00"
    with Image.open(out) as im:
        back = im.getexif()
        assert back.get_ifd(0x8769)[36867] == "2026:12:04 10:00:00" and back.get_ifd(0x8825)[1] == "N"
    np.testing.assert_array_equal(read_image(out)[0] // (257 if dtype == np.uint16 else 1), image)


def test_format_limits_are_checked_before_encoding(tmp_path):
    """JPEG: 65,500 px a side and 65,533 bytes of EXIF; WebP: 16,383 px a side (were a library's late error)."""
    with pytest.raises(ValueError, match="65501 x 1 pixels; JPEG stores at most 65,500 pixels a side"):
        write_image(tmp_path / "wide.jpg", np.zeros((1, 65501, 3), np.uint8))
    with pytest.raises(ValueError, match="WEBP stores at most 16,383 pixels a side"):
        write_image(tmp_path / "tall.webp", np.zeros((16384, 1, 3), np.uint8))
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00" + bytes(70000)
    meta = ImageMeta(format="PNG", mode="RGB", bit_depth=8, exif=exif)
    with pytest.raises(ValueError, match="EXIF block is 70,016 bytes; JPEG holds at most 65,533"):
        write_image(tmp_path / "big-exif.jpg", np.zeros((4, 4, 3), np.uint8), meta)
    assert not list(tmp_path.iterdir())
    write_image(tmp_path / "wide.png", np.zeros((1, 65501, 3), np.uint8))  # PNG has no such limit


def test_cli_checks_format_limits_before_enhancing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from skdce import pipeline
    from skdce.cli import main

    write_image(tmp_path / "wide.png", np.full((1, 65501, 3), 20, np.uint8))
    monkeypatch.setattr(pipeline, "enhance", lambda *a, **k: pytest.fail("enhanced before the format was checked"))
    result = CliRunner().invoke(main, ["enhance", str(tmp_path / "wide.png"), "-o", str(tmp_path / "out"),
                                       "--format", "jpg"])
    assert result.exit_code == 1 and "JPEG stores at most 65,500 pixels a side" in result.output



def test_exif_of_a_tiff_input_is_carried(tmp_path):
    """A camera TIFF's make, dates and Exif directory reach JPEG, PNG and TIFF outputs (TIFF inputs had none)."""
    exif = Image.Exif()
    exif[271], exif[306] = "tiff-cam", "2026:12:04 11:00:00"
    exif.get_ifd(0x8769)[36867] = "2026:12:04 10:00:00"
    Image.fromarray(np.full((6, 4, 3), 30, np.uint8)).save(tmp_path / "in.tif", exif=exif.tobytes())
    image, meta = read_image(tmp_path / "in.tif")
    for name in ("o.jpg", "o.png", "o.tif"):
        _, got = read_image(write_image(tmp_path / name, image, meta))
        back = Image.Exif()
        back.load(got.exif)
        assert back[271] == "tiff-cam" and back[306] == "2026:12:04 11:00:00", name
        assert back.get_ifd(0x8769)[36867] == "2026:12:04 10:00:00", name
        assert 256 not in back and 273 not in back  # the TIFF's layout is not EXIF


@pytest.mark.parametrize("shape", [(400, 1), (600, 4), (300, 1, 3), (400, 3, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_narrow_images_of_noise_are_written(tmp_path, shape, dtype):
    """imagecodecs' PNG encoder guessed too small a buffer for narrow rows that do not compress."""
    image = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    write_image(tmp_path / "n.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "n.png")[0], image)
