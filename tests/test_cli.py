"""Tests of the ``skdce`` command line, in a subprocess and through click's CliRunner.

Nothing here depends on the values of the bundled weights: the tests check
files, layouts, metadata, statuses and exit codes, never pixel values.
"""

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms

from skdce.cli import main
from skdce.io import TEMP_SUFFIX, ImageMeta, read_image, write_image

RNG = np.random.default_rng(7)
COMMANDS = ["enhance", "train", "export", "evaluate", "models", "info", "demo"]


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


def run_cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "skdce.cli", *map(str, args)], capture_output=True, text=True, timeout=120, **kwargs
    )


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder):
    return [str(p) for p in folder.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


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


# -- help, version, start-up ---------------------------------------------------------------------------


def test_version_and_help_do_not_import_runtimes():
    code = (
        "import sys\n"
        "from skdce.cli import main\n"
        "for args in (['--version'], ['--help'], ['enhance', '--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='skdce')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "print('LOADED', sorted(m for m in ('onnxruntime', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    assert "skdce 0.1.0" in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"skdce {command}" in result.output


def test_group_help_and_version():
    result = invoke("--help")
    assert result.exit_code == 0 and "Examples:" in result.output
    assert all(c in result.output for c in COMMANDS)
    assert invoke("--version").output == "skdce 0.1.0\n"


# -- enhance: the real command in a subprocess ----------------------------------------------------------


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
    assert f"skipped: {photos / 'a.png'}: the output exists (use --overwrite to replace it)" in result.stderr

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


def test_enhance_progress_bar_only_on_a_terminal(photos, tmp_path):
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skdce.cli", "enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "o"],
            stdout=subprocess.DEVNULL, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = b"".join(chunks).decode()
    assert "enhancing: 100%" in text and "2/2" in text and "2 enhanced, 0 skipped, 0 failed" in text
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "o2")  # CliRunner: not a terminal
    assert result.exit_code == 0 and "enhancing" not in result.output


@pytest.mark.parametrize("sig,jobs", [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_enhance_interrupted_leaves_only_complete_files(tmp_path, sig, jobs):
    src = tmp_path / "in"
    src.mkdir()
    data = write_image(tmp_path / "one.png", dark((192, 192, 3))).read_bytes()
    for i in range(40):
        (src / f"img{i:02d}.png").write_bytes(data)
    out = tmp_path / "out"
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skdce.cli", "enhance", src, "-o", out, "--jobs", str(jobs), "--threads", "1"],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, "the batch never wrote a file"
            time.sleep(0.02)
        proc.send_signal(sig)
        code = proc.wait(timeout=90)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], stderr
    assert "skdce: interrupted:" in stderr and "not processed" in stderr
    written = sorted(out.iterdir())
    assert leftovers(tmp_path) == [] and all(p.suffix == ".png" for p in written)
    assert 1 <= len(written) < 40
    for path in written:
        image, _ = read_image(path)
        assert image.shape == (192, 192, 3)


# -- enhance: options, through CliRunner ------------------------------------------------------------------


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


def test_enhance_never_overwrites_an_input(photos):
    before = digest(photos / "a.png")
    result = invoke("enhance", photos / "a.png", "-o", photos, "--overwrite")
    assert result.exit_code == 1
    assert "the output would overwrite an input file" in result.stderr
    assert digest(photos / "a.png") == before
    result = invoke("enhance", photos / "a.png", "-o", photos, "--suffix", "_x")
    assert result.exit_code == 0 and (photos / "a_x.png").is_file()


def test_enhance_globs_folders_and_recursion(photos, tmp_path):
    sub = photos / "sub"
    sub.mkdir()
    write_image(sub / "deep.png", dark((8, 8, 3)))
    out = tmp_path / "out"
    result = invoke("enhance", str(photos / "*.png"), "-o", out / "glob", "--quiet")
    assert result.exit_code == 1  # empty.png matches the pattern too
    assert sorted(p.name for p in (out / "glob").iterdir()) == ["a.png", "c16.png", "gray.png", "rgba.png"]

    result = invoke("enhance", sub.parent, "-o", out / "rec", "--recursive", "--json", "--quiet")
    assert (out / "rec" / "sub" / "deep.png").is_file()
    result = invoke("enhance", sub, "-o", sub / "out", "--quiet")  # an output folder inside the input folder
    assert result.exit_code == 0
    again = invoke("enhance", sub, "-o", sub / "out", "-r", "--json", "--quiet")
    assert [os.path.basename(r["input"]) for r in json.loads(again.stdout)["files"]] == ["deep.png"]

    result = invoke("enhance", str(tmp_path / "nothing*.png"), "-o", out / "none")
    assert result.exit_code == 1
    assert "no such file or folder, and no file matches it as a pattern" in result.stderr
    assert "0 enhanced, 0 skipped, 1 failed" in result.stderr


def test_enhance_pixel_limit(photos, tmp_path):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", "--max-pixels", 100, "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["files"]
    assert "24 = 768 pixels, more than max_pixels=100" in row["reason"]


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


# -- evaluate ---------------------------------------------------------------------------------------------


@pytest.fixture
def pairs(tmp_path):
    ref, low, enhanced = tmp_path / "ref", tmp_path / "low", tmp_path / "enh"
    for folder in (ref, low, enhanced):
        folder.mkdir()
    for name in ("1", "2"):
        bright = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        write_image(ref / f"{name}.png", bright)
        write_image(low / f"{name}.png", (bright // 4).astype(np.uint8))
    write_image(enhanced / "1_x.png", read_image(ref / "1.png")[0])  # identical: PSNR inf, SSIM 1
    write_image(enhanced / "2_x.png", read_image(low / "2.png")[0])
    write_image(enhanced / "3_x.png", dark((32, 32, 3)))  # no reference
    return ref, low, enhanced


def test_evaluate_csv_and_json(pairs, tmp_path):
    ref, _, enhanced = pairs
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", tmp_path / "scores.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "name,psnr,ssim" and lines[1] == "1,inf,1.0000"
    assert lines[2].startswith("2,") and lines[3].startswith("mean,")
    assert f"no reference for {enhanced / '3_x.png'}" in result.stderr
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["count"] == 2 and report["images"][0]["psnr"] is None  # inf is not JSON
    assert 0 < report["images"][1]["psnr"] < 100 and -1 <= report["images"][1]["ssim"] <= 1
    assert report["unmatched"] == [str(enhanced / "3_x.png")]

    write_image(enhanced / "4_x.png", dark((16, 16, 3)))
    write_image(ref / "4.png", dark((32, 32, 3)))
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "--json")
    assert result.exit_code == 1
    (failed,) = json.loads(result.stdout)["failed"]
    assert failed["name"] == "4" and failed["reason"] == "sizes differ: 16x16 vs reference 32x32"

    result = invoke("evaluate", enhanced, ref)
    assert result.exit_code == 1 and "no file in" in result.output


def test_evaluate_enhance_in_one_go(pairs):
    ref, low, _ = pairs
    result = invoke("evaluate", low, ref, "--enhance", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["count"] == 2 and report["model"] == "zero-dce-int8"
    assert all(np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in report["images"])


# -- models, info, demo -----------------------------------------------------------------------------------


def test_models_and_info():
    result = invoke("models", "--json")
    assert result.exit_code == 0
    facts = {f["name"]: f for f in json.loads(result.stdout)}
    assert facts["zero-dce"]["bundled"] and facts["zero-dce"]["iterations"] == 8
    assert len(facts["zero-dce"]["sha256"]) == 64
    assert "zero-dce  (bundled)" in invoke("models").output

    result = invoke("info", "--json", "--providers", "cpu")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["skdce"] == "0.1.0" and data["versions"]["numpy"] == np.__version__
    assert "CPUExecutionProvider" in data["providers_available"]
    assert data["providers_chosen"] == ["CPUExecutionProvider"] == data["providers_running"]
    assert data["cpu_count"] >= 1
    text = invoke("info").output
    assert "providers running" in text and "onnxruntime threads" in text


def test_demo(tmp_path):
    result = invoke("demo", "-o", tmp_path / "demo", "--sample", "chelsea")
    assert result.exit_code == 0, result.output
    low, meta = read_image(tmp_path / "demo" / "chelsea_low.png")
    enhanced, _ = read_image(tmp_path / "demo" / "chelsea_enhanced.png")
    pair, _ = read_image(tmp_path / "demo" / "chelsea_before_after.png")
    assert low.shape == enhanced.shape == (300, 451, 3) and meta.bit_depth == 8
    assert pair.shape == (300, 2 * 451 + 8, 3)
    np.testing.assert_array_equal(pair[:, :451], low)
    assert invoke("demo", "-o", tmp_path / "demo", "--sample", "chelsea").exit_code == 0  # rerunnable


# -- train and export ---------------------------------------------------------------------------------------


def test_train_resume_export_and_use(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    data = tmp_path / "low"
    data.mkdir()
    for i in range(4):
        write_image(data / f"{i}.png", dark((32, 32, 3)))
    config = tmp_path / "tiny.toml"
    config.write_text('architecture = "zero-dce"\ndata_dir = "low"\nimage_size = 32\nbatch_size = 2\nepochs = 1\nthreads = 1\n')
    run = tmp_path / "run"
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stderr and (run / "checkpoint.pt").is_file()
    result = invoke("train", config, "--run-dir", run)
    assert result.exit_code == 0 and f"resuming from {run / 'checkpoint.pt'}" in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 2)  # train longer
    assert result.exit_code == 0 and "epoch 2/2" in result.stderr and "epoch 1/" not in result.stderr
    result = invoke("train", config, "--run-dir", run, "--epochs", 2, "--batch-size", 4)
    assert result.exit_code == 1 and "different configuration" in result.output

    model = tmp_path / "tiny.onnx"
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 0, result.output
    assert "iterations    8" in result.output and model.is_file()
    result = invoke("export", run / "checkpoint.pt", "-o", model)
    assert result.exit_code == 1 and "exists; pass --overwrite" in result.output

    facts = json.loads(invoke("models", model, "--json").stdout)
    assert facts[-1]["bundled"] is False and facts[-1]["file"] == str(model)
    result = invoke("enhance", data / "0.png", "-o", tmp_path / "out", "--model", model)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out" / "0.png")[0].shape == (32, 32, 3)


def test_meta_is_exported():
    assert ImageMeta("PNG", "L", 8).orientation == 1


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


def test_enhance_denoise_option_refuses_bad_values(tmp_path):
    result = run_cli("enhance", tmp_path, "-o", tmp_path / "out", "--denoise", "9")
    assert result.returncode == 2
    assert "--denoise" in result.stderr and "9" in result.stderr


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
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    again = run_cli("enhance", src, "-o", tmp_path / "out.zarr")
    assert again.returncode == 1 and "exists; pass --overwrite" in again.stderr


# -- no way to lose or corrupt a file ---------------------------------------------------------------------


def small_batch(folder, n, size=16):
    folder.mkdir()
    data = write_image(folder.parent / "one.png", dark((size, size, 3))).read_bytes()
    for i in range(n):
        (folder / f"img{i:02d}.png").write_bytes(data)
    (folder.parent / "one.png").unlink()
    return folder


def test_two_processes_in_one_folder_never_replace_each_other(tmp_path):
    src = small_batch(tmp_path / "in", 40)
    out = tmp_path / "out"
    out.mkdir()
    procs, logs = [], []
    for k in range(2):
        log = open(tmp_path / f"report{k}.json", "w")
        logs.append(log)
        args = [sys.executable, "-m", "skdce.cli", "enhance", src, "-o", out, "--json", "--quiet", "--threads", "1"]
        procs.append(subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=120)[1] for p in procs]
    for log in logs:
        log.close()
    assert [p.returncode for p in procs] == [0, 0], errors
    reports = [json.loads((tmp_path / f"report{k}.json").read_text()) for k in range(2)]
    written = [{r["output"] for r in rep["files"] if r["status"] == "ok"} for rep in reports]
    everything = {str(out / f"img{i:02d}.png") for i in range(40)}
    assert written[0].isdisjoint(written[1]) and written[0] | written[1] == everything  # each file once
    for rep, mine in zip(reports, written):
        assert rep["summary"]["ok"] == len(mine) and rep["summary"]["skipped"] == 40 - len(mine)
        assert rep["summary"]["failed"] == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(os.path.basename(p) for p in everything)
    assert all(read_image(out / os.path.basename(p))[0].shape == (16, 16, 3) for p in everything)


def test_second_ctrl_c_with_jobs_exits_cleanly(tmp_path):
    src = small_batch(tmp_path / "in", 40, size=192)
    out = tmp_path / "out"
    with open(tmp_path / "stdout.json", "w") as so, open(tmp_path / "stderr.txt", "w") as se:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o", str(out), "--jobs", "2", "--threads", "1", "--json"],
            stdout=so, stderr=se,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, "the batch never wrote a file"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == 130, stderr
    assert "terminate called" not in stderr and "Traceback" not in stderr
    assert "skdce: stopping:" in stderr and "skdce: interrupted:" in stderr
    report = json.loads((tmp_path / "stdout.json").read_text())
    written = sorted(out.iterdir())
    assert leftovers(tmp_path) == [] and all(p.suffix == ".png" for p in written)
    assert report["summary"]["interrupted"] and report["summary"]["ok"] == len(written) < 40
    assert {r["output"] for r in report["files"] if r["status"] == "ok"} == {str(p) for p in written}
    assert report["summary"]["not_processed"] == 40 - len(written)
    for path in written:
        assert read_image(path)[0].shape == (192, 192, 3)


@pytest.mark.parametrize("suffix", ["/x", "_a/../../b", "..", "a\\b"])
def test_enhance_refuses_suffixes_that_leave_the_folder(photos, tmp_path, suffix):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", "--suffix", suffix)
    assert result.exit_code == 2 and "may not hold '/', '\\' or '..'" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "b.png").exists()


def test_enhance_outputs_never_follow_a_link_out_of_the_folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_image(src / "sub" / "deep.png", dark((8, 8, 3)))
    write_image(src / "top.png", dark((8, 8, 3)))
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    result = invoke("enhance", src, "-o", out, "--recursive", "--json")
    assert result.exit_code == 1
    rows = {os.path.basename(r["input"]): r for r in json.loads(result.stdout)["files"]}
    assert rows["top.png"]["status"] == "ok"
    assert rows["deep.png"]["status"] == "failed" and "outside the output folder" in rows["deep.png"]["reason"]
    assert list(elsewhere.iterdir()) == []


def test_enhance_output_folder_problems_are_one_line_before_any_work(photos, tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("a file")
    result = run_cli("enhance", photos / "a.png", "-o", tmp_path / "file.txt" / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write there" in result.stderr and "a file is in the way of a folder" in result.stderr

    import errno
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "ro")
    assert result.exit_code == 2 and "permission denied; check the folder's permissions" in result.output
    monkeypatch.undo()
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "readonly"
        ro.mkdir(mode=0o500)
        result = run_cli("enhance", photos / "a.png", "-o", ro)
        assert result.returncode == 2 and "permission denied" in result.stderr and "Traceback" not in result.stderr


def test_enhance_unreadable_input_folder_and_long_names(photos, tmp_path, monkeypatch):
    import errno

    import skdce.cli._batch

    def denied(folder, *args):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    monkeypatch.setattr(skdce.cli._batch, "scan_folder", denied)
    result = invoke("enhance", photos, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"failed: {photos}: cannot list the folder: {photos}: permission denied" in result.stderr
    monkeypatch.undo()

    long_src = tmp_path / "long"
    long_src.mkdir()
    write_image(long_src / ("n" * 245 + ".png"), dark((8, 8, 3)))
    result = invoke("enhance", long_src, "-o", tmp_path / "out2", "--suffix", "_enhanced", "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["files"]
    assert row["status"] == "failed" and "longer than 255 bytes" in row["reason"] and "shorter --suffix" in row["reason"]
    result = invoke("enhance", long_src, "-o", tmp_path / "out3")  # 249 bytes: fits, and so does its temporary file
    assert result.exit_code == 0 and leftovers(tmp_path) == []


@pytest.mark.parametrize("args,message", [
    (["--threads", "0"], "--threads"),
    (["--threads", "-1"], "--threads"),
    (["--threads", "1000"], "--threads"),
    (["--strength", "nan"], "'nan' is not a finite number"),
    (["--strength", "inf"], "'inf' is not a finite number"),
    (["--denoise", "nan"], "'nan' is not a finite number"),
])  # fmt: skip
def test_enhance_refuses_bad_numbers(photos, tmp_path, args, message):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()


# -- the command line fits people's habits ----------------------------------------------------------------


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
    result = invoke("enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "two.png")  # two inputs: a folder
    assert result.exit_code == 0 and sorted(os.listdir(tmp_path / "two.png")) == ["a.png", "gray.png"]


def test_enhance_dry_run_writes_nothing(photos, tmp_path):
    out = tmp_path / "out"
    result = invoke("enhance", photos / "a.png", photos / "gray.png", photos / "empty.png", "-o", out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"write: {photos / 'a.png'} -> {out / 'a.png'}" in result.stdout
    assert "dry run, nothing written: 3 write, 0 overwrite, 0 skip, 0 fail" in result.stderr
    assert not out.exists()
    out.mkdir()
    write_image(out / "a.png", dark((4, 4, 3)))
    before = digest(out / "a.png")
    result = invoke("enhance", photos / "a.png", "-o", out, "--dry-run")
    assert f"skip: {photos / 'a.png'} -> {out / 'a.png'} (the output exists" in result.stdout
    result = invoke("enhance", photos / "a.png", "-o", out, "--dry-run", "--overwrite")
    assert f"overwrite: {photos / 'a.png'} -> {out / 'a.png'}" in result.stdout
    assert digest(out / "a.png") == before and os.listdir(out) == ["a.png"]


def test_enhance_verbose(photos, tmp_path):
    result = invoke("enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "out", "--verbose")
    assert result.exit_code == 0, result.output
    assert "skdce: 2 files with zero-dce-int8 on CPUExecutionProvider" in result.stderr
    assert f"skdce: ok: {photos / 'gray.png'} -> {tmp_path / 'out' / 'gray.png'} (" in result.stderr


def test_short_flags_mean_one_thing_in_every_command():
    meaning: dict = {}
    for name, command in main.commands.items():
        for param in command.params:
            shorts = [o for o in param.opts + param.secondary_opts if len(o) == 2]
            longs = [o for o in param.opts if o.startswith("--")]
            for short in shorts:
                meaning.setdefault(short, set()).add(longs[0])
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}
    assert meaning["-o"] == {"--output"} and meaning["-q"] == {"--quality"}


def test_exit_codes_are_documented():
    text = invoke("--help").output
    assert "Exit status" in text and all(code in text for code in ("0 ", "1 ", "2 ", "130"))


def test_evaluate_csv_quotes_names(tmp_path):
    import csv

    ref, enh = tmp_path / "ref", tmp_path / "enh"
    ref.mkdir()
    enh.mkdir()
    image = dark((16, 16, 3))
    write_image(ref / "night,1.png", image)
    write_image(enh / 'night,1.png', image)
    result = invoke("evaluate", enh, ref, "-o", tmp_path / "x.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "x.csv").read_text().splitlines()))
    assert rows[0] == ["name", "psnr", "ssim"] and rows[1][0] == "night,1" and rows[2][0] == "mean"
    assert list(csv.reader(result.stdout.splitlines()))[1][0] == "night,1"
