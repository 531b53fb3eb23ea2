"""Noise-aware enhancement: the curve's slope, the noise estimate, the guided filter, and enhance(denoise=...)."""

import numpy as np
import pytest

from skdce import apply_le_curves, curve_gain, enhance, estimate_curves
from skdce.denoise import DENOISE_HALO, estimate_noise, filter_noise_level, guided_denoise
from skdce.engine import host as enhance_mod

from ._helpers import curves_only


def noisy_scene(rng, h=64, w=80, level=0.08, sigma=0.01):
    """A smooth dark scene (a gradient and a bright square) with Gaussian noise."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = level * (0.6 + 0.8 * xx)[..., None] * np.array([1.0, 0.9, 0.8])
    base[h // 4 : h // 2, w // 4 : w // 2] *= 2.5
    return np.clip(base + sigma * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


# --- the slope of the curve -------------------------------------------------------------------


@pytest.mark.parametrize("form", ["scalar", "per-channel", "shared map", "per-iteration maps", "gray"])
def test_curve_gain_matches_finite_differences(rng, form):
    x = rng.uniform(0.02, 0.98, (6, 7, 3))
    alphas = {
        "scalar": 0.7,
        "per-channel": np.array([0.9, -0.4, 0.2]),
        "shared map": rng.uniform(-1, 1, (6, 7, 3)),
        "per-iteration maps": rng.uniform(-1, 1, (6, 7, 24)),
        "gray": rng.uniform(-1, 1, (6, 7, 8)),
    }[form]
    kw = {}
    if form == "gray":
        x, kw = x[..., 0], {"channel_axis": None}
    h = 1e-6
    fd = (apply_le_curves(x + h, alphas, **kw) - apply_le_curves(x - h, alphas, **kw)) / (2 * h)
    gain = curve_gain(x, alphas, **kw)
    assert gain.shape == x.shape and gain.dtype == np.float64
    np.testing.assert_allclose(gain, fd, rtol=1e-6, atol=1e-7)


def test_curve_gain_dtypes_and_alpha_channel(rng):
    img = (rng.random((5, 6, 4)) * 255).astype(np.uint8)
    gain = curve_gain(img, 0.5)
    assert gain.dtype == np.float32
    np.testing.assert_array_equal(gain[..., 3], 1.0)  # the alpha channel passes through: slope 1
    np.testing.assert_allclose(gain[..., :3], curve_gain(img[..., :3] / np.float32(255), 0.5), rtol=1e-5)
    assert curve_gain(np.zeros((2, 2, 3)), 1.0).max() == pytest.approx(256.0)  # 2 ** 8 at black


def test_curve_gain_refuses_bad_input():
    with pytest.raises(ValueError, match="alphas"):
        curve_gain(np.full((4, 4, 3), 0.5), 1.5)
    with pytest.raises(ValueError, match="image has values"):
        curve_gain(np.full((4, 4, 3), 1.5), 0.5)


# --- the noise estimate -----------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.003, 0.01, 0.03])
def test_estimate_noise_recovers_sigma(sigma):
    rng = np.random.default_rng(int(sigma * 1e4))
    img = noisy_scene(rng, 200, 240, level=0.3, sigma=sigma)
    assert estimate_noise(img) == pytest.approx(sigma, rel=0.1)


def test_estimate_noise_layouts(rng):
    batch = np.stack([noisy_scene(rng, sigma=s, level=0.3) for s in (0.01, 0.03)])
    got = estimate_noise(batch)
    assert got.shape == (2,) and got[0] < got[1]
    u16 = np.round(batch[0] * 65535).astype(np.uint16)
    assert estimate_noise(u16) == pytest.approx(got[0], rel=1e-3)
    assert estimate_noise(np.zeros((2, 2, 3))) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        estimate_noise(np.full((8, 8, 3), np.nan))


# --- the filter -------------------------------------------------------------------------------


def test_guided_denoise_removes_noise_and_keeps_edges():
    rng = np.random.default_rng(0)
    clean = np.full((64, 64, 3), 0.3, np.float32)
    clean[:, 32:] = 0.7  # a strong edge
    noisy = np.clip(clean + 0.04 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    out = guided_denoise(noisy, 0.04)
    flat = (slice(None), slice(4, 26))
    assert out[flat].std() < 0.25 * noisy[flat].std()
    edge = out[:, 34:].mean() - out[:, :30].mean()
    assert edge == pytest.approx(0.4, abs=0.02)
    np.testing.assert_allclose(guided_denoise(noisy, 0.0), noisy, atol=1e-4)  # no noise: nothing to remove


def test_guided_denoise_arguments(rng):
    img = rng.random((10, 12, 3))
    with pytest.raises(ValueError, match="noise has shape"):
        guided_denoise(img, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        guided_denoise(img, -0.1)
    assert guided_denoise(img, np.full((10, 12), 0.01)).dtype == np.float64


@pytest.mark.parametrize("function", [estimate_noise, filter_noise_level])
def test_noise_levels_refuse_what_skdce_does_not_take(function):
    """Signed, boolean and complex images gave 0 or a value after warnings, an empty one 0."""
    for bad in (np.full((8, 8, 3), 200, np.int16), np.zeros((8, 8, 3), bool), np.zeros((8, 8, 3), complex)):
        with pytest.raises(TypeError, match="image"):
            function(bad)
    with pytest.raises(ValueError, match=r"image is empty \(shape \(0, 8, 3\)\)"):
        function(np.zeros((0, 8, 3), np.float32))


def test_guided_denoise_names_a_noise_that_is_no_number():
    with pytest.raises(TypeError, match="noise must be a number or an array of numbers"):
        guided_denoise(np.zeros((8, 8, 3), np.float32), "a")


def test_filter_noise_level_is_the_level_enhance_filters_by(rng):
    """The public level, the curves' gain and guided_denoise give enhance's result by hand (a model without a
    black point); estimate_noise alone does not (it misses the 8-bit rounding floor here)."""
    img = np.round(noisy_scene(rng, 64, 80, level=0.02, sigma=0.002) * 255).astype(np.uint8)
    alphas = estimate_curves(img, model="zero-dce")
    mean_alphas = alphas.reshape(alphas.shape[:2] + (8, 3)).mean(axis=-1)
    gain = curve_gain(img.mean(axis=-1) / 255.0, mean_alphas, channel_axis=None)
    plain = enhance(img, model="zero-dce", denoise=0)
    expected = enhance(img, model="zero-dce")

    def by_hand(sigma):
        return guided_denoise(plain, sigma * np.sqrt(np.maximum(gain**2 - 1, 0)))

    level = filter_noise_level(img)
    assert level >= estimate_noise(img)
    np.testing.assert_allclose(by_hand(level), expected, atol=1e-4, rtol=0)
    assert np.abs(by_hand(estimate_noise(img)) - expected).max() > 1e-3
    batch = filter_noise_level(np.stack([img, img[::-1]]))
    assert batch.shape == (2,) and batch[0] == level


# --- enhance(denoise=...) ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce-int8", "zero-dce++"])
def test_denoise_off_is_plain_curves_bit_for_bit(rng, model):
    img = noisy_scene(rng)
    plain = apply_le_curves(img, estimate_curves(img, model=model))
    for off in (0, 0.0, None):
        np.testing.assert_array_equal(enhance(img, model=curves_only(model), denoise=off), plain)


@pytest.mark.parametrize("model", ["zero-dce-int8", "zero-dce++"])
def test_denoise_lowers_the_noise_the_curves_amplify(rng, model):
    img = noisy_scene(rng, 96, 128)
    plain = enhance(img, model=model, denoise=0)
    noise = [estimate_noise(enhance(img, model=model, denoise=d)) for d in (0.5, 1.0, 2.0)]
    assert noise[0] > noise[1] > noise[2]
    assert noise[1] < 0.5 * estimate_noise(plain)
    # the picture is the same one: brightness kept, only the noise is gone
    assert abs(float(enhance(img, model=model).mean() - plain.mean())) < 0.01


@pytest.mark.parametrize("h, w, tile", [(17, 33, 16), (61, 47, 20), (40, 100, 37)])
def test_denoised_tiles_join_exactly(rng, h, w, tile):
    """Tiles (even ones smaller than the halo) give the untiled result.

    The box filters keep running sums, whose float32 rounding depends on where a
    tile starts: equal to 1e-6 (a few ulp at 1), not bit for bit.
    """
    assert tile < 2 * (DENOISE_HALO + 7) or tile > 30
    img = noisy_scene(rng, h, w)
    np.testing.assert_allclose(enhance(img, tile_size=tile), enhance(img, tile_size=None), atol=1e-6, rtol=0)


def test_denoised_zero_dce_pp_tiles_join_exactly(rng, monkeypatch):
    img = noisy_scene(rng, 70, 90)
    whole = enhance(img, model="zero-dce++", scale_factor=4)
    calls = []
    real = enhance_mod.enhance_tile
    monkeypatch.setattr(enhance_mod, "enhance_tile", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    tiled = enhance(img, model="zero-dce++", scale_factor=4, tile_size=16)
    assert len(calls) == 5 * 6  # 70 x 90 in tiles of 16: the tiles really ran
    np.testing.assert_allclose(tiled, whole, atol=1e-6, rtol=0)


def test_denoise_layouts(rng):
    img = noisy_scene(rng)
    ref = enhance(img)
    u16 = np.round(img * 65535).astype(np.uint16)
    np.testing.assert_allclose(enhance(u16), enhance(u16 / np.float32(65535)), atol=2e-5)
    alpha = rng.random(img.shape[:2] + (1,)).astype(np.float32)
    rgba = enhance(np.concatenate([img, alpha], axis=-1))
    np.testing.assert_array_equal(rgba[..., 3], alpha[..., 0])
    np.testing.assert_allclose(rgba[..., :3], ref, atol=1e-6)
    gray = img.mean(axis=-1)
    g = enhance(gray, channel_axis=None)
    assert g.shape == gray.shape and g.dtype == np.float32
    np.testing.assert_allclose(enhance(gray[..., None])[..., 0], g, atol=1e-6)
    batch = np.stack([img, img[::-1].copy()])
    out = enhance(batch)
    np.testing.assert_allclose(out[0], ref, atol=1e-6)
    np.testing.assert_allclose(out[1], enhance(img[::-1].copy()), atol=1e-6)
    assert enhance(img.astype(np.float64)).dtype == np.float64
    np.testing.assert_allclose(np.moveaxis(enhance(np.moveaxis(img, -1, 0), channel_axis=0), 0, -1), ref, atol=1e-6)


@pytest.mark.parametrize("value, exc, match", [
    (-1, ValueError, r"denoise=-1 is out of range: denoise must be a real number in \[0, 4\]; None or 0 turns"),
    (5, ValueError, "out of range"),
    (np.nan, ValueError, "denoise=nan is not finite"),
    (np.inf, ValueError, "denoise=inf is not finite"),
    ("1", TypeError, r"denoise='1' \(str\) must be a real number in \[0, 4\]"),
    (True, TypeError, r"denoise=True \(bool\) must be"),
])
def test_bad_denoise(value, exc, match):
    with pytest.raises(exc, match=match):
        enhance(np.full((8, 8, 3), 0.1, np.float32), denoise=value)


def test_no_amplification_no_filtering(rng):
    """Where the curve does not amplify (strength 0: slope 1) the input's own grain stays."""
    img = noisy_scene(rng, level=0.3)
    np.testing.assert_allclose(enhance(img, strength=0.0), img, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_a_phone_jpeg_comes_out_about_as_clean_as_the_png(name):
    """A dark photo stored as a quality-90 JPEG with 4:2:0 chroma (as phones store them) keeps its luminance's
    noise in all three channels; enhanced, it must not come out much grainier than the same photo as PNG
    (measured by estimate_noise: 1.05-1.31x the PNG's noise per unit of brightness; 3.0-4.2x before the shared
    noise was read)."""
    import io

    from PIL import Image
    from skimage import data

    from skdce.data import darken

    low = np.round(darken(getattr(data, name)(), gain=0.1, seed=0) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(low).save(buf, "JPEG", quality=90)
    jpeg = np.asarray(Image.open(buf))

    def grain(x):
        out = enhance(x)
        return estimate_noise(out) / out.mean()

    assert grain(jpeg) < 1.6 * grain(low)


def test_a_gray_photo_comes_out_as_clean_as_its_rgb_copy():
    """Gray and the same photo in three channels: the same level and both stages of the filter, so the same grain
    (measured by estimate_noise: 1.01 times the RGB copy's; 1.37 times before the gray image took the second
    stage)."""
    from skimage import data

    from skdce.data import darken

    gray = np.round(darken(data.camera(), gain=0.1, seed=0, channel_axis=None) * 255).astype(np.uint8)
    one = enhance(gray, channel_axis=None)
    three = enhance(np.repeat(gray[..., None], 3, axis=-1))
    assert estimate_noise(one, channel_axis=None) < 1.2 * estimate_noise(three)
