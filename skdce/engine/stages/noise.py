"""Stage: the noise level of an image, from the image alone; its one home.

The median absolute response of Immerkaer's operator, scaled to a standard
deviation (see :func:`skdce.denoise.estimate_noise`, the public face), on a
strided sample of 3-row bands (:func:`noise_rows`), so the cost stops growing
above about 0.3 MP and Dask can read just those rows. Side by side:

* the host code: :func:`noise_level` (and :func:`noise_from_rows` for rows
  read elsewhere); :func:`coarse_noise_level` (and :func:`coarse_rows`), the
  same on the image's 2x2 box means, which sees the noise a JPEG flattened
  into blotches, but also reads texture as noise; :func:`block_noise` (and
  :func:`block_from_rows`), the steps of a JPEG's 8x8 grid in the shadows,
  the evidence that decides how far the coarse figure is taken
  (:func:`combine_levels`); :func:`luma_from_rows`, the same fine measure on
  the channels' sum, which tells noise shared by the channels (a JPEG's
  subsampled chroma) from noise of their own (:func:`shared_noise_factor`);
  and :func:`filter_noise_level`, the level the denoiser is steered by, at
  least :func:`rounding_noise`;
* the torch twins (the eager baseline of ``benchmarks/``): :func:`torch_noise_level`,
  :func:`torch_filter_noise_level`;
* the float64 oracle: :func:`reference_noise_level`.

No ONNX builder: the fused graph takes the level as an input (an in-graph
median would need a TopK over the whole sample).
"""

from __future__ import annotations

import numpy as np

from ..._base.image import unit_scale

__all__ = ["JPEG_BLOCK", "BLOCK_DARK", "noise_rows", "noise_from_rows", "noise_level", "coarse_rows",
           "coarse_row_indices", "coarse_noise_level", "block_row_indices", "block_from_rows", "block_noise",
           "combine_levels", "SHARED_NOISE", "SHARED_NOISE_BOOST", "luma_from_rows", "fine_and_luma_from_rows",
           "shared_noise_factor", "rounding_noise", "filter_level", "level_rows", "level_from_rows",
           "filter_noise_level", "torch_noise_level", "torch_filter_noise_level", "reference_noise_level"]

#: Immerkaer's 3x3 operator cancels planes and quadrics; on i.i.d. noise of
#: standard deviation s its response has standard deviation 6 s.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
#: Pixels whose operator response enters the median (a strided sample beyond this).
_NOISE_SAMPLE = 1 << 18
#: The median absolute deviation of a Gaussian is 1 / 1.4826 of its standard deviation.
_MAD = 1.4826
#: Responses :func:`coarse_noise_level` samples (each reads 4 pixels: half as many pixels as the fine sample reads).
_COARSE_SAMPLE = 1 << 15
#: JPEG codes an image in blocks of this many pixels a side.
JPEG_BLOCK = 8
#: Block steps are measured where both pixels' luminance is below this: the tones the curves stretch.
BLOCK_DARK = 0.25
#: Pixels :func:`block_noise` reads (bands of 9 rows starting on the block grid).
_BLOCK_SAMPLE = 1 << 18
#: Fewest dark steps at each of the grid's phases for a block measure (fewer: 0, no blocks seen).
_BLOCK_STEPS = 256
#: :func:`shared_noise_factor`'s ramp, in sqrt(3) times the luminance's noise over the channels' (1: each channel's
#: noise its own, as a sensor's; sqrt(3): one noise in all three). Measured on photos darkened with sensor noise
#: (``weights/README.md``): 0.99-1.23 as PNG, also for grass and gravel; 1.54-1.81 as JPEG of quality 75-95 with
#: 4:2:0 chroma; 1.10-1.49 with 4:4:4.
SHARED_NOISE = (1.3, 1.6)
#: How far the fine level is raised where the channels share their noise (sqrt(3) would steer the denoiser's
#: luminance stage as for noise of their own; 1.5 leaves texture, which reads as shared noise too, less smoothed).
SHARED_NOISE_BOOST = 1.5


