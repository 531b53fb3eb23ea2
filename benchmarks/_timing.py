"""Shared helpers of the benchmark scripts: the one timer and the one image source.

The benchmarks compare two implementations side by side in one process and
report ratios and medians (the machines are shared and noisy), which is what
:func:`median_time` does; asv and pyperf time one function per process and
across commits, a different question (`farm-bench` covers whole commands).
"""

import statistics
import time

import numpy as np


def low_light(h, w, seed=0):
    """An ``(h, w, 3)`` uint8 low-light photo: scikit-image's astronaut, mirrored to size, darkened.

    The one image source of the benchmarks is :func:`skdce.data.darken` (a
    linear-light gain with shot and read noise), applied to a real photo
    repeated by reflection to any size, so every benchmark times the same kind
    of input: dark, noisy, with real edges and texture.
    """
    import skimage.data

    from skdce._base.image import to_uint
    from skdce.data import darken

    photo = skimage.data.astronaut()
    reps = (-(-h // photo.shape[0]), -(-w // photo.shape[1]))
    tiled = np.pad(photo, ((0, (reps[0] - 1) * photo.shape[0]), (0, (reps[1] - 1) * photo.shape[1]), (0, 0)),
                   mode="symmetric")[:h, :w]
    return to_uint(darken(tiled, seed=seed), np.uint8)


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
