import numpy as np
import pytest
import torch

from skdce.engine.stages.tone import torch_black_lift, torch_remove_lift
from skdce.tone import EXPOSURE_RANGE, black_lift, check_exposure, exposure_alphas, finish_tone


def _le(x, alphas):
    for a in alphas:
        x = x + a * x * (1 - x)
    return x


@pytest.mark.parametrize("e", [-4.0, -2.5, -1.0, -0.3, 0.4, 1.0, 1.7, 2.0])
def test_exposure_moves_middle_grey_by_stops(e):
    alphas = exposure_alphas(e)
    assert len(alphas) == int(np.ceil(abs(e)))
    assert all(-1 <= a <= 1 for a in alphas)
    grey = 0.18 ** (1 / 2.2)
    out = _le(grey, alphas)
    assert out ** 2.2 == pytest.approx(0.18 * 2**e, rel=1e-9)
    x = np.linspace(0, 1, 1001)
    y = _le(x, alphas)  # monotonic, black and white fixed
    assert np.all(np.diff(y) >= 0) and y[0] == 0 and y[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [2.5, -5, float("nan"), "bright", None])
def test_exposure_rejects_bad_values(bad):
    with pytest.raises((ValueError, TypeError), match="exposure"):
        check_exposure(bad)


def test_check_exposure_auto():
    assert check_exposure("auto") == 0.0 and check_exposure(1) == 1.0
    assert EXPOSURE_RANGE == (-4.0, 2.0)


def test_black_lift_equals_torch(rng):
    small = rng.random((3, 9, 13, 3)) * 0.2
    after = small ** 0.5
    ref = black_lift(small, after)
    got = torch_black_lift(torch.from_numpy(small).permute(0, 3, 1, 2), torch.from_numpy(after).permute(0, 3, 1, 2))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-15)
    assert np.all(ref > 0)


def test_finish_tone_takes_the_lift_out(rng):
    y = rng.uniform(0.05, 1.0, (2, 70, 9, 3)).astype(np.float32)
    y[:, 0, 0] = 0.05
    y[:, 0, 1] = 1.0
    lift = np.array([[0.05, 0.02, 0.0], [0.1, 0.1, 0.1]])
    expect = np.maximum((y - lift[:, None, None]) / (1 - lift[:, None, None]), 0)
    got = finish_tone(y.copy(), lift, 0.0, num_threads=2)
    np.testing.assert_allclose(got, expect, rtol=2e-6, atol=2e-7)
    assert got[0, 0, 0, 0] == pytest.approx(0, abs=1e-7) and got[1, 0, 1].tolist() == pytest.approx([1, 1, 1])
    # twin of the training step
    t = torch_remove_lift(torch.from_numpy(y.astype(np.float64)).permute(0, 3, 1, 2), torch.from_numpy(lift))
    np.testing.assert_allclose(t.permute(0, 2, 3, 1).numpy(), expect, rtol=1e-6, atol=1e-7)


def test_finish_tone_exposure_and_identity(rng):
    y = rng.random((1, 5, 7, 3))
    assert finish_tone(y.copy(), None, 0.0) .tolist() == y.tolist()
    assert finish_tone(y.copy(), np.zeros((1, 3)), 0.0).tolist() == y.tolist()
    np.testing.assert_allclose(finish_tone(y.copy(), None, 1.3), np.clip(_le(y, exposure_alphas(1.3)), 0, 1),
                               rtol=1e-12)


