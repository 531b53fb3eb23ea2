"""Tests of skdce.io: bit depths, layouts, orientation, metadata, errors, atomic writes."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from skdce import io as skio
from skdce.io import ImageFileError, ImageMeta, read_image, write_image

RNG = np.random.default_rng(1234)
LAYOUTS = {"L": (9, 13), "LA": (9, 13, 2), "RGB": (9, 13, 3), "RGBA": (9, 13, 4)}


def random_image(shape, dtype):
    return RNG.integers(0, np.iinfo(dtype).max + 1, shape, dtype=np.uint64).astype(dtype)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation=1, make="skdce-test") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0112] = orientation
    return exif.tobytes()


def exif_tags(exif: bytes) -> dict:
    parsed = Image.Exif()
    parsed.load(exif)
    return dict(parsed)


def temp_files(folder):
    return [p for p in os.listdir(folder) if p.endswith(skio.TEMP_SUFFIX)]


# -- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("mode", list(LAYOUTS))
def test_lossless_round_trip(tmp_path, suffix, dtype, mode):
    image = random_image(LAYOUTS[mode], dtype)
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
    from skdce._image import to_uint

    image = np.arange(0, 65536, 257 // 2, dtype=np.uint16)[: 16 * 32].reshape(16, 32)
    image = np.repeat(image[..., None], 3, axis=-1)
    prepared, _ = skio._prepare(image, "JPEG", None)
    np.testing.assert_array_equal(prepared, to_uint(image, np.uint8))
    np.testing.assert_array_equal(prepared, np.round(image / 257).astype(np.uint8))


def test_tall_16_bit_png(tmp_path):
    image = np.cumsum(random_image((600, 5, 3), np.uint16), axis=0, dtype=np.uint16)  # > 2 blocks of 256 rows
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "tall.png", image))[0], image)


def test_16_bit_png_interoperates_with_pillow(tmp_path):
    gray = random_image((11, 7), np.uint16)
    with Image.open(write_image(tmp_path / "g.png", gray)) as im:  # Pillow reads 16-bit gray exactly
        np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), gray)
    rgb = random_image((11, 7, 3), np.uint16)
    meta = ImageMeta("PNG", "RGB", 16, icc_profile=srgb_icc(), exif=exif_bytes(), dpi=(300.0, 300.0))
    with Image.open(write_image(tmp_path / "c.png", rgb, meta)) as im:  # ... and 16-bit RGB as its high bytes
        np.testing.assert_array_equal(np.asarray(im), (rgb >> 8).astype(np.uint8))
        assert im.info["icc_profile"] == meta.icc_profile
        assert exif_tags(im.info["exif"])[0x010F] == "skdce-test"
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    _, back = read_image(tmp_path / "c.png")
    assert back.icc_profile == meta.icc_profile and back.dpi == pytest.approx((300, 300), abs=0.01)
    assert exif_tags(back.exif)[0x010F] == "skdce-test"


# -- PNG and TIFF through imagecodecs -------------------------------------------------------------------


def with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR."""
    return png[:33] + skio._png_chunk(kind, payload) + png[33:]


