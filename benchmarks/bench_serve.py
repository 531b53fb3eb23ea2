"""``skdce serve`` under load: N concurrent clients on loopback, throughput, latency, 503 share, peak memory.

Run: python benchmarks/bench_serve.py [--clients 32] [--requests 2] [--size 1200x900] [--workers 2] [--queue 64]

Starts the real ``skdce serve`` in a subprocess on a free loopback port,
then ``--clients`` threads each send ``--requests`` uploads of a synthetic
low-light JPEG of ``--size`` at the same moment (one httpx client each, so
one connection each). Prints the wall time, throughput, latency percentiles
of the answered requests, the count of 200s, 503s, other statuses and
dropped connections, and the server's peak resident memory (``VmHWM`` of
its process, Linux). The bound to check is 3 GB with 1200x900 uploads, and
no dropped connection. Needs ``skdce[serve]``.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import low_light  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2, help="uploads per client")
    ap.add_argument("--size", default="1200x900", help="WIDTHxHEIGHT of the uploads")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="skdce serve --threads")
    args = ap.parse_args()

    import httpx
    from PIL import Image

    w, h = (int(v) for v in args.size.lower().split("x"))
    image = low_light(h, w)  # uint8
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=92)
    payload = buf.getvalue()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "skdce.cli", "serve", "--port", str(port), "--workers", str(args.workers),
           "--queue", str(args.queue)] + (["--threads", str(args.threads)] if args.threads else [])
    log = tempfile.TemporaryFile()
    env = {k: v for k, v in os.environ.items() if k != "SKDCE_TOKEN"}  # loopback, no token
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit("skdce serve did not start")
        base_rss = peak_rss_mb(server.pid)

        statuses: Counter = Counter()
        latencies: list[float] = []
        lock = threading.Lock()
        start = threading.Barrier(args.clients)

        def client() -> None:
            with httpx.Client(timeout=600) as c:
                start.wait()
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    try:
                        r = c.post(url + "/enhance", files={"file": ("dark.jpg", payload)})
                        status = r.status_code
                    except httpx.TransportError as exc:
                        status = f"dropped ({type(exc).__name__})"
                    with lock:
                        statuses[status] += 1
                        if status == 200:
                            latencies.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(60)

    total = sum(statuses.values())
    lat = np.array(sorted(latencies)) if latencies else np.array([np.nan])
    print(f"skdce serve, {args.workers} workers, queue {args.queue}: {args.clients} clients x {args.requests} "
          f"uploads of {w}x{h} JPEG ({len(payload) / 1024:.0f} KB)")
    print(f"  wall {wall:.1f} s, {statuses[200] / wall:.2f} images/s answered 200")
    print(f"  latency of 200s: p50 {np.percentile(lat, 50):.2f} s, p90 {np.percentile(lat, 90):.2f} s, "
          f"p99 {np.percentile(lat, 99):.2f} s, max {lat.max():.2f} s")
    print(f"  statuses: {dict(statuses)}; 503 share {statuses[503] / total:.1%}")
    print(f"  server peak RSS {peak:.0f} MB (after start-up {base_rss:.0f} MB); exit status {server.returncode}")


if __name__ == "__main__":
    main()
