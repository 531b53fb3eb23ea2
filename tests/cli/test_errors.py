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
    assert os_reason(OSError(errno.EIO, "Input/output error")) == "Input/output error"  # was "?: ..."


def test_os_reason_names_the_destination_not_a_temporary_file():
    reason = os_reason(OSError(errno.ENOSPC, "No space left", "/out/.a.png.0badc0de.skdce-tmp"))
    assert reason.startswith("/out/a.png: no space left on the device")
    assert os_reason(OSError(errno.EFBIG, "File too large", "/out/b.tif")).startswith("/out/b.tif: the file is larger")


def test_exit_statuses_of_signals():
    assert EXIT_INTERRUPTED == {signal.SIGINT: 130, signal.SIGTERM: 143}



@pytest.mark.parametrize("args", [["models"], ["models", "--json"], ["info"], ["info", "--json"], ["--help"],
                                  ["--version"], ["enhance", "--help"]])
def test_a_full_stdout_is_a_message_not_a_traceback(args):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "skdce.cli", *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert "cannot write to standard output: No space left on device" in result.stderr


def test_enhance_json_and_dry_run_on_a_full_stdout(tmp_path):
    import subprocess
    import sys

    import numpy as np

    from skdce.io import write_image

    src = write_image(tmp_path / "a.png", np.full((8, 8, 3), 20, np.uint8))
    for extra in (["--json"], ["--dry-run"], ["--dry-run", "--json"]):
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, "-m", "skdce.cli", "enhance", str(src), "-o",
                                     str(tmp_path / "out"), "--overwrite", *extra],
                                    stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "cannot write to standard output" in result.stderr



def test_a_closed_pipe_on_stdout_ends_quietly():
    """``skdce models | head -1``: the reader is gone; no traceback, and no message to nobody."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "skdce.cli", "models", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # before the child writes
    with proc.stderr:
        err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 1 and err == "", err
