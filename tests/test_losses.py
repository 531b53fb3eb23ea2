"""The NumPy losses: hand-computed values, batching, errors."""

import numpy as np
import pytest

from skdce import losses


def test_exposure_golden():
    # every 16x16 patch has mean 0.5: (0.5 - 0.6)**2
    assert losses.exposure_control_loss(np.full((32, 48, 3), 0.5)) == pytest.approx(0.01, abs=1e-15)
    assert losses.exposure_control_loss(np.full((32, 48, 3), 0.5), level=0.5) == 0.0
    # patches 0.2 and 0.8 around E = 0.6: ((0.4)**2 + (0.2)**2) / 2 = 0.1; a 7-pixel remainder is dropped
    img = np.full((16, 39, 3), 0.8)
    img[:, :16] = 0.2
    assert losses.exposure_control_loss(img) == pytest.approx(0.1, abs=1e-15)


def test_color_golden():
    img = np.zeros((4, 4, 3))
    img[..., 0] = 0.5
    # sqrt(0.5**4 + 0.5**4 + 0) = sqrt(0.125)
    assert losses.color_constancy_loss(img) == pytest.approx(np.sqrt(0.125), abs=1e-15)
    assert losses.color_constancy_loss(np.full((4, 4, 3), 0.3)) == 0.0


def test_spatial_golden():
    # pooled (4x4) difference D = [[0.4, 0]]: region 0 differs from its 4 (zero-padded or zero)
    # neighbours by 0.4 -> 4 * 0.16; region 1 only from its left neighbour -> 0.16; mean = 0.4
    original = np.zeros((4, 8, 3))
    enhanced = np.zeros((4, 8, 3))
    enhanced[:, :4] = 0.4
    assert losses.spatial_consistency_loss(enhanced, original) == pytest.approx(0.4, abs=1e-12)
    assert losses.spatial_consistency_loss(original, original) == 0.0


def test_smoothness_golden():
    a = np.zeros((2, 2, 1))
    a[1] = 1.0
    # vertical: 2 squared steps of 1 / ((2 - 1) * 2) = 1; horizontal 0 -> 2 * (1 + 0) / 1
    assert losses.illumination_smoothness_loss(a) == pytest.approx(2.0)
    # summed over maps, averaged over the batch
    b = np.concatenate([a, a], axis=-1)
    assert losses.illumination_smoothness_loss(b) == pytest.approx(4.0)
    assert losses.illumination_smoothness_loss(np.stack([b, np.zeros_like(b)])) == pytest.approx(2.0)


def test_total_weights(rng):
    img = rng.random((32, 32, 3)) * 0.3
    enh = np.sqrt(img)
    a = rng.uniform(-1, 1, (32, 32, 24))
    t = losses.zero_reference_loss(enh, img, a)
    assert t.total == pytest.approx(t.spatial + t.exposure + t.color + t.smoothness)
    assert t.exposure == pytest.approx(10 * losses.exposure_control_loss(enh))
    assert t.color == pytest.approx(5 * losses.color_constancy_loss(enh))
    assert t.smoothness == pytest.approx(200 * losses.illumination_smoothness_loss(a))
    assert t.spatial == pytest.approx(losses.spatial_consistency_loss(enh, img))
    t2 = losses.zero_reference_loss(enh, img, a, weights={"smoothness": 0}, level=0.5)
    assert t2.smoothness == 0 and t2.exposure == pytest.approx(10 * losses.exposure_control_loss(enh, level=0.5))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_dtypes_agree(rng, dtype):
    img8 = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    ref = losses.exposure_control_loss(img8.astype(np.float64) / 255)
    if dtype == np.uint16:
        img = img8.astype(np.uint16) * 257
    elif dtype == np.uint8:
        img = img8
    else:
        img = (img8 / 255).astype(dtype)
    assert losses.exposure_control_loss(img) == pytest.approx(ref, rel=1e-6)


def test_channel_axis_and_batches(rng):
    imgs = rng.random((2, 32, 32, 3))
    first = losses.color_constancy_loss(imgs[0])
    second = losses.color_constancy_loss(imgs[1])
    assert losses.color_constancy_loss(imgs) == pytest.approx((first + second) / 2)
    assert losses.color_constancy_loss(np.moveaxis(imgs, -1, 1), channel_axis=1) == pytest.approx((first + second) / 2)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: losses.exposure_control_loss(np.zeros((8, 8, 3))), ValueError, "enhanced is 8x8 pixels, smaller than one 16x16 patch"),
        (lambda: losses.exposure_control_loss(np.zeros((16, 16, 3)), level=np.nan), ValueError, "level=nan is not finite: level must be a real number"),
        (lambda: losses.color_constancy_loss(np.zeros((8, 8, 4))), ValueError, "enhanced has 4 channels; the losses take RGB"),
        (lambda: losses.spatial_consistency_loss(np.zeros((8, 8, 3)), np.zeros((8, 12, 3))), ValueError, "must have the same shape"),
        (lambda: losses.spatial_consistency_loss(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), pool_size=0), ValueError, "pool_size=0 is out of range: pool_size must be an integer >= 1"),
        (lambda: losses.color_constancy_loss(np.full((4, 4, 3), 2.0)), ValueError, r"enhanced has values in \[2, 2\], outside \[0, 1\]"),
        (lambda: losses.illumination_smoothness_loss(np.zeros((1, 5, 3))), ValueError, "alphas maps are 1x5"),
        (lambda: losses.illumination_smoothness_loss(np.zeros((4, 4))), ValueError, "pass \\(H, W, K\\) or \\(N, H, W, K\\)"),
        (lambda: losses.illumination_smoothness_loss(np.full((4, 4, 3), np.inf)), ValueError, "alphas contains NaN or inf"),
        (lambda: losses.zero_reference_loss(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)), np.zeros((16, 16, 3)), weights={"spa": 1}), ValueError, "weights has unknown keys \\['spa'\\]"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
