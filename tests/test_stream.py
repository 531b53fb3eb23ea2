"""One image file to another through the Dask plan: TIFF and Zarr in, TIFF and Zarr out."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")

import skdce  # noqa: E402
from skdce.cli import _stream  # noqa: E402


def dark(rng, shape, dtype=np.uint8):
    top = 60 if dtype == np.uint8 else 15000
    return rng.integers(0, top, shape).astype(dtype)


def in_memory(img):
    out = skdce.enhance(img, channel_axis=None if img.ndim == 2 else -1)
    return np.round(out * float(np.iinfo(img.dtype).max)).astype(img.dtype)


@pytest.fixture
def small_chunks(monkeypatch):
    """Several working chunks, bands and tile rows on small images."""
    monkeypatch.setattr(_stream, "WORK_CHUNK", 40)
    monkeypatch.setattr(_stream, "TIFF_TILE", 32)
    monkeypatch.setattr(_stream, "BAND_BYTES", 50 * 120 * 3)  # a band holds one or two row chunks


@pytest.mark.parametrize(
    "layout",
    [
        dict(tile=(32, 32), compression="zlib"),  # tiled
        dict(rowsperstrip=8, compression="zlib"),  # strips
        dict(),  # uncompressed, contiguous: read as a memory map
        dict(tile=(16, 16), planarconfig="separate", compression="zlib"),  # (S, Y, X)
    ],
    ids=["tiled", "strips", "contiguous", "planar"],
)
@pytest.mark.parametrize("out_name", ["out.tif", "out.zarr"])
def test_tiff_streamed_equals_in_memory(rng, tmp_path, small_chunks, layout, out_name):
    img = dark(rng, (90, 120, 3))
    src = tmp_path / "big.tif"
    stored = np.moveaxis(img, -1, 0) if layout.get("planarconfig") == "separate" else img
    tifffile.imwrite(src, stored, photometric="rgb", **layout)
    shape, dtype = _stream.stream_enhance(src, tmp_path / out_name)
    assert shape == img.shape and dtype == np.uint8
    got = tifffile.imread(tmp_path / out_name) if out_name.endswith(".tif") else zarr.open(str(tmp_path / out_name), mode="r")[:]
    assert got.dtype == np.uint8 and got.shape == img.shape
    np.testing.assert_array_equal(got, in_memory(img))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["big.tif", out_name])  # no temporary left


def test_tiff_gray16_alpha_and_orientation(rng, tmp_path, small_chunks):
    gray = dark(rng, (70, 50), np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", gray, tile=(16, 16), compression="zlib", extratags=[(274, 3, 1, 6, True)])
    _stream.stream_enhance(tmp_path / "g.tif", tmp_path / "g-out.tif")
    got = tifffile.imread(tmp_path / "g-out.tif")
    upright = np.rot90(gray, -1)  # orientation 6, as skdce.io.read_image turns it
    np.testing.assert_array_equal(got, in_memory(np.ascontiguousarray(upright)))
    rgba = np.concatenate([dark(rng, (40, 45, 3)), rng.integers(0, 256, (40, 45, 1), dtype=np.uint8)], axis=-1)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"], tile=(16, 16))
    _stream.stream_enhance(tmp_path / "a.tif", tmp_path / "a-out.tif")
    with tifffile.TiffFile(tmp_path / "a-out.tif") as tf:
        out = tf.asarray()
        assert tf.pages.first.is_tiled and tf.pages.first.extrasamples == (2,)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out, in_memory(rgba))


def test_existing_output_kept_and_bad_input(rng, tmp_path):
    img = dark(rng, (30, 40, 3))
    tifffile.imwrite(tmp_path / "a.tif", img, photometric="rgb", tile=(16, 16))
    (tmp_path / "out.tif").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="exists; pass --overwrite"):
        _stream.stream_enhance(tmp_path / "a.tif", tmp_path / "out.tif")
    assert (tmp_path / "out.tif").read_bytes() == b"old"
    _stream.stream_enhance(tmp_path / "a.tif", tmp_path / "out.tif", overwrite=True)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), in_memory(img))
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match="bad.tif.* holds no image"):
        _stream.stream_enhance(tmp_path / "bad.tif", tmp_path / "bad-out.zarr")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 20, 20), np.uint8), photometric="minisblack",
                     metadata={"axes": "ZYX"})
    with pytest.raises(ValueError, match="axes 'ZYX'.*one gray or RGB"):
        _stream.stream_enhance(tmp_path / "stack.tif", tmp_path / "stack-out.tif")
    with pytest.raises(ValueError, match=r"a \.zarr store or a \.tif file"):
        _stream.stream_enhance(tmp_path / "a.tif", tmp_path / "out.png")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_cli_tiff_to_tiff_subprocess(rng, tmp_path):
    """``skdce enhance big.tif -o out.tif`` streams (a folder -o keeps the in-memory path)."""
    img = dark(rng, (90, 120, 3))
    tifffile.imwrite(tmp_path / "big.tif", img, photometric="rgb", tile=(32, 32), compression="zlib")
    cmd = [sys.executable, "-m", "skdce.cli", "enhance", str(tmp_path / "big.tif"), "-o"]
    result = subprocess.run(cmd + [str(tmp_path / "out.tif")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "into" in result.stderr and (tmp_path / "out.tif").is_file()
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), in_memory(img))
    again = subprocess.run(cmd + [str(tmp_path / "out.tif")], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "exists; pass --overwrite" in again.stderr
    folder = subprocess.run(cmd + [str(tmp_path / "folder"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert folder.returncode == 0, folder.stderr
    assert (tmp_path / "folder" / "big.tif").is_file()


def _digest(path):
    import hashlib

    if path.is_dir():
        return sorted((str(p.relative_to(path)), p.read_bytes()) for p in path.rglob("*") if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_input_is_never_replaced_nor_written_into(rng, tmp_path):
    """Input as output (under its own name, a link, a hard link, a folder around or inside it), --overwrite or not."""
    img = dark(rng, (24, 20, 3))
    tif = tmp_path / "a.tif"
    tifffile.imwrite(tif, img, photometric="rgb", tile=(16, 16))
    store = tmp_path / "a.zarr"
    zarr.open(str(store), mode="w", shape=img.shape, chunks=(16, 16, 3), dtype=img.dtype)[:] = img
    (tmp_path / "link.tif").symlink_to(tif)
    os.link(tif, tmp_path / "hard.tif")
    (tmp_path / "holder.zarr").mkdir()
    inner = tmp_path / "holder.zarr" / "in.tif"
    tifffile.imwrite(inner, img, photometric="rgb")
    cases = [(tif, tif), (tif, tmp_path / "link.tif"), (tif, tmp_path / "hard.tif"), (store, store),
             (store, store / "out.zarr"), (inner, tmp_path / "holder.zarr")]
    before = {p: _digest(p) for p in (tif, store, inner)}
    for src, dst in cases:
        with pytest.raises(ValueError, match="never replaces an input"):
            _stream.stream_enhance(src, dst, overwrite=True)
    assert {p: _digest(p) for p in before} == before
    assert not list(tmp_path.rglob("*.skdce-tmp"))
    result = subprocess.run([sys.executable, "-m", "skdce.cli", "enhance", str(tif), "-o", str(tif), "--overwrite"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "never replaces an input" in result.stderr and "Traceback" not in result.stderr
    assert _digest(tif) == before[tif]


@pytest.mark.parametrize("out_name", ["out.tif", "out.zarr"])
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_streamed_run_stopped_by_a_signal_leaves_nothing(rng, tmp_path, out_name, sig, code):
    """The temporary file or store is removed, the exit status says which signal, no 'Aborted!' and no traceback."""
    tifffile.imwrite(tmp_path / "big.tif", dark(rng, (1024, 1024, 3)), photometric="rgb", tile=(256, 256))
    cmd = [sys.executable, "-m", "skdce.cli", "enhance", str(tmp_path / "big.tif"), "-o", str(tmp_path / out_name)]
    def default_signals():  # a signal ignored here (by another test) would be ignored by the child too
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".skdce-tmp") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Aborted!" not in err and "Traceback" not in err and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]


def test_streamed_output_faults_are_messages(rng, tmp_path):
    """A file or link where a store goes, a file-size limit: one line, nothing left."""
    import resource

    tifffile.imwrite(tmp_path / "a.tif", dark(rng, (64, 64, 3)), photometric="rgb", tile=(32, 32))
    (tmp_path / "file.zarr").write_bytes(b"a file")
    (tmp_path / "link.zarr").symlink_to(tmp_path / "elsewhere.zarr")
    cmd = [sys.executable, "-m", "skdce.cli", "enhance", str(tmp_path / "a.tif"), "-o"]
    for name, said in [("file.zarr", "is a file, not a Zarr store"), ("link.zarr", "is a link, not a Zarr store")]:
        result = subprocess.run(cmd + [str(tmp_path / name), "--overwrite"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and said in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "file.zarr").read_bytes() == b"a file" and not (tmp_path / "elsewhere.zarr").exists()

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    for name in ("out.tif", "out.zarr"):
        result = subprocess.run(cmd + [str(tmp_path / name)], capture_output=True, text=True, timeout=120,
                                preexec_fn=small_files)
        assert result.returncode == 1 and "file-size limit" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "skdce-tmp" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "file.zarr", "link.zarr"]
