"""skdce.train.losses: the torch twins of the losses equal the NumPy oracle, skdce.losses (float64)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skdce import losses  # noqa: E402
from skdce.train import losses as tlosses  # noqa: E402

from .._helpers import nchw  # noqa: E402

SHAPES = [(1, 16, 16), (2, 37, 45), (3, 64, 48)]



@pytest.mark.parametrize("n, h, w", SHAPES)
def test_losses_equal_numpy(rng, n, h, w):
    orig = rng.random((n, h, w, 3)) * 0.4
    enh = rng.random((n, h, w, 3))
    alphas = rng.uniform(-1, 1, (n, h, w, 24))
    e, o, a = nchw(enh), nchw(orig), nchw(alphas)
    pairs = [
        (losses.spatial_consistency_loss(enh, orig), tlosses.spatial_consistency_loss(e, o)),
        (losses.exposure_control_loss(enh, level=0.55, patch_size=8), tlosses.exposure_control_loss(e, 0.55, 8)),
        (losses.color_constancy_loss(enh), tlosses.color_constancy_loss(e)),
        (losses.illumination_smoothness_loss(alphas), tlosses.illumination_smoothness_loss(a)),
    ]
    for ref, got in pairs:
        assert got.dtype == torch.float64
        assert float(got) == pytest.approx(ref, rel=1e-10, abs=1e-11)
    ref_total = losses.zero_reference_loss(enh, orig, alphas)
    got_total = tlosses.zero_reference_loss(e, o, a)
    for r, g in zip(ref_total, got_total, strict=True):
        assert float(g) == pytest.approx(r, rel=1e-10, abs=1e-11)


def test_color_gradient_is_finite_on_gray():
    gray = torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64, requires_grad=True)
    tlosses.color_constancy_loss(gray).backward()
    assert torch.isfinite(gray.grad).all()


@pytest.mark.parametrize("knee", [None, 0.2])
@pytest.mark.parametrize("n, h, w", SHAPES)
def test_adaptive_exposure_equals_numpy(rng, n, h, w, knee):
    # inputs from very dark to over-exposed, so all three branches of the target are taken
    orig = rng.random((n, h, w, 3)) * rng.uniform(0.05, 1.0, (n, 1, 1, 1))
    context = rng.uniform(0.01, 0.95, (n, h, w))
    enh = rng.random((n, h, w, 3))
    kw = dict(level=0.45, level_high=0.7, patch_size=8, knee=knee)
    ref = losses.adaptive_exposure_loss(enh, orig, context, **kw)
    got = tlosses.adaptive_exposure_loss(nchw(enh), nchw(orig), torch.from_numpy(context)[:, None], 0.45, 0.7, 8, knee)
    assert float(got) == pytest.approx(ref, rel=1e-10)
    target = losses.exposure_target(orig, context, **kw)
    got_t = tlosses.exposure_target_torch(nchw(orig), torch.from_numpy(context)[:, None], 0.45, 0.7, 8, knee)[:, 0]
    np.testing.assert_allclose(got_t.numpy(), target, rtol=1e-12)
    ref_total = losses.zero_reference_loss(enh, orig, rng.uniform(-1, 1, (n, h, w, 24)), context=context, **kw)
    assert ref_total.exposure == pytest.approx(10.0 * ref, rel=1e-12)


@pytest.mark.parametrize("n, h, w", SHAPES)
def test_adaptive_color_equals_numpy(rng, n, h, w):
    enh = rng.random((n, h, w, 3)) * rng.uniform(0.2, 1.0, (n, 1, 1, 3))  # a different cast per image
    context = rng.uniform(0.0, 0.6, (n, 1, 1)) * np.ones((n, h, w))
    ctx = torch.from_numpy(context)[:, None]
    ref = losses.adaptive_color_loss(enh, context, level=0.45)
    assert ref > 0
    got = tlosses.adaptive_color_loss(nchw(enh), ctx, 0.45)
    assert float(got) == pytest.approx(ref, rel=1e-10, abs=1e-15)
    alphas = rng.uniform(-1, 1, (n, h, w, 24))
    kw = dict(context=context, level=0.45, knee=0.2, color="adaptive")
    ref_total = losses.zero_reference_loss(enh, enh, alphas, **kw)
    got_total = tlosses.zero_reference_loss(nchw(enh), nchw(enh), nchw(alphas), context=ctx, level=0.45, knee=0.2,
                                            color="adaptive")
    assert ref_total.color == pytest.approx(5.0 * ref, rel=1e-12)
    for r, g in zip(ref_total, got_total, strict=True):
        assert float(g) == pytest.approx(r, rel=1e-10, abs=1e-12)



@pytest.mark.parametrize("n, h, w", SHAPES)
def test_prior_color_equals_numpy(rng, n, h, w):
    enh = rng.random((n, h, w, 3)) * rng.uniform(0.2, 1.0, (n, 1, 1, 3))
    context = rng.uniform(0.0, 0.6, (n, 1, 1)) * np.ones((n, h, w))
    ctx = torch.from_numpy(context)[:, None]
    prior = {"mean": (0.05, -0.1), "cov": ((0.02, -0.01), (-0.01, 0.04))}
    ref = losses.prior_color_loss(enh, context, level=0.48, prior=prior)
    assert ref > 0
    got = tlosses.prior_color_loss(nchw(enh), ctx, 0.48, prior)
    assert float(got) == pytest.approx(ref, rel=1e-10, abs=1e-15)
    alphas = rng.uniform(-1, 1, (n, h, w, 3))
    ref_total = losses.zero_reference_loss(enh, enh, alphas, context=context, level=0.48, color="prior",
                                           color_prior=prior)
    got_total = tlosses.zero_reference_loss(nchw(enh), nchw(enh), nchw(alphas), context=ctx, level=0.48,
                                            color="prior", color_prior=prior)
    for r, g in zip(ref_total, got_total, strict=True):
        assert float(g) == pytest.approx(r, rel=1e-10, abs=1e-12)


def test_prior_color_prefers_the_prior_mean():
    # an image whose linear channel means sit on the prior's mean costs nothing; grey costs more
    mean = losses.COLOR_PRIOR["mean"]
    j = np.array([np.exp(mean[0]), 1.0, np.exp(mean[1])]) * 0.1
    warm = np.ones((4, 4, 3)) * j ** (1 / losses.SRGB_GAMMA)
    dark = np.zeros((4, 4))
    assert losses.prior_color_loss(warm, dark) == pytest.approx(0.0, abs=1e-8)
    assert losses.prior_color_loss(np.full((4, 4, 3), 0.3), dark) > 0.1


@pytest.mark.parametrize("prior", [{"mean": (0, 0)}, {"mean": (0, 0, 0), "cov": np.eye(2)},
                                   {"mean": (0, 0), "cov": -np.eye(2)}, "grey"])
def test_prior_color_rejects_bad_priors(prior):
    with pytest.raises(ValueError, match="color_prior"):
        losses.prior_color_loss(np.full((4, 4, 3), 0.3), np.zeros((4, 4)), prior=prior)
