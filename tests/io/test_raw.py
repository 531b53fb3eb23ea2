"""Tests of skdce.io.read_raw and the RAW dispatch of read_image, on small DNGs made by skdce.data.write_dng.

LibRaw really decodes each file: a mosaic made from a known image comes back
as that image in sRGB (up to demosaicing at its edges).
"""

import datetime
import sys

import numpy as np
import pytest

pytest.importorskip("rawpy")

from skdce.data import write_dng  # noqa: E402
from skdce.io import ImageFileError, apply_orientation, read_image, read_raw  # noqa: E402


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.asarray(x, float) ** (1 / 2.4) - 0.055)


@pytest.fixture(scope="module")
def scene():
    """A smooth (48, 64, 3) sRGB picture from deep shadow to near white, and its linear light."""
    yy, xx = np.mgrid[0:48, 0:64] / np.array([48.0, 64.0])[:, None, None]
    srgb = np.stack([xx, yy, 0.6 - 0.5 * xx * yy], -1) * 0.9 + 0.04
    return srgb, srgb_to_linear(srgb)


def inner(image):
    return image[4:-4, 4:-4]  # demosaicing guesses at the border


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG"])
@pytest.mark.parametrize("bits, black", [(12, 256), (14, 512), (14, 0)])
def test_mosaic_comes_back_as_the_image(tmp_path, scene, pattern, bits, black):
    srgb, linear = scene
    path = write_dng(tmp_path / "s.dng", linear, pattern=pattern, bits=bits, black_level=black, gains=(0.45, 1.0, 0.7))
    image, meta = read_raw(path)
    assert image.dtype == np.float32 and image.shape == srgb.shape
    assert image.min() >= 0 and image.max() <= 1
    error = np.abs(inner(image) - inner(srgb))
    assert error.mean() < 1e-3 and error.max() < 1e-2, (error.mean(), error.max())
    np.testing.assert_array_equal(np.round(image * 65535), image * 65535)  # 16-bit values, exactly
    assert (meta.format, meta.mode, meta.bit_depth, meta.orientation) == ("DNG", "RGB", 16, 1)


def test_no_brightening_a_dark_exposure_stays_dark(tmp_path):
    levels = np.array([0.002, 0.01, 0.05, 0.18])  # linear greys in four bands
    linear = np.repeat(np.repeat(levels, 8)[None, :, None], 24, axis=0).repeat(3, axis=2)
    image, _ = read_raw(write_dng(tmp_path / "d.dng", linear, bits=14, black_level=512))
    measured = image[8:16].reshape(8, 4, 8, 3)[:, :, 2:6].mean(axis=(0, 2, 3))
    np.testing.assert_allclose(measured, linear_to_srgb(levels), atol=2e-3)


def test_camera_white_balance_neutralises_the_light(tmp_path):
    light = np.array([1.0, 0.8, 0.55])  # a warm lamp, in linear sRGB
    gains = np.array([0.5, 1.0, 0.7])
    linear = np.full((24, 32, 3), 0.2) * light
    path = write_dng(tmp_path / "w.dng", linear, gains=gains, as_shot_neutral=gains * light)
    camera, _ = read_raw(path)
    daylight, _ = read_raw(path, white_balance="daylight")
    auto, _ = read_raw(path, white_balance="auto")
    for neutral in (camera, auto):
        mean = inner(neutral).mean(axis=(0, 1))
        assert np.ptp(mean) < 0.01, mean
    warm = inner(daylight).mean(axis=(0, 1))  # daylight balance keeps the lamp's colour
    np.testing.assert_allclose(warm, linear_to_srgb(0.2 * light), atol=3e-3)


