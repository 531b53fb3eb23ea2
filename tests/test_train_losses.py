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