@pytest.mark.parametrize("lift, match", [
    ([0.1, 0.2, 0.3], r"lift has shape \(3,\); finish_tone takes an \(N, C\) = \(1, 3\) array"),  # one image's (C,)
    ([[0.1, 1.0, 0.3]], r"lift must hold values in \[0, 1\)"),
    ([[0.1, np.nan, 0.3]], r"lift must hold values in \[0, 1\)"),
])
def test_finish_tone_checks_the_lift(lift, match):
    """A (C,) lift (model_black_lift's) was read as one number per image: channel 0's lift on every channel."""
    y = np.full((1, 2, 2, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=match):
        finish_tone(y, lift)
    assert np.all(y == 0.5)  # nothing written


def test_finish_tone_takes_float_images():
    with pytest.raises(TypeError, match=r"dtype uint8; finish_tone works in place on float32 or float64"):
        finish_tone(np.zeros((1, 2, 2, 3), np.uint8), [[0.1, 0.1, 0.1]])


@pytest.mark.parametrize("value, lift, match", [
    (np.nan, None, "image contains NaN"),
    (2.0, [[0.1, 0.1, 0.1]], r"image has values in \[2, 2\], outside \[0, 1\]; float images must lie in \[0, 1\]"),
    (-0.5, None, r"image has values in \[-0.5, -0.5\], outside \[0, 1\]"),
])
def test_finish_tone_checks_the_values(value, lift, match):
    y = np.full((1, 2, 2, 3), value, np.float32)
    with pytest.raises(ValueError, match=match):
        finish_tone(y, lift, 1.0)


def test_finish_tone_engine_stage_does_not_scan_the_values():
    """The engine calls its stage per batch on large images: the values are checked at the public edge only."""
    from skdce.engine.stages import tone as stage

    y = np.full((1, 2, 2, 3), 0.5, np.float32)
    y[0, 0, 0, 0] = np.nan
    assert stage.finish_tone(y, None, 1.0) is y


@pytest.mark.parametrize("image, exc, match", [
    (np.full((1, 2, 2, 3), 0.5).tolist(), TypeError,
     r"image is a list; finish_tone works in place on an ndarray: pass x = np.asarray\(image, np.float32\)"),
    ("a.png", TypeError, r"image is a str \('a.png'\); finish_tone takes an image array, not a file"),
    (np.full((2, 2, 3), 0.5), ValueError, r"image has shape \(2, 2, 3\); finish_tone takes a batch \(N, H, W, C\)"),
    (np.broadcast_to(np.float32(0.5), (1, 2, 2, 3)), ValueError,
     r"image is read-only; finish_tone works in place and needs a writable array: pass image.copy\(\)"),
])
def test_finish_tone_needs_a_writable_batch(image, exc, match):
    with pytest.raises(exc, match=match):
        finish_tone(image, None, 1.0)


def test_finish_tone_exposure_per_image(rng):
    y = rng.random((2, 3, 4, 3))
    both = finish_tone(y.copy(), None, [1.0, -1.0])
    np.testing.assert_array_equal(both[1:], finish_tone(y[1:].copy(), None, -1.0))
    np.testing.assert_array_equal(finish_tone(y.copy(), None, [0.5]), finish_tone(y.copy(), None, 0.5))
    with pytest.raises(ValueError, match=r"exposure has shape \(3,\); finish_tone takes one number for all 2 images "
                                         r"or one per image, shape \(2,\)"):
        finish_tone(y.copy(), None, [1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match=r"exposure='bright' must be numbers"):
        finish_tone(y.copy(), None, "bright")
    with pytest.raises(TypeError, match=r"lift=\[\['a', 'b', 'c'\]\] must be numbers"):
        finish_tone(y[:1].copy(), [["a", "b", "c"]])


@pytest.mark.parametrize("sigma, exc, match", [
    (np.nan, ValueError, "sigma=nan is not finite: sigma must be a real number >= 0"),
    (-0.01, ValueError, "sigma=-0.01 is out of range: sigma must be a real number >= 0"),
    (np.inf, ValueError, "sigma=inf is not finite"),
    ("0.1", TypeError, r"sigma='0.1' \(str\) must be a real number >= 0"),
])
def test_noise_limit_checks_sigma(sigma, exc, match):
    from skdce.tone import noise_limit

    with pytest.raises(exc, match=match):
        noise_limit(np.full((2, 2, 3), 0.8), np.full((2, 2, 3), 0.03), sigma, 8)


# ---- auto exposure (skdce.engine.stages.tone.auto_exposure) ----

def _p90(x):
    return np.percentile(np.asarray(x, np.float64).mean(axis=-1), 90)


def test_auto_exposure_brings_dim_highlights_to_the_level_and_leaves_good_ones(rng):
    from skdce.engine.stages.tone import AUTO_EXPOSURE_MAX, AUTO_EXPOSURE_TARGETS, auto_exposure, reference_finish_tone

    ((q, level),) = AUTO_EXPOSURE_TARGETS
    assert q == 90
    dim = rng.random((1, 20, 30, 3)) * 0.6  # p90 about 0.54: under-exposed
    good = rng.random((1, 20, 30, 3)) * 0.9 + 0.05  # p90 about 0.86: leave alone
    night = rng.random((1, 20, 30, 3)) * 0.02  # nothing to bring up within the range: the most stops
    stops = auto_exposure(np.concatenate([dim, good, night]))
    assert stops[1] == 0.0 and stops[2] == AUTO_EXPOSURE_MAX
    assert 0 < stops[0] < AUTO_EXPOSURE_MAX
    # the fewest stops (to 0.01) after which the 90th percentile reaches the level
    assert _p90(reference_finish_tone(dim, None, stops[0])) >= level - 1e-9
    assert _p90(reference_finish_tone(dim, None, stops[0] - 0.01)) < level


def test_auto_exposure_with_two_targets_stops_at_the_first_reached(rng):
    from skdce.engine.stages.tone import auto_exposure

    x = rng.random((1, 20, 30, 3)) * 0.3
    x[0, :2] = 0.95  # a lamp: a tenth of the pixels bright
    assert auto_exposure(x, targets=((90, 0.634),)) > 0
    assert auto_exposure(x, targets=((90, 0.634), (99, 0.76)))[0] == 0.0


def test_exposure_slope_and_the_denoisers_stretch():
    from skdce.engine.stages.tone import exposure_alphas, exposure_slope, noise_stretch

    assert exposure_slope(0.0) == 1.0
    a = exposure_alphas(1.0)
    assert exposure_slope(1.0) == pytest.approx(np.prod([1 + v for v in a]))  # at black: the largest
    x, eps = 0.3, 1e-6
    assert exposure_slope(1.0, 0.3) == pytest.approx((_le(x + eps, a) - _le(x - eps, a)) / (2 * eps), rel=1e-6)
    assert noise_stretch(None, 1.0) == pytest.approx(exposure_slope(1.0))
    assert noise_stretch(np.array([0.2, 0.1, 0.0]), 0.0) == pytest.approx(1 / 0.8)
    assert noise_stretch(None, -1.0) == 1.0  # darker: the filter is not weakened


def test_enhance_auto_exposure_against_model_and_numbers(monkeypatch):
    import skimage.data

    import skdce
    from skdce.data import darken

    photo = skimage.data.astronaut()[::4, ::4] / 255.0
    dim = darken(photo, gain=0.1, seed=0).astype(np.float32)
    auto, model = skdce.enhance(dim), skdce.enhance(dim, exposure="model")
    assert auto.mean() > model.mean() + 0.01  # its highlights stay dim after the curves: brought up
    np.testing.assert_array_equal(skdce.enhance(dim, exposure=0), auto)  # a number is stops more than auto
    assert skdce.enhance(dim, exposure=0.5).mean() > auto.mean() > skdce.enhance(dim, exposure=-0.5).mean()
    good = photo.astype(np.float32)
    np.testing.assert_array_equal(skdce.enhance(good), skdce.enhance(good, exposure="model"))  # nothing to add
    np.testing.assert_array_equal(skdce.enhance(dim, strength=0, denoise=0), dim)  # scaled by strength, as the curves
    lamps = dim.copy()
    lamps[60:64, 30:34] = lamps[60:64, 90:94] = 0.8  # two lamps, 5x the median, short of white: not held
    assert skdce.enhance(lamps).mean() > skdce.enhance(lamps, exposure="model").mean() + 0.01
    monkeypatch.setattr("skdce.engine.stages.tone.NOISE_LIFT_LIMIT", 1e9)  # (the noise limit: its own test)
    white = dim.copy()
    white[58:64, 28:34] = white[58:64, 88:94] = 1.0  # larger, at white: the exposure uses the whole range
    np.testing.assert_array_equal(skdce.enhance(white), skdce.enhance(white, exposure="model"))
    monkeypatch.setattr("skdce.engine.stages.tone.AUTO_EXPOSURE_LIGHT", 3.0)  # now they light the scene
    np.testing.assert_array_equal(skdce.enhance(lamps), skdce.enhance(lamps, exposure="model"))
    for spec in ("auto", "model"):
        assert check_exposure(spec) == 0.0


def test_auto_exposure_leaves_a_scene_lit_by_its_own_lights(rng):
    from skdce.engine.stages.tone import AUTO_EXPOSURE_LIGHT, auto_exposure

    scene = rng.random((1, 20, 30, 3)) * 0.04 + 0.02  # a dark scene, median about 0.04
    finished = scene * 6  # what the curves made of it: still dull highlights
    lamp = scene.copy()
    lamp[0, 3, 4] = 0.8  # one bright box on the small copy: over AUTO_EXPOSURE_LIGHT times the median
    assert 0.8 / np.median(scene.mean(axis=-1)) > AUTO_EXPOSURE_LIGHT
    assert auto_exposure(finished, small_input=scene)[0] > 0
    assert auto_exposure(finished, small_input=lamp)[0] == 0.0
    assert auto_exposure(finished, small_input=lamp, light=1e3)[0] > 0


def test_auto_exposure_leaves_a_scene_that_reaches_white_over_an_area():
    from skdce.engine.stages.tone import AUTO_EXPOSURE_WHITE, WHITE_AREA, auto_exposure, lit_by_a_light, white_areas

    room = np.full((1, 40, 50, 3), 0.3)  # a dim room (2000 boxes): its highlights stay dull after the curves
    room[0, :, :8] = np.linspace(0.1, 0.5, 8)[None, :, None]
    full = auto_exposure(room, small_input=room)[0]
    assert full > 0.5 and white_areas(room)[0] == 0.0
    for boxes, level, share in ((1, 1.0, 1.0), (2, 1.0, 2 / 3), (4, 1.0, 0.0), (4, AUTO_EXPOSURE_WHITE, 2 / 3)):
        window = room.copy()
        window[0, 2, 3 : 3 + boxes] = level  # a white window of 0.05%, 0.1%, 0.2% of the picture; or grey
        assert not lit_by_a_light(window)[0]  # no light by the older rule
        assert white_areas(window)[0] == pytest.approx(boxes / 2000 * (0.5 if level < 1 else 1.0))
        assert auto_exposure(room, small_input=window)[0] == pytest.approx(full * share, abs=0.006)
    assert WHITE_AREA == (0.0005, 0.002)
    assert auto_exposure(room, small_input=window, whites=[0.0])[0] == full  # the given white area is read
    window[0, 2, 3:7] = 1.0
    assert auto_exposure(room, small_input=window, light=1e3)[0] == 0.0  # held by white, not by a light


def lamp_scene(spot="lamp", shift=0):
    """A dark 512x512 photo with a white ``"lamp"`` (32x32 pixels, 0.39% of the picture), a ``"half"`` lamp
    (18x18, 0.12%: about half the stops), a ``"glint"`` (6x6) or ``"salt"`` (0.02% of the pixels white),
    ``shift`` pixels down and right."""
    import skimage.data

    from skdce.data import darken

    x = darken(skimage.data.astronaut() / 255.0, gain=0.1, seed=0).astype(np.float32)
    if spot == "salt":
        x[np.random.default_rng(0).random(x.shape[:2]) < 0.0002] = 1.0
    else:
        size = {"lamp": 32, "half": 18, "glint": 6}[spot]
        x[300 + shift : 300 + shift + size, 200 + shift : 200 + shift + size] = 1.0
    return x


def test_auto_exposure_reads_an_area_of_white():
    import skdce
    from skdce.engine.stages.network import image_whites, small_copies
    from skdce.engine.stages.tone import WHITE_AREA, lit_by_a_light, white_share, white_size

    assert white_size(512, 512) == (512, 512) and white_size(400, 600) == (342, 512)
    scenes = {spot: lamp_scene(spot) for spot in ("lamp", "half", "glint", "salt")}
    for x in scenes.values():
        assert not lit_by_a_light(small_copies(x[None], 3, 8.0)[0])[0]  # no light by the older rule
    areas = dict(zip(scenes, image_whites(np.stack(list(scenes.values())), 3), strict=True))
    assert areas["lamp"] > WHITE_AREA[1] and WHITE_AREA[0] < areas["half"] < WHITE_AREA[1]
    assert max(areas["glint"], areas["salt"]) < WHITE_AREA[0]  # a glint, hot pixels
    # wherever a lamp falls, on a 600x400 photo too (boxes of 1.2 pixels), its area is nearly the same
    for size in (512, 600):
        base = np.zeros((size * 2 // 3, size, 3), np.float32) + 0.1
        shares = []
        for shift in range(4):
            x = base.copy()
            x[100 + shift : 114 + shift, 200 + shift : 214 + shift] = 1.0  # 14x14: on the ramp
            shares.append(white_share(image_whites(x[None], 3))[0])
        assert 0.1 < min(shares) <= max(shares) < 0.95 and max(shares) - min(shares) < 0.1
    # the call reads it: the lamp's scene keeps the curves' exposure, the glint's and the salt's are brought up,
    # the half lamp's by about half the stops
    model = {spot: skdce.enhance(x, exposure="model").mean() for spot, x in scenes.items()}
    auto = {spot: skdce.enhance(x).mean() for spot, x in scenes.items()}
    np.testing.assert_array_equal(skdce.enhance(scenes["lamp"]), skdce.enhance(scenes["lamp"], exposure="model"))
    assert auto["glint"] > model["glint"] + 0.02 and auto["salt"] > model["salt"] + 0.02
    assert model["half"] + 0.01 < auto["half"] < auto["glint"] - 0.01


def test_auto_exposure_is_decided_per_image_of_a_batch():
    import skimage.data

    import skdce
    from skdce.data import darken

    dim = darken(skimage.data.astronaut()[::4, ::4] / 255.0, gain=0.1, seed=0).astype(np.float32)
    good = (skimage.data.astronaut()[::4, ::4] / 255.0).astype(np.float32)
    out = skdce.enhance(np.stack([dim, good]))
    np.testing.assert_array_equal(out[0], skdce.enhance(dim))  # brightened
    np.testing.assert_array_equal(out[1], skdce.enhance(good, exposure="model"))  # left as the curves made it
    assert skdce.enhance(dim).mean() > skdce.enhance(dim, exposure="model").mean() + 0.01


def test_noise_limit_keeps_the_slope_within_the_limit(rng):
    from skdce.engine.stages.tone import NOISE_LIFT_LIMIT, curve_slope, noise_limit

    small = rng.random((12, 16, 3)) * 0.2
    maps = rng.random((12, 16, 3)) * 1.2 - 0.2  # some negative: left alone
    sigma = 0.02
    f = noise_limit(maps, small, sigma, 8)
    assert f.shape == (12, 16) and f.dtype == np.float32 and np.all((f > 0) & (f <= 1))
    level, a = small.mean(axis=-1), maps.mean(axis=-1)
    slope = curve_slope(level, np.where(a > 0, a * f, a), 8)
    assert np.all(slope[a > 0] <= NOISE_LIFT_LIMIT / sigma * (1 + 1e-6))
    limited = f < 1
    assert limited.any() and not limited.all()
    # where it binds it is tight: a hair more alpha would cross the limit
    assert np.all(curve_slope(level, a * np.minimum(f * 1.001, 1.0), 8)[limited] > NOISE_LIFT_LIMIT / sigma)
    assert np.all(noise_limit(maps, small, 0.0, 8) == 1)  # no noise, no limit
    assert curve_slope(0.0, 1.0, 8) == 2.0**8  # (1 + a) ** 8 at black


def night_scene(seed=0, noise=0.04):
    """A dark, noisy sky over a street with two lamps, as a float32 image (and its clean version)."""
    rng = np.random.default_rng(seed)
    clean = np.full((96, 128, 3), 0.03, np.float32)
    clean[64:] = 0.08  # the street
    clean[70:74, 30:34] = clean[70:74, 90:94] = 1.0  # lamps
    noisy = np.clip(clean + noise * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    return noisy, clean


def test_auto_exposure_does_not_lift_a_noisy_sky_into_grain(monkeypatch):
    import skdce

    noisy, clean = night_scene()
    sky = (slice(0, 60), slice(None))
    out = skdce.enhance(noisy)
    assert out[sky].mean() < skdce.enhance(noisy, exposure="model")[sky].mean() - 0.03
    for fused in (False, True):  # every driver limits alike
        np.testing.assert_allclose(skdce.enhance(noisy, fused=fused, providers="cpu"), out, atol=2.5e-2)
    da = pytest.importorskip("dask.array")
    np.testing.assert_allclose(skdce.enhance(da.from_array(noisy, chunks=(40, 50, 3))).compute(), out, atol=2e-6)
    # a clean dark scene is lifted as before: the limit is on noise, not on darkness
    np.testing.assert_array_equal(skdce.enhance(clean), skdce.enhance(clean, exposure="model"))
    pytest.importorskip("av")
    from skdce.video import VideoEnhancer

    frame = VideoEnhancer(fps=12).push(noisy)  # the video path too
    assert abs(frame[sky].mean() - out[sky].mean()) < 0.02
    monkeypatch.setattr("skdce.engine.stages.tone.NOISE_LIFT_LIMIT", 1e9)
    assert skdce.enhance(noisy)[sky].mean() > out[sky].mean() + 0.03
    assert VideoEnhancer(fps=12).push(noisy)[sky].mean() > frame[sky].mean() + 0.03
