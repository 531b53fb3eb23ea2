"""skdce.video._temporal: the compiled passes of the temporal filter (skdce/native/_temporal.c) against their
NumPy twins and float64 oracles, and the pan search."""

import numpy as np
import pytest

import skdce
from skdce.engine.stages.boxes import bilinear_upsample
from skdce.video import _temporal as T

compiled = pytest.mark.skipif(not T.compiled(), reason="skdce.native._temporal was not built (no C compiler)")
SHAPE = (37, 53)  # odd sizes: the bands, the edges and the 5x5 / 9x9 windows all meet a border


def frames(dtype, seed=0):
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    if dtype == np.float32:
        return rng.random((h, w, 3), dtype=np.float32), 1.0
    top = np.iinfo(dtype).max
    return rng.integers(0, top, (h, w, 3), dtype=dtype, endpoint=True), 1.0 / top


def state(seed=1):
    """A running average (smooth, so that most pixels read as still), its variance and luma."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.3 + 0.2 * np.sin(yy / 6.0)[..., None] * np.cos(xx / 9.0)[..., None] * np.array([1, 0.8, 0.6])
    average = base.astype(np.float32)
    variance = rng.uniform(0.1, 1.0, (h, w)).astype(np.float32)
    return average, variance, T.luma(average, 1.0, use_c=False)


SHIFTS = [(0, 0), (2, -3), (-5, 7), (0, 60), (40, 0)]  # the last two: nothing of the past is in view


@compiled
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_luma_equals_numpy(dtype):
    frame, scale = frames(dtype)
    np.testing.assert_array_equal(T.luma(frame, scale), T.luma(frame, scale, use_c=False))


def test_luma_is_the_channel_mean():
    frame, scale = frames(np.uint8)
    np.testing.assert_allclose(T.luma(frame, scale), frame.astype(np.float64).mean(-1) * scale, rtol=1e-6)


@compiled
@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("level", [1.0, 1.2])
def test_weigh_equals_numpy(shift, level):
    average, variance, past = state()
    rng = np.random.default_rng(2)
    luma = past + np.float32(0.02) * rng.standard_normal(SHAPE).astype(np.float32)
    luma[5:15, 10:20] += 0.3  # something moved
    keep, stats = T.weigh(luma, past, variance, 0.02, *shift, level=level)
    ref, ref_stats = T.weigh(luma, past, variance, 0.02, *shift, level=level, use_c=False)
    np.testing.assert_allclose(keep, ref, atol=2e-6)
    assert stats[:2] == ref_stats[:2]
    np.testing.assert_allclose(stats[2:], ref_stats[2:], rtol=1e-5)
    assert keep.dtype == np.float32 and 0 <= keep.min() and keep.max() <= 1


@pytest.mark.parametrize("use_c", [True, False])
def test_weigh_keeps_the_still_and_drops_the_moving(use_c):
    _, variance, past = state()
    rng = np.random.default_rng(3)
    luma = past + np.float32(0.01) * rng.standard_normal(SHAPE).astype(np.float32)
    luma[10:20, 20:30] += 0.5
    keep, (moving, still, _, _) = T.weigh(luma, past, variance, 0.01, use_c=use_c)
    assert keep[10:20, 20:30].max() == 0  # the square moved: no past kept
    assert keep[25:, :10].min() == 1  # noise alone: all of it
    assert moving >= 100 and still > 0.5 * luma.size
    keep, (moving, still, _, _) = T.weigh(luma, past, variance, 0.01, 0, 60, use_c=use_c)  # panned out of view
    assert keep.max() == 0 and moving == luma.size and still == 0
    # black frames: the uncovered border has no past to keep, though the frame matches the empty state there
    black = np.zeros(SHAPE, np.float32)
    keep, _ = T.weigh(black, black, variance, 0.01, 3, -4, use_c=use_c)
    assert keep[:3].max() == keep[:, -4:].max() == 0 and keep[3:, :-4].min() == 1


@compiled
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("shift", SHIFTS)
def test_accumulate_equals_numpy(dtype, shift):
    average, variance, past = state()
    frame, scale = frames(dtype)
    keep = np.random.default_rng(4).random(SHAPE, dtype=np.float32)
    spare = tuple(np.full_like(a, np.nan) for a in (average, variance, past))  # the state before, written over
    for level in (1.0, 1.3):
        got = T.accumulate(frame, scale, average, variance, keep, *shift, level, 9.0)
        ref = T.accumulate(frame, scale, average, variance, keep, *shift, level, 9.0, use_c=False)
        into = T.accumulate(frame, scale, average, variance, keep, *shift, level, 9.0, out=spare)
        assert all(i is o for i, o in zip(into, spare))
        for g, i, r in zip(got, into, ref):
            np.testing.assert_array_equal(g, r)
            np.testing.assert_array_equal(i, r)


def test_accumulate_is_the_recursive_average():
    """The float64 formula: the past counts as min(keep / variance, max_frames - 1) frames, the frame as one."""
    average, variance, _ = state()
    frame, scale = frames(np.uint8)
    keep = np.random.default_rng(5).random(SHAPE, dtype=np.float32)
    got_avg, got_var, got_luma = T.accumulate(frame, scale, average, variance, keep, 0, 0, 1.0, 9.0)
    held = np.minimum(keep / np.maximum(variance.astype(np.float64), 1 / 9), 8)
    w_new = 1 / (1 + held)
    x = frame * scale
    want = average * (1 - w_new)[..., None] + x * w_new[..., None]
    np.testing.assert_allclose(got_avg, want, atol=1e-6)
    np.testing.assert_allclose(got_var, (1 - w_new) ** 2 * variance + w_new**2, rtol=1e-5)
    np.testing.assert_allclose(got_luma, want.mean(-1), atol=1e-6)


@compiled
def test_noise_map_equals_numpy():
    _, variance, luma = state()
    alpha = np.random.default_rng(6).uniform(-0.3, 1, (5, 8)).astype(np.float32)
    np.testing.assert_array_equal(T.noise_map(luma, variance, alpha, 8, 0.05),
                                  T.noise_map(luma, variance, alpha, 8, 0.05, use_c=False))


@pytest.mark.parametrize("use_c", [True, False])
def test_noise_map_is_the_added_noise_of_the_upsampled_curve(use_c):
    """float64 oracle: skdce.curve_gain with the maps upsampled as skdce.enhance upsamples them."""
    _, variance, luma = state()
    alpha = np.random.default_rng(7).uniform(-0.3, 1, (5, 8)).astype(np.float32)
    got = T.noise_map(luma, variance, alpha, 8, 0.05, use_c=use_c)
    up = bilinear_upsample(alpha[None, ..., None], SHAPE)[0, ..., 0].astype(np.float64)
    gain = skdce.curve_gain(luma.astype(np.float64), up, n_iter=8, channel_axis=None)
    want = 0.05 * np.sqrt(variance) * np.sqrt(np.maximum(gain**2 - 1, 0))
    # (near g = 1, sqrt(g**2 - 1) of float32 slopes keeps a few 1e-7 of absolute error)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@compiled
@pytest.mark.parametrize("out_dtype", [None, np.uint8, np.uint16])
@pytest.mark.parametrize("lift", [(0.02, 0.05, 0.0), (0.0, 0.0, 0.0)])
@pytest.mark.parametrize("exposure", [0.0, 0.37, 1.6, -1.2])
def test_finish_tone_equals_skdce_tone(out_dtype, lift, exposure):
    from skdce._base.image import to_uint
    from skdce.tone import finish_tone

    y = np.random.default_rng(8).random((*SHAPE, 3), dtype=np.float32)
    y[0, :3] = [[1, 1, 1], [0.5 / 255, 1.5 / 255, 2.5 / 255], [0, 0, 0]]  # the ends and halves of a step
    got = T.finish_tone(y.copy(), np.array(lift), exposure, out_dtype=out_dtype)  # compiled: black point, exposure
    want = finish_tone(y.copy()[None], np.array([lift]), exposure)[0]
    want = want if out_dtype is None else to_uint(want, out_dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@compiled
def test_downscale_equals_numpy(monkeypatch):
    luma = np.random.default_rng(9).random((61, 83), dtype=np.float32)
    got, factor = T._downscale(luma)
    monkeypatch.setattr(T, "_ctemporal", None)
    want, _ = T._downscale(luma)
    assert factor == 2 and got.shape == (30, 41)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@compiled
def test_the_passes_refuse_what_they_cannot_read():
    from skdce.native import _temporal as _ctemporal

    luma = np.zeros(SHAPE, np.float32)
    with pytest.raises(ValueError, match="float32"):
        _ctemporal.weigh(luma.astype(np.float64), luma, luma, luma.copy(), 0, 0, 1.0, 0.1, 2.6, 1, 8, 0.25, 0.05,
                         0.1, 0, 5)
    with pytest.raises(ValueError, match="rows r0:r1"):
        _ctemporal.luma(np.zeros((*SHAPE, 3), np.uint8), 1.0, luma, 0, 99)
    with pytest.raises(ValueError, match="C-contiguous"):
        _ctemporal.luma(np.zeros((*SHAPE, 3), np.uint8)[:, ::2], 1.0, luma, 0, 5)


def texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    return ndimage.gaussian_filter(rng.random((h, w)), 3).astype(np.float32) * 4


@pytest.mark.parametrize("shift", [(0, 4), (3, -5), (-2, 0)])
def test_global_shift_finds_a_pan(shift):
    big = texture(140, 200)
    dy, dx = shift
    ref = big[20:120, 30:170]
    mov = big[20 - dy : 120 - dy, 30 - dx : 170 - dx]  # mov(y) = ref(y - dy): the past moved by (dy, dx)
    rng = np.random.default_rng(1)
    noisy = mov + np.float32(0.01) * rng.standard_normal(mov.shape).astype(np.float32)
    assert T.global_shift(np.ascontiguousarray(ref), np.ascontiguousarray(noisy)) == shift


def test_global_shift_sees_no_pan_in_noise_alone():
    ref = texture(100, 140)
    rng = np.random.default_rng(2)
    for _ in range(3):
        noisy = ref + np.float32(0.05) * rng.standard_normal(ref.shape).astype(np.float32)
        assert T.global_shift(ref, noisy) == (0, 0)


@compiled
def test_video_enhancer_on_the_numpy_twins_gives_the_same_frames(monkeypatch):
    """A build without a C compiler runs the NumPy twins: the same frames to float rounding."""
    from skdce.video import VideoEnhancer

    rng = np.random.default_rng(10)
    base = (texture(48, 64) * 40 + 10).clip(0, 255)
    clip = [np.clip(np.roll(base, 2 * i, axis=1)[..., None] * np.array([1, 0.9, 0.8]) + rng.normal(0, 3, (48, 64, 3)),
                    0, 255).astype(np.uint8) for i in range(5)]
    compiled_out = [o.copy() for o in map(VideoEnhancer(fps=12).push, clip)]
    monkeypatch.setattr(T, "_ctemporal", None)
    numpy_out = list(map(VideoEnhancer(fps=12).push, clip))
    for a, b in zip(compiled_out, numpy_out):
        np.testing.assert_allclose(a, b, atol=2e-5)


def yuv420_float64(image, lift, matrix):
    """The float64 oracle of :func:`T.yuv420`: the black point, the clip to [0, 1], the matrix, the chroma of the
    two columns and the rows 2i - 1 .. 2i + 2 weighted 1, 3, 3, 1 (clamped at the edges), rounded half to even."""
    kr, kb, y0, ys, cs = matrix
    lift = np.asarray(lift, np.float64)
    v = np.clip(image.astype(np.float64) / (1 - lift) - lift / (1 - lift), 0, 1)
    e = v @ np.array([kr, 1 - kr - kb, kb])
    h, w, _ = v.shape
    rows = [np.clip(np.arange(h // 2) * 2 + k, 0, h - 1) for k in (-1, 0, 1, 2)]
    m = (v[rows[0]] + 3 * v[rows[1]] + 3 * v[rows[2]] + v[rows[3]]) / 8
    m = (m[:, 0::2] + m[:, 1::2]) / 2
    em = m @ np.array([kr, 1 - kr - kb, kb])
    u = 128 + cs * (m[..., 2] - em) / (2 * (1 - kb))
    vv = 128 + cs * (m[..., 0] - em) / (2 * (1 - kr))
    planes = [np.rint(np.clip(p, 0, 255)).astype(np.uint8).reshape(-1) for p in (y0 + ys * e, u, vv)]
    return np.concatenate(planes).reshape(3 * h // 2, w)


# (colorspace, color_range) as a decoded frame has them: unspecified, BT.709 limited and full, BT.601, BT.2020
COLOURS = [(None, None), (1, 1), (1, 2), (6, 1), (9, 0)]


@compiled
@pytest.mark.parametrize("colour", COLOURS)
@pytest.mark.parametrize("lift", [(0.0, 0.0, 0.0), (0.02, 0.05, 0.01)])
def test_yuv420_equals_the_float64_oracle(colour, lift):
    rng = np.random.default_rng(11)
    image = rng.random((38, 54, 3), dtype=np.float32) * np.float32(1.1)  # some above 1: clipped
    image[:10] = np.float32(0.4) + np.float32(0.01) * image[:10]  # a smooth part
    matrix = T.yuv_matrix(*colour)
    got = T.yuv420(image, np.array(lift), 0.0, matrix, num_threads=2)
    want = yuv420_float64(image, lift, matrix)
    assert got.shape == (57, 54) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.002 * diff.size  # float32 rounding at the halves


@compiled
@pytest.mark.parametrize("colour", COLOURS)
def test_yuv420_converts_as_swscale(colour):
    """The file loop's conversion agrees with PyAV's reformat of the RGB24 frame (FFmpeg's swscale) to a level."""
    import av

    from skdce._base.image import to_uint

    image = np.random.default_rng(12).random((24, 40, 3), dtype=np.float32)
    want = av.VideoFrame.from_ndarray(to_uint(image, np.uint8), format="rgb24").reformat(
        format="yuv420p", dst_colorspace=colour[0], dst_color_range=colour[1]).to_ndarray()
    got = T.yuv420(image, np.zeros(3), 0.0, T.yuv_matrix(*colour))
    assert np.abs(got.astype(int) - want).max() <= 1


@compiled
def test_yuv420_bands_join_and_the_exposure_runs_first():
    from skdce.tone import finish_tone

    image = np.random.default_rng(13).random((66, 40, 3), dtype=np.float32)
    matrix = T.yuv_matrix(None, None)
    one = T.yuv420(image, np.full(3, 0.03), 0.0, matrix, num_threads=1)
    np.testing.assert_array_equal(T.yuv420(image, np.full(3, 0.03), 0.0, matrix, num_threads=2), one)
    toned = finish_tone(image.copy()[None], np.full((1, 3), 0.03), 0.5)[0]
    np.testing.assert_array_equal(T.yuv420(image, np.full(3, 0.03), 0.5, matrix),
                                  T.yuv420(toned, np.zeros(3), 0.0, matrix))


@compiled
def test_yuv420_refuses_what_it_cannot_write():
    from skdce.native import _temporal as _ctemporal

    image = np.zeros((6, 8, 3), np.float32)
    args = ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (), T.yuv_matrix(None, None))
    with pytest.raises(ValueError, match="H and W even"):
        _ctemporal.yuv420(np.zeros((5, 8, 3), np.float32), *args, np.zeros((7, 8), np.uint8), 0, 4)
    with pytest.raises(ValueError, match=r"out must be \(3 H / 2, W\) uint8"):
        _ctemporal.yuv420(image, *args, np.zeros((6, 8), np.uint8), 0, 6)
    with pytest.raises(ValueError, match="not even"):
        _ctemporal.yuv420(image, *args, np.zeros((9, 8), np.uint8), 1, 5)
    with pytest.raises(ValueError, match="at most 8 floats"):
        _ctemporal.yuv420(image, args[0], args[1], (0.1,) * 9, args[3], np.zeros((9, 8), np.uint8), 0, 6)