@pytest.mark.parametrize("compression", ["lzw", "jpeg", "zlib", None])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_compressed_tiff_is_read_by_tifffile(tmp_path, compression, dtype):
    import tifffile

    if compression == "jpeg" and dtype == np.uint16:
        pytest.skip("JPEG holds 8 bits")
    image = np.cumsum(random_image((16, 24, 3), dtype) // 64, axis=1, dtype=dtype)
    tifffile.imwrite(tmp_path / "c.tif", image, photometric="rgb", compression=compression)
    back, meta = read_image(tmp_path / "c.tif")
    assert (meta.format, meta.mode, back.dtype, back.shape) == ("TIFF", "RGB", dtype, image.shape)
    if compression == "jpeg":
        assert np.abs(back.astype(int) - image).mean() < 8
    else:
        np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("shape", [(13, 10, 3), (1, 1, 4), (9, 3), (2, 17, 2)])
def test_16_bit_png_is_written_by_imagecodecs(tmp_path, shape):
    import imagecodecs

    image = random_image(shape, np.uint16)
    data = write_image(tmp_path / "a.png", image).read_bytes()
    np.testing.assert_array_equal(imagecodecs.png_decode(data), image)
    assert data[12:16] == b"IHDR" and data[24] == 16


def test_png_transparency_key_becomes_alpha(tmp_path):
    import imagecodecs

    image = random_image((6, 5, 3), np.uint16)
    image[2, 3] = (1, 2, 3)
    png = with_chunk(bytes(imagecodecs.png_encode(image)), b"tRNS", struct.pack(">HHH", 1, 2, 3))
    (tmp_path / "t.png").write_bytes(png)
    back, meta = read_image(tmp_path / "t.png")
    assert meta.mode == "RGBA" and back.shape == (6, 5, 4)
    expected = np.full((6, 5), 65535, np.uint16)
    expected[2, 3] = 0
    np.testing.assert_array_equal(back[..., 3], expected)
    np.testing.assert_array_equal(back[..., :3], image)


# -- orientation and metadata ------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_applied_and_reset(tmp_path, orientation, suffix):
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
def test_orientation_of_16_bit_png_and_tiff(tmp_path, orientation):
    image = random_image((4, 7, 3), np.uint16)
    meta = ImageMeta("PNG", "RGB", 16, exif=exif_bytes(orientation))
    back, got = read_image(write_image(tmp_path / "o.png", image, meta))
    np.testing.assert_array_equal(back, skio.apply_orientation(image, orientation))
    assert got.orientation == orientation
    import tifffile

    tifffile.imwrite(tmp_path / "o.tif", image, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    back, got = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(back, skio.apply_orientation(image, orientation))
    assert got.orientation == orientation


@pytest.mark.parametrize(
    "suffix,dtype",
    [(".jpg", np.uint8), (".png", np.uint8), (".png", np.uint16), (".webp", np.uint8), (".tif", np.uint8), (".tif", np.uint16)],
)
@pytest.mark.parametrize("layout", ["L", "RGBA"])
def test_icc_exif_and_dpi_are_carried(tmp_path, suffix, dtype, layout):
    icc = srgb_icc()
    meta = ImageMeta("JPEG", "RGB", 8, icc_profile=icc, exif=exif_bytes(), dpi=(240.0, 240.0))
    shape = (8, 8, 3) if suffix == ".jpg" else LAYOUTS[layout]
    image = random_image(shape, dtype)
    back, got = read_image(write_image(tmp_path / f"m{suffix}", image, meta))
    if suffix in (".png", ".tif"):
        np.testing.assert_array_equal(back, image)
    assert got.icc_profile == icc
    if suffix == ".tif":
        assert got.exif is None  # tifffile writes no EXIF directory (documented)
    else:
        assert exif_tags(got.exif)[0x010F] == "skdce-test"
    if suffix != ".webp":
        assert got.dpi == pytest.approx((240, 240), abs=0.01)


def test_palette_and_cmyk_become_rgb(tmp_path):
    Image.fromarray(random_image((8, 8, 3), np.uint8)).convert("P").save(tmp_path / "p.png")
    back, meta = read_image(tmp_path / "p.png")
    assert meta.mode == "RGB" and back.dtype == np.uint8
    Image.new("CMYK", (5, 4), (0, 0, 0, 0)).save(tmp_path / "c.jpg", icc_profile=b"not-used")
    back, meta = read_image(tmp_path / "c.jpg")
    assert back.shape == (4, 5, 3) and meta.icc_profile is None  # a CMYK profile does not describe RGB


# -- errors --------------------------------------------------------------------------------------------


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image file '.*nope\.png' does not exist"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageFileError, match="it is a folder"):
        read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageFileError, match=r"cannot read image '.*empty\.jpg': the file is empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageFileError, match="not an image"):
        read_image(tmp_path / "text.png")
    with pytest.raises(ValueError, match=r"max_pixels=0 is out of range: max_pixels must be an integer >= 1; the default"):
        read_image(tmp_path / "text.png", max_pixels=0)


@pytest.mark.parametrize("value", [True, 1e6, "1000", None])
def test_max_pixels_must_be_an_integer(tmp_path, value):
    path = write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match=rf"max_pixels={value!r} \({type(value).__name__}\) must be an integer >= 1"):
        read_image(path, max_pixels=value)
    assert read_image(path, max_pixels=np.int64(16))[0].shape == (4, 4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_truncated_and_corrupt_png(tmp_path, dtype):
    data = write_image(tmp_path / "a.png", random_image((40, 40, 3), dtype)).read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=r"'.*t\.png': the file is truncated"):
        read_image(tmp_path / "t.png")
    if dtype == np.uint16:
        broken = bytearray(data)
        broken[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
        (tmp_path / "c.png").write_bytes(bytes(broken))
        with pytest.raises(ImageFileError, match=r"'.*c\.png': the file is corrupt \(IDAT: CRC error\)"):
            read_image(tmp_path / "c.png")


def test_truncated_tiff(tmp_path):
    data = write_image(tmp_path / "a.tif", random_image((64, 64, 3), np.uint16)).read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=r"'.*t\.tif': the file is corrupt or truncated"):
        read_image(tmp_path / "t.tif")


@pytest.mark.parametrize("depth", [8, 16])
def test_pixel_limit_is_checked_before_decoding(tmp_path, depth):
    # A header claiming 30000 x 30000 pixels over a few bytes of data: refused from the header alone.
    header = struct.pack(">IIBBBBB", 30000, 30000, depth, 2, 0, 0, 0)
    chunk = skio._png_chunk
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(ImageFileError, match="pixels"):
        read_image(tmp_path / "bomb.png")
    small = write_image(tmp_path / "small.png", np.zeros((10, 10, 3), np.uint8 if depth == 8 else np.uint16))
    with pytest.raises(ImageFileError, match=r"10 x 10 = 100 pixels, more than max_pixels=99"):
        read_image(small, max_pixels=99)
    assert read_image(small, max_pixels=100)[0].shape == (10, 10, 3)


def test_unsupported_sample_formats(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 4), np.float32))
    with pytest.raises(ImageFileError, match="32-bit floating-point samples"):
        read_image(tmp_path / "f.tif")


# -- writing -------------------------------------------------------------------------------------------


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
        with pytest.raises(TypeError, match=rf"quality={bad!r} \({type(bad).__name__}\) must be an integer in \[1, 100\]"):
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


def test_format_argument_overrides_suffix(tmp_path):
    path = write_image(tmp_path / "a.img", np.zeros((4, 4, 3), np.uint8), format="jpg")
    assert read_image(path)[1].format == "JPEG"


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch, error):
    def boom(*args, **kwargs):
        raise error("stop")

    monkeypatch.setattr(skio, "_png_bytes", boom)
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
