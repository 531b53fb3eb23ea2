"""Helpers shared by the test packages: dark images, the ``skdce`` command (in this process or another),
what a run leaves behind, its JSON report, and :class:`GatedRun` for interrupting a command at a known point.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from skdce.io import TEMP_SUFFIX

RNG = np.random.default_rng(7)


def dark(shape, dtype=np.uint8, rng=None):
    """A random dark image: uint8 values below 60, uint16 below 15000."""
    top = 60 if dtype == np.uint8 else 15000
    return (RNG if rng is None else rng).integers(0, top, shape).astype(dtype)


def default_signals():
    """``preexec_fn`` of a child that must die of (or handle) SIGINT and SIGTERM, even where this process ignores them
    (a test of skdce's own handlers may leave them ignored here, and an ignored signal stays ignored in a child)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def without_root_overrides():
    """``preexec_fn`` of a child that honours file permissions even when run as root (as CI runs the tests).

    Root keeps its user id but loses the capabilities that let it write and look anywhere (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER), dropped from the bounding set so that they stay dropped across ``exec``.
    Nothing to do for another user.
    """
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # linux/capability.h: DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed: cannot run a child without root's rights")


def run_cli(*args, timeout=120, **kwargs):
    """``python -m skdce.cli ARGS`` in a subprocess: a :class:`subprocess.CompletedProcess` with text output."""
    return subprocess.run([sys.executable, "-m", "skdce.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def invoke(*args):
    """``skdce ARGS`` in this process, through click's CliRunner."""
    from click.testing import CliRunner

    from skdce.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder) -> list[str]:
    """The atomic writer's temporary files (``*.skdce-tmp``) anywhere below ``folder``."""
    return sorted(str(p) for p in Path(folder).rglob("*") if p.name.endswith(TEMP_SUFFIX))


def names(folder) -> list[str]:
    """The sorted names in ``folder``: what a run left there, temporaries and hidden files included."""
    return sorted(p.name for p in Path(folder).iterdir())


def report_rows(stdout: str) -> dict:
    """The rows of a ``--json`` report, by the base name of their input."""
    return {os.path.basename(r["input"]): r for r in json.loads(stdout)["files"]}


def ort_error(message):
    """The exception ONNX Runtime raises when a run fails (an allocation, a CUDA error), with ``message``."""
    from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException

    return RuntimeException(message)


def nchw(a):
    """A channels-last NumPy batch ``(N, H, W, C)`` as a torch tensor ``(N, C, H, W)``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 1)))


def curves_only(name):
    """A bundled model's record without its tone stage (the black point, auto exposure): what ``apply_le_curves``
    of ``estimate_curves`` gives, for tests that compare ``enhance(denoise=0)`` with the curve API bit for bit."""
    import dataclasses

    import skdce

    return dataclasses.replace(skdce.get_model(name), black_point=0.0, auto_exposure=False)


class GatedRun:
    """``skdce ARGS`` in a subprocess (``tests/_gated.py``), ``target`` held after ``free`` calls until the command
    has handled ``until`` signals (or, with ``until="open"``, until :meth:`open`): a test interrupts the command
    in the middle of its work, never before it started nor after it ended, whatever the speed of the machine.

    Its files (held-N, signal-K, open, stdout.txt, stderr.txt) are in ``folder``, which is created.
    """

    def __init__(self, folder, target, *args, free=0, until=1, cwd=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True)
        self._out = open(self.folder / "stdout.txt", "w")
        self._err = open(self.folder / "stderr.txt", "w")
        script = Path(__file__).with_name("_gated.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.folder), target, str(free), str(until), *map(str, args)],
            stdout=self._out, stderr=self._err, cwd=cwd, preexec_fn=default_signals,
        )

    def _until(self, done, what, timeout):
        deadline = time.monotonic() + timeout
        while not done():
            if self.proc.poll() is not None:
                raise AssertionError(f"the command ended ({self.proc.returncode}) before {what}:\n{self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"not within {timeout} s: {what}:\n{self.stderr}")
            time.sleep(0.02)

    def wait_held(self, n=1, timeout=90):
        """Wait until ``n`` calls are held at the gate."""
        self._until(lambda: (self.folder / f"held-{n}").exists(), f"{n} calls held at the gate", timeout)

    def wait_said(self, text, timeout=30):
        """Wait until the command has written ``text`` on stderr."""
        self._until(lambda: text in self.stderr, f"{text!r} on stderr", timeout)

    def open(self):
        """Let the held calls go on (``until="open"``)."""
        (self.folder / "open").touch()

    def send(self, sig):
        self.proc.send_signal(sig)

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr.txt").read_text()

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout.txt").read_text()

    def finish(self, timeout=90) -> int:
        """The exit status, once the command has ended (an error if a held call waited in vain)."""
        try:
            code = self.proc.wait(timeout)
        finally:
            self._out.close()
            self._err.close()
        assert "tests/_gated.py: still held" not in self.stderr, self.stderr
        return code
