"""The temporal state of :class:`skdce.video.VideoEnhancer`: alignment, motion test, recursive averages.

The steps, each on NumPy arrays of one frame:

* :func:`luma`: the channel mean of a frame (uint8, uint16 or float32, scaled to [0, 1]).
* :func:`global_shift`: the whole-frame translation between two frames (a pan),
  by cross-correlation on a downscaled luminance, kept only where it matches
  the frames better than no shift at all (a static noisy scene has no pan to find).
* :func:`weigh`: how much of the past each pixel may keep, from the
  difference between the new frame and the running average (moved by the
  pan) measured against the noise level: 1 where they differ by no more than
  noise, falling to 0 where something moved, changed or was cut.
* :func:`accumulate`: the recursive average after the frame, its noise variance and its luminance.
* :func:`noise_map`: the strength map of the spatial filter after the curves.
* :func:`guided_half`: the spatial filter after the curves, :mod:`skdce.engine.stages.guided`'s with its
  coefficients at half resolution (a fast guided filter).
* :func:`finish_tone` and :func:`yuv420`: the black point, and the rounding to integers or the conversion
  to the encoder's 8-bit YUV 4:2:0, in one pass.

This is a motion-adaptive recursive (IIR) temporal filter; no library ships one
for NumPy frames (OpenCV's ``fastNlMeansDenoisingMulti`` is a windowed non-local
means with no state to feed frame by frame), hence these functions. Each runs
in the compiled ``skdce.native._temporal`` (``skdce/native/_temporal.c``, one pass over the
frame in row bands on the worker threads) where it was built, else in its NumPy
twin here (``_*_numpy``), which does the same float32 operations in the same
order: the two agree to float rounding (tests/test_temporal.py).
"""

from __future__ import annotations

import numpy as np

try:  # the compiled passes (skdce/native/_temporal.c); without them the NumPy twins below run
    from ..native import _temporal as _ctemporal
except ImportError:  # pragma: no cover - a build without a C compiler
    _ctemporal = None

#: The running average of the difference |frame - average| over a 5x5 window and
#: the colour channels, in units of its expected value on noise alone: at most
#: ``STATIC`` a pixel keeps all its past, from ``MOVING`` on none of it.
STATIC, MOVING = 1.6, 2.6
#: The 9x9 mean of the signed difference, in units of its standard deviation on noise alone
#: (a low-contrast shape moving in noise shifts it coherently): at most ``DRIFT_STATIC``
#: all the past is kept, from ``DRIFT_MOVING`` none.
DRIFT_STATIC, DRIFT_MOVING = 4.0, 8.0
#: Mean absolute value of a zero-mean normal variable, in standard deviations.
_ABS_MEAN = float(np.sqrt(2 / np.pi))
#: The cross-correlation runs on a luminance at most this many pixels on its longer side.
_ALIGN_SIDE = 256
#: A frame with more than this share of moving pixels is a cut (or a light switched on): the state restarts.
CUT_SHARE = 0.6



