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

:func:`atomic_file` does the same and yields an open file instead of a name.
Given ``root``, the folder of the file is opened from ``root`` down, one folder
at a time, never through a symbolic link (``O_NOFOLLOW``, ``O_DIRECTORY``),
and every step after that (creating the temporary file, linking or renaming
it, removing it) is relative to that open folder (``dir_fd``). A link swapped
into the output folder after the outputs were planned therefore cannot send a
file, or a replacement, anywhere else: the write fails with ``ELOOP``.
Where the platform has no ``dir_fd`` (Windows), the real path of the folder
is checked against ``root`` just before writing.

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

__all__ = ["atomic_path", "atomic_file", "open_folder", "TEMP_SUFFIX", "temporary_name"]

#: Suffix of the temporary files renamed into place.
TEMP_SUFFIX = ".skdce-tmp"

_NAME_MAX = 255  # bytes per file name on nearly every file system
_NO_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, getattr(errno, "ENOTSUP", -1),
             getattr(errno, "EOPNOTSUPP", -1)}


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


def _place_no_replace(tmp, name, path: Path, dfd: int | None = None) -> None:
    """Put ``tmp`` at ``name`` unless ``name`` exists (checked by the operation itself, not before it).

    ``tmp`` and ``name`` are paths, or names inside the open folder ``dfd``;
    ``path`` is the destination as the user named it, for the error.
    """
    try:
        if dfd is None:
            os.link(tmp, name)
        else:
            os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        return
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    binary = getattr(os, "O_BINARY", 0)
    try:  # no hard links here: create the destination exclusively and copy into it
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | binary | getattr(os, "O_CLOEXEC", 0), 0o666,
                     dir_fd=dfd)
    except FileExistsError:
        raise _exists_error(path) from None
    try:
        with os.fdopen(fd, "wb") as dst:
            with os.fdopen(os.open(tmp, os.O_RDONLY | binary, dir_fd=dfd), "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)  # ours: created above with O_EXCL
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
            _place_no_replace(tmp, path, path)
        _fsync_folder(path.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # after os.link: only the temporary name goes; after os.replace: nothing there


_DIR_FD = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and {os.open, os.mkdir, os.link, os.rename, os.unlink, os.stat} <= os.supports_dir_fd
)


def _link_in_the_way(path) -> OSError:
    return OSError(errno.ELOOP, "a symbolic link (or a file) is in the way of a folder inside the output folder; "
                                "outputs never follow links there: remove it", str(path))


def open_folder(root, parts, *, create: bool = True) -> int:
    """An open descriptor of the folder ``root/parts[0]/parts[1]/...``, created where missing (with ``create``).

    ``root`` itself is followed if it is a link (the user named it); no folder
    below it is: a link there raises ``OSError(ELOOP)``. Close the descriptor.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(root, flags)
    here = Path(root)
    try:
        for part in parts:
            here = here / part
            if part in ("", ".", "..") or "/" in part:
                raise _link_in_the_way(here)
            try:
                child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                try:
                    child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _link_in_the_way(here) from None
                    raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _link_in_the_way(here) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _inside(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        raise ValueError(f"{str(path)!r} is not inside the folder {str(root)!r}") from None


def _check_complete(fh, path) -> None:
    """Raise ENOSPC where the file on disk is shorter than what was written to it.

    An encoder that writes to the file descriptor itself (Pillow's JPEG encoder) can lose a short write on a full
    disk without an error: the temporary file would be placed, truncated, as if complete.
    """
    if os.fstat(fh.fileno()).st_size < fh.tell():
        raise OSError(errno.ENOSPC, "the file could not be written whole (no space left on the device?)", str(path))


@contextlib.contextmanager
def atomic_file(path, *, overwrite: bool = False, root=None):
    """Yield a binary file open for writing; on success it becomes ``path`` (see the module docstring).

    With ``root`` (a folder that ``path`` lies in, written as ``root / ...``),
    the folders between them are created where missing and never followed
    through a link; without, ``path``'s folder must exist.
    """
    path = Path(path)
    if root is None or not _DIR_FD:
        if root is not None:  # no dir_fd here: check where the folder really is, just before writing
            rel = _inside(path, Path(root))
            path.parent.mkdir(parents=True, exist_ok=True)
            real_root = Path(os.path.realpath(root))
            if Path(os.path.realpath(path.parent)) != real_root / rel.parent:
                raise _link_in_the_way(path.parent)
        with atomic_path(path, overwrite=overwrite) as tmp:
            with open(tmp, "wb") as fh:
                yield fh
                fh.flush()
                _check_complete(fh, path)
        return
    rel = _inside(path, Path(root))
    dfd = open_folder(root, rel.parent.parts)
    try:
        name = path.name
        if not overwrite:
            try:
                os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise _exists_error(path)
        for _ in range(100):
            tmp = temporary_name(path).name
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666,
                             dir_fd=dfd)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise FileExistsError(f"cannot create a temporary file beside {str(path)!r}")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.raw.name = str(path.with_name(tmp))  # encoders that want a name (tifffile) get the real one
                yield fh
                fh.flush()
                _check_complete(fh, path)
                os.fsync(fh.fileno())
            if overwrite:
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            else:
                _place_no_replace(tmp, name, path, dfd)
            with contextlib.suppress(OSError):
                os.fsync(dfd)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
    finally:
        os.close(dfd)

