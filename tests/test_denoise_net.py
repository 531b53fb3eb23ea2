"""skdce.denoise_net: the bundled learned denoiser keeps denoise_bands' contract, tiles exactly, checks its file."""

import json
import shutil

import numpy as np
import pytest

import skdce
from skdce.denoise_net import LEARNED_HALO, denoiser_record, learned_denoise_block
from skdce.engine.stages import learned as denoise_net
from skdce.engine.stages.guided import DENOISE_HALO, denoise_bands


def _scene(rng, h=70, w=90, c=3, dtype=np.float32):
    """A noisy ramp with an edge, and a noise map that grows to the right."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.2 + 0.5 * (xx / w)[..., None] * np.linspace(0.6, 1.0, c) + 0.2 * (yy > h // 2)[..., None]
    noise = (0.01 + 0.06 * xx / w).astype(dtype)
    y = np.clip(base + noise[..., None] * rng.standard_normal((h, w, c)), 0, 1).astype(dtype)
    return y, noise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [3, 1])
def test_contract_of_denoise_bands(rng, dtype, c):
    y, noise = _scene(rng, c=c, dtype=dtype)
    out = learned_denoise_block(y, noise, 1)
    ref = denoise_bands(y, noise, 1)
    assert out.shape == ref.shape == y.shape and out.dtype == ref.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1
    # it denoises: the noise around the smooth ramp drops, as the guided filter's does
    rough = lambda im: np.abs(np.diff(im[:30], axis=1)).mean()  # noqa: E731  (rows above the edge)
    assert rough(out) < 0.6 * rough(y)


def test_gray_is_the_mean_of_three_equal_channels(rng):
    y, noise = _scene(rng, c=1)
    rgb = learned_denoise_block(np.repeat(y, 3, axis=-1), noise, 1)
    np.testing.assert_allclose(learned_denoise_block(y, noise, 1)[..., 0], rgb.mean(axis=-1), atol=1e-6)


def test_float64_is_float32_widened(rng):
    y, noise = _scene(rng, dtype=np.float64)
    out = learned_denoise_block(y, noise, 1)
    np.testing.assert_allclose(out, learned_denoise_block(y.astype(np.float32), noise.astype(np.float32), 1),
                               atol=1e-7)


def test_halo_within_the_engines():
    assert LEARNED_HALO <= DENOISE_HALO
    assert denoiser_record()["halo"] == LEARNED_HALO


def test_halo_is_the_receptive_radius():
    y = np.full((41, 41, 3), 0.4, np.float32)
    noise = np.full((41, 41), 0.05, np.float32)
    bumped = y.copy()
    bumped[20, 20] = 0.9
    changed = np.abs(learned_denoise_block(bumped, noise, 1) - learned_denoise_block(y, noise, 1)).max(axis=-1) > 0
    rows, cols = np.nonzero(changed)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (20 - LEARNED_HALO, 20 + LEARNED_HALO,
                                                              20 - LEARNED_HALO, 20 + LEARNED_HALO)


@pytest.mark.parametrize("tile", [16, 33])
def test_tiles_with_the_halo_join_as_the_whole(rng, tile):
    y, noise = _scene(rng, h=75, w=101)
    whole = learned_denoise_block(y, noise, 1)
    h, w = noise.shape
    joined = np.empty_like(whole)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            e0, e1 = max(0, y0 - LEARNED_HALO), min(h, y1 + LEARNED_HALO)
            f0, f1 = max(0, x0 - LEARNED_HALO), min(w, x1 + LEARNED_HALO)
            part = learned_denoise_block(y[e0:e1, f0:f1], noise[e0:e1, f0:f1], 1)
            joined[y0:y1, x0:x1] = part[y0 - e0 : y1 - e0, x0 - f0 : x1 - f0]
    np.testing.assert_allclose(joined, whole, atol=2e-6)


def test_bands_on_threads_join_as_one(rng, monkeypatch):
    y, noise = _scene(rng, h=90, w=40)
    one = learned_denoise_block(y, noise, 1)
    monkeypatch.setattr(denoise_net, "_BAND_PIXELS", 40 * 20)  # bands of 20 rows
    np.testing.assert_allclose(learned_denoise_block(y, noise, 2), one, atol=2e-6)
    np.testing.assert_allclose(learned_denoise_block(y, noise, 1), one, atol=2e-6)


def test_bundled_onnx_equals_its_torch_network(rng):
    torch = pytest.importorskip("torch")
    from skdce.train.denoiser import net_from_onnx

    record = denoiser_record()
    if record["precision"] != "fp32":  # pragma: no cover - depends on the bundled file
        pytest.skip("the bundled denoiser is int8")
    net = net_from_onnx(skdce.models.weights_dir() / record["file"])
    y, noise = _scene(rng)
    with torch.no_grad():
        x = torch.from_numpy(np.concatenate([y, noise[..., None]], axis=-1).transpose(2, 0, 1)[None].copy())
        ref = np.clip(net(x)[0].numpy().transpose(1, 2, 0), 0, 1)
    np.testing.assert_allclose(learned_denoise_block(y, noise, 1), ref, atol=2e-5)


def test_sha256_mismatch_raises(tmp_path, monkeypatch):
    src = skdce.models.weights_dir()
    record = denoiser_record()
    shutil.copy(src / "denoisers.json", tmp_path / "denoisers.json")
    data = bytearray((src / record["file"]).read_bytes())
    data[-1] ^= 1
    (tmp_path / record["file"]).write_bytes(bytes(data))
    monkeypatch.setattr(denoise_net, "weights_dir", lambda: tmp_path)
    y = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"has sha256 .* but weights/denoisers.json expects .* Reinstall skdce"):
        learned_denoise_block(y, np.zeros((8, 8), np.float32))


def test_record_facts():
    record = denoiser_record()
    assert record["license"] == "BSD-3-Clause" and record["recipe_file"] == "denoiser-n2n.toml"
    assert "train.txt" in record["training_data"]
    assert record["recipe"] == json.loads(json.dumps(record["recipe"]))
    with pytest.raises(ValueError, match="not bundled"):
        denoiser_record("nope")


@pytest.mark.parametrize("y, noise, match", [
    (np.zeros((4, 4, 2), np.float32), np.zeros((4, 4)), r"\(H, W, 3\) or \(H, W, 1\) float32/float64"),
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)), "float32/float64"),
    (np.zeros((4, 4, 3), np.float32), np.zeros((4, 5)), r"noise has shape \(4, 5\)"),
])
def test_bad_input(y, noise, match):
    with pytest.raises(ValueError, match=match):
        learned_denoise_block(y, noise)


def test_empty_and_tiny():
    for shape in ((0, 5, 3), (1, 1, 3), (2, 3, 1)):
        y = np.full(shape, 0.5, np.float32)
        assert learned_denoise_block(y, np.zeros(shape[:2], np.float32)).shape == shape


@pytest.mark.parametrize("level", [0.0, 0.3, 1.0])
def test_flat_stays_flat(level):
    """Black stays black, white white, a flat region flat, however strong the noise map (the network alone lifted
    black to 22/255 through enhance, where the curves' slope makes the map largest)."""
    y = np.full((30, 40, 3), level, np.float32)
    np.testing.assert_array_equal(learned_denoise_block(y, np.full((30, 40), 0.2, np.float32), 1), y)
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[10:30, 20:40] = 90  # a grey box on black bars
    out = skdce.enhance(frame, denoiser="learned")
    assert out[:5].max() == 0 and out[:, :15].max() == 0  # farther than LEARNED_HALO from the box


def test_within_local_range(rng):
    y, _ = _scene(rng)
    wild = rng.random(y.shape).astype(np.float32)
    kept = denoise_net.within_local_range(wild, y)
    k = LEARNED_HALO
    assert y[40 - k : 41 + k, 50 - k : 51 + k].min() <= kept[40, 50].min()
    assert kept[40, 50].max() <= y[40 - k : 41 + k, 50 - k : 51 + k].max()
    inside = denoise_net.within_local_range(y, y)
    np.testing.assert_array_equal(inside, y)


def test_no_added_noise_no_filtering(rng):
    """Where the curves added no noise the input comes back as it is (it moved by up to 0.079), so strength=0
    returns the image with the learned denoiser as with the guided filter."""
    y, noise = _scene(rng)
    noise[:, :40] = 0
    out = learned_denoise_block(y, noise, 1)
    np.testing.assert_array_equal(out[:, :40], y[:, :40])
    assert np.abs(out[:, 50:] - y[:, 50:]).max() > 0.01
    x = np.clip(0.08 + 0.05 * rng.random((40, 48, 3)), 0, 1).astype(np.float32)
    np.testing.assert_array_equal(skdce.enhance(x, strength=0, exposure="model", denoiser="learned"),
                                  skdce.enhance(x, strength=0, exposure="model", denoiser="guided"))


@pytest.mark.parametrize("bad, match", [
    ("nan noise", "noise must be finite and >= 0"), ("negative noise", "noise must be finite and >= 0"),
    ("nan y", r"y has values in \[nan"), ("y above 1", r"y has values in \[.*, 1.5\]; pass a curve output in \[0, 1\]"),
])
def test_bad_values_are_refused(bad, match):
    y, noise = np.full((8, 8, 3), 0.5, np.float32), np.full((8, 8), 0.01, np.float32)
    if bad == "nan noise":
        noise[2, 2] = np.nan
    elif bad == "negative noise":
        noise[2, 2] = -0.1
    elif bad == "nan y":
        y[1, 1, 0] = np.nan
    else:
        y[1, 1, 0] = 1.5
    with pytest.raises(ValueError, match=match):
        learned_denoise_block(y, noise)