def test_highlight_modes(tmp_path):
    linear = np.full((24, 32, 3), 0.3)
    linear[:, 16:] = 1.5  # past the white level: every channel clips
    gains = (0.5, 1.0, 0.7)
    path = write_dng(tmp_path / "h.dng", linear, gains=gains)
    clipped, _ = read_raw(path)
    np.testing.assert_allclose(clipped[:, :12], linear_to_srgb(0.3), atol=1e-3)
    np.testing.assert_allclose(clipped[:, 20:], 1.0)
    # The other modes keep every channel's range: LibRaw scales the white balance so that its largest multiplier
    # is 1, which darkens the whole image by the smallest over the largest (here 0.5, in linear light).
    images = {mode: read_raw(path, highlights=mode)[0] for mode in ("ignore", "blend", "reconstruct")}
    for image in images.values():
        np.testing.assert_allclose(image[:, :12], linear_to_srgb(0.3 * 0.5), atol=1e-3)
    highlight = {mode: image[:, 20:].mean(axis=(0, 1)) for mode, image in images.items()}
    assert np.ptp(highlight["ignore"]) > 0.1  # the unbalanced sensor clip: tinted
    assert np.ptp(highlight["blend"]) < 0.01 and np.ptp(highlight["reconstruct"]) < 0.01  # neutral
    assert max(h.max() for h in highlight.values()) < 0.95


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_flag_is_applied(tmp_path, scene, orientation):
    srgb, linear = scene
    image, meta = read_raw(write_dng(tmp_path / "o.dng", linear, pattern="GRBG", orientation=orientation))
    expected = apply_orientation(srgb, orientation)
    assert image.shape == expected.shape and meta.orientation == orientation
    assert np.abs(inner(image) - inner(expected)).mean() < 1e-3


def test_capture_facts_icc_and_exif(tmp_path, scene):
    from PIL import Image, ImageCms

    when = datetime.datetime(2026, 12, 4, 23, 30, 5)
    path = write_dng(tmp_path / "m.dng", scene[1], make="Skdce", model="Night 1", exposure_time=1 / 60, iso=6400,
                     datetime=when)
    _, meta = read_raw(path)
    capture = meta.capture
    assert (capture.make, capture.model, capture.iso, capture.datetime) == ("Skdce", "Night 1", 6400, when)
    assert capture.exposure_time == pytest.approx(1 / 60)
    profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(meta.icc_profile))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    exif = Image.Exif()
    exif.load(meta.exif)
    sub = exif.get_ifd(0x8769)
    assert (exif[0x010F], exif[0x0110], sub[0x8827], sub[0x9003]) == ("Skdce", "Night 1", 6400, "2026:12:04 23:30:05")
    assert float(sub[0x829A]) == pytest.approx(1 / 60)


def test_read_image_develops_raw_files_as_uint16(tmp_path, scene):
    path = write_dng(tmp_path / "r.dng", scene[1], pattern="BGGR")
    image, meta = read_image(path)
    floats, _ = read_raw(path)
    assert image.dtype == np.uint16 and meta.bit_depth == 16 and meta.format == "DNG"
    np.testing.assert_array_equal(image, np.round(floats * 65535).astype(np.uint16))


def test_a_dng_named_tif_is_never_read_as_its_mosaic(tmp_path, scene):
    path = write_dng(tmp_path / "r.dng", scene[1])
    tif = path.rename(tmp_path / "r.tif")
    image, meta = read_image(tif)
    assert image.shape == (48, 64, 3) and meta.format == "DNG"
    assert np.abs(inner(image / 65535) - inner(scene[0])).mean() < 1e-3


# -- errors --------------------------------------------------------------------------------------------


@pytest.fixture
def good(tmp_path, scene):
    return write_dng(tmp_path / "good.dng", scene[1]).read_bytes()


def test_truncated_raw(tmp_path, good, capfd):
    (tmp_path / "cut.dng").write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageFileError, match=r"cut\.dng.*the file is truncated"):
        read_raw(tmp_path / "cut.dng")
    (tmp_path / "head.nef").write_bytes(good[:300])
    with pytest.raises(ImageFileError, match=r"head\.nef.*the file is truncated"):
        read_image(tmp_path / "head.nef")
    capfd.readouterr()  # LibRaw prints its own note on stderr


def test_files_that_only_pretend_to_be_raw(tmp_path):
    import tifffile

    (tmp_path / "text.cr2").write_bytes(b"not a raw file " * 20)
    tifffile.imwrite(tmp_path / "picture.nef", np.zeros((32, 32, 3), np.uint8))  # a TIFF, not a camera's
    for name in ("text.cr2", "picture.nef"):
        with pytest.raises(ImageFileError, match=rf"{name}.*LibRaw .* cannot read it: not a camera RAW file"):
            read_raw(tmp_path / name)
    (tmp_path / "empty.arw").write_bytes(b"")
    with pytest.raises(ImageFileError, match=r"empty\.arw.*the file is empty"):
        read_raw(tmp_path / "empty.arw")
    with pytest.raises(ImageFileError, match=r"empty\.arw.*the file is empty"):
        read_image(tmp_path / "empty.arw")
    (tmp_path / "folder.dng").mkdir()
    with pytest.raises(ImageFileError, match="it is a folder"):
        read_raw(tmp_path / "folder.dng")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_raw(tmp_path / "nope.dng")


