"""One way to write a file: completely or not at all, never replacing a file by accident.

:func:`atomic_path` is used for every file skdce writes (images, training
checkpoints, ONNX models, manifests):

1. a temporary file ``.<name>.<random>.skdce-tmp`` is created in the folder of
   the destination (``O_EXCL``, honouring the umask), so the final step is a
   rename within one file system;
2. the caller writes it, by name;
3. it is flushed to disk (``fsync``);
4. it is put in place: with ``overwrite=True`` by :func:`os.replace`; without,
   by :func:`os.link` (which fails with :class:`FileExistsError` when the
   destination exists, even when another process created it a moment ago)
   and removing the temporary name. Where the file system has no hard links
   (FAT, some network shares) the destination is created with ``O_EXCL``
   and the data copied into it: it is still never replaced, but a reader may
   see it while it is being copied.

On any error, ``KeyboardInterrupt`` included, the temporary file is removed.
(The ``skdce`` command turns SIGTERM into ``KeyboardInterrupt``; a process
killed outright leaves at most a ``.skdce-tmp`` file, which skdce ignores.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

__all__ = ["atomic_path", "TEMP_SUFFIX", "temporary_name"]

#: Suffix of the temporary files renamed into place.
TEMP_SUFFIX = ".skdce-tmp"

_NAME_MAX = 255  # bytes per file name on nearly every file system
_NO_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, getattr(errno, "ENOTSUP", -1), getattr(errno, "EOPNOTSUPP", -1)}


def temporary_name(path: Path) -> Path:
    """``.<name>.<random>.skdce-tmp`` beside ``path``, the name shortened to fit 255 bytes if needed."""
    token = secrets.token_hex(4)
    room = _NAME_MAX - len(f"..{token}{TEMP_SUFFIX}")
    name = path.name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return path.with_name(f".{name}.{token}{TEMP_SUFFIX}")


def _create_temporary(path: Path) -> Path:
    for _ in range(100):
        tmp = temporary_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot create a temporary file beside {str(path)!r}")  # pragma: no cover


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exists_error(path: Path) -> FileExistsError:
    return FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")


def _place_no_replace(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path`` unless ``path`` exists (checked by the operation itself, not before it)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    try:  # no hard links here: create the destination exclusively and copy into it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except FileExistsError:
        raise _exists_error(path) from None
    try:
        with os.fdopen(fd, "wb") as dst, open(tmp, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)  # ours: created above with O_EXCL
        raise


@contextlib.contextmanager
def atomic_path(path, *, overwrite: bool = False):
    """Yield a temporary path to write; on success it becomes ``path`` (see the module docstring).

    Raises :class:`FileExistsError` (before anything is written, and again at
    the end if another writer got there first) when ``path`` exists and
    ``overwrite`` is false; the temporary file is removed on every error.
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise _exists_error(path)
    tmp = _create_temporary(path)
    try:
        yield tmp
        _fsync(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_no_replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # after os.link: only the temporary name goes; after os.replace: nothing there
