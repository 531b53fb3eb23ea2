"""Tests of skdce.io._atomic: all or nothing, never replacing a file without overwrite, even in a race."""

import errno
import os
import threading

import pytest

from skdce.io import _atomic
from skdce.io._atomic import TEMP_SUFFIX, atomic_file, atomic_path

from ._helpers import names


def test_writes_and_cleans_up(tmp_path):
    dst = tmp_path / "a.bin"
    with atomic_path(dst) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.bin.") and tmp.name.endswith(TEMP_SUFFIX)
        tmp.write_bytes(b"new")
        assert not dst.exists()  # nothing visible before the end
    assert dst.read_bytes() == b"new" and names(tmp_path) == ["a.bin"]


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    dst = tmp_path / "a.bin"
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError, match=r"'.*a\.bin' exists; pass overwrite=True"):
        with atomic_path(dst) as tmp:
            tmp.write_bytes(b"new")
    assert dst.read_bytes() == b"old" and names(tmp_path) == ["a.bin"]
    with atomic_path(dst, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert dst.read_bytes() == b"new" and names(tmp_path) == ["a.bin"]


@pytest.mark.parametrize("links", [True, False])
def test_a_file_that_appears_meanwhile_is_never_replaced(tmp_path, monkeypatch, links):
    if not links:  # a file system without hard links: the O_EXCL copy
        def no_link(src, dst):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(_atomic.os, "link", no_link)
    dst = tmp_path / "a.bin"
    with pytest.raises(FileExistsError, match="exists"):
        with atomic_path(dst) as tmp:
            tmp.write_bytes(b"mine")
            dst.write_bytes(b"another process")  # after the first check, before the rename
    assert dst.read_bytes() == b"another process" and names(tmp_path) == ["a.bin"]
    other = tmp_path / "b.bin"
    with atomic_path(other) as tmp:
        tmp.write_bytes(b"mine")
    assert other.read_bytes() == b"mine" and names(tmp_path) == ["a.bin", "b.bin"]


def test_many_writers_one_winner(tmp_path):
    dst = tmp_path / "a.bin"
    barrier = threading.Barrier(8)
    results = []

    def writer(i):
        try:
            with atomic_path(dst) as tmp:
                tmp.write_bytes(b"%d" % i * 1000)
                barrier.wait()
        except FileExistsError:
            results.append("exists")
        else:
            results.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r != "exists"]
    assert len(winners) == 1 and results.count("exists") == 7
    assert dst.read_bytes() == b"%d" % winners[0] * 1000 and names(tmp_path) == ["a.bin"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError, OSError])
def test_errors_remove_the_temporary_file(tmp_path, error):
    with pytest.raises(error):
        with atomic_path(tmp_path / "a.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise error("stop")
    assert names(tmp_path) == []


def test_long_names_get_a_temporary_name_that_fits(tmp_path):
    name = "é" * 100 + ".png"  # 204 bytes: the name fits, name + temporary decoration would not
    tmp = _atomic.temporary_name(tmp_path / name)
    assert len(tmp.name.encode()) <= 255 and tmp.name.endswith(TEMP_SUFFIX)
    with atomic_path(tmp_path / name) as tmp:
        tmp.write_bytes(b"x")
    assert names(tmp_path) == [name]


def test_umask_is_honoured(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "a.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640


def test_atomic_file_never_writes_through_a_link_below_root(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    with atomic_file(root / "a" / "b" / "x.bin", root=root) as fh:  # missing folders are created
        fh.write(b"data")
    assert (root / "a" / "b" / "x.bin").read_bytes() == b"data"
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    for target in (root / "link" / "x.bin", root / "link" / "deeper" / "x.bin"):
        with pytest.raises(OSError) as info, atomic_file(target, root=root) as fh:
            fh.write(b"never")
        assert info.value.errno == errno.ELOOP and info.value.filename == str(root / "link")
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(FileExistsError), atomic_file(root / "a" / "b" / "x.bin", root=root) as fh:
        fh.write(b"never")
    with pytest.raises(RuntimeError), atomic_file(root / "a" / "y.bin", root=root) as fh:
        fh.write(b"partial")
        raise RuntimeError
    assert sorted(p.name for p in (root / "a").iterdir()) == ["b"]  # no temporary, no partial file


@pytest.mark.parametrize("root", [False, True])
def test_a_file_shorter_on_disk_than_written_is_not_placed(tmp_path, root):
    """A short write the writer did not see (Pillow's JPEG encoder on a full disk wrote to the descriptor and lost
    it): the truncated temporary file is not renamed into place; the error says the space ran out."""
    path = tmp_path / "out" / "x.bin"
    path.parent.mkdir()
    with pytest.raises(OSError) as info:
        with atomic_file(path, root=tmp_path if root else None) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            os.ftruncate(fh.fileno(), 100)  # what the disk kept
    assert info.value.errno == errno.ENOSPC and "could not be written whole" in str(info.value)
    assert names(path.parent) == []


def test_a_jpeg_is_written_by_one_python_write(tmp_path, monkeypatch):
    """The JPEG encoder writes into memory, then the bytes go through the file object (whose errors are seen)."""
    import numpy as np

    from skdce.io import read_image, write_image

    writes = []

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            writes.append(len(data))
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    import contextlib

    @contextlib.contextmanager
    def spying(*args, **kwargs):
        with _atomic.atomic_file(*args, **kwargs) as fh:
            yield Spy(fh)

    from skdce.io import _write

    monkeypatch.setattr(_write, "atomic_file", spying)
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    write_image(tmp_path / "a.jpg", image)
    assert len(writes) == 1 and writes[0] == (tmp_path / "a.jpg").stat().st_size
    assert read_image(tmp_path / "a.jpg")[0].shape == image.shape
