"""The image conventions of skdce._base.image, checked through the helpers and apply_le_curves."""

import numpy as np
import pytest

from skdce import apply_le_curves
from skdce._base.image import compute_dtype, image_layout, to_float


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.uint8, np.float32),
        (np.uint16, np.float32),
        (np.uint32, np.float32),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
def test_compute_dtype(dtype, expected):
    assert compute_dtype(np.dtype(dtype)) == np.dtype(expected)
    out = apply_le_curves(np.zeros((2, 3, 3), dtype), 0.5)
    assert out.dtype == np.dtype(expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integers_scale_by_dtype_max(dtype):
    top = np.iinfo(dtype).max
    img = np.array([[[0, top // 2, top]]], dtype)
    out = to_float(img)
    np.testing.assert_allclose(out, [[[0.0, (top // 2) / top, 1.0]]], rtol=1e-6)
    # alpha = 0 is the identity curve: integer input comes back scaled, nothing else
    np.testing.assert_allclose(apply_le_curves(img, 0.0), out, rtol=1e-6)


@pytest.mark.parametrize(
    "dtype, match",
    [
        (np.int16, "signed integer dtype int16.*rescale_intensity"),
        (np.complex64, "dtype complex64, which is not an image dtype"),
        (object, "dtype object, which is not an image dtype"),
        (bool, "dtype bool, which is not an image dtype"),
    ],
)
def test_bad_dtypes(dtype, match):
    with pytest.raises(TypeError, match=match):
        apply_le_curves(np.zeros((2, 2, 3), dtype=dtype), 0.5)


@pytest.mark.parametrize(
    "value, match",
    [
        (np.nan, "image contains NaN.*nan_to_num"),
        (np.inf, "image contains inf"),
        (1.5, r"image has values in \[.*1\.5\], outside \[0, 1\].*rescale_intensity"),
        (-0.25, r"image has values in \[-0\.25.*outside \[0, 1\]"),
    ],
)
def test_bad_float_values(value, match):
    img = np.full((4, 5, 3), 0.5, np.float32)
    img[1, 2, 0] = value
    with pytest.raises(ValueError, match=match):
        apply_le_curves(img, 0.5)
    with pytest.raises(ValueError, match=match):
        to_float(img)


@pytest.mark.parametrize("shape", [(0, 4, 3), (4, 0, 3), (0,)])
def test_empty(shape):
    with pytest.raises(ValueError, match="empty|shape"):
        apply_le_curves(np.zeros(shape, np.float32), 0.5)


@pytest.mark.parametrize(
    "shape, channel_axis, match",
    [
        ((4, 5, 5), -1, "has 5 channels.*1 \\(gray\\), 2 \\(gray \\+ alpha\\), 3 \\(RGB\\) or 4 \\(RGBA\\)"),
        ((4, 5), -1, "pass channel_axis=None"),
        ((2, 2, 4, 5, 3), -1, "must be \\(H, W, C\\) or a batch"),
        ((2, 4, 5, 3), None, "with channel_axis=None it must be grayscale"),
        ((4, 5, 3), 3, "channel_axis=3 is out of range"),
        ((2, 4, 5, 3), 2, "batches are \\(N, H, W, C\\)"),
    ],
)
def test_bad_layouts(shape, channel_axis, match):
    with pytest.raises(ValueError, match=match):
        apply_le_curves(np.zeros(shape, np.float32), 0.5, channel_axis=channel_axis)


def test_channel_axis_type():
    with pytest.raises(TypeError, match=r"channel_axis='x' \(str\) must be an integer; or None"):
        image_layout(np.zeros((2, 2, 3)), "x")


@pytest.mark.parametrize("channels", [2, 4])
def test_alpha_channel_passes_through(rng, channels):
    img = rng.random((6, 7, channels)).astype(np.float32)
    out = apply_le_curves(img, 0.8)
    np.testing.assert_array_equal(out[..., -1], img[..., -1])
    assert not np.allclose(out[..., :-1], img[..., :-1])


def test_uint8_alpha_is_scaled_not_changed():
    img = np.zeros((2, 2, 4), np.uint8)
    img[..., 3] = 255
    out = apply_le_curves(img, 1.0)
    np.testing.assert_array_equal(out[..., 3], 1.0)


@pytest.mark.parametrize("channel_axis", [0, 1, -1, 2])
def test_channel_axis_equivalence(rng, channel_axis):
    img = rng.random((5, 6, 3))
    alphas = rng.uniform(-1, 1, (5, 6, 24))
    expected = apply_le_curves(img, alphas)
    moved = np.moveaxis(img, -1, channel_axis)
    moved_a = np.moveaxis(alphas, -1, channel_axis)
    out = apply_le_curves(moved, moved_a, channel_axis=channel_axis)
    np.testing.assert_allclose(np.moveaxis(out, channel_axis, -1), expected, atol=1e-12)


def test_grayscale_equals_one_channel(rng):
    gray = rng.random((5, 6))
    a = rng.uniform(-1, 1, (5, 6))
    out = apply_le_curves(gray, a, channel_axis=None)
    assert out.shape == gray.shape
    np.testing.assert_allclose(out, apply_le_curves(gray[..., None], a[..., None])[..., 0], atol=1e-15)


def test_batches_equal_single_images(rng):
    imgs = rng.random((3, 5, 6, 3))
    a = rng.uniform(-1, 1, (3, 5, 6, 3))
    out = apply_le_curves(imgs, a)
    for i in range(3):
        np.testing.assert_allclose(out[i], apply_le_curves(imgs[i], a[i]), atol=1e-15)


# -- to_uint: the one float-to-integer conversion ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("ftype", [np.float32, np.float64])
def test_to_uint_rounds_half_to_even_and_keeps_the_ends(dtype, ftype):
    from skdce._base.image import to_uint

    top = np.iinfo(dtype).max
    x = np.array([0.0, 0.5 / top, 1.5 / top, 2.4 / top, 1.0, -1e-9, 1 + 1e-7], ftype)
    got = to_uint(x, dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.clip(np.round(x * ftype(top)), 0, top).astype(dtype))
    assert got[0] == 0 and got[4] == top and got[5] == 0 and got[6] == top


def test_to_uint_between_integer_dtypes():
    from skdce._base.image import to_uint

    values = np.arange(65536, dtype=np.uint16)
    np.testing.assert_array_equal(to_uint(values, np.uint8), np.round(values / 257).astype(np.uint8))
    eight = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint(eight, np.uint16), eight.astype(np.uint16) * 257)
    assert to_uint(eight, np.uint8) is eight
    with pytest.raises(TypeError, match="dtype=float32 must be an unsigned integer dtype"):
        to_uint(eight, np.float32)


def test_to_uint_consume_rounds_in_place_without_a_temporary():
    """skdce enhance converts its float result in place: a 24 MP image peaked 860 MB above the API's figure."""
    import tracemalloc

    from skdce._base.image import to_uint

    rng = np.random.default_rng(3)
    image = rng.random((500, 400, 3), dtype=np.float32)
    expected = to_uint(image, np.uint8)
    np.testing.assert_array_equal(to_uint(image.copy(), np.uint16, consume=True), to_uint(image, np.uint16))
    tracemalloc.start()
    try:
        got = to_uint(image, np.uint8, consume=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, expected)
    assert peak < image.nbytes // 2  # the uint8 output (a quarter of the input), no float temporary
