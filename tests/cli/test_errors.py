"""The wording of OS errors and the exit statuses of signals (skdce/cli/_errors.py)."""

import errno
import signal

import pytest

from skdce.cli._errors import EXIT_INTERRUPTED, os_reason


@pytest.mark.parametrize("code,fix", [
    (errno.EACCES, "permission denied; check the folder's permissions"),
    (errno.EROFS, "the file system is read-only; choose another output folder"),
    (errno.ENOSPC, "no space left on the device; free some space"),
    (errno.ENOTDIR, "a file is in the way of a folder on this path"),
    (errno.ENAMETOOLONG, "use a shorter --suffix or rename the input"),
    (errno.ENOENT, "no such file or folder"),
])  # fmt: skip
def test_os_reason_names_the_path_and_the_fix(code, fix):
    reason = os_reason(OSError(code, "raw message", "/out/a.png"))
    assert reason.startswith("/out/a.png: ") and fix in reason


def test_os_reason_of_other_errors():
    assert os_reason(OSError(errno.EIO, "Input/output error"), "/out") == "/out: Input/output error"
    assert os_reason(OSError(errno.EIO, "Input/output error")) == "?: Input/output error"


def test_exit_statuses_of_signals():
    assert EXIT_INTERRUPTED == {signal.SIGINT: 130, signal.SIGTERM: 143}
