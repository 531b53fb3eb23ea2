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

RNG = np.random.default_rng(23)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dark(shape, dtype=np.uint8) -> np.ndarray:
    top = 50 if dtype == np.uint8 else 12000
    return RNG.integers(0, top, shape).astype(dtype)


def encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """PNG/JPEG bytes of an array (16-bit arrays through skdce.io, which writes 16-bit colour PNGs)."""
    if array.dtype == np.uint16:
        import imagecodecs

        return bytes(imagecodecs.png_encode(array))
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


class Server:
    """``python -m skdce.cli serve ARGS`` with its own TMPDIR and log file; stopped by :meth:`stop`."""

    def __init__(self, folder: Path, *args, env=None, host="127.0.0.1"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = folder / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "server.log"
        environ = {k: v for k, v in os.environ.items() if k != "SKDCE_TOKEN"}
        environ.update(OMP_NUM_THREADS="1", TMPDIR=str(self.tmp), **(env or {}))
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skdce.cli", "serve", "--host", host, "--port", str(self.port), "--threads", "1",
             *map(str, args)],
            stdout=self._log, stderr=subprocess.STDOUT, env=environ,
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
