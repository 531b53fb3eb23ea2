"""The temporal state of :class:`skdce.video.VideoEnhancer`: alignment, motion test, recursive averages.

Three small steps, each on NumPy arrays of one frame:

* :func:`global_shift`: the whole-frame translation between two frames (a pan),
  by phase correlation (:func:`skimage.registration.phase_cross_correlation`)
  on a downscaled luminance, kept only where it matches the frames better than
  no shift at all (a static noisy scene has no pan to find).
* :func:`shifted`: a state array moved by that translation, the uncovered
  border filled with a given value (there the state has no history).
* :func:`keep_weights`: how much of the past each pixel may keep, from the
  difference between the new frame and the running average measured against
  the noise level: 1 where they differ by no more than noise, falling to 0
  where something moved, changed or was cut. This is the motion-adaptive part
  of a recursive (IIR) temporal filter; no library ships one for NumPy frames
  (OpenCV's ``fastNlMeansDenoisingMulti`` is a windowed non-local means with no
  state to feed frame by frame), hence these few lines.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

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
#: The phase correlation runs on a luminance at most this many pixels on its longer side.
_ALIGN_SIDE = 256
#: A frame with more than this share of moving pixels is a cut (or a light switched on): the state restarts.
CUT_SHARE = 0.6


def luminance(frame: np.ndarray) -> np.ndarray:
    """The channel mean of an ``(H, W, 3)`` float32 frame, ``(H, W)`` (summed plane by plane: NumPy's mean
    over a last axis of 3 is several times slower)."""
    out = frame[..., 0] + frame[..., 1]
    out += frame[..., 2]
    out *= np.float32(1 / 3)
    return out


def _downscale(luma: np.ndarray) -> tuple[np.ndarray, int]:
    """A box-downscaled copy at most :data:`_ALIGN_SIDE` pixels long (at least 2x2 averaged: less noise)."""
    factor = max(2, -(-max(luma.shape) // _ALIGN_SIDE))
    h, w = (luma.shape[0] // factor) * factor, (luma.shape[1] // factor) * factor
    small = luma[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return small, factor


def _shift_error(ref: np.ndarray, mov: np.ndarray, dy: int, dx: int) -> float:
    """Median |ref moved by (dy, dx) - mov| over the part both frames see.

    The median: the shift must fit most of the frame (a pan), not a bright object crossing a still scene,
    which dominates the cross-correlation.
    """
    h, w = ref.shape
    if abs(dy) >= h or abs(dx) >= w:
        return np.inf
    a = ref[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    b = mov[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)]
    return float(np.median(np.abs(a[::2, ::2] - b[::2, ::2])))  # every other pixel: enough for a median


def global_shift(ref_luma: np.ndarray, luma: np.ndarray) -> tuple[int, int]:
    """The integer ``(dy, dx)`` that moves ``ref_luma`` onto ``luma`` (``(0, 0)`` unless it clearly fits better)."""
    from skimage.registration import phase_cross_correlation

    ref, factor = _downscale(ref_luma)
    mov, _ = _downscale(luma)
    if min(ref.shape) < 8 or float(ref.std()) < 1e-6 or float(mov.std()) < 1e-6:
        return 0, 0  # too small, or flat: nothing to align
    # phase_cross_correlation gives the shift that registers `moving` onto `reference`;
    # plain cross-correlation (no whitening) holds up in noise; upsampling by `factor`
    # resolves the shift to about one full-resolution pixel.
    # (a Hann window keeps the frame edges, which the FFT wraps around, out of it)
    hann = np.outer(np.hanning(ref.shape[0]), np.hanning(ref.shape[1])).astype(np.float32)
    shift, _, _ = phase_cross_correlation((mov - mov.mean()) * hann, (ref - ref.mean()) * hann,
                                          upsample_factor=factor, normalization=None)
    dy, dx = (int(round(s * factor)) for s in shift)
    if (dy, dx) == (0, 0):
        return 0, 0
    # a shift must match the frames (3x3 means: less noisy) clearly better than staying put
    ref_s, mov_s = (ndimage.uniform_filter(x, size=3, mode="nearest") for x in (ref_luma, luma))
    if _shift_error(ref_s, mov_s, dy, dx) >= 0.9 * _shift_error(ref_s, mov_s, 0, 0):
        return 0, 0
    return dy, dx


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


def keep_weights(luma: np.ndarray, average_luma: np.ndarray, variance: np.ndarray, sigma: float) -> np.ndarray:
    """The share of its past each pixel keeps, ``(H, W)`` float32 in [0, 1].

    ``luma`` and ``average_luma`` are the :func:`luminance` of the frame and of
    the running average; ``variance`` is the noise variance of ``average`` in units of one frame's
    (1 for a single frame, ``1/n`` for the mean of ``n``); ``sigma`` is one
    frame's noise standard deviation. The measured difference is a 5x5 box
    mean of the channel-mean absolute difference, so one noisy pixel does not
    read as motion and a moving edge of a few pixels does.
    """
    signed = luma - average_luma
    noise = np.float32(sigma) * np.sqrt(1 + variance, dtype=np.float32)  # of one pixel's difference
    noise = np.maximum(noise, np.float32(1e-6))
    ratio = ndimage.uniform_filter(np.abs(signed), size=5, mode="nearest") / (np.float32(_ABS_MEAN) * noise)
    keep = np.clip((MOVING - ratio) / (MOVING - STATIC), 0, 1)
    # the box mean of 81 differences has 1/9 of one's standard deviation (channels counted as one:
    # the noise of decoded video is correlated across them)
    drift = np.abs(ndimage.uniform_filter(signed, size=9, mode="nearest")) / (noise / 9)
    np.minimum(keep, np.clip((DRIFT_MOVING - drift) / (DRIFT_MOVING - DRIFT_STATIC), 0, 1), out=keep)
    return keep.astype(np.float32, copy=False)