def _bands(h: int, num_threads) -> list[tuple[int, int]]:
    """Row bands, one per worker thread (none thinner than 32 rows)."""
    from ..engine.workers import threads

    n = max(1, min(threads(num_threads), h // 32))
    edges = np.linspace(0, h, n + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _run(work, bands, num_threads) -> list:
    """``work(r0, r1)`` on each band, side by side on the worker threads (the C passes release the GIL)."""
    from ..engine.workers import executor

    if len(bands) == 1:
        return [work(*bands[0])]
    return list(executor().map(lambda b: work(*b), bands))


def compiled() -> bool:
    """Whether the compiled passes (``skdce.native._temporal``) run."""
    return _ctemporal is not None


def _frame_ok(frame: np.ndarray) -> bool:
    return frame.dtype in (np.uint8, np.uint16, np.float32) and frame.dtype.isnative and frame.flags.c_contiguous


def luma(frame: np.ndarray, scale: float, num_threads=None, *, use_c: bool = True) -> np.ndarray:
    """``((r + g) + b) / 3`` of ``frame * scale``, ``(H, W)`` float32 (``frame``: ``(H, W, 3)``)."""
    h, w, _ = frame.shape
    if use_c and _ctemporal is not None and _frame_ok(frame):
        out = np.empty((h, w), np.float32)
        _run(lambda r0, r1: _ctemporal.luma(frame, scale, out, r0, r1), _bands(h, num_threads), num_threads)
        return out
    x = as_float(frame, scale)
    out = x[..., 0] + x[..., 1]
    out += x[..., 2]
    out *= np.float32(1 / 3)
    return out


def as_float(frame: np.ndarray, scale: float) -> np.ndarray:
    """``frame * scale`` as a new float32 array."""
    out = frame.astype(np.float32)
    out *= np.float32(scale)
    return out


def _downscale(luma: np.ndarray) -> tuple[np.ndarray, int]:
    """A box-downscaled copy at most :data:`_ALIGN_SIDE` pixels long (at least 2x2 averaged: less noise)."""
    factor = max(2, -(-max(luma.shape) // _ALIGN_SIDE))
    h, w = luma.shape[0] // factor, luma.shape[1] // factor
    if _ctemporal is not None and luma.dtype == np.float32 and luma.flags.c_contiguous:
        out = np.empty((h, w), np.float32)
        _ctemporal.shrink(luma, factor, out)
        return out, factor
    blocks = luma[: h * factor, : w * factor].reshape(h, factor, w, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32), factor


#: The fit of a shift is measured on every this many rows and columns (of 3x3 means: less noise).
_CHECK_ROWS, _CHECK_COLS = 12, 8


def _box3(luma: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """3x3 sums of ``luma`` centred on every :data:`_CHECK_ROWS`-th row of ``y0:y1`` and
    :data:`_CHECK_COLS`-th column of ``x0:x1`` (their neighbours must lie inside the frame)."""
    rows = luma[y0 - 1 : y1 - 1 : _CHECK_ROWS, x0 - 1 : x1 + 1] + luma[y0 : y1 : _CHECK_ROWS, x0 - 1 : x1 + 1]
    rows += luma[y0 + 1 : y1 + 1 : _CHECK_ROWS, x0 - 1 : x1 + 1]
    n = len(range(x0, x1, _CHECK_COLS))
    out = rows[:, 0::_CHECK_COLS][:, :n] + rows[:, 1::_CHECK_COLS][:, :n]
    out += rows[:, 2::_CHECK_COLS][:, :n]
    return out


def _shift_errors(ref: np.ndarray, mov: np.ndarray, shifts) -> dict:
    """Median |3x3 mean of ref moved by (dy, dx) - that of mov| for each shift, over a sample of the part of
    the frame that every shift sees (``inf`` where that is too small).

    The median: the shift must fit most of the frame (a pan), not a bright object crossing a still scene,
    which dominates the cross-correlation.
    """
    h, w = ref.shape
    m = 1 + max(max(abs(dy), abs(dx)) for dy, dx in shifts)
    if h - 2 * m < 3 or w - 2 * m < 3:
        return {s: np.inf for s in shifts}
    sample = _box3(mov, m, h - m, m, w - m)
    out = {}
    for dy, dx in shifts:
        d = _box3(ref, m - dy, h - m - dy, m - dx, w - m - dx)
        d -= sample
        out[(dy, dx)] = float(np.median(np.abs(d, out=d)))
    return out


def _peak(cc: np.ndarray) -> tuple[float, float]:
    """The location of the maximum of a circular cross-correlation, to a fraction of a pixel (a parabola
    through the peak and its neighbours along each axis), as a signed shift."""
    iy, ix = np.unravel_index(int(np.argmax(cc)), cc.shape)
    out = []
    for axis, i in ((0, iy), (1, ix)):
        n = cc.shape[axis]
        idx = [iy, ix]
        idx[axis] = (i - 1) % n
        left = cc[tuple(idx)]
        idx[axis] = (i + 1) % n
        right = cc[tuple(idx)]
        centre = cc[iy, ix]
        curve = left - 2 * centre + right
        frac = 0.5 * (left - right) / curve if curve < 0 else 0.0
        s = i + float(np.clip(frac, -0.5, 0.5))
        out.append(s - n if s > n / 2 else s)
    return out[0], out[1]


def global_shift(ref_luma: np.ndarray, luma: np.ndarray) -> tuple[int, int]:
    """The integer ``(dy, dx)`` that moves ``ref_luma`` onto ``luma`` (``(0, 0)`` unless it clearly fits better)."""
    ref, factor = _downscale(ref_luma)
    mov, _ = _downscale(luma)
    if min(ref.shape) < 8 or float(ref.std()) < 1e-6 or float(mov.std()) < 1e-6:
        return 0, 0  # too small, or flat: nothing to align
    # plain cross-correlation (no whitening: it holds up in noise) of the downscaled frames, a Hann window
    # keeping the frame edges, which the FFT wraps around, out of it; its peak at a fraction of a small
    # pixel gives the shift to about one full-resolution pixel, and the neighbours of that are tried too
    hann = np.outer(np.hanning(ref.shape[0]), np.hanning(ref.shape[1])).astype(np.float32)
    f_mov = np.fft.rfft2((mov - mov.mean()) * hann)
    f_ref = np.fft.rfft2((ref - ref.mean()) * hann)
    cc = np.fft.irfft2(f_mov * np.conj(f_ref), s=ref.shape)
    sy, sx = _peak(cc)
    dy, dx = int(round(sy * factor)), int(round(sx * factor))
    if (dy, dx) == (0, 0):
        return 0, 0
    # a shift must match the frames clearly better than staying put; of it and its 8 neighbours the best
    shifts = [(dy + j, dx + i) for j in (-1, 0, 1) for i in (-1, 0, 1)]
    errors = _shift_errors(ref_luma, luma, shifts + [(0, 0)] * ((0, 0) not in shifts))
    best = min(shifts, key=errors.get)
    if best == (0, 0) or not errors[best] < 0.9 * errors[(0, 0)]:
        return 0, 0
    return best


def shifted(arr: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``arr`` moved by ``(dy, dx)`` pixels along its first two axes; what comes into view is ``fill``."""
    if dy == 0 and dx == 0:
        return arr
    out = np.empty_like(arr)
    out[...] = fill
    h, w = arr.shape[:2]
    if abs(dy) < h and abs(dx) < w:
        out[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)] = \
            arr[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    return out


def weigh(luma: np.ndarray, state_luma: np.ndarray, variance: np.ndarray, sigma: float, dy: int = 0, dx: int = 0,
          level: float = 1.0, num_threads=None, *, use_c: bool = True):
    """The share of its past each pixel keeps, and what the cut and level tests need.

    ``luma`` is the :func:`luma` of the new frame, ``state_luma`` that of the
    running average and ``variance`` its noise variance in units of one
    frame's (1 for a single frame, ``1/n`` for the mean of ``n``), both moved
    by ``(dy, dx)`` first (:func:`shifted`; uncovered: luma 0, variance 1) and
    the luma scaled by ``level`` (at most 1); ``sigma`` is one frame's noise
    standard deviation. The measured difference is a 5x5 box mean of the
    absolute difference of the luminances, so one noisy pixel does not read as
    motion and a moving edge of a few pixels does, and a 9x9 mean of the signed
    difference (a low-contrast shape moving in noise shifts it coherently).

    Returns
    -------
    keep : (H, W) float32 in [0, 1]
        0 where the state is uncovered.
    stats : tuple
        ``(moving, still, sum_luma, sum_state)``: the pixels with keep < 0.5
        and > 0.5, and the sums of ``luma`` and of the moved, scaled state
        luma over the latter.
    """
    h, w = luma.shape
    # keep = clip((MOVING - ratio) / (MOVING - STATIC), 0, 1), ratio = the 5x5 mean of |d| / (_ABS_MEAN * noise);
    # the 9x9 mean of d has 1/9 of one's standard deviation (channels counted as one: the noise of decoded video
    # is correlated across them): drift = |9x9 sum of d| / 9 / noise, ramped likewise
    args = (float(sigma), MOVING, 1 / (MOVING - STATIC), DRIFT_MOVING, 1 / (DRIFT_MOVING - DRIFT_STATIC),
            1 / (25 * _ABS_MEAN), 1 / 9)
    if use_c and _ctemporal is not None:
        keep = np.empty((h, w), np.float32)
        parts = _run(lambda r0, r1: _ctemporal.weigh(luma, state_luma, variance, keep, int(dy), int(dx),
                                                     float(level), *args, r0, r1), _bands(h, num_threads), num_threads)
        return keep, tuple(sum(p[i] for p in parts) for i in range(4))
    return _weigh_numpy(luma, state_luma, variance, int(dy), int(dx), float(level), *args)


def _weigh_numpy(luma, state_luma, variance, dy, dx, level, sigma, moving, ramp, drift_moving, drift_ramp, c5, c9):
    f = np.float32
    state = shifted(state_luma, dy, dx, 0.0)
    var = shifted(variance, dy, dx, -1.0)
    uncovered = var < 0
    var = np.where(uncovered, f(1), var)
    if level != 1.0:
        state = np.minimum(state * f(level), f(1))
    from scipy import ndimage  # here, not at import: the compiled path never needs it (0.13 s of every video's start)

    signed = luma - state
    noise = np.maximum(f(sigma) * np.sqrt(f(1) + var), f(1e-6))  # of one pixel's difference
    rn = f(1) / noise
    sum5 = ndimage.uniform_filter(np.abs(signed), size=5, mode="nearest") * f(25)
    keep = np.clip((f(moving) - (sum5 * f(c5)) * rn) * f(ramp), 0, 1)
    sum9 = ndimage.uniform_filter(signed, size=9, mode="nearest") * f(81)
    drift = np.clip((f(drift_moving) - (np.abs(sum9) * f(c9)) * rn) * f(drift_ramp), 0, 1)
    np.minimum(keep, drift, out=keep)
    keep[uncovered] = 0
    keep = keep.astype(np.float32, copy=False)
    still = keep > 0.5
    stats = (int(np.count_nonzero(keep < 0.5)), int(np.count_nonzero(still)),
             float(luma[still].sum(dtype=np.float64)), float(state[still].sum(dtype=np.float64)))
    return keep, stats


def accumulate(frame: np.ndarray, scale: float, average: np.ndarray, variance: np.ndarray, keep: np.ndarray,
               dy: int, dx: int, level: float, max_frames: float, num_threads=None, *, out=None,
               use_c: bool = True):
    """The running average after ``frame``: ``(average, variance, luma)``, new arrays (or, compiled, the
    three arrays ``out`` of the same shapes and dtypes, which must not be the inputs: the state before the
    last, reused instead of new memory for every frame).

    The past (``average`` and ``variance`` moved by ``(dy, dx)``, the average
    scaled by ``level``, at most 1) counts as ``held = keep / variance``
    frames, at most ``max_frames - 1``; the new frame (``frame * scale``) as
    one. The variance of the result is ``w_old**2 * variance + w_new**2``.
    """
    h, w, _ = frame.shape
    if use_c and _ctemporal is not None and _frame_ok(frame):
        if out is None or out[0].shape != (h, w, 3):
            out = (np.empty((h, w, 3), np.float32), np.empty((h, w), np.float32), np.empty((h, w), np.float32))
        _run(lambda r0, r1: _ctemporal.accumulate(frame, float(scale), average, variance, keep, int(dy), int(dx),
                                                  float(level), float(max_frames), *out, r0, r1),
             _bands(h, num_threads), num_threads)
        return out
    avg = shifted(average, dy, dx, 0.0)
    var = shifted(variance, dy, dx, 1.0)
    if level != 1.0:
        avg = np.minimum(avg * np.float32(level), np.float32(1))
    held = keep / np.maximum(var, np.float32(1 / max_frames))
    held = np.minimum(held, np.float32(max_frames - 1))
    w_new = np.float32(1) / (np.float32(1) + held)
    w_old = np.float32(1) - w_new
    out = avg * w_old[..., None] + as_float(frame, scale) * w_new[..., None]
    new_var = w_old * w_old * var + w_new * w_new
    new_luma = out[..., 0] + out[..., 1]
    new_luma += out[..., 2]
    new_luma *= np.float32(1 / 3)
    return out.astype(np.float32, copy=False), new_var.astype(np.float32, copy=False), new_luma


def noise_map(luma: np.ndarray, variance: np.ndarray, alpha: np.ndarray, n_iter: int, amount: float,
              num_threads=None, *, use_c: bool = True) -> np.ndarray:
    """The spatial filter's strength: ``amount * sqrt(variance) * sqrt(max(g**2 - 1, 0))``, ``(H, W)`` float32.

    ``g`` is the slope (:func:`skdce.curve_gain`) of ``n_iter`` steps of the
    curve at the level ``luma``, its alpha the small ``(h, w)`` map ``alpha``
    upsampled bilinearly to the frame's size: the noise the curves add to what
    the temporal average left.
    """
    h, w = luma.shape
    alpha = np.ascontiguousarray(alpha, np.float32)
    if use_c and _ctemporal is not None:
        out = np.empty((h, w), np.float32)
        _run(lambda r0, r1: _ctemporal.noise(luma, variance, alpha, int(n_iter), float(amount), out, r0, r1),
             _bands(h, num_threads), num_threads)
        return out
    from ..engine.stages.boxes import bilinear_taps

    j0, j1, wx = bilinear_taps(alpha.shape[1], w)
    y0, y1, wy = bilinear_taps(alpha.shape[0], h)
    wy = np.where(y1 > y0, wy, np.float32(0))[:, None]
    c0 = alpha[y0][:, j0] * (np.float32(1) - wx) + alpha[y0][:, j1] * wx
    c1 = alpha[y1][:, j0] * (np.float32(1) - wx) + alpha[y1][:, j1] * wx
    a = c0 + wy * (c1 - c0)
    x = luma.copy()
    g = np.ones_like(x)
    for _ in range(n_iter):
        step = x * np.float32(-2)
        step += np.float32(1)
        step *= a
        step += np.float32(1)
        g *= step
        sq = x * x
        sq = x - sq
        sq *= a
        x += sq
    g = g * g - np.float32(1)
    np.maximum(g, np.float32(0), out=g)
    return (np.float32(amount) * np.sqrt(variance)) * np.sqrt(g)


def _black_factors(lift: np.ndarray) -> tuple:
    """The float32 factors of :func:`skdce.tone.finish_tone`'s black point, ``1 / (1 - lift)`` and
    ``-lift / (1 - lift)`` per channel, as the compiled passes take them."""
    return (tuple(float(v) for v in (1.0 / (1.0 - lift)).astype(np.float32)),
            tuple(float(v) for v in (-lift / (1.0 - lift)).astype(np.float32)))


def finish_tone(image: np.ndarray, lift: np.ndarray, exposure: float, num_threads=None, *, out_dtype=None,
                use_c: bool = True):
    """:func:`skdce.tone.finish_tone` of one ``(H, W, 3)`` float32 frame, in place, then (``out_dtype``
    uint8 or uint16) :func:`skdce._base.image.to_uint`: the black point's
    ``max(x / (1 - lift) - lift / (1 - lift), 0)``, the exposure steps and the rounding to integers in one
    compiled pass."""
    from .._base.image import to_uint
    from ..engine.stages.tone import finish_tone as finish  # the engine's: the frame is in range already
    from ..tone import exposure_alphas

    lift = np.asarray(lift, np.float64)
    steps = tuple(exposure_alphas(exposure))
    if not (use_c and _ctemporal is not None and image.dtype == np.float32
            and image.flags.c_contiguous and image.ndim == 3 and image.shape[-1] == 3
            and (np.any(lift > 0) or steps or out_dtype is not None) and np.all((lift >= 0) & (lift < 1))):
        image = finish(image[None], lift[None], exposure, num_threads=num_threads)[0]
        return image if out_dtype is None else to_uint(image, out_dtype, consume=True)
    scale, shift = _black_factors(lift)
    out = None if out_dtype is None else np.empty(image.shape, out_dtype)
    _run(lambda r0, r1: _ctemporal.black(image, scale, shift, steps, out, r0, r1), _bands(image.shape[0], num_threads),
         num_threads)
    return image if out is None else out


#: The colour matrices of FFmpeg's swscale by the ``colorspace`` (``AVColorSpace``) the file loop passes as
#: ``dst_colorspace``: ``(kr, kb)``; every other value converts as BT.601 (swscale's default).
_MATRICES = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 7: (0.212, 0.087), 9: (0.2627, 0.0593)}
_BT601 = (0.299, 0.114)


def yuv_matrix(colorspace, color_range) -> tuple:
    """``(kr, kb, y0, ys, cs)`` of :func:`yuv420`: the conversion PyAV's ``reformat(format="yuv420p",
    dst_colorspace=colorspace, dst_color_range=color_range)`` makes (limited range unless ``color_range`` is
    2, JPEG's full range)."""
    kr, kb = _MATRICES.get(int(colorspace) if colorspace is not None else None, _BT601)
    if color_range is not None and int(color_range) == 2:
        return kr, kb, 0.0, 255.0, 255.0
    return kr, kb, 16.0, 219.0, 224.0


def yuv420(image: np.ndarray, lift: np.ndarray, exposure: float, matrix: tuple, num_threads=None) -> np.ndarray:
    """The tone stage of :func:`finish_tone` and the conversion of the ``(H, W, 3)`` float32 RGB frame to
    8-bit YUV 4:2:0 in one compiled pass: a ``(3 H / 2, W)`` uint8 array, the layout of PyAV's
    ``VideoFrame.from_ndarray(..., format="yuv420p")`` (``H`` and ``W`` even; ``matrix`` from :func:`yuv_matrix`).

    Replaces ``to_uint`` to RGB24 and FFmpeg's swscale conversion of the file loop (about 8 ms of a 720p
    frame, against 2 here): the same matrix and the same chroma filter (the two columns averaged, the rows
    2i - 1 to 2i + 2 weighted 1, 3, 3, 1), from the float values (no rounding to RGB24 first); it agrees with
    swscale to one level (tests/test_temporal.py).
    """
    from ..engine.stages.tone import finish_tone as finish  # the engine's: the frame is in range already
    from ..tone import exposure_alphas

    lift = np.asarray(lift, np.float64)
    h, w, _ = image.shape
    steps = tuple(exposure_alphas(exposure))
    if not np.all((lift >= 0) & (lift < 1)):
        image = finish(image[None], lift[None], exposure, num_threads=num_threads)[0]
        lift, steps = np.zeros(3), ()
    scale, shift = _black_factors(lift)
    matrix = tuple(float(v) for v in matrix)
    image = np.ascontiguousarray(image, np.float32)
    out = np.empty((3 * h // 2, w), np.uint8)
    bands = [(2 * (r0 // 2), 2 * (r1 // 2)) for r0, r1 in _bands(h, num_threads)]
    bands[-1] = (bands[-1][0], h)
    _run(lambda r0, r1: _ctemporal.yuv420(image, scale, shift, steps, matrix, out, r0, r1), bands, num_threads)
    return out


#: Window radii of :func:`guided_half`, at half resolution (6x6 full-resolution pixels, against the 5x5 and
#: 7x7 windows of the full filter): on the quality clips of benchmarks/bench_video.py the video scores 0.01 to
#: 0.02 dB below the full filter; radius 2 at half resolution (10x10) smoothed more and lost 0.1 dB.
HALF_LUMA_RADIUS, HALF_COLOR_RADIUS = 1, 1


def guided_half(y: np.ndarray, noise: np.ndarray, scratch=None, *, in_place: bool = False, use_c: bool = True):
    """The two-stage guided filter of :func:`skdce.engine.stages.guided.denoise_block` as a fast guided filter
    [1]_: ``(out, scratch)``, ``out`` ``(H, W, 3)`` float32 in [0, 1] (``H`` and ``W`` even; ``noise`` the
    ``(H, W)`` standard deviation map; ``y`` itself with ``in_place``), ``scratch`` the working memory to pass
    to the next call (23 half-resolution planes: allocated afresh for every frame, the kernel's zeroing of
    the new pages took milliseconds).

    Each stage's linear coefficients are smooth, so they are computed at half resolution, from the 2x2
    means of the moments (the luma and its square, the guide, its square and its products with the colours),
    over windows of :data:`HALF_LUMA_RADIUS` and :data:`HALF_COLOR_RADIUS` there, and upsampled bilinearly
    to weigh the full-resolution guide and colours; so is the local power of what the colour fit leaves
    out, which decides how much of it is kept. Four passes over the frame, the box filters at a quarter of
    the pixels: about 11 ms of a 720p frame on one core against the full filter's 17. The video path uses
    it on frames of even size (the temporal average has removed most of the noise before it);
    :func:`skdce.enhance` keeps the full filter.

    References
    ----------
    .. [1] K. He and J. Sun, "Fast Guided Filter", arXiv:1505.00996, 2015.
    """
    from ..engine.stages.guided import COLOR_EPS, COLOR_KEEP, LUMA_EPS

    args = (HALF_LUMA_RADIUS, HALF_COLOR_RADIUS, LUMA_EPS, COLOR_EPS, COLOR_KEEP)
    if use_c and _ctemporal is not None:
        h, w, _ = y.shape
        size = _ctemporal.guided_half_scratch(h, w, HALF_LUMA_RADIUS, HALF_COLOR_RADIUS)
        if scratch is None or scratch.size < size:
            scratch = np.empty(size, np.float32)
        y = np.ascontiguousarray(y, np.float32)
        out = y if in_place else np.empty(y.shape, np.float32)
        _ctemporal.guided_half(y, np.ascontiguousarray(noise, np.float32), out, scratch, *args)
        return out, scratch
    return _guided_half_numpy(y, noise, *args).astype(np.float32), None


def _guided_half_numpy(y, noise, luma_radius, color_radius, luma_eps, color_eps, color_keep):
    """:func:`guided_half` in NumPy, in the dtype of ``y`` (float64: the oracle of the compiled pass)."""
    from ..engine.stages.boxes import box_filter

    def down(x):  # the 2x2 means
        return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) * dt(0.25)

    def box(x, r):  # the window means of each channel at half resolution, the edges reflected
        return np.stack([box_filter(x[..., c], r) for c in range(x.shape[-1])], -1) if x.ndim == 3 \
            else box_filter(x, r)

    def up(x):  # bilinear, half-pixel centres, edges clamped
        from ..engine.stages.boxes import bilinear_taps

        i0, i1, wy = bilinear_taps(x.shape[0], 2 * x.shape[0])
        j0, j1, wx = bilinear_taps(x.shape[1], 2 * x.shape[1])
        wy, wx = wy.astype(x.dtype), wx.astype(x.dtype)
        shape_y, shape_x = (-1,) + (1,) * (x.ndim - 1), (1, -1) + (1,) * (x.ndim - 2)
        rows = x[i0] * (1 - wy).reshape(shape_y) + x[i1] * wy.reshape(shape_y)
        return rows[:, j0] * (1 - wx).reshape(shape_x) + rows[:, j1] * wx.reshape(shape_x)

    dt = y.dtype.type
    var = noise.astype(y.dtype) ** 2
    luma = y.mean(axis=-1)
    vn = down(var)
    m = box(down(luma), luma_radius)
    v = box(down(luma * luma), luma_radius) - m * m
    a = v / (v + dt(luma_eps) * vn + dt(1e-12))
    guide = up(box(a, luma_radius)) * luma + up(box(m - a * m, luma_radius))
    mg = box(down(guide), color_radius)
    vg = box(down(guide * guide), color_radius) - mg * mg + dt(color_eps) * vn + dt(1e-12)
    mp = box(down(y), color_radius)
    a = (box(down(guide[..., None] * y), color_radius) - mg[..., None] * mp) / vg[..., None]
    b = mp - a * mg[..., None]
    fit = up(box(a, color_radius)) * guide[..., None] + up(box(b, color_radius))
    rest = y - fit
    power = up(box(down(rest * rest), color_radius))
    return np.clip(fit + rest * (power / (power + dt(color_keep) * var[..., None] + dt(1e-12))), 0, 1)
