"""What a path is, asked of the file system rather than of its name: one file under two names, special files.

Every writer of skdce refuses an output that *is* one of its inputs. Names do
not tell (``a.tif`` and ``./A.TIF`` on a case-insensitive disk, a hard link, a
symbolic link, a store folder that holds the input), so the file system is
asked: the device and inode numbers (what :func:`os.path.samefile` compares),
and for folders (Zarr stores) whether one holds the other. Readers refuse
FIFOs, devices and sockets before opening them: opening a FIFO blocks until a
writer appears, and reading a device never ends.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["file_id", "same_or_inside", "special_file_reason"]


def file_id(path) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of what ``path`` names (links followed), or ``None`` where it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_or_inside(a, b) -> bool:
    """Whether ``a`` and ``b`` are the same file or folder, or one of them lies inside the other (a folder)."""
    a_id, b_id = file_id(a), file_id(b)
    if a_id is not None and a_id == b_id:
        return True
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    if ra == rb or ra in rb.parents or rb in ra.parents:
        return True
    # a folder above one of them may be the other under another name (a hard link cannot be a folder, but a
    # bind mount or a case-insensitive name can): compare the identity of each folder above
    for path, other_id in ((ra, b_id), (rb, a_id)):
        if other_id is not None and any(file_id(parent) == other_id for parent in path.parents):
            return True
    return False


def special_file_reason(path) -> str | None:
    """Why ``path`` cannot be read as a file (a FIFO, a device, a socket); None for a file, a folder, a missing path.

    Asked with :func:`os.stat` (links followed), which never blocks, unlike opening a FIFO.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    return f"it is {kind}, not a regular file; skdce reads image files (save the data to a file first)"
