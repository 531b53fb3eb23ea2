"""How the command line words an OSError, and the exit statuses of the signals that stop it."""

from __future__ import annotations

import signal

#: The exit status of a command stopped by a signal (the shell's 128 + signal number).
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def os_reason(exc: OSError, path=None) -> str:
    """One line for an OSError: what happened to which path, and what to do."""
    import errno

    where = str(path if path is not None else (exc.filename or "?"))
    fixes = {
        errno.EACCES: "permission denied; check the folder's permissions or choose another output folder",
        errno.EPERM: "operation not permitted; check the folder's permissions or choose another output folder",
        errno.EROFS: "the file system is read-only; choose another output folder",
        errno.ENOSPC: "no space left on the device; free some space or choose another output folder",
        errno.EDQUOT: "disk quota exceeded; free some space or choose another output folder",
        errno.ENOTDIR: "a file is in the way of a folder on this path; remove it or choose another output folder",
        errno.EEXIST: "a file is in the way of a folder on this path; remove it or choose another output folder",
        errno.ENAMETOOLONG: "the file name is too long for the file system (most allow 255 bytes); "
                            "use a shorter --suffix or rename the input",
        errno.ENOENT: "no such file or folder",
        errno.ELOOP: "a symbolic link is in the way of a folder inside the output folder (outputs never follow "
                     "links there); remove it",
        errno.EFBIG: "the file is larger than the file system or the file-size limit allows; choose another "
                     "output folder or raise the limit",
    }
    reason = fixes.get(exc.errno, exc.strerror or str(exc))
    return f"{where}: {reason}"
