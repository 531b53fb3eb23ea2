"""The default model's tone stages inside ``skdce.enhance``: exposure, black point, network size, denoiser choice."""

import dataclasses

import numpy as np
import pytest

import skdce
from skdce.data import darken, low_light_sample
from skdce.engine.stages.network import resolve_scale as _resolve_scale

DARK = low_light_sample("chelsea")


def test_exposure_moves_the_result_and_auto_is_the_default():
    auto = skdce.enhance(DARK)
    np.testing.assert_array_equal(skdce.enhance(DARK, exposure="auto"), auto)
    np.testing.assert_array_equal(skdce.enhance(DARK, exposure=0), auto)
    darker, brighter = skdce.enhance(DARK, exposure=-1), skdce.enhance(DARK, exposure=1)
    assert darker.mean() < auto.mean() - 0.05 and brighter.mean() > auto.mean() + 0.05
    assert brighter.max() <= 1 and darker.min() >= 0
    # one stop at middle grey: the median's linear value doubles, roughly
    ratio = np.median(brighter) ** 2.2 / np.median(auto) ** 2.2
    assert 1.6 < ratio < 2.4


@pytest.mark.parametrize("bad", [3, -5, "bright", float("nan")])
def test_exposure_errors_name_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="exposure"):
        skdce.enhance(DARK, exposure=bad)


def test_exposure_on_a_dask_array_equals_numpy():
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(DARK, chunks=(150, 226, 3))
    np.testing.assert_allclose(skdce.enhance(lazy, exposure=0.5).compute(), skdce.enhance(DARK, exposure=0.5),
                               atol=2e-6)


def test_the_default_model_sees_a_fixed_size():
    info = skdce.get_model(skdce.models.DEFAULT_MODEL)
    assert info.net_size == 64 and info.shared_curve
    assert _resolve_scale(None, info, (400, 600)) == pytest.approx(600 / 64)
    assert _resolve_scale(None, info, (3000, 4000)) == pytest.approx(4000 / 64)
    assert _resolve_scale(None, info, (30, 20)) == 1.0  # never upscaled
    assert _resolve_scale(12.0, info, (3000, 4000)) == 12.0  # an explicit scale_factor wins
    old = dataclasses.replace(info, net_size=None)
    assert _resolve_scale(None, old, (3000, 4000)) == info.scale_factor


def test_the_result_does_not_depend_on_the_resolution():
    # the same scene at 1x and 3x (box-upscaled): the network sees the same 64-pixel copy
    small = DARK[:240, :384]
    big = np.repeat(np.repeat(small, 3, axis=0), 3, axis=1)
    a = skdce.enhance(small, denoise=0)
    b = skdce.enhance(big, denoise=0)[1::3, 1::3]
    assert abs(a.mean() - b.mean()) < 0.01


def test_black_point_takes_the_lift_out_and_leaves_good_photos():
    info = skdce.get_model(skdce.models.DEFAULT_MODEL)
    assert 0 < info.black_point <= 1
    off = dataclasses.replace(info, black_point=0.0)
    with_bp, without = skdce.enhance(DARK, model=info), skdce.enhance(DARK, model=off)
    assert np.percentile(with_bp.mean(-1), 1) < np.percentile(without.mean(-1), 1) - 0.01
    import skimage.data

    good = skimage.data.chelsea()
    a, b = skdce.enhance(good, model=info), skdce.enhance(good, model=off)
    assert np.abs(a - b).mean() < 0.01  # curves near the identity lift nothing


def test_learned_denoiser_option():
    guided = skdce.enhance(DARK)
    learned = skdce.enhance(DARK, denoiser="learned")
    assert learned.shape == guided.shape and not np.array_equal(learned, guided)
    assert abs(learned.mean() - guided.mean()) < 0.02
    with pytest.raises(ValueError, match="denoiser='median' is unknown"):
        skdce.enhance(DARK, denoiser="median")
    with pytest.raises(ValueError, match="runs on the host path"):
        skdce.enhance(DARK.astype(np.float32) / 255, denoiser="learned", fused=True)


def test_brighter_than_the_previous_default_on_a_darkened_photo():
    import skimage.data

    photo = skimage.data.astronaut()
    low = np.round(darken(photo, gain=0.1, seed=1) * 255).astype(np.uint8)
    out = skdce.enhance(low)
    assert out.mean() > skdce.enhance(low, model="zero-dce-int8").mean()


def test_double_strength_on_a_black_frame():
    """Auto exposure's stops scale with ``strength``: a black frame (a video fading in) gets the most, 1.5, so 3
    at strength 2, more than the tone steps take. The steps apply them kept in range, and the denoiser is
    stretched by the same, on every path (this raised "exposure=3.0 is out of range" before, a number the user
    never gave)."""
    from skdce.engine.host import shared_maps, tone_stretch
    from skdce.engine.plan import make_plan
    from skdce.engine.stages.network import small_copies
    from skdce.engine.stages.tone import AUTO_EXPOSURE_MAX, EXPOSURE_RANGE, noise_stretch

    black = np.zeros((48, 64, 3), np.uint8)
    plan = make_plan(black, strength=2.0)
    assert shared_maps(plan, small_copies(black[None], 3, plan.scale))[2][0] == 2 * AUTO_EXPOSURE_MAX
    for fused in (False, True):
        out = skdce.enhance(black, strength=2, fused=fused, providers="cpu")
        assert out.shape == black.shape and out.max() == 0  # black stays black
    plan = make_plan(black, strength=2.0, exposure=0.5)
    lifts = np.array([[0.1, 0.1, 0.1]])
    assert tone_stretch(plan, lifts, np.array([3.0]), 0) == noise_stretch(lifts[0], EXPOSURE_RANGE[1])
    assert tone_stretch(plan, None, np.array([0.2]), 0) == noise_stretch(None, 0.7)  # the user's stops count too
    pytest.importorskip("av")
    from skdce.video import VideoEnhancer

    video = VideoEnhancer(strength=2.0, fps=12)
    assert video.push(black).max() == 0
    assert video.push(DARK).mean() > DARK.mean() / 255


@pytest.mark.parametrize("source", ["noise", "photo"])
def test_a_stronger_strength_is_never_darker(source):
    """Auto exposure is measured on the model's own result and scaled by strength: a weaker strength once earned
    more stops than it lost (uniform noise at 0.2: mean 0.398 at strength 0.75, 0.340 at 1)."""
    if source == "noise":
        image = (np.random.default_rng(0).random((40, 60, 3)) * 0.2).astype(np.float32)
    else:
        image = low_light_sample("astronaut")[::2, ::2]
    means = [float(skdce.enhance(image, strength=s).mean()) for s in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.5, 2.0)]
    assert np.all(np.diff(means) > 0), means
