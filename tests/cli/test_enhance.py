"""``skdce enhance`` (skdce/cli/enhance.py): formats, metadata, options, one file to one file, streaming.

Nothing here depends on the values of the bundled weights: the tests check
files, layouts, metadata, statuses and exit codes, or compare with skdce.enhance.
"""

import json
import os

import numpy as np
import pytest
from PIL import Image

from skdce.io import ImageMeta, read_image

from .._helpers import dark, digest, invoke, leftovers, names, run_cli
from ._helpers import icc_profile


def test_enhance_batch_subprocess(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"an existing output")
    before = {p.name: digest(p) for p in photos.iterdir()}
    result = run_cli("enhance", photos, "-o", out, "--json")
    assert result.returncode == 1, result.stderr
    assert "skdce: 7 enhanced, 1 skipped, 2 failed" in result.stderr
    assert f"failed: {photos / 'empty.png'}: the file is empty (0 bytes)" in result.stderr
    assert f"failed: {photos / 'corrupt.jpg'}: the file is not an image" in result.stderr
    assert "skipped: " not in result.stderr  # counted in the summary; listed with --verbose (and in the JSON)

    report = json.loads(result.stdout)
    status = {os.path.basename(r["input"]): r["status"] for r in report["files"]}
    assert status == {
        "a.png": "skipped", "b.jpg": "ok", "c16.png": "ok", "d16.tif": "ok", "gray16.tif": "ok",
        "gray.png": "ok", "rgba.png": "ok", "rot.jpg": "ok", "empty.png": "failed", "corrupt.jpg": "failed",
    }  # fmt: skip
    assert all(set(r) == {"input", "output", "status", "reason", "seconds"} for r in report["files"])
    assert report["summary"] == {**report["summary"], "ok": 7, "skipped": 1, "failed": 2, "interrupted": False}

    # Inputs untouched, the existing output kept, no temporary files.
    assert {p.name: digest(p) for p in photos.iterdir()} == before
    assert (out / "a.png").read_bytes() == b"an existing output"
    assert leftovers(tmp_path) == []

    # Bit depth, layout and alpha survive.
    expected = {
        "b.jpg": ("JPEG", "RGB", 8), "c16.png": ("PNG", "RGB", 16), "d16.tif": ("TIFF", "RGB", 16),
        "gray16.tif": ("TIFF", "L", 16), "gray.png": ("PNG", "L", 8), "rgba.png": ("PNG", "RGBA", 8),
    }  # fmt: skip
    for name, (fmt, mode, bits) in expected.items():
        image, meta = read_image(out / name)
        source, _ = read_image(photos / name)
        assert (meta.format, meta.mode, meta.bit_depth) == (fmt, mode, bits), name
        assert image.shape == source.shape and image.dtype == source.dtype, name
    np.testing.assert_array_equal(read_image(out / "rgba.png")[0][..., 3], read_image(photos / "rgba.png")[0][..., 3])

    # The EXIF-rotated JPEG: turned upright, orientation reset, EXIF and ICC carried.
    with Image.open(out / "rot.jpg") as im:
        assert im.size == (20, 30)  # stored 30 x 20 with orientation 6 (rotate 90 degrees)
        assert im.info["icc_profile"] == icc_profile()
        exif = im.getexif()
        assert exif[0x0112] == 1 and exif[0x010F] == "skdce-cam"


def test_meta_is_exported():
    assert ImageMeta("PNG", "L", 8).orientation == 1


