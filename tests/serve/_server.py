"""A real ``skdce serve`` in a subprocess on a free loopback port, and small images to send it."""

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from .._helpers import default_signals

TOKEN = "test-token-0123456789abcdef"  # the shared server's (conftest.py)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """PNG/JPEG bytes of an array (16-bit arrays through skdce.io, which writes 16-bit colour PNGs)."""
    if array.dtype == np.uint16:
        import imagecodecs

        return bytes(imagecodecs.png_encode(array))
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


class Server:
    """``python -m skdce.cli serve ARGS`` with its own TMPDIR and log file; stopped by :meth:`stop`.

    With ``gate=True`` the server runs through ``tests/_gated.py`` with the work of every request
    (``skdce.serve._app._work``) held until :meth:`open`; :meth:`close` holds the next ones again, and
    :meth:`calls` counts the requests that reached the work.
    """

    def __init__(self, folder: Path, *args, env=None, host="127.0.0.1", gate=False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = folder / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "server.log"
        environ = {k: v for k, v in os.environ.items() if k != "SKDCE_TOKEN"}
        environ.update(OMP_NUM_THREADS="1", TMPDIR=str(self.tmp), **(env or {}))
        self._log = open(self.log_path, "w")
        self.gate = folder / "gate"
        if gate:
            self.gate.mkdir()
            command = [str(Path(__file__).parents[1] / "_gated.py"), str(self.gate), "skdce.serve._app:_work", "0",
                       "open"]
        else:
            command = ["-m", "skdce.cli"]
        self.proc = subprocess.Popen(
            [sys.executable, *command, "serve", "--host", host, "--port", str(self.port), "--threads", "1",
             *map(str, args)],
            stdout=self._log, stderr=subprocess.STDOUT, env=environ, preexec_fn=default_signals,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"skdce serve did not start:\n{self.log()}")
            time.sleep(0.2)

    def open(self) -> None:
        (self.gate / "open").touch()

    def close(self) -> None:
        (self.gate / "open").unlink()

    def calls(self) -> int:
        """How many requests have reached the work (held or not)."""
        return len(list(self.gate.glob("held-*")))

    def wait_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline and self.proc.poll() is None, f"{text!r} never logged:\n{self.log()}"
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def leftovers(self) -> list[Path]:
        """What the server left in its TMPDIR, but the ``.ses`` file that importing onnxruntime writes there."""
        return sorted(p for p in self.tmp.iterdir() if p.name != ".ses")

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
