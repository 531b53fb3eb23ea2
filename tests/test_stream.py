"""One image file to another through the Dask plan: TIFF and Zarr in, TIFF and Zarr out."""

import os
import signal

import numpy as np
import pytest

pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")

import skdce  # noqa: E402
from skdce.cli import _stream  # noqa: E402

from ._helpers import GatedRun, dark, leftovers, names, run_cli  # noqa: E402


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
    img = dark((90, 120, 3), rng=rng)
    src = tmp_path / "big.tif"
    stored = np.moveaxis(img, -1, 0) if layout.get("planarconfig") == "separate" else img
    tifffile.imwrite(src, stored, photometric="rgb", **layout)
    shape, dtype = _stream.stream_enhance(src, tmp_path / out_name)
    assert shape == img.shape and dtype == np.uint8
    if out_name.endswith(".tif"):
        got = tifffile.imread(tmp_path / out_name)
    else:
        got = zarr.open(str(tmp_path / out_name), mode="r")[:]
    assert got.dtype == np.uint8 and got.shape == img.shape
    np.testing.assert_array_equal(got, in_memory(img))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["big.tif", out_name])  # no temporary left


def test_tiff_gray16_alpha_and_orientation(rng, tmp_path, small_chunks):
    gray = dark((70, 50), np.uint16, rng=rng)
    tifffile.imwrite(tmp_path / "g.tif", gray, tile=(16, 16), compression="zlib", extratags=[(274, 3, 1, 6, True)])
    _stream.stream_enhance(tmp_path / "g.tif", tmp_path / "g-out.tif")
    got = tifffile.imread(tmp_path / "g-out.tif")
    upright = np.rot90(gray, -1)  # orientation 6, as skdce.io.read_image turns it
    np.testing.assert_array_equal(got, in_memory(np.ascontiguousarray(upright)))
    rgba = np.concatenate([dark((40, 45, 3), rng=rng), rng.integers(0, 256, (40, 45, 1), dtype=np.uint8)], axis=-1)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"], tile=(16, 16))
    _stream.stream_enhance(tmp_path / "a.tif", tmp_path / "a-out.tif")
    with tifffile.TiffFile(tmp_path / "a-out.tif") as tf:
        out = tf.asarray()
        assert tf.pages.first.is_tiled and tf.pages.first.extrasamples == (2,)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out, in_memory(rgba))


def test_existing_output_kept_and_bad_input(rng, tmp_path):
    img = dark((30, 40, 3), rng=rng)
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
    assert names(tmp_path) == ["a.tif", "bad.tif", "out.tif", "stack.tif"]  # no output, no temporary


@pytest.mark.parametrize("kind, dtype", [("zarr", "i1"), ("zarr", "?"), ("tif", "i2")])
def test_cli_refuses_signed_and_bool_samples_subprocess(tmp_path, kind, dtype):
    """A signed-integer or boolean Zarr ended in skdce.enhance's TypeError (a traceback); now as TIFF: one line."""
    src = tmp_path / f"in.{kind}"
    if kind == "zarr":
        zarr.open(str(src), mode="w", shape=(50, 60, 3), dtype=dtype)[:] = 1
    else:
        tifffile.imwrite(src, np.ones((50, 60, 3), dtype), photometric="rgb")
    result = run_cli("enhance", src, "-o", tmp_path / "out.zarr")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"has {np.dtype(dtype)} samples; skdce takes unsigned integer or float images: convert it" in result.stderr
    assert names(tmp_path) == [src.name]


def test_cli_tiff_to_tiff_subprocess(rng, tmp_path):
    """``skdce enhance big.tif -o out.tif`` streams (a folder -o keeps the in-memory path)."""
    img = dark((90, 120, 3), rng=rng)
    tifffile.imwrite(tmp_path / "big.tif", img, photometric="rgb", tile=(32, 32), compression="zlib")
    result = run_cli("enhance", tmp_path / "big.tif", "-o", tmp_path / "out.tif")
    assert result.returncode == 0, result.stderr
    assert "into" in result.stderr and (tmp_path / "out.tif").is_file()
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), in_memory(img))
    again = run_cli("enhance", tmp_path / "big.tif", "-o", tmp_path / "out.tif")
    assert again.returncode == 1 and "exists; pass --overwrite" in again.stderr
    folder = run_cli("enhance", tmp_path / "big.tif", "-o", tmp_path / "folder", "--quiet")
    assert folder.returncode == 0, folder.stderr
    assert (tmp_path / "folder" / "big.tif").is_file()


def _digest(path):
    import hashlib

    if path.is_dir():
        return sorted((str(p.relative_to(path)), p.read_bytes()) for p in path.rglob("*") if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_input_is_never_replaced_nor_written_into(rng, tmp_path):
    """Input as output (under its own name, a link, a hard link, a folder around or inside it), --overwrite or not."""
    img = dark((24, 20, 3), rng=rng)
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
    assert leftovers(tmp_path) == []
    result = run_cli("enhance", tif, "-o", tif, "--overwrite")
    assert result.returncode == 1 and "never replaces an input" in result.stderr and "Traceback" not in result.stderr
    assert _digest(tif) == before[tif]


# Where a streamed run is held: after the first row of TIFF tiles is written, or at the first chunk stored into
# the Zarr store (a 512 x 512 image is one working chunk); the output's temporary exists there.
HELD_AT = {"out.tif": ("skdce.cli._stream:_row_of_tiles", 1), "out.zarr": ("dask.array.core:load_store_chunk", 0)}


@pytest.mark.parametrize("out_name", ["out.tif", "out.zarr"])
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_streamed_run_stopped_by_a_signal_leaves_nothing(rng, tmp_path, out_name, sig, code):
    """The temporary file or store is removed, the exit status says which signal, no 'Aborted!' and no traceback."""
    work = tmp_path / "work"
    work.mkdir()
    tifffile.imwrite(work / "big.tif", dark((512, 512, 3), rng=rng), photometric="rgb", tile=(256, 256))
    target, free = HELD_AT[out_name]
    run = GatedRun(tmp_path / "gate", target, "enhance", work / "big.tif", "-o", work / out_name, free=free)
    run.wait_held()
    assert len(leftovers(work)) == 1  # the output is being written, under its temporary name
    run.send(sig)
    assert run.finish() == code, run.stderr
    assert "Aborted!" not in run.stderr and "Traceback" not in run.stderr and "interrupted" in run.stderr
    assert names(work) == ["big.tif"]


def test_streamed_output_faults_are_messages(rng, tmp_path):
    """A file or link where a store goes, a file-size limit: one line, nothing left."""
    import resource

    tifffile.imwrite(tmp_path / "a.tif", dark((64, 64, 3), rng=rng), photometric="rgb", tile=(32, 32))
    (tmp_path / "file.zarr").write_bytes(b"a file")
    (tmp_path / "link.zarr").symlink_to(tmp_path / "elsewhere.zarr")
    for name, said in [("file.zarr", "is a file, not a Zarr store"), ("link.zarr", "is a link, not a Zarr store")]:
        result = run_cli("enhance", tmp_path / "a.tif", "-o", tmp_path / name, "--overwrite")
        assert result.returncode == 1 and said in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "file.zarr").read_bytes() == b"a file" and not (tmp_path / "elsewhere.zarr").exists()

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    for name in ("out.tif", "out.zarr"):
        result = run_cli("enhance", tmp_path / "a.tif", "-o", tmp_path / name, preexec_fn=small_files)
        assert result.returncode == 1 and "file-size limit" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "skdce-tmp" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "file.zarr", "link.zarr"]