def test_enhance_format_quality_suffix_jobs_and_overwrite(photos, tmp_path):
    out = tmp_path / "out"
    args = ["enhance", photos / "a.png", photos / "rgba.png", photos / "c16.png", "-o", out, "--format", "webp"]
    result = invoke(*args, "--quality", 80, "--suffix", "_dce", "--jobs", 2, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a_dce.webp", "c16_dce.webp", "rgba_dce.webp"]
    assert read_image(out / "rgba_dce.webp")[1].mode == "RGBA"
    assert read_image(out / "c16_dce.webp")[1].bit_depth == 8
    again = invoke(*args, "--suffix", "_dce", "--overwrite", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["summary"]["ok"] == 3

    jpeg = invoke("enhance", photos / "rgba.png", "-o", out, "--format", "jpg", "--json")
    assert jpeg.exit_code == 1
    (row,) = json.loads(jpeg.stdout)["files"]
    assert row["status"] == "failed" and "JPEG has no alpha channel" in row["reason"]


def test_enhance_usage_errors(photos, tmp_path):
    out = tmp_path / "out"
    result = invoke("enhance", photos / "a.png", "-o", out, "--format", "png", "--quality", 90)
    assert result.exit_code == 2 and "--quality applies to jpg and webp, not png" in result.output
    result = invoke("enhance", photos / "a.png", "-o", out, "--providers", "tpu")
    assert result.exit_code == 2 and "providers='tpu' is unknown" in result.output
    result = invoke("enhance", photos / "a.png", "-o", out, "--model", tmp_path / "missing.onnx")
    assert result.exit_code == 2 and "does not exist" in result.output
    result = invoke("enhance", photos / "a.png", "-o", out, "--strength", 3)
    assert result.exit_code == 2 and "0<=x<=2" in result.output
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        result = invoke("enhance", photos / "a.png", "-o", out, "--providers", "cuda")
        assert result.exit_code == 2 and "'CUDAExecutionProvider' is not available" in result.output
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("suffix", ["/x", "_a/../../b", "..", "a\\b"])
def test_enhance_refuses_suffixes_that_leave_the_folder(photos, tmp_path, suffix):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", "--suffix", suffix)
    assert result.exit_code == 2 and "may not hold '/', '\\' or '..'" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("args", [["", "-o", "out"], ["a.png", "  ", "-o", "out"], ["a.png", "-o", ""],
                                  ["a.png", "-o", " "]])
def test_enhance_refuses_an_empty_input_or_output_subprocess(photos, args):
    """``skdce enhance "$UNSET" -o out`` in a folder of photos: Path("") is ".", which enhanced the whole folder."""
    before = sorted(os.listdir(photos))
    result = run_cli("enhance", *args, cwd=photos)
    assert result.returncode == 2, result.stderr
    assert "is empty" in result.stderr and "an unset shell variable?" in result.stderr
    assert "Traceback" not in result.stderr and sorted(os.listdir(photos)) == before  # no folder, no file


def test_enhance_one_file_to_one_file(photos, tmp_path):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "new" / "bright.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "bright.png").is_file() and os.listdir(tmp_path / "new") == ["bright.png"]
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "bright.jpg", "--quality", 90)
    assert result.exit_code == 0 and read_image(tmp_path / "bright.jpg")[1].format == "JPEG"
    again = invoke("enhance", photos / "a.png", "-o", tmp_path / "bright.jpg")
    assert again.exit_code == 0 and "skipped" in again.stderr
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "x.png", "--suffix", "_d")
    assert result.exit_code == 2 and "--suffix applies to output folders" in result.output
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "x.png", "--format", "jpg")
    assert result.exit_code == 2 and "differs from the suffix" in result.output
    # two inputs: -o is a folder, whatever its name
    result = invoke("enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "two.png")
    assert result.exit_code == 0 and sorted(os.listdir(tmp_path / "two.png")) == ["a.png", "gray.png"]


@pytest.mark.parametrize("name", ["out.bmp", "out.gif", "out.txt", "d.mp4", "x.zarr"])
def test_enhance_refuses_an_output_file_suffix_it_does_not_write(tmp_path, name):
    """``in.bmp -o out.bmp`` made the folder out.bmp/ holding in.png (.bmp is read, not written)."""
    Image.fromarray(dark((16, 16, 3))).save(tmp_path / "in.bmp")
    result = invoke("enhance", tmp_path / "in.bmp", "-o", tmp_path / name)
    assert result.exit_code == 2, result.output
    assert "an image is written as .png, .jpg, .jpeg, .jpe, .tif, .tiff or .webp" in result.stderr
    assert "end -o with '/' for a folder" in result.stderr and names(tmp_path) == ["in.bmp"]
    result = invoke("enhance", tmp_path / "in.bmp", "-o", f"{tmp_path / name}/")  # the way to ask for the folder
    assert result.exit_code == 0 and names(tmp_path / name) == ["in.png"]


def test_enhance_missing_input_makes_no_output_folder(photos, tmp_path):
    """``drak.png -o typo.png`` left an empty folder typo.png, into which the next run wrote typo.png/dark.png."""
    result = invoke("enhance", photos / "drak.png", "-o", tmp_path / "typo.png")
    assert result.exit_code == 2 and "'INPUT...'" in result.stderr
    assert "no such file or folder, and no file matches it as a pattern; check the name" in result.stderr
    assert not (tmp_path / "typo.png").exists()
    result = invoke("enhance", photos / "drak.png", "-o", tmp_path / "out")  # a folder -o: the file fails (exit 1)
    assert result.exit_code == 1 and "no such file or folder" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing to write: the folder is checked, not made
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "typo.png")
    assert result.exit_code == 0 and (tmp_path / "typo.png").is_file()


