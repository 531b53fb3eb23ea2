"""skdce.train.denoiser: the exported network equals torch, Neighbor2Neighbor training learns and resumes."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402

import skdce  # noqa: E402
from skdce.engine.stages.guided import denoise_bands  # noqa: E402
from skdce.train.denoiser import (  # noqa: E402
    DenoiserConfig,
    DenoiserNet,
    bundle_denoiser,
    export_denoiser,
    load_denoiser_checkpoint,
    load_denoiser_config,
    n2n_loss,
    net_from_onnx,
    prepare_inputs,
    quantize_denoiser,
    subsample,
    train_denoiser,
)

RECIPE = Path(__file__).resolve().parents[2] / "weights" / "denoiser-n2n.toml"


def _random_net(width=8, depth=4, seed=0):
    torch.manual_seed(seed)
    net = DenoiserNet(width, depth)
    with torch.no_grad():  # a network that does something: larger weights than the init
        for p in net.parameters():
            p.mul_(3)
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = _random_net()
    path = tmp_path_factory.mktemp("onnx") / "n2n.onnx"
    export_denoiser(net, path, metadata={"skdce_recipe": {"seed": 0}})
    return net, path


@pytest.mark.parametrize("h, w", [(1, 1), (17, 33), (64, 90)])
def test_onnx_equals_torch(exported, h, w):
    net, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 4, h, w)
    x[:, 3] *= 0.1  # noise maps of a few hundredths, as the engine's
    with torch.no_grad():
        ref = net(x).numpy()
    got = sess.run(None, {"x": x.numpy()})[0]
    assert got.shape == (2, 3, h, w)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-5)


def test_export_metadata_and_rebuild(exported):
    net, path = exported
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["skdce_halo"] == "4" and meta["skdce_width"] == "8"
    assert json.loads(meta["skdce_recipe"]) == {"seed": 0}
    rebuilt = net_from_onnx(path)
    for a, b in zip(net.state_dict().values(), rebuilt.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_receptive_radius_is_depth():
    net = _random_net(depth=3)
    x = torch.rand(1, 4, 21, 21)
    y = x.clone()
    y[0, :, 10, 10] += 0.5
    with torch.no_grad():
        changed = (net(x) - net(y)).abs().amax(dim=(0, 1)) > 0
    rows, cols = np.nonzero(changed.numpy())
    assert net.halo == 3
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (7, 13, 7, 13)


def test_quantized_copy_is_close(exported, tmp_path):
    net, path = exported
    rng = np.random.default_rng(0)
    calibration = [rng.random((4, 24, 24)).astype(np.float32) * np.array([1, 1, 1, 0.1], np.float32)[:, None, None]
                   for _ in range(4)]
    int8 = quantize_denoiser(path, tmp_path / "int8.onnx", calibration)
    sess = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    assert sess.get_modelmeta().custom_metadata_map["skdce_precision"] == "int8"
    x = calibration[0][None]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"x": x})[0]
    assert np.abs(got - ref).mean() < 0.05 * np.abs(ref).mean()


def test_subsample_takes_one_pixel_per_cell():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    index = torch.tensor([[[[0, 3], [1, 2]]]])
    assert subsample(x, index).tolist() == [[[[0.0, 7.0], [9.0, 14.0]]]]


def _noisy_images(n=4, size=40, seed=0):
    """Smooth colour ramps with Gaussian noise of a known level, and that level as the noise map."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        sigma = rng.uniform(0.03, 0.08)
        base = np.stack([0.3 + 0.4 * c * (xx if k % 2 else yy) for k, c in enumerate(rng.random(3))])
        img = np.concatenate([base + sigma * rng.standard_normal(base.shape), np.full((1, size, size), sigma)])
        out.append(img.astype(np.float16))
    return out


def _config(**kw):
    base = dict(width=8, depth=3, crop=16, batch=4, steps=40, lr=5e-3, gamma=1.0, checkpoint_every=10, seed=1)
    base.update(kw)
    return DenoiserConfig(**base)


def test_training_reduces_loss(tmp_path):
    images = _noisy_images()
    batch = torch.from_numpy(np.stack([im[:, :32, :32] for im in images]).astype(np.float32))

    def loss_of(net):
        with torch.no_grad():
            return n2n_loss(net, batch, torch.Generator().manual_seed(5), 0.0).item()

    torch.manual_seed(1)
    before = loss_of(DenoiserNet(8, 3))  # the initial network of the run (seeded the same)
    net, history = train_denoiser(_config(), images, tmp_path, log=lambda s: None)
    after = loss_of(net)
    # twice the noise variance (about 0.006) is the floor of the N2N loss; the untrained net is at 0.013
    assert after < 0.7 * before
    assert history[-1][0] == 40 and (tmp_path / "last.pt").is_file()


def test_training_resumes_exactly(tmp_path):
    images = _noisy_images()
    straight, _ = train_denoiser(_config(steps=20), images, tmp_path / "a", log=lambda s: None)

    def stop_after_12(line):
        if line.startswith("step     12/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_denoiser(_config(steps=20), images, tmp_path / "b", log=stop_after_12)
    assert load_denoiser_checkpoint(tmp_path / "b" / "last.pt")["step"] == 10
    lines = []
    resumed, history = train_denoiser(_config(steps=20), images, tmp_path / "b", log=lines.append)
    assert lines[0].startswith("resumed") and "step 10" in lines[0]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="different recipe"):
        train_denoiser(_config(steps=20, lr=1e-3), images, tmp_path / "b", log=lambda s: None)


def test_recipe(tmp_path):
    cfg = load_denoiser_config(RECIPE)
    assert cfg.model == "zero-dce++" and cfg.train_list == "train.txt" and cfg.threads == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(RECIPE.read_text() + "stpes = 3\n")
    with pytest.raises(ValueError, match=r"unknown keys \['stpes'\]"):
        load_denoiser_config(bad)
    with pytest.raises(ValueError, match="crop=15 must be even"):
        DenoiserConfig(crop=15)


def test_prepare_inputs_are_what_the_engine_denoises(rng):
    low = (rng.random((48, 64, 3)) * 60).astype(np.uint8)
    x = prepare_inputs(low, "zero-dce++")
    assert x.shape == (4, 48, 64) and x.dtype == np.float32
    y, noise = np.ascontiguousarray(np.moveaxis(x[:3], 0, -1)), x[3]
    np.testing.assert_array_equal(y, skdce.enhance(low, model="zero-dce++", denoise=0, exposure="model"))
    assert noise.max() > 0
    # the engine's own denoised result is the guided filter of exactly these planes
    np.testing.assert_allclose(denoise_bands(y, noise, 1), skdce.enhance(low, model="zero-dce++", exposure="model"),
                               atol=2e-6)
    with pytest.raises(ValueError, match="shared-curve"):
        prepare_inputs(low, "zero-dce")


def test_bundle_records_facts(exported, tmp_path):
    _, path = exported
    record = bundle_denoiser(path, tmp_path, name="n2n-test", recipe=RECIPE, training_data="tiny")
    saved = json.loads((tmp_path / "denoisers.json").read_text())["denoisers"]["n2n-test"]
    assert saved == json.loads(json.dumps(record))
    assert saved["license"] == "BSD-3-Clause" and saved["halo"] == 4
    assert saved["sha256"] == skdce.models.sha256_file(tmp_path / "n2n-test.onnx")