def noisy_scene(h, w, sigma, seed=14):
    """A smooth colour scene with edges, and the same with Gaussian noise of standard deviation ``sigma``."""
    yy, xx = np.mgrid[0:h, 0:w]
    clean = 0.35 + 0.25 * np.sin(yy / 5.0)[..., None] * np.cos(xx / 7.0)[..., None] * np.array([1.0, 0.7, 0.4])
    clean[h // 3 : 2 * h // 3, w // 4 : w // 2] += 0.3  # a sharp-edged square
    noisy = clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape)
    return clean, np.clip(noisy, 0, 1).astype(np.float32)


@compiled
@pytest.mark.parametrize("sigma", [0.0, 0.02, 0.08])
def test_guided_half_equals_the_float64_oracle(sigma):
    _, y = noisy_scene(38, 54, max(sigma, 0.01))
    noise = np.full(y.shape[:2], sigma, np.float32)
    noise[:10] *= 2  # a noise map that varies
    got, scratch = T.guided_half(y, noise)
    want, _ = T.guided_half(y.astype(np.float64), noise.astype(np.float64), use_c=False)
    np.testing.assert_allclose(got, want, atol=2e-5)
    # the scratch is reused, and the filter may write over its input
    again, _ = T.guided_half(y.copy(), noise, scratch, in_place=True)
    np.testing.assert_array_equal(again, got)


