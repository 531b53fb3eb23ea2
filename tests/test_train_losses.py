"""The torch twins of the losses and of the curve equal the NumPy oracle (float64)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skdce import apply_le_curves, losses  # noqa: E402
from skdce.train import losses as tlosses  # noqa: E402
from skdce.train.model import apply_le_curves_torch  # noqa: E402

SHAPES = [(1, 16, 16), (2, 37, 45), (3, 64, 48)]


def nchw(a):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 1)))


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
    for r, g in zip(ref_total, got_total):
        assert float(g) == pytest.approx(r, rel=1e-10, abs=1e-11)


def test_color_gradient_is_finite_on_gray():
    gray = torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64, requires_grad=True)
    tlosses.color_constancy_loss(gray).backward()
    assert torch.isfinite(gray.grad).all()


@pytest.mark.parametrize("k", [1, 8])
def test_curve_equals_numpy(rng, k):
    img = rng.random((2, 9, 11, 3))
    a = rng.uniform(-1, 1, (2, 9, 11, 3 * k))
    ref = apply_le_curves(img, a)
    got = apply_le_curves_torch(nchw(img), nchw(a)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-12)


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
    for r, g in zip(ref_total, got_total):
        assert float(g) == pytest.approx(r, rel=1e-10, abs=1e-12)


def test_adaptive_color_weighs_darkness():
    cast = np.zeros((1, 8, 8, 3)) + [0.6, 0.4, 0.3]
    dark, dim, bright = (losses.adaptive_color_loss(cast, np.full((1, 8, 8), c), level=0.4) for c in (0.0, 0.2, 0.5))
    assert dark > dim > bright == 0.0  # a well-exposed photo's colour is its own
    assert dim == pytest.approx(0.5 * dark)
    linear = (np.array([0.6, 0.4, 0.3]) ** 2.2)
    d = linear[:, None] - linear[None, :]
    assert dark == pytest.approx(np.sqrt((d[0, 1] ** 4 + d[0, 2] ** 4 + d[1, 2] ** 4)))
    with pytest.raises(ValueError, match="pass the input's context"):
        losses.zero_reference_loss(cast, cast, np.zeros((1, 8, 8, 24)), color="adaptive")
    with pytest.raises(ValueError, match="color='sepia' is unknown"):
        losses.zero_reference_loss(cast, cast, np.zeros((1, 8, 8, 24)), color="sepia")


def test_soft_knee():
    img = np.full((1, 16, 16, 3), 0.3)
    target = lambda c, knee: losses.exposure_target(img, np.full((1, 16, 16), c), level=0.45, knee=knee)[0, 0, 0]  # noqa: E731
    ctx = np.linspace(0.05, 0.449, 30)
    lifts = [target(c, 0.2) / target(c, None) for c in ctx]  # the soft target never lifts more than the hard one
    assert all(x <= 1 + 1e-12 for x in lifts)
    assert target(0.1, 0.2) == pytest.approx(target(0.1, None))  # below the knee: the full lift
    assert target(0.3, 0.2) < target(0.3, None)
    assert target(0.449, 0.2) == pytest.approx(0.3, rel=1e-3)  # fades to no lift at the level
    # continuous in the context: no step that the network would learn as a seam
    fine = np.linspace(0.1, 0.5, 400)
    values = np.array([target(c, 0.2) for c in fine])
    assert np.abs(np.diff(values)).max() < 0.01
    with pytest.raises(ValueError, match=r"knee=0.5 is out of range: knee must be a real number in \(0, 0.45\)"):
        losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.45, knee=0.5)


def test_adaptive_target_branches():
    img = np.full((1, 16, 16, 3), 0.2)
    kept = losses.exposure_target(img, np.full((1, 16, 16), 0.5), level=0.43, level_high=0.7)
    lifted = losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.43, level_high=0.7)
    lowered = losses.exposure_target(np.full((1, 16, 16, 3), 0.9), np.full((1, 16, 16), 0.9), level=0.43, level_high=0.7)
    assert kept[0, 0, 0] == pytest.approx(0.2)  # well-exposed surroundings: the patch is its own target
    assert lifted[0, 0, 0] == pytest.approx(0.43)  # dark surroundings: lifted to the level
    assert lowered[0, 0, 0] == pytest.approx(0.7)  # over-exposed: lowered to the upper level
    with pytest.raises(ValueError, match="0 < level < level_high < 1"):
        losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.8, level_high=0.7)
    with pytest.raises(ValueError, match="context has shape"):
        losses.exposure_target(img, np.full((1, 8, 16), 0.2))


@pytest.mark.parametrize("h, w", [(16, 16), (37, 45), (400, 600), (5, 300)])
def test_context_equals_numpy(rng, h, w):
    from skdce._context import illumination_context
    from skdce.train.model import illumination_context_torch

    img = rng.random((2, h, w, 3)).astype(np.float32) * np.float32(0.6)
    ref = illumination_context(img)
    got = illumination_context_torch(nchw(img))[:, 0].numpy()
    np.testing.assert_allclose(got, ref, atol=2e-6)
