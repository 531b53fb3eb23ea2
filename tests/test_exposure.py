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