def test_guided_half_removes_noise_as_the_full_filter_does():
    """The fast guided filter (coefficients at half resolution) against skdce.engine.stages.guided's full one,
    on a scene with edges: nearly as close to the clean scene, and far closer than the noisy input."""
    from skdce.engine.stages.guided import denoise_block

    clean, y = noisy_scene(96, 128, 0.05)
    noise = np.full(y.shape[:2], 0.05, np.float32)
    fast, _ = T.guided_half(y, noise)
    full = denoise_block(y.astype(np.float64), noise.astype(np.float64))

    def rmse(a):
        return float(np.sqrt(np.mean((np.asarray(a, np.float64) - clean) ** 2)))

    assert rmse(fast) < 0.5 * rmse(y)
    assert rmse(fast) < 1.1 * rmse(full)


@compiled
def test_guided_half_refuses_what_it_cannot_filter():
    from skdce.native import _temporal as _ctemporal

    y, noise = np.zeros((6, 8, 3), np.float32), np.zeros((6, 8), np.float32)
    scratch = np.zeros(_ctemporal.guided_half_scratch(6, 8, 1, 1), np.float32)
    args = (1, 1, 1.0, 0.5, 32.0)
    with pytest.raises(ValueError, match="H and W even"):
        _ctemporal.guided_half(np.zeros((5, 8, 3), np.float32), noise[:5], np.zeros((5, 8, 3), np.float32),
                               scratch, *args)
    with pytest.raises(ValueError, match="scratch must be float32 of guided_half_scratch"):
        _ctemporal.guided_half(y, noise, np.zeros_like(y), scratch[:10], *args)
    shared = np.zeros((7, 8, 3), np.float32)  # out one row below y in the same memory
    with pytest.raises(ValueError, match="out must be y or not share memory with it"):
        _ctemporal.guided_half(shared[:6], noise, shared[1:], scratch, *args)


@compiled
@pytest.mark.parametrize("radii", [(2, 0), (0, 3)])
def test_guided_half_other_radii_equal_the_oracle(radii):
    """The compiled box means of any radius (guided_half's are 1 and 1, which run in their own loops)."""
    from skdce.engine.stages.guided import COLOR_EPS, COLOR_KEEP, LUMA_EPS
    from skdce.native import _temporal as _ctemporal

    _, y = noisy_scene(20, 30, 0.03)
    noise = np.full(y.shape[:2], 0.03, np.float32)
    params = (*radii, LUMA_EPS, COLOR_EPS, COLOR_KEEP)
    got = np.empty_like(y)
    _ctemporal.guided_half(y, noise, got, np.empty(_ctemporal.guided_half_scratch(20, 30, *radii), np.float32),
                           *params)
    want = T._guided_half_numpy(y.astype(np.float64), noise.astype(np.float64), *params)
    np.testing.assert_allclose(got, want, atol=2e-5)
