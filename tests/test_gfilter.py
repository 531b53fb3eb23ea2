"""The compiled guided filter (skdce/native/_gfilter.c) against the NumPy denoise_block it replaces.

Tolerances: the compiled box means of the moments whose differences are
variances and covariances (``q - m*m``) add their 2r + 1 terms directly in
double, as scipy's ``uniform_filter`` keeps running sums in double; the
other box means (of stage 1's coefficients, of stage 2's and of the rest's
square) add theirs in the block's dtype. In float64 the two differ in the
last bits (1e-12 allows that through the filter's divisions). In float32
the latter box means may differ by a few ulp (about 1e-7 at 1), and a few
pixels of the output move by up to about 1.5e-5: 3e-5 allows that, against
changes of 1e-3 to 1e-1 that the filter makes, and the mean difference must
stay at rounding level. A flat, nearly clean block, where variances cancel,
is checked against float64 separately. Bands of one block are compared bit
for bit: each box sum has one fixed order.
"""

import numpy as np
import pytest

import skdce
from skdce.denoise import guided_denoise
from skdce.engine.stages import gain, guided
from skdce.engine.stages.gain import added_noise
from skdce.engine.stages.guided import (
    COLOR_EPS,
    COLOR_KEEP,
    COLOR_RADIUS,
    DENOISE_HALO,
    LUMA_EPS,
    LUMA_RADIUS,
    denoise_bands,
    denoise_block,
)

_gfilter = pytest.importorskip("skdce.native._gfilter", reason="skdce was built without a C compiler")
PARAMS = (LUMA_RADIUS, COLOR_RADIUS, LUMA_EPS, COLOR_EPS, COLOR_KEEP)
ATOL = {np.float32: 3e-5, np.float64: 1e-12}


def compiled(y, noise, bands=((0, None),)):
    out = np.full_like(y, np.nan)
    for r0, r1 in bands:
        _gfilter.denoise(y, np.ascontiguousarray(noise, dtype=y.dtype), out, r0, y.shape[0] if r1 is None else r1,
                         *PARAMS)
    return out


def scene(rng, h, w, c, dtype, sigma=0.03):
    """A dark gradient with a bright square (edges to keep) and noise; a per-pixel noise map."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 1)
    base = 0.1 + 0.3 * xx[..., None] * np.linspace(1, 0.7, c)
    base[h // 4 : h // 2, w // 4 : w // 2] += 0.4
    y = np.clip(base + sigma * rng.standard_normal((h, w, c)), 0, 1).astype(dtype)
    noise = (sigma * (0.5 + 2 * rng.random((h, w)) * yy)).astype(dtype)
    return y, noise


def check_equal(got, want, dtype):
    np.testing.assert_allclose(got, want, atol=ATOL[dtype], rtol=0)
    assert np.mean(np.abs(got - want)) < ATOL[dtype] / 20  # rounding, not a systematic difference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("h, w", [(64, 80), (97, 33), (200, 150)])
def test_matches_denoise_block(rng, dtype, c, h, w):
    y, noise = scene(rng, h, w, c, dtype)
    check_equal(compiled(y, noise), denoise_block(y, noise), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_matches_denoise_block_on_photos(dtype, name):
    from skimage import data

    img = getattr(data, name)()[::2, ::2]
    img = img if img.ndim == 3 else img[..., None]
    y = (img / 255.0 * 0.25).astype(dtype)  # a dark copy, as the curves get it
    noise = np.full(y.shape[:2], 0.02, dtype) * (1 + np.arange(y.shape[1]) / y.shape[1])
    ref = denoise_block(y, noise)
    assert np.abs(ref - y).max() > 1e-3  # the filter does something here
    check_equal(compiled(y, noise), ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("h, w", [(1, 1), (1, 9), (9, 1), (2, 3), (3, 2), (5, 7), (4, 40), (40, 4), (13, 13)])
def test_tiny_blocks_reflect_like_scipy(rng, dtype, c, h, w):
    """Blocks smaller than a radius: scipy's reflection repeats (period 2n); so does the compiled one."""
    y, noise = scene(rng, h, w, c, dtype, sigma=0.1)
    check_equal(compiled(y, noise), denoise_block(y, noise), dtype)


