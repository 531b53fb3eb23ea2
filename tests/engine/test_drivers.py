"""The drivers over the plan (``skdce/engine/{host,fused,dask}.py``) follow one ``tile_size`` rule,
:func:`skdce.engine.plan.resolve_tile`, and their tiles join exactly."""

import numpy as np
import pytest

import skdce
from skdce.engine import dask as dask_driver
from skdce.engine import fused as fused_driver
from skdce.engine import host as host_driver
from skdce.engine.plan import AUTO_TILE, resolve_tile
from skdce.engine.stages.guided import DENOISE_HALO
from skdce.engine.stages.network import HALO

TILE = 16


@pytest.fixture
def image():
    rng = np.random.default_rng(5)
    return np.clip(0.15 + 0.05 * rng.standard_normal((40, 37, 3)), 0, 1).astype(np.float32)


def tiles_of(monkeypatch, module, name):
    """The shapes of the tiles ``module.name(plan-or-session, window, tile, ...)`` is called with."""
    shapes = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        shapes.append(args[2].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return shapes


def lazy(image):
    da = pytest.importorskip("dask.array")
    return da.from_array(image, chunks=image.shape)  # one chunk: the tiles are the driver's own


def test_resolve_tile_is_the_one_rule():
    assert resolve_tile(96, on_device=False, size=(4000, 3000)) == 96
    assert resolve_tile(None, on_device=True, size=(4000, 3000)) is None
    host, device = AUTO_TILE["host"], AUTO_TILE["device"]
    assert resolve_tile("auto", on_device=False, size=(host, host)) is None  # at most a tile's area: one tile
    assert resolve_tile("auto", on_device=False, size=(host + 1, host)) == host
    assert resolve_tile("auto", on_device=True, size=(host + 1, host)) is None
    assert resolve_tile("auto", on_device=True, size=(device, device + 1)) == device


@pytest.mark.parametrize("driver", ["host", "dask"])
def test_estimate_curves_tiles(monkeypatch, image, driver):
    module = host_driver if driver == "host" else dask_driver
    shapes = tiles_of(monkeypatch, module, "estimate_tile")
    got = np.asarray(skdce.estimate_curves(image if driver == "host" else lazy(image), model="zero-dce",
                                           tile_size=TILE))
    assert shapes and max(max(s) for s in shapes) <= TILE, shapes
    whole = skdce.estimate_curves(image, model="zero-dce", tile_size=None)
    np.testing.assert_allclose(got, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("driver", ["host", "dask"])
@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_enhance_tiles(monkeypatch, image, driver, model):
    module = host_driver if driver == "host" else dask_driver
    shapes = tiles_of(monkeypatch, module, "enhance_tile")
    got = np.asarray(skdce.enhance(image if driver == "host" else lazy(image), model=model, tile_size=TILE))
    assert shapes and max(max(s) for s in shapes) <= TILE, shapes
    whole = skdce.enhance(image, model=model, tile_size=None)
    np.testing.assert_allclose(got, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_fused_tiles(monkeypatch, image, model):
    pytest.importorskip("onnx")
    regions = []
    real = fused_driver.FusedSession.run

    def spy(self, feeds, out=None):
        regions.append(feeds["image"].shape[1:3])
        return real(self, feeds, out)

    monkeypatch.setattr(fused_driver.FusedSession, "run", spy)
    got = skdce.enhance(image, model=model, tile_size=TILE, fused=True, providers="cpu")
    halo = (0 if model == "zero-dce++" else HALO) + DENOISE_HALO  # each tile runs with its context
    assert len(regions) == 9 and max(max(r) for r in regions) <= TILE + 2 * halo, regions
    regions.clear()
    whole = skdce.enhance(image, model=model, tile_size=None, fused=True, providers="cpu")
    assert regions == [image.shape[:2]]
    np.testing.assert_allclose(got, whole, atol=1e-6, rtol=0)