def noise_rows(h: int, w: int, sample: int = _NOISE_SAMPLE) -> np.ndarray | None:
    """First rows of the 3-row bands :func:`noise_level` samples (None below 3x3 pixels)."""
    if h < 3 or w < 3:
        return None
    # bands of 3 rows give 1 row of responses each; take enough bands for the sample
    stride = max(1, int(np.ceil((h - 2) * (w - 2) / sample)))
    return np.arange(0, h - 2, stride)


def _exact(rows) -> bool:
    """Whether ``rows`` are 8- or 16-bit integers: the operator then runs exactly in int32 and the median comes
    from a histogram; other rows run in float32."""
    return all(r.dtype.kind in "ui" and r.dtype.itemsize <= 2 for r in rows)


def _sigma(responses: np.ndarray, exact: bool) -> float:
    """The standard deviation that the median of ``|responses|`` stands for."""
    return _MAD * (_integer_median(responses) if exact else float(np.median(responses))) / 6.0


def noise_from_rows(rows) -> float:
    """The estimate from the three ``(bands, W, c)`` row sets at offsets 0, 1 and 2 (unscaled)."""
    rows = [np.asarray(r) for r in rows]
    exact = _exact(rows)
    dtype = np.int32 if exact else np.float32
    c = rows[0].shape[-1]
    return sum(_sigma(_immerkaer([row[..., ch] for row in rows], dtype), exact) for ch in range(c)) / c


def fine_and_luma_from_rows(rows) -> tuple[float, float]:
    """:func:`noise_from_rows` and :func:`luma_from_rows` of the same three row sets, in one pass (unscaled).

    The operator is linear, so the channels' sum has the sum of their responses: the luminance's estimate
    costs an addition and a median, not another pass over the rows (exact in int32 for 8- and 16-bit rows).
    """
    rows = [np.asarray(r) for r in rows]
    exact = _exact(rows)
    dtype = np.int32 if exact else np.float32
    c = rows[0].shape[-1]
    total, summed = 0.0, None
    for ch in range(c):
        r = _immerkaer([row[..., ch] for row in rows], dtype, signed=True)
        summed = r if summed is None else summed + r
        total += _sigma(np.abs(r), exact)
    return total / c, _sigma(np.abs(summed), exact) / c


def _immerkaer(rows, dtype, signed: bool = False) -> np.ndarray:
    """``|response|`` of Immerkaer's operator on three rows of one channel, computed in ``dtype``.

    The operator is the outer product of two second differences, [1, -2, 1] along the rows and across the
    three of them: half the arithmetic of its nine taps, and exact in int32 for 8- and 16-bit images.
    """
    second = []
    for row in rows:
        row = row.astype(dtype)
        second.append(row[:, :-2] + row[:, 2:] - dtype(2) * row[:, 1:-1])
    response = second[0] + second[2] - dtype(2) * second[1]
    return response if signed else np.abs(response)