def test_raw_data_libraw_cannot_decode(tmp_path):
    import tifffile

    tags = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True), (50706, "B", 4, (1, 4, 0, 0), True)]
    tifffile.imwrite(tmp_path / "deflate.dng", np.full((32, 32), 900, np.uint16), photometric=32803,
                     compression="zlib", extratags=tags, metadata=None)
    with pytest.raises(ImageFileError, match=r"deflate\.dng.*LibRaw cannot develop it \(.+\); the file may be corrupt"):
        read_raw(tmp_path / "deflate.dng")


def test_pixel_limit_before_decoding(tmp_path, scene):
    path = write_dng(tmp_path / "big.dng", scene[1])
    with pytest.raises(ImageFileError, match=r"big\.dng.*64 x 48 = 3072 pixels, more than max_pixels=3000"):
        read_raw(path, max_pixels=3000)
    with pytest.raises(ImageFileError, match="more than max_pixels=3071"):
        read_image(path, max_pixels=3071)
    assert read_raw(path, max_pixels=3072)[0].shape == (48, 64, 3)


def test_bad_options(tmp_path, good):
    (tmp_path / "g.dng").write_bytes(good)
    with pytest.raises(ValueError, match=r"white_balance='as-shot' is not one of 'camera', 'auto', 'daylight'"):
        read_raw(tmp_path / "g.dng", white_balance="as-shot")
    with pytest.raises(ValueError, match=r"highlights='keep' is not one of 'clip', 'ignore'"):
        read_raw(tmp_path / "g.dng", highlights="keep")
    with pytest.raises(ValueError, match="max_pixels"):
        read_raw(tmp_path / "g.dng", max_pixels=0)


def test_missing_rawpy_says_what_to_install(tmp_path, good, monkeypatch):
    (tmp_path / "g.dng").write_bytes(good)
    monkeypatch.setitem(sys.modules, "rawpy", None)
    for read in (read_raw, read_image):
        with pytest.raises(ImportError, match=r"pip install 'skdce\[raw\]'"):
            read(tmp_path / "g.dng")


def test_capture_facts_of_files_that_are_not_tiff_containers_come_from_libraw(tmp_path):
    """CR3, RAF, ORF, RW2: no TIFF directory to read; LibRaw's exposure, ISO and time (rawpy has no make/model)."""
    import rawpy

    from skdce.io._raw import _capture_info

    (tmp_path / "x.cr3").write_bytes(b"\0\0\0\x18ftypcrx " + bytes(64))
    when = datetime.datetime(2025, 6, 1, 12, 0, 1)
    other = rawpy.Other(iso_speed=800.0, shutter_speed=0.5, aperture=2.8, focal_length=35.0, timestamp=when,
                        shot_order=0, artist="")
    capture = _capture_info(tmp_path / "x.cr3", other)
    assert (capture.make, capture.model, capture.exposure_time, capture.iso, capture.datetime) == (
        None, None, 0.5, 800.0, when)
    unknown = other._replace(iso_speed=0.0, shutter_speed=0.0, timestamp=datetime.datetime.fromtimestamp(0))
    assert _capture_info(tmp_path / "x.cr3", unknown) == type(capture)()


def test_tifffile_complaints_about_private_tags_stay_quiet(tmp_path, scene, caplog, monkeypatch):
    import logging

    import tifffile

    path = write_dng(tmp_path / "q.dng", scene[1])

    class Noisy(tifffile.TiffFile):  # stands for a camera file whose maker notes tifffile cannot parse
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            logging.getLogger("tifffile").warning("<tifffile.TiffTag 37500> coercing invalid ASCII to bytes")

    monkeypatch.setattr(tifffile, "TiffFile", Noisy)
    with caplog.at_level(logging.WARNING, logger="tifffile"):
        _, meta = read_raw(path)
        logging.getLogger("tifffile").warning("outside: kept")
    assert meta.capture.make == "skdce"
    assert [r.getMessage() for r in caplog.records] == ["outside: kept"]
