"""``skdce enhance`` on camera RAW files: folders mixing good and broken DNG/CR2/NEF..., formats, metadata, limits."""

import datetime
import json

import numpy as np
import pytest
from PIL import Image, ImageCms

pytest.importorskip("rawpy")

from skdce.data import write_dng  # noqa: E402
from skdce.io import read_image  # noqa: E402

from .._helpers import invoke, leftovers, run_cli  # noqa: E402

WHEN = datetime.datetime(2026, 12, 4, 21, 5, 9)


def dark_scene(height=48, width=64):
    """A dim, smooth linear scene (the brightest pixel at about 6% of the sensor's range)."""
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width], float)[:, None, None]
    return np.stack([xx, yy, 1 - xx], -1) * 0.05 + 0.005


@pytest.fixture
def raws(tmp_path):
    """A folder of two good RAW files (one turned by its orientation flag), three broken ones and a PNG."""
    folder = tmp_path / "in"
    folder.mkdir()
    good = write_dng(folder / "night.dng", dark_scene(), pattern="BGGR", bits=12, black_level=128, orientation=6,
                     gains=(0.5, 1.0, 0.7), make="Skdce", model="Night 1", exposure_time=1 / 8, iso=12800,
                     datetime=WHEN)
    write_dng(folder / "street.NEF", dark_scene(), pattern="GRBG", bits=14, black_level=600)  # LibRaw reads a DNG
    data = good.read_bytes()
    (folder / "cut.dng").write_bytes(data[: len(data) // 2])
    (folder / "fake.cr2").write_bytes(b"a text file with a RAW suffix\n" * 10)
    Image.new("RGB", (32, 24)).save(folder / "photo.arw", format="TIFF")  # a TIFF pretending to be a Sony RAW
    Image.new("RGB", (32, 24), (20, 10, 5)).save(folder / "plain.png")
    return folder


def test_folder_of_raw_files_with_broken_ones(tmp_path, raws):
    out = tmp_path / "out"
    result = run_cli("enhance", raws, "-o", out, "--json")
    assert result.returncode == 1, result.stderr
    rows = {r["input"].rsplit("/", 1)[-1]: r for r in json.loads(result.stdout)["files"]}
    assert {name: r["status"] for name, r in rows.items()} == {
        "night.dng": "ok", "street.NEF": "ok", "plain.png": "ok", "cut.dng": "failed", "fake.cr2": "failed",
        "photo.arw": "failed"}
    assert "truncated" in rows["cut.dng"]["reason"]
    assert "not a camera RAW file" in rows["fake.cr2"]["reason"]
    assert "not a camera RAW file" in rows["photo.arw"]["reason"]
    for name in ("cut.dng", "fake.cr2", "photo.arw"):  # one line each, naming the file
        lines = [line for line in result.stderr.splitlines() if line.startswith("skdce: failed:")]
        assert sum(name in line for line in lines) == 1
    assert sorted(p.name for p in out.iterdir()) == ["night.tif", "plain.png", "street.tif"]  # nothing partial
    assert leftovers(out) == []

    image, meta = read_image(out / "night.tif")
    assert image.dtype == np.uint16 and image.shape == (64, 48, 3)  # 16 bits, turned upright
    assert image.mean() > read_image(raws / "night.dng")[0].mean() * 1.5  # the curves brightened it
    profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(meta.icc_profile))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    import tifffile

    with tifffile.TiffFile(out / "night.tif") as tf:
        tags = {tag.name: tag.value for tag in tf.pages.first.tags.values()}
    exif = tags["ExifTag"]  # the EXIF directory, appended to the TIFF (skdce.io._write)
    assert (tags["Make"], tags["Model"], exif["ISOSpeedRatings"], tuple(exif["ExposureTime"])) == (
        "Skdce", "Night 1", 12800, (1, 8))
    assert exif["DateTimeOriginal"] == tags["DateTime"] == "2026:12:04 21:05:09"


def test_raw_development_is_carried_at_16_bits(tmp_path, raws):
    """With the curves off, the output TIFF is the developed RAW, value for value (no 8-bit step anywhere)."""
    out = tmp_path / "out"
    result = invoke("enhance", raws / "street.NEF", "-o", out, "--strength", 0, "--denoise", 0)
    assert result.exit_code == 0, result.output
    written, _ = read_image(out / "street.tif")
    developed, _ = read_image(raws / "street.NEF")
    np.testing.assert_array_equal(written, developed)
    assert (developed % 257 != 0).mean() > 0.9  # not 8-bit values scaled up
    assert len(np.unique(developed[..., 1])) > 3 * len(np.unique(developed[..., 1] // 257))


@pytest.mark.parametrize("fmt, suffix, dtype", [("png", ".png", np.uint16), ("jpg", ".jpg", np.uint8),
                                                ("webp", ".webp", np.uint8)])
def test_other_formats_keep_exif_and_profile(tmp_path, raws, fmt, suffix, dtype):
    out = tmp_path / "out"
    result = invoke("enhance", raws / "night.dng", "-o", out, "--format", fmt)
    assert result.exit_code == 0, result.output
    image, meta = read_image(out / f"night{suffix}")
    assert image.dtype == dtype and image.shape == (64, 48, 3) and meta.icc_profile
    exif = Image.Exif()
    exif.load(meta.exif)
    sub = exif.get_ifd(0x8769)
    assert (exif[0x010F], exif[0x0110], sub[0x8827], sub[0x9003]) == ("Skdce", "Night 1", 12800, "2026:12:04 21:05:09")
    assert float(sub[0x829A]) == 1 / 8


def test_white_balance_and_highlights_options(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    light = np.array([1.0, 0.75, 0.5])
    write_dng(folder / "lamp.dng", np.full((32, 32, 3), 0.3) * light, gains=(0.5, 1.0, 0.7),
              as_shot_neutral=np.array([0.5, 1.0, 0.7]) * light)
    (folder / "named.tif").write_bytes((folder / "lamp.dng").read_bytes())  # a DNG under another name
    means = {}
    for wb in ("camera", "daylight"):
        result = invoke("enhance", folder, "-o", tmp_path / wb, "--white-balance", wb, "--strength", 0, "--denoise", 0)
        assert result.exit_code == 0, result.output
        means[wb] = read_image(tmp_path / wb / "lamp.tif")[0][8:-8, 8:-8].mean(axis=(0, 1)) / 65535
        named = read_image(tmp_path / wb / "named.tif")[0][8:-8, 8:-8].mean(axis=(0, 1)) / 65535
        np.testing.assert_allclose(named, means[wb], atol=1e-4)  # the options reach it too
        result = invoke("enhance", folder / "lamp.dng", "-o", tmp_path / f"seq-{wb}", "--sequence", "--white-balance",
                        wb, "--strength", 0, "--denoise", 0)  # and the frames of a sequence
        assert result.exit_code == 0, result.output
        frame = read_image(tmp_path / f"seq-{wb}" / "lamp.tif")[0][8:-8, 8:-8].mean(axis=(0, 1)) / 65535
        np.testing.assert_allclose(frame, means[wb], atol=0.02)
    assert np.ptp(means["camera"]) < 0.01 and means["daylight"][0] - means["daylight"][2] > 0.15
    result = invoke("enhance", folder, "-o", tmp_path / "hl", "--highlights", "blend", "--strength", 0, "--denoise", 0)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "hl" / "lamp.tif")[0].mean() < read_image(tmp_path / "camera" / "lamp.tif")[0].mean()
    result = invoke("enhance", folder, "-o", tmp_path / "x", "--white-balance", "tungsten")
    assert result.exit_code == 2 and "'tungsten' is not one of 'camera', 'auto', 'daylight'" in result.output


def test_pixel_limit_applies_to_raw_files(tmp_path, raws):
    result = invoke("enhance", raws / "night.dng", "-o", tmp_path / "out", "--max-pixels", 3000)
    assert result.exit_code == 1
    assert "night.dng: the image has 64 x 48 = 3072 pixels, more than max_pixels=3000" in result.output
    assert not (tmp_path / "out" / "night.tif").exists()


def test_without_rawpy_each_raw_file_says_what_to_install(tmp_path, raws):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "rawpy.py").write_text("raise ImportError('No module named rawpy')\n")
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    result = run_cli("enhance", raws / "night.dng", raws / "plain.png", "-o", tmp_path / "out", env=env)
    assert result.returncode == 1
    assert "night.dng: reading camera RAW files needs rawpy (LibRaw): pip install 'skdce[raw]'." in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plain.png"]


def test_a_dng_named_tif_is_not_streamed_as_its_mosaic(tmp_path):
    pytest.importorskip("zarr")
    dng = write_dng(tmp_path / "x.dng", dark_scene())
    tif = dng.rename(tmp_path / "x.tif")
    result = invoke("enhance", tif, "-o", tmp_path / "y.tif")
    assert result.exit_code == 1 and "is a camera RAW file (a DNG)" in result.output
    assert not (tmp_path / "y.tif").exists()
    result = invoke("enhance", tif, "-o", tmp_path / "out", "--strength", 0, "--denoise", 0)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out" / "x.tif")[0].shape == (48, 64, 3)  # developed, not the (48, 64) mosaic