def _integer_median(values: np.ndarray) -> float:
    """``np.median`` of non-negative integers, from their histogram (a linear pass, no partition)."""
    flat = values.ravel()
    n = flat.size
    counts = np.cumsum(np.bincount(flat))
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))  # the ((n - 1) // 2)-th smallest, from 0
    hi = int(np.searchsorted(counts, n // 2, side="right"))
    return 0.5 * (lo + hi)


def noise_level(rgb: np.ndarray) -> float:
    """:func:`skdce.denoise.estimate_noise` of one ``(H, W, c)`` image (any skdce dtype)."""
    h, w, _ = rgb.shape
    starts = noise_rows(h, w)
    if starts is None:
        return 0.0
    return noise_from_rows([rgb[starts + k] for k in range(3)]) * unit_scale(rgb.dtype)


def coarse_row_indices(h: int, w: int) -> np.ndarray | None:
    """``(bands, 6)`` rows :func:`coarse_noise_level` reads: each band's 3 rows of 2x2 means, 2 rows each."""
    starts = noise_rows(h // 2, w // 2, _COARSE_SAMPLE)
    return None if starts is None else 2 * starts[:, None] + np.arange(6)[None, :]


def coarse_rows(rows: np.ndarray) -> list[np.ndarray]:
    """The three ``(bands, W // 2, c)`` float32 row sets of 2x2 means from ``(bands, 6, W, c)`` ``rows``
    (read at :func:`coarse_row_indices`), for :func:`noise_from_rows`."""
    x = np.asarray(rows, np.float32)
    w = x.shape[2] // 2 * 2
    pairs = x[:, 0::2, :w] + x[:, 1::2, :w]  # (bands, 3, w, c): rows summed in pairs
    return [0.25 * (pairs[:, k, 0::2] + pairs[:, k, 1::2]) for k in range(3)]


def coarse_noise_level(rgb: np.ndarray) -> float:
    """The noise of one ``(H, W, c)`` image measured on its 2x2 box means, in the units of a pixel.

    Immerkaer's operator (:func:`noise_level`) responds to the finest scale
    alone, where white noise has as much power as anywhere; a 2x2 mean of
    white noise keeps half its standard deviation, so twice the estimate on the
    means is the same figure. Noise that is not white reads lower on the fine
    scale only: a JPEG drops the fine detail of each 8x8 block and keeps the
    coarser noise as blotches and block steps (a darkened photo with 9 levels
    of noise reads 1.0 on the fine scale after JPEG quality 75, where 5.6 levels
    of error are left against the clean picture, and 5.6 here), and a camera's
    demosaicing and noise reduction correlate neighbouring pixels. But
    texture, too, has more power at the coarser scale, and reads as noise
    there: :func:`combine_levels` takes this figure only as far as a JPEG's
    blocks explain it. Rows are sampled as for :func:`noise_level`.
    """
    h, w, _ = rgb.shape
    idx = coarse_row_indices(h, w)
    if idx is None:
        return 0.0
    return 2.0 * noise_from_rows(coarse_rows(rgb[idx])) * unit_scale(rgb.dtype)


def block_row_indices(h: int, w: int) -> np.ndarray | None:
    """``(bands, 9)`` rows :func:`block_noise` reads: bands of 9 rows starting on the 8-row grid, strided."""
    starts = np.arange(0, h - JPEG_BLOCK, JPEG_BLOCK)
    if w <= JPEG_BLOCK or len(starts) == 0:
        return None
    stride = max(1, int(np.ceil(len(starts) * (JPEG_BLOCK + 1) * w / _BLOCK_SAMPLE)))
    return starts[::stride, None] + np.arange(JPEG_BLOCK + 1)[None, :]


def _phase_excess(d2: np.ndarray, dark: np.ndarray) -> float | None:
    """Mean ``d2`` over the ``dark`` steps across the grid's edges (phase 0 of the last axis) less the larger of
    the other seven phases' median and phase 4's; None where a phase has too few dark steps.

    Phase 4 too: an image upscaled by 2 or 4 (nearest or smooth) has steps every 2 or 4 pixels, at phase 4 as
    strongly as at phase 0, and is no JPEG.
    """
    power = np.empty(JPEG_BLOCK)
    for p in range(JPEG_BLOCK):
        sel = dark[..., p::JPEG_BLOCK]
        if sel.sum() < _BLOCK_STEPS:
            return None
        power[p] = d2[..., p::JPEG_BLOCK][sel].mean()
    return float(power[0] - max(np.median(power[1:]), power[JPEG_BLOCK // 2]))


def block_from_rows(rows: np.ndarray, unit: float = 1.0) -> float:
    """:func:`block_noise` from the ``(bands, 9, W, c)`` rows read at :func:`block_row_indices` (``unit`` scales
    their values to [0, 1])."""
    y = np.asarray(rows, np.float32).mean(axis=-1) * np.float32(unit)  # (bands, 9, W)
    # across columns: the step into column j (j = 1 .. W - 1) crosses a block edge where j % 8 == 0; pad one
    # column in front so that phase p of the last axis is j % 8 == p
    steps = np.square(np.diff(y, axis=-1, prepend=y[..., :1]))
    dark = np.maximum(y, np.roll(y, 1, axis=-1)) < BLOCK_DARK
    dark[..., 0] = False
    across_columns = _phase_excess(steps, dark)
    # across rows: step k of a band (rows k to k + 1 from a grid row) crosses an edge where k == 7; put the
    # step index last, rotated so that phase 0 is k == 7
    steps = np.roll(np.square(np.diff(y, axis=1)), 1, axis=1).transpose(0, 2, 1)
    dark = np.roll(np.maximum(y[:, 1:], y[:, :-1]) < BLOCK_DARK, 1, axis=1).transpose(0, 2, 1)
    across_rows = _phase_excess(steps, dark)
    if across_columns is None or across_rows is None:
        return 0.0
    # blocks whose means are off by e (variance s^2) step by e1 - e2 (variance 2 s^2) at their edges alone;
    # a JPEG's blocks have edges both ways, so the lesser excess is taken (a pattern along one axis has one)
    return float(np.sqrt(max(min(across_columns, across_rows), 0.0) / 2.0))


def block_noise(rgb: np.ndarray) -> float:
    """The standard deviation of the steps between a JPEG's 8x8 blocks in one ``(H, W, c)`` image's shadows.

    A JPEG of ordinary quality keeps each block's mean and drops most of its
    fine detail, so a dark photo's noise is flattened into blocks whose means
    are off by it: the luminance steps across the block grid's edges (in the
    shadows, :data:`BLOCK_DARK`) carry more power than those at the seven
    other phases (and than at the middle of the block, where an image
    upscaled by 2 or 4 has steps as well), along rows and along columns. 0 for
    an image that was never a JPEG, or one cropped off its grid after
    decoding, and for high qualities (90 and above), which keep enough detail
    that the steps do not stand out. A JPEG of texture without noise shows
    steps too (its texture quantised), and so does content with edges every
    8 pixels on the grid (tiles). No library estimates this from the pixels (a
    decoder that deblocks reads the file's quantisation tables, which an
    array no longer has), hence by hand.
    """
    h, w, _ = rgb.shape
    idx = block_row_indices(h, w)
    return 0.0 if idx is None else block_from_rows(rgb[idx], unit_scale(rgb.dtype))


def combine_levels(fine: float, coarse: float, block: float) -> float:
    """The noise level from the fine and coarse estimates, the coarse one taken as far as JPEG blocks explain it.

    The coarse scale (:func:`coarse_noise_level`) sees the noise a JPEG
    flattened into blotches, which the fine one misses (a darkened photo at
    quality 75: 1.0 levels fine, 5.6 coarse, 5.6 left against the clean
    picture), but it also reads texture as noise (clean, darkened grass: 3.5
    fine, 7.9 coarse, no noise at all), and a denoiser steered by it smooths
    grass and gravel into wax. JPEG's flattening leaves its grid's steps
    (:func:`block_noise`: 3.9 levels for that JPEG, 0 for the grass): the
    coarse figure is taken in full where the steps are at least half of it,
    in proportion below.
    """
    if coarse <= fine:
        return fine
    return fine + min(1.0, 2.0 * block / coarse) * (coarse - fine)


def luma_from_rows(rows) -> float:
    """:func:`noise_from_rows` of the channels' mean, from the same three ``(bands, W, c)`` row sets (unscaled):
    the sum of the channels' responses, exact in int32 for 8- and 16-bit rows (:func:`fine_and_luma_from_rows`)."""
    return fine_and_luma_from_rows(rows)[1]


def shared_noise_factor(fine: float, luma: float) -> float:
    """How far to raise the fine level where the luminance's noise is as strong as each channel's (1: not at all).

    The denoiser smooths the luminance first (:mod:`skdce.engine.stages.guided`)
    with a regulariser of the channels' noise variance. Noise of each channel's
    own, as a sensor leaves it, averages down by sqrt(3) in the luminance, so
    that is three times the luminance's noise variance: well above it. A JPEG
    with 4:2:0 chroma (a phone's, a camera's at quality 90 and above) keeps the
    luminance's noise at full resolution and halves the chroma's, so what is
    left is one noise in all three channels, as strong in their mean as in each:
    the same regulariser sits at the luminance's noise and lets grain through
    (our darkenings at quality 90: noise per unit of brightness 0.050, against
    0.014 as PNG). ``sqrt(3) * luma / fine`` measures it, from 1 (noise of
    their own) to sqrt(3) (shared); across :data:`SHARED_NOISE` the level is
    raised by up to :data:`SHARED_NOISE_BOOST`. A gray image's luminance is its
    one channel (``luma == fine``): sqrt(3), raised alike, as the same image
    repeated in three channels is. Texture is shared by the channels too, so an
    image without noise reads as shared, and its (small, texture-made) level
    is raised alike.

    The level also steers auto exposure's noise limit
    (:func:`skdce.engine.stages.tone.noise_limit`): raised, it reads about what
    the same photo stored as PNG reads (a 4:2:0 JPEG's channels lost their
    chroma noise), so a JPEG is exposed about as its PNG is.
    """
    if fine <= 0:
        return 1.0
    ratio = np.sqrt(3.0) * luma / fine
    lo, hi = SHARED_NOISE
    t = min(max((ratio - lo) / (hi - lo), 0.0), 1.0)
    return 1.0 + (SHARED_NOISE_BOOST - 1.0) * t * t * (3.0 - 2.0 * t)


def rounding_noise(dtype) -> float:
    """The noise an image of integer ``dtype`` holds at least: its rounding to whole steps (0 for floats).

    Rounding leaves an error spread evenly over one step, of standard
    deviation 1/sqrt(12) of a step (0.29 of a level in 8 bits). Immerkaer's
    median sees none of it where a dark image sits on a few levels (a dark
    JPEG: its flat, quantised shadows make the median response 0), yet the
    curves stretch it like any noise: up to 20 times at black, into
    visible steps and blocks.
    """
    dtype = np.dtype(dtype)
    return 1.0 / (np.iinfo(dtype).max * np.sqrt(12.0)) if dtype.kind in "ui" else 0.0


def filter_level(level: float, dtype) -> float:
    """The level the denoiser is steered by, from an image's noise level: at least :func:`rounding_noise`.

    (The video path's floor too, ``skdce.video``; Dask's estimate from its sampled rows.)
    """
    return max(level, rounding_noise(dtype))


def level_rows(h: int, w: int) -> dict[str, np.ndarray]:
    """The rows :func:`filter_noise_level` reads, by measure: ``"fine"`` ``(bands, 3)`` (:func:`noise_rows`),
    ``"coarse"`` ``(bands, 6)`` and ``"block"`` ``(bands, 9)``; a measure the image is too small for is absent.
    Dask reads just these (:func:`level_from_rows`)."""
    starts = noise_rows(h, w)
    found = {"fine": None if starts is None else starts[:, None] + np.arange(3)[None, :],
             "coarse": coarse_row_indices(h, w), "block": block_row_indices(h, w)}
    return {name: idx for name, idx in found.items() if idx is not None}


def level_from_rows(rows: dict[str, np.ndarray], dtype) -> float:
    """:func:`filter_noise_level` from the ``(bands, k, W, c)`` rows read at :func:`level_rows` (``dtype``: the
    image's)."""
    unit = unit_scale(dtype)
    fine = 0.0
    if "fine" in rows:
        fine, luma = fine_and_luma_from_rows([rows["fine"][:, k] for k in range(3)])
        fine = fine * unit * shared_noise_factor(fine, luma)
    coarse = 2.0 * noise_from_rows(coarse_rows(rows["coarse"])) * unit if "coarse" in rows else 0.0
    block = block_from_rows(rows["block"], unit) if "block" in rows else 0.0
    return filter_level(combine_levels(fine, coarse, block), dtype)


def filter_noise_level(rgb: np.ndarray) -> float:
    """:func:`filter_level` of one ``(H, W, c)`` image's noise: :func:`combine_levels` of its
    :func:`noise_level` (times :func:`shared_noise_factor`), :func:`coarse_noise_level` and :func:`block_noise`."""
    rows = {name: rgb[idx] for name, idx in level_rows(*rgb.shape[:2]).items()}
    return level_from_rows(rows, rgb.dtype)


def reference_noise_level(rgb) -> float:
    """The oracle: :func:`noise_level` in float64, the operator as a direct 3x3 sum on the same rows."""
    rgb = np.asarray(rgb)
    h, w, c = rgb.shape
    starts = noise_rows(h, w)
    if starts is None:
        return 0.0
    x = rgb.astype(np.float64) * unit_scale(rgb.dtype)
    total = 0.0
    for ch in range(c):
        r = sum(_IMMERKAER[k, j] * x[starts + k, j : w - 2 + j, ch] for k in range(3) for j in range(3))
        total += _MAD * float(np.median(np.abs(r))) / 6.0
    return total / c


def torch_noise_level(x):
    """The torch twin: :func:`noise_level` of one ``(1, c, H, W)`` tensor on [0, 1], a 0-d tensor."""
    import torch

    h, w = x.shape[-2:]
    starts = noise_rows(h, w)
    if starts is None:
        return x.new_zeros(())
    idx = torch.as_tensor(starts, device=x.device)
    return _torch_immerkaer([x[0][:, idx + k] for k in range(3)])


def torch_filter_noise_level(x):
    """The torch twin of :func:`filter_noise_level` (without the rounding floor, which depends on the dtype);
    a 0-d tensor. The block measure, a few hundred rows of statistics, runs on the host (:func:`block_noise`)."""
    import torch

    h, w = x.shape[-2:]
    fine = torch_noise_level(x)
    fine = fine * shared_noise_factor(float(fine), float(torch_noise_level(x.mean(dim=1, keepdim=True))))
    idx = coarse_row_indices(h, w)
    if idx is None:
        return fine
    rows = x[0][:, torch.as_tensor(idx.reshape(-1), device=x.device)]  # (c, bands * 6, W)
    rows = rows.reshape(rows.shape[0], *idx.shape, w)[..., : w // 2 * 2]
    pairs = rows[:, :, 0::2] + rows[:, :, 1::2]  # (c, bands, 3, W): rows summed in pairs
    means = 0.25 * (pairs[..., 0::2] + pairs[..., 1::2])
    coarse = 2.0 * _torch_immerkaer([means[:, :, k] for k in range(3)])
    bidx = block_row_indices(h, w)
    block = 0.0
    if bidx is not None:
        band = x[0][:, torch.as_tensor(bidx.reshape(-1), device=x.device)].double().cpu().numpy()
        block = block_from_rows(np.moveaxis(band, 0, -1).reshape(*bidx.shape, w, -1))
    return fine.new_tensor(combine_levels(float(fine), float(coarse), block))


def _torch_immerkaer(rows):
    """Immerkaer's estimate from three ``(c, bands, W)`` row tensors, a 0-d tensor (:func:`noise_from_rows`)."""
    w = rows[0].shape[-1]
    r = sum(float(_IMMERKAER[k, j]) * rows[k][..., j : w - 2 + j] for k in range(3) for j in range(3))
    r = r.abs().flatten(1).sort(dim=1).values
    n = r.shape[1]
    med = 0.5 * (r[:, (n - 1) // 2] + r[:, n // 2])  # NumPy's median: the mean of the two middle values
    return (_MAD * med / 6.0).mean()
