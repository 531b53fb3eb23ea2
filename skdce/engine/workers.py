"""The worker threads and per-thread scratch buffers of the engine.

The stages (:mod:`skdce.engine.stages`: the curve kernel, box means and
upsampling, the gain map, the guided filter, the learned denoiser, the tone
steps) split their work into cache-sized blocks or bands of rows, and the
host and fused drivers run tiles and noise estimates beside them, all here:
one shared thread pool (at most 8 threads) and buffers reused per thread, so
no block allocates. :func:`stop_when` lets the command line stop between two
tasks.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["BLOCK", "executor", "threads", "scratch", "ones", "block_tasks", "run_tasks", "Stopped", "stop_when"]

#: Elements per block of one array: the block's output, temporary, |alpha|,
#: sign mask and ones (about 2.5 MiB in float32) stay in the L2/L3 caches;
#: measured fastest on 2 threads among 32K-256K (benchmarks/bench_curves.py).
BLOCK = 1 << 17
_MAX_THREADS = 8
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_local = threading.local()


def executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=min(_MAX_THREADS, os.cpu_count() or 1), thread_name_prefix="skdce-curves"
            )
        return _pool


def threads(num_threads) -> int:
    """Worker threads to use: all cores (at most 8) unless ``num_threads`` (checked by the caller) says otherwise."""
    return min(_MAX_THREADS, os.cpu_count() or 1) if num_threads is None else int(num_threads)


def scratch(n: int, dtype: np.dtype, slot: int) -> np.ndarray:
    """A per-thread buffer of at least ``n`` elements (no allocation per block)."""
    key = (slot, dtype.str)
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        buf = bufs[key] = np.empty(max(n, BLOCK), dtype)
    return buf[:n]


def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A per-thread array of at least ``n`` ones."""
    cache = getattr(_local, "ones", None)
    if cache is None:
        cache = _local.ones = {}
    buf = cache.get(dtype.str)
    if buf is None or buf.size < n:
        buf = cache[dtype.str] = np.ones(max(n, BLOCK), dtype)
    return buf[:n]


def block_tasks(n: int, h: int, w: int, n_color: int) -> list[tuple[int, int, int, int, int]]:
    """Blocks ``(b, r0, r1, c0, c1)`` of about ``BLOCK`` elements: whole rows, or row pieces."""
    row = w * n_color
    rows = max(1, BLOCK // row)
    cols = w if row <= BLOCK else max(1, BLOCK // n_color)
    return [
        (b, r0, min(h, r0 + rows), c0, min(w, c0 + cols))
        for b in range(n)
        for r0 in range(0, h, rows)
        for c0 in range(0, w, cols)
    ]


class Stopped(Exception):
    """Raised between two tasks (tiles, blocks) once the event of :func:`stop_when` is set."""


_stop: contextvars.ContextVar = contextvars.ContextVar("skdce_stop", default=None)


@contextlib.contextmanager
def stop_when(event: threading.Event):
    """Within this block (in this thread), :func:`run_tasks` raises :class:`Stopped` once ``event`` is set.

    How the command line stops inside one image: between tiles, so a large
    image does not run to its end after Ctrl-C or SIGTERM.
    """
    token = _stop.set(event)
    try:
        yield
    finally:
        _stop.reset(token)


def run_tasks(work, tasks, num_threads) -> None:
    n = threads(num_threads)
    stop = _stop.get()
    if stop is not None:
        plain = work

        def work(t):
            if stop.is_set():
                raise Stopped("stopped between two tiles")
            plain(t)

    if n > 1 and len(tasks) > 1:
        chunks = [tasks[i::n] for i in range(n)]
        list(executor().map(lambda chunk: [work(t) for t in chunk], chunks))
    else:
        for t in tasks:
            work(t)
