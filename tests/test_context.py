"""The illumination context: skdce.engine.stages.boxes against values worked out by hand, skdce.context's checks."""

import numpy as np
import pytest

from skdce.context import illumination_context as public_context
from skdce.engine.stages.boxes import CONTEXT_GRIDS, ContextMap, box_downscale, context_size, illumination_context


@pytest.mark.parametrize("h, w, grid, expected", [(400, 600, 1, (1, 1)), (400, 600, 2, (2, 2)), (100, 600, 2, (1, 2)),
                                                  (600, 100, 2, (2, 1)), (1, 1, 2, (1, 1)), (3, 2, 16, (3, 2))])
def test_context_size(h, w, grid, expected):
    assert context_size(h, w, grid) == expected


@pytest.mark.parametrize("dtype, value, level", [(np.float32, 0.3, 0.3), (np.uint8, 51, 0.2), (np.uint16, 13107, 0.2)])
def test_uniform_image_is_its_own_context(dtype, value, level):
    img = np.full((2, 19, 27, 3), value, dtype)
    ctx = illumination_context(img)
    assert ctx.shape == (2, 19, 27) and ctx.dtype == np.float32
    np.testing.assert_allclose(ctx, level, rtol=1e-6)  # integers on the [0, 1] scale of their dtype


def test_context_is_the_gray_level():
    img = np.zeros((1, 8, 8, 3), np.float32)
    img[..., 0] = 0.9  # a red image: gray = channel mean
    np.testing.assert_allclose(illumination_context(img), 0.3, rtol=1e-6)


def test_bright_half_is_not_lowered_to_the_mean():
    """Left half 0.2, right half 0.6: the whole-image mean is 0.4, the halves' upsampling ramps from 0.2 to 0.6."""
    h, w = 10, 40
    img = np.full((1, h, w, 3), 0.2, np.float32)
    img[:, :, w // 2 :] = 0.6
    ctx = illumination_context(img)[0]
    # half-pixel bilinear between the two cells' centres (columns 9.5 and 29.5), clamped outside them
    cols = np.clip((np.arange(w) + 0.5) / (w / 2) - 0.5, 0, 1)
    expected = np.maximum(0.4, 0.2 + 0.4 * cols)
    np.testing.assert_allclose(ctx, np.broadcast_to(expected, (h, w)), atol=1e-6)
    assert ctx[:, 0].max() == pytest.approx(0.4) and ctx[:, -1].min() == pytest.approx(0.6)


def test_grids_computed_elsewhere_give_the_same_map(rng):
    """ContextMap from precomputed box means (the Dask path) equals the one from the image; blocks tile it."""
    img = rng.random((2, 23, 31, 3)).astype(np.float32)
    whole = ContextMap(img)
    grids = [box_downscale(img, context_size(23, 31, g)) for g in CONTEXT_GRIDS]
    parts = ContextMap(None, grids=grids, size=(23, 31))
    assert whole.shape == parts.shape == (2, 23, 31)
    full = illumination_context(img)
    for b, r0, r1, c0, c1 in [(0, 0, 23, 0, 31), (1, 4, 9, 10, 31), (1, 22, 23, 0, 1)]:
        np.testing.assert_array_equal(parts.block(b, r0, r1, c0, c1), whole.block(b, r0, r1, c0, c1))
        np.testing.assert_array_equal(whole.block(b, r0, r1, c0, c1), full[b, r0:r1, c0:c1])


@pytest.mark.parametrize("image, match", [
    (np.full((4, 4, 3), 200, np.int16), "image has signed integer dtype int16; skdce takes unsigned integer"),
    (np.full((4, 4, 3), -5, np.int8), "image has signed integer dtype int8"),
    (np.ones((4, 4, 3), bool), "image has dtype bool, which is not an image dtype"),
    (np.full((4, 4, 3), 0.5 + 1j), "image has dtype complex128, which is not an image dtype"),
    (np.full((4, 4, 3), 0.5, object), "image has dtype object, which is not an image dtype"),
])
def test_public_context_refuses_non_image_dtypes(image, match):
    """skdce.illumination_context checks the dtype as apply_le_curves does (it promised [0, 1] and returned 200)."""
    with pytest.raises(TypeError, match=match):
        public_context(image)
