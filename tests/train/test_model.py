"""skdce.train.model: the torch twins of the curve and of the illumination context equal NumPy's."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skdce import apply_le_curves  # noqa: E402
from skdce.train.model import apply_le_curves_torch  # noqa: E402

from .._helpers import nchw  # noqa: E402


@pytest.mark.parametrize("k", [1, 8])
def test_curve_equals_numpy(rng, k):
    img = rng.random((2, 9, 11, 3))
    a = rng.uniform(-1, 1, (2, 9, 11, 3 * k))
    ref = apply_le_curves(img, a)
    got = apply_le_curves_torch(nchw(img), nchw(a)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("h, w", [(16, 16), (37, 45), (400, 600), (5, 300)])
def test_context_equals_numpy(rng, h, w):
    from skdce.engine.stages.boxes import illumination_context, torch_illumination_context

    img = rng.random((2, h, w, 3)).astype(np.float32) * np.float32(0.6)
    ref = illumination_context(img)
    got = torch_illumination_context(nchw(img))[:, 0].numpy()
    np.testing.assert_allclose(got, ref, atol=2e-6)

