"""Dask arrays in, lazy Dask arrays out, equal to the in-memory results."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from skdce import enhance, estimate_curves  # noqa: E402

#: The box means of the context and of Zero-DCE++'s small image are summed chunk
#: by chunk, in another order than in memory: float32 rounding, a few ulp.
ATOL = 2e-6


def scene(rng, shape):
    return (rng.random(shape) * 0.3).astype(np.float32)


# chunk shapes: smaller than the halo (5 < 7 + 13), ragged edges, one chunk
CHUNKS = [(5, 6, 3), (25, 40, 3), (17, 90, 3), (70, 90, 3)]


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("model", ["zero-dce-int8", "zero-dce++"])
@pytest.mark.parametrize("denoise", [0, 1])
def test_lazy_equals_in_memory(rng, chunks, model, denoise):
    img = scene(rng, (70, 90, 3))
    kw = dict(model=model, denoise=denoise, scale_factor=4 if model == "zero-dce++" else None)
    lazy = enhance(da.from_array(img, chunks=chunks), **kw)
    assert isinstance(lazy, da.Array) and lazy.shape == img.shape and lazy.dtype == np.float32
    assert lazy.chunks == da.from_array(img, chunks=chunks).chunks  # the input's chunking comes back
    np.testing.assert_allclose(lazy.compute(), enhance(img, **kw), atol=ATOL, rtol=0)


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_curves_lazy_equal_in_memory(rng, model):
    img = scene(rng, (40, 50, 3))
    lazy = estimate_curves(da.from_array(img, chunks=(9, 13, 3)), model=model)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[:2] == ((9, 9, 9, 9, 4), (13, 13, 13, 11))  # the input's chunking comes back
    np.testing.assert_allclose(lazy.compute(), estimate_curves(img, model=model), atol=ATOL, rtol=0)


def test_channel_axis_split_batches_and_dtypes(rng):
    batch = scene(rng, (3, 2, 30, 40))  # (N, C, H, W) would be 2 channels: use RGBA channels-first below
    rgba = np.concatenate([scene(rng, (3, 3, 30, 40)), rng.random((3, 1, 30, 40)).astype(np.float32)], axis=1)
    lazy = enhance(da.from_array(rgba, chunks=(2, 1, 11, 23)), channel_axis=1)  # channels split across chunks
    ref = enhance(rgba, channel_axis=1)
    np.testing.assert_allclose(lazy.compute(), ref, atol=ATOL, rtol=0)
    np.testing.assert_array_equal(lazy.compute()[:, 3], rgba[:, 3])
    u16 = np.round(batch[:, 0] * 65535).astype(np.uint16)  # gray uint16 batch
    got = enhance(da.from_array(u16, chunks=(1, 16, 16)), channel_axis=None)
    np.testing.assert_allclose(got.compute(), enhance(u16, channel_axis=None), atol=ATOL, rtol=0)
    f64 = enhance(da.from_array(batch[0, 0].astype(np.float64), chunks=8), channel_axis=None)
    assert f64.dtype == np.float64


def test_nothing_runs_until_computed(rng, monkeypatch):
    img = scene(rng, (40, 50, 3))
    calls = []
    from skdce.engine import dask as dask_driver

    real = dask_driver.enhance_tile
    monkeypatch.setattr(dask_driver, "enhance_tile", lambda *a, **k: calls.append(1) or real(*a, **k))
    lazy = enhance(da.from_array(img, chunks=20))
    assert not calls
    lazy.compute()
    assert calls


def test_bad_values_raise_at_compute(rng):
    img = scene(rng, (20, 20, 3))
    img[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):  # the shared-curve default reads every pixel's box mean at once
        enhance(da.from_array(img, chunks=10)).compute()
    lazy = enhance(da.from_array(img, chunks=10), model="zero-dce-int8")  # the full model: chunk by chunk
    with pytest.raises(ValueError, match="NaN"):
        lazy.compute()
    with pytest.raises(ValueError, match=r"denoise=9 is out of range: denoise must be a real number in \[0, 4\]"):
        enhance(da.from_array(img, chunks=10), denoise=9)


def test_without_dask_the_error_names_the_extra(monkeypatch):
    import sys

    lazy = da.zeros((8, 8, 3), chunks=4)
    monkeypatch.setitem(sys.modules, "dask.array", None)  # as if Dask were not installed
    with pytest.raises(ImportError, match=r"pip install 'skdce\[dask\]'"):
        enhance(lazy)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 40, 3), (9, 2, 3)])
def test_images_thinner_than_the_halo(rng, shape):
    """An image thinner than the halo on an axis (1x1, 1xN): Dask's map_overlap refused a depth over the array."""
    img = scene(rng, shape)
    lazy = da.from_array(img, chunks=(1, 20, 3))
    np.testing.assert_allclose(enhance(lazy, exposure=1).compute(), enhance(img, exposure=1), atol=ATOL)
    np.testing.assert_allclose(estimate_curves(lazy, model="zero-dce-int8").compute(),
                               estimate_curves(img, model="zero-dce-int8"), atol=ATOL)