@pytest.mark.parametrize("where", ["output file", "output folder", "input", "pattern", "streamed input"])
def test_enhance_too_long_a_name_is_a_usage_error_subprocess(photos, tmp_path, where):
    """A name over 255 bytes raised OSError (ENAMETOOLONG) from Path.is_dir()/is_file(): a traceback."""
    long = "a" * 300
    args = {
        "output file": [photos / "a.png", "-o", tmp_path / f"{long}.png"],
        "output folder": [photos / "a.png", "-o", tmp_path / long / "x.png"],
        "input": [photos / f"{long}.png", "-o", tmp_path / "out"],
        "pattern": [photos / f"{long}*.png", "-o", tmp_path / "out"],
        "streamed input": [photos / f"{long}.tif", "-o", tmp_path / "out.tif"],
    }[where]
    result = run_cli("enhance", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "the name is too long for the file system (most allow 255 bytes a name); shorten it." in result.stderr
    assert "'--output'" in result.stderr if where.startswith("output") else "'INPUT...'" in result.stderr
    assert names(tmp_path) == ["in"]


def test_enhance_verbose(photos, tmp_path):
    result = invoke("enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "out", "--verbose")
    assert result.exit_code == 0, result.output
    assert "skdce: 2 files with zero-dce++ on CPUExecutionProvider" in result.stderr
    assert f"skdce: ok: {photos / 'gray.png'} -> {tmp_path / 'out' / 'gray.png'} (" in result.stderr


@pytest.mark.parametrize("denoise", ["0", "1", "2.5"])
def test_enhance_denoise_option_subprocess(tmp_path, denoise):
    """--denoise reaches enhance(): the written PNG equals the library's result at that strength."""
    import skdce

    rng = np.random.default_rng(3)
    img = np.clip(20 + 6 * rng.standard_normal((48, 64, 3)), 0, 255).astype(np.uint8)
    src = tmp_path / "in.png"
    Image.fromarray(img).save(src)
    result = run_cli("enhance", src, "-o", tmp_path / "out", "--denoise", denoise, "--quiet")
    assert result.returncode == 0, result.stderr
    got = np.asarray(Image.open(tmp_path / "out" / "in.png"))
    want = np.round(skdce.enhance(img, denoise=float(denoise)) * 255).astype(np.uint8)
    assert np.abs(got.astype(int) - want).max() <= 1  # the CLI's own float-to-uint8 rounding


@pytest.mark.slow
def test_enhance_zarr_subprocess(tmp_path):
    """An on-disk Zarr array in, a Zarr array out (streamed through Dask), equal to the in-memory result."""
    zarr = pytest.importorskip("zarr")
    import skdce

    img = dark((90, 120, 3))
    src = tmp_path / "big.zarr"
    z = zarr.open(str(src), mode="w", shape=img.shape, chunks=(32, 40, 3), dtype=img.dtype)
    z[:] = img
    result = run_cli("enhance", src, "-o", tmp_path / "out.zarr", "--quiet")
    assert result.returncode == 0, result.stderr
    got = zarr.open(str(tmp_path / "out.zarr"), mode="r")
    assert got.dtype == np.uint8 and got.shape == img.shape
    want = np.round(skdce.enhance(img) * 255).astype(np.uint8)
    assert np.abs(got[:].astype(int) - want).max() <= 1
    assert names(tmp_path) == ["big.zarr", "out.zarr"]  # no temporary store left
    again = run_cli("enhance", src, "-o", tmp_path / "out.zarr")
    assert again.returncode == 1 and "exists; pass --overwrite" in again.stderr
