"""How the command line words an OSError, and the exit statuses of the signals that stop it."""

from __future__ import annotations

import signal
import sys

import click

#: The exit status of a command stopped by a signal (the shell's 128 + signal number).
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def os_reason(exc: OSError, path=None) -> str:
    """One line for an OSError: what happened to which path, and what to do."""
    import errno

    where = path if path is not None else exc.filename
    where = _destination(str(where)) if where is not None else None
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
    return f"{where}: {reason}" if where else reason


def _destination(name: str) -> str:
    """The file a temporary file (``.<name>.<random>.skdce-tmp``) stands for: what the user asked to write."""
    import os
    import re

    from ..io._atomic import TEMP_SUFFIX

    folder, base = os.path.split(name)
    match = re.fullmatch(r"\.(.+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX), base)
    return os.path.join(folder, match.group(1)) if match else name


def echo_out(message="", nl: bool = True) -> None:
    """``click.echo`` to stdout; a full device or a closed pipe there is one line on stderr (exit 1), no traceback.

    stdout is then pointed at the null device, so that the interpreter's last
    flush of what could not be written fails no more.
    """
    try:
        click.echo(message, nl=nl)
    except OSError as exc:
        raise stdout_failed(exc) from None


def stdout_failed(exc: OSError) -> click.ClickException:
    """What to raise when stdout cannot be written: one line (none for a closed pipe, as ``| head`` makes).

    stdout is pointed at the null device first, so that the interpreter's last
    flush of what could not be written fails no more.
    """
    import errno
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass
    if exc.errno == errno.EPIPE:  # the reader is gone: nothing to tell it
        return click.exceptions.Exit(1)
    return click.ClickException(f"cannot write to standard output: {exc.strerror or exc}")


def stdout_broken(exc: OSError) -> bool:
    """Whether ``exc`` is a failed write to stdout: a stream error (no file name) that stdout still has, or
    one of the errors a write to a full, closed or broken stream gives."""
    import errno

    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    stream_errors = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT}
    return exc.filename is None and exc.errno in stream_errors
