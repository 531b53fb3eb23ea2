"""Shared helpers of the benchmark scripts: the timer and the synthetic low-light image."""

import statistics
import time

import numpy as np


def low_light(h, w, seed=0):
    """A ``(h, w, 3)`` uint8 low-light image: a dark horizontal ramp, a colour cast per row, sensor noise."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0.02, 0.25, w, dtype=np.float32)[None, :, None]
    img = base * (0.6 + 0.4 * rng.random((h, 1, 3), dtype=np.float32)) + rng.normal(0, 0.01, (h, w, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
