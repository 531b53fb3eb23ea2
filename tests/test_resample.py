"""skdce.engine.stages.boxes: box downscaling and bilinear (half-pixel) upsampling against scikit-image and a plain
loop."""

import numpy as np
import pytest
from skimage.transform import downscale_local_mean, resize

from skdce.engine.stages import boxes
from skdce.engine.stages.boxes import BilinearUpsampler, bilinear_upsample, box_downscale, small_size


@pytest.mark.parametrize("h, w, s, expected", [(12, 18, 3, (4, 6)), (13, 18, 3, (5, 6)), (1, 1, 12, (1, 1)),
                                               (600, 400, 12, (50, 34)), (7, 5, 2.5, (3, 2))])
def test_small_size_rounds_up(h, w, s, expected):
    assert small_size(h, w, s) == expected


def _box_loop(image, size):
    """Bin i of n rows covers rows floor(i * H / h) to floor((i + 1) * H / h): the mean, pixel by pixel."""
    n, H, W, c = image.shape
    h, w = size
    out = np.empty((n, h, w, c))
    for i in range(h):
        for j in range(w):
            cell = image[:, i * H // h : (i + 1) * H // h, j * W // w : (j + 1) * W // w]
            out[:, i, j] = cell.astype(np.float64).mean(axis=(1, 2))
    return out


@pytest.fixture(params=["compiled", "numpy"])
def kernel(request, monkeypatch):
    """Each box test runs on the C kernel (checked to have run) and on the NumPy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(boxes, "_kernels", None)
        yield
        return
    calls = request.getfixturevalue("kernel_calls")  # skips where the kernel is not built
    yield
    assert calls["box_mean"] > 0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_box_downscale_equals_skimage_on_whole_blocks(rng, kernel, dtype):
    img = rng.random((2, 12, 18, 3))
    img = (img * np.iinfo(dtype).max).round().astype(dtype) if np.dtype(dtype).kind == "u" else img.astype(dtype)
    got = box_downscale(img, (4, 6))
    assert got.dtype == (np.float64 if dtype == np.float64 else np.float32)
    for b in range(2):
        ref = downscale_local_mean(img[b].astype(np.float64), (3, 3, 1))
        np.testing.assert_allclose(got[b], ref, rtol=1e-6 if got.dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("H, W, h, w", [(13, 17, 4, 6), (37, 29, 5, 3), (5, 300, 1, 25), (9, 9, 9, 9), (10, 3, 7, 2)])
def test_box_downscale_uneven_bins(rng, kernel, H, W, h, w):
    img = rng.random((1, H, W, 3))
    np.testing.assert_allclose(box_downscale(img, (h, w)), _box_loop(img, (h, w)), rtol=1e-12)
    strided = rng.random((1, H, 2 * W, 4))[:, :, ::2, :3]  # a view, as enhance passes a crop of a larger image
    np.testing.assert_allclose(box_downscale(strided, (h, w)), _box_loop(strided, (h, w)), rtol=1e-12)


@pytest.mark.parametrize("h, w, H, W", [(5, 7, 13, 17), (1, 1, 6, 4), (3, 8, 3, 40), (4, 4, 47, 9)])
def test_bilinear_upsample_equals_skimage(rng, h, w, H, W):
    """Half-pixel bilinear with edge clamping is skimage's resize(order=1, mode="edge") without anti-aliasing."""
    maps = rng.uniform(-1, 1, (2, h, w, 3)).astype(np.float32)
    got = bilinear_upsample(maps, (H, W))
    assert got.shape == (2, H, W, 3) and got.dtype == np.float32
    for b in range(2):
        ref = resize(maps[b].astype(np.float64), (H, W), order=1, mode="edge", anti_aliasing=False)
        np.testing.assert_allclose(got[b], ref, atol=1e-6)


def test_upsampler_blocks_tile_the_full_map(rng):
    maps = rng.random((2, 4, 6, 3)).astype(np.float32)
    full = bilinear_upsample(maps, (23, 31))
    up = BilinearUpsampler(maps, (23, 31))
    for b, r0, r1, c0, c1 in [(0, 0, 23, 0, 31), (1, 5, 6, 0, 31), (1, 7, 19, 3, 28), (0, 22, 23, 30, 31)]:
        np.testing.assert_array_equal(up.block(b, r0, r1, c0, c1).copy(), full[b, r0:r1, c0:c1])