def test_flat_and_noiseless_blocks(rng):
    flat = np.full((20, 30, 3), 0.25, np.float32)
    check_equal(compiled(flat, np.full((20, 30), 0.05)), denoise_block(flat, np.full((20, 30), 0.05, np.float32)),
                np.float32)
    y, _ = scene(rng, 40, 50, 3, np.float32)
    zero = np.zeros((40, 50), np.float32)
    check_equal(compiled(y, zero), denoise_block(y, zero), np.float32)
    np.testing.assert_allclose(compiled(y, zero), y, atol=1e-4)  # nothing to remove


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1, 3])
def test_bands_join_bit_for_bit(rng, dtype, c):
    """Rows computed by separate calls equal the whole block's exactly: no running sums to restart."""
    h = 3 * DENOISE_HALO + 5
    y, noise = scene(rng, h, 45, c, dtype)
    whole = compiled(y, noise)
    for bands in ([(0, 1), (1, h)], [(r, min(h, r + 7)) for r in range(0, h, 7)], [(0, 20), (20, 21), (21, h)]):
        np.testing.assert_array_equal(compiled(y, noise, bands), whole)
    for threads in (1, 2, 3, 8):
        np.testing.assert_array_equal(denoise_bands(y, noise, threads), whole)


def test_thread_bands_join_bit_for_bit(rng):
    """denoise_bands splits a tall block into one band per thread (none thinner than 4 * DENOISE_HALO rows)."""
    y, noise = scene(rng, 300, 50, 3, np.float32)
    whole = compiled(y, noise)
    for threads in (2, 5, 8):
        np.testing.assert_array_equal(denoise_bands(y, noise, threads), whole)


def test_numpy_fallback_is_the_reference(rng, monkeypatch):
    """denoise_bands and guided_denoise without the compiled filter run scipy's; the two agree."""
    y, noise = scene(rng, 120, 90, 3, np.float32)
    fast_bands, fast = denoise_bands(y, noise, 2), guided_denoise(y, noise)
    monkeypatch.setattr(guided, "_gfilter", None)
    check_equal(fast_bands, denoise_bands(y, noise, 2), np.float32)
    check_equal(fast, guided_denoise(y, noise), np.float32)


# --- the noise map --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("k, nc", [(1, 3), (8, 3), (8, 1), (1, 1)])
def test_noise_map_is_the_numpy_steps_bit_for_bit(rng, monkeypatch, dtype, k, nc):
    full = rng.random((30, 41, 4))
    if np.dtype(dtype).kind == "u":
        x, scale = (full * np.iinfo(dtype).max).astype(dtype), 1 / np.iinfo(dtype).max
    else:
        x, scale = full.astype(dtype), 1.0
    x = x[2:, 1:, :nc]  # strided, as enhance's tiles are
    a = np.moveaxis(rng.uniform(-1, 1, (nc * k, 28, 40)).astype(np.float32), 0, -1).reshape(28, 40, k, nc)
    work = np.float64 if dtype is np.float64 else np.float32
    got = added_noise(x, a, 8, scale, 0.03, work, 2)
    monkeypatch.setattr(gain, "_gfilter", None)
    want = added_noise(x, a, 8, scale, 0.03, work)
    assert got.dtype == want.dtype == work
    assert want.max() > 0
    np.testing.assert_array_equal(got, want)


# --- enhance ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["zero-dce-int8", "zero-dce++"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_enhance_unchanged(rng, monkeypatch, model, dtype):
    y, _ = scene(rng, 150, 170, 3, np.float64, sigma=0.02)
    img = np.round(y * 100).astype(np.uint8) if dtype is np.uint8 else y * 0.4
    kw = dict(model=model, scale_factor=4) if model == "zero-dce++" else dict(model=model)
    fast = skdce.enhance(img, **kw)
    monkeypatch.setattr(gain, "_gfilter", None)
    monkeypatch.setattr(guided, "_gfilter", None)
    ref = skdce.enhance(img, **kw)
    assert np.abs(ref - skdce.enhance(img, denoise=0, **kw)).max() > 1e-3  # denoising changed the image
    check_equal(fast, ref, fast.dtype.type)