def test_noise_levels_read_from_sampled_rows_equal_in_memory(rng):
    """The denoiser's level of each image (both scales, :mod:`skdce.engine.stages.noise`) from the rows Dask reads."""
    import io

    from PIL import Image

    from skdce.engine.dask import _noise_levels
    from skdce.engine.stages.noise import coarse_noise_level, filter_noise_level, noise_level

    def jpeg(x, quality=75):  # a dark, noisy picture as a JPEG leaves it: its noise flattened into blotches
        buf = io.BytesIO()
        Image.fromarray(np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
        return np.asarray(Image.open(buf))

    for shape in [(96, 128, 3), (701, 1003, 3)]:  # every row read; strided samples at both scales and for blocks
        batch = np.stack([jpeg(0.08 + 0.03 * rng.standard_normal(shape)) for _ in range(2)])
        assert coarse_noise_level(batch[0]) > 1.5 * noise_level(batch[0])  # the coarse scale decides here
        lazy = _noise_levels(da.from_array(batch, chunks=(1, 40, 50, 3)))
        np.testing.assert_allclose(lazy, [filter_noise_level(x) for x in batch], rtol=1e-6)
    # quality 95, 4:2:0: no blocks to see; the noise the channels share raises the fine figure
    batch = np.stack([jpeg(0.1 + 0.02 * rng.standard_normal((301, 403, 3)), 95) for _ in range(2)])
    assert filter_noise_level(batch[0]) > 1.4 * noise_level(batch[0])
    lazy = _noise_levels(da.from_array(batch, chunks=(1, 40, 50, 3)))
    np.testing.assert_allclose(lazy, [filter_noise_level(x) for x in batch], rtol=1e-6)


def test_auto_exposure_reads_white_in_the_same_pass(monkeypatch):
    from .test_tone import lamp_scene

    img = lamp_scene()  # its white area is over the ramp: held
    np.testing.assert_array_equal(enhance(img), enhance(img, exposure="model"))
    # an 18x18 lamp: half the stops on the 512-pixel copy, all of them on the network's 64-pixel copy, whose
    # 8-pixel boxes grey its edges: Dask reads the same copy as the host
    for img in (lamp_scene(), lamp_scene("half")):
        lazy = enhance(da.from_array(img, chunks=(200, 300, 3)))
        np.testing.assert_allclose(lazy.compute(), enhance(img), atol=ATOL, rtol=0)


def test_small_chunks_merge_in_runs_not_into_one():
    """A chunk grows until it holds the halo, then the next starts: an image striped finer than the halo stays
    chunked (a 16-pixel striping with a 20-pixel halo was computed as one in-memory chunk)."""
    from skdce.engine.dask import _merge_small

    assert _merge_small((16,) * 8, 20) == (32,) * 4
    assert _merge_small((12,) * 20, 13) == (24,) * 10
    assert _merge_small((5, 100, 3, 3, 50), 13) == (105, 56)
    assert _merge_small((100, 5), 13) == (105,) and _merge_small((3,), 13) == (3,) and _merge_small((5, 5), 13) == (10,)