# --- argument checks --------------------------------------------------------------------------


def test_denoise_refuses_bad_buffers():
    y = np.zeros((8, 9, 3), np.float32)
    n = np.zeros((8, 9), np.float32)
    out = np.empty_like(y)
    with pytest.raises(ValueError, match="float32 or float64"):
        _gfilter.denoise(y.astype(np.uint8), n, out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="y's dtype"):
        _gfilter.denoise(y, n.astype(np.float64), out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="shape"):
        _gfilter.denoise(y, n[:, :5].copy(), out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="3 dimensions"):
        _gfilter.denoise(y[..., 0].copy(), n, out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="C-contiguous"):
        _gfilter.denoise(y[:, ::2], n, out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="writable"):
        out.flags.writeable = False
        _gfilter.denoise(y, n, out, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="share memory"):
        _gfilter.denoise(y, n, y, 0, 8, *PARAMS)
    with pytest.raises(ValueError, match="r0:r1"):
        _gfilter.denoise(y, n, np.empty_like(y), 4, 9, *PARAMS)


def test_noise_map_refuses_bad_buffers():
    x = np.zeros((8, 9, 3), np.uint8)
    a = np.zeros((8, 9, 1, 3), np.float32)
    out = np.empty((8, 9), np.float32)
    with pytest.raises(ValueError, match="uint8, uint16"):
        _gfilter.noise_map(x.astype(np.int8), a, out, 0, 8, 8, 1.0, 1.0)
    with pytest.raises(ValueError, match="a must be float32"):
        _gfilter.noise_map(x, a.astype(np.float64), out, 0, 8, 8, 1.0, 1.0)
    with pytest.raises(ValueError, match="1 or n_iter"):
        _gfilter.noise_map(x, np.zeros((8, 9, 2, 3), np.float32), out, 0, 8, 8, 1.0, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _gfilter.noise_map(x, a, np.empty((8, 18), np.float32)[:, ::2], 0, 8, 8, 1.0, 1.0)


def test_noise_map_checks_strided_inputs():
    """x and a take any strides: overlap is judged on the bytes a view spans, and every element must be aligned."""
    h, w = 6, 5
    base = np.zeros((2 * h, w, 1))
    x = base[::2]  # rows 0, 2, ..., 2h - 2: spans past x's first h * w elements
    out = base.reshape(-1)[h * w :].reshape(h, w)  # base's rows h:2h, some of them x's rows
    a = np.zeros((h, w, 1, 1), np.float32)
    with pytest.raises(ValueError, match="out must not share memory with x or a"):
        _gfilter.noise_map(x, a, out, 0, h, 8, 1.0, 1.0)
    raw = np.zeros(64, np.uint8).view(np.float32)
    rows_off = np.lib.stride_tricks.as_strided(raw, shape=(2, 3, 1), strides=(18, 4, 4))  # row 1 at byte 18
    with pytest.raises(ValueError, match="x must be aligned"):
        _gfilter.noise_map(rows_off, np.zeros((2, 3, 1, 1), np.float32), np.zeros((2, 3), np.float32), 0, 2, 8, 1.0,
                           1.0)


def test_flat_nearly_clean_content_keeps_float32_accuracy(rng):
    """Local variances ``q - m*m`` cancel where the picture is flat and bright: the box sums must not add to that.

    Summed in float32, this block came out up to 9e-3 from a float64 evaluation
    at hundreds of pixels; summed in double and rounded once (as scipy does),
    4e-5.
    """
    y = (0.99 + 1e-3 * rng.standard_normal((128, 128, 3))).clip(0, 1)
    noise = 1e-3 * (0.5 + rng.random((128, 128)))
    truth = denoise_block(y, noise)  # float64
    got = compiled(y.astype(np.float32), noise.astype(np.float32))
    assert np.abs(got - truth).max() < 2e-4
