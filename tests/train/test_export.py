"""skdce.train.export: the exported estimator equals torch; skdce's NumPy pipeline equals the torch model; writes are
atomic."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402

import skdce  # noqa: E402
from skdce.train import build_model  # noqa: E402
from skdce.train.export import export_onnx  # noqa: E402
from skdce.train.trainer import _init_weights  # noqa: E402

SIZES = [(1, 1), (17, 33), (401, 599)]


@pytest.fixture(scope="module", params=["zero-dce", "zero-dce++"])
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(request.param)
    _init_weights(model, torch.Generator().manual_seed(1))
    with torch.no_grad():  # a network that does something: larger weights than the init
        for p in model.parameters():
            p.mul_(3)
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    export_onnx(model, path, metadata={"skdce_recipe": {"seed": 1}, "note": "test"})
    return model.eval(), path


@pytest.mark.parametrize("h, w", SIZES)
def test_onnx_equals_torch(exported, h, w):
    model, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, h, w)
    ctx = torch.rand(2, 1, h, w)
    with torch.no_grad():
        ref = model(x, ctx).numpy()
    got = sess.run(None, {"image": x.numpy(), "context": ctx.numpy()})[0]
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_metadata_and_opset(exported):
    model, path = exported
    proto = onnx.load(str(path))
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["skdce_iterations"] == "8"
    assert json.loads(meta["skdce_shared_curve"]) == model.shared_curve
    assert json.loads(meta["skdce_recipe"]) == {"seed": 1}
    info = skdce.get_model(path)
    assert info.shared_curve == model.shared_curve and info.n_maps == (3 if model.shared_curve else 24)


@pytest.mark.parametrize("h, w, scale", [(1, 1, 12), (17, 33, 12), (45, 61, 4), (50, 50, 1), (37, 29, 2.5)])
def test_numpy_pipeline_equals_torch(exported, h, w, scale):
    model, path = exported
    rng = np.random.default_rng(h * w)
    img = (rng.random((h, w, 3)) * 0.4).astype(np.float32)
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
    with torch.no_grad():
        if model.shared_curve:
            ref, _ = model.enhance(x, scale)
        else:
            ref, _ = model.enhance(x)
    ref = ref[0].permute(1, 2, 0).numpy()
    kw = {"scale_factor": scale} if model.shared_curve else {}
    got = skdce.enhance(img, model=path, providers="cpu", denoise=0, exposure="model", **kw)
    np.testing.assert_allclose(got, ref, atol=2e-5, rtol=0)
    # integer input goes through the same pipeline (scaled by the dtype's maximum)
    img16 = np.round(img * 65535).astype(np.uint16)
    for denoise in (0, 1):
        got16 = skdce.enhance(img16, model=path, providers="cpu", denoise=denoise, exposure="model", **kw)
        want = skdce.enhance(img16 / np.float32(65535), model=path, providers="cpu", denoise=denoise,
                             exposure="model", **kw)
        np.testing.assert_allclose(got16, want, atol=2e-5)


def test_export_is_atomic_and_keeps_an_existing_file(exported, tmp_path, monkeypatch):
    model, _ = exported
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        export_onnx(model, path, overwrite=False)
    assert path.read_bytes() == b"keep me"

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx.checker, "check_model", broken)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(model, path)
    assert path.read_bytes() == b"keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    monkeypatch.undo()
    export_onnx(model, path)
    assert onnx.load(str(path)).producer_name == "skdce"


def test_export_records_the_recipes_scale_factor(config, tmp_path):
    """A zero-dce++ run trained with scale_factor=4 (no net_size) exported skdce_scale_factor=12."""
    from skdce.train.export import export_checkpoint

    model = build_model("zero-dce++")
    _init_weights(model, torch.Generator().manual_seed(1))
    with torch.no_grad():  # a network that does something: larger weights than the init
        for p in model.parameters():
            p.mul_(3)
    cfg = config(architecture="zero-dce++", scale_factor=4.0, crop_size=0).to_dict()
    torch.save({"model": model.state_dict(), "config": json.dumps(cfg), "history": "[]"}, tmp_path / "ckpt.pt")
    path = export_checkpoint(tmp_path / "ckpt.pt", tmp_path / "m.onnx")
    assert skdce.get_model(path).scale_factor == 4
    img = (np.random.default_rng(0).random((45, 61, 3)) * 0.4).astype(np.float32)
    with torch.no_grad():
        ref, _ = model.eval().enhance(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None], 4.0)
    got = skdce.enhance(img, model=path, providers="cpu", denoise=0, exposure="model")  # no scale_factor passed
    np.testing.assert_allclose(got, ref[0].permute(1, 2, 0).numpy(), atol=2e-5, rtol=0)
    export_checkpoint(tmp_path / "ckpt.pt", tmp_path / "m2.onnx", scale_factor=2)  # the caller's still wins
    assert skdce.get_model(tmp_path / "m2.onnx").scale_factor == 2
    cfg["net_size"] = 32  # net_size overrides the recipe's scale_factor: the default stays 12
    torch.save({"model": model.state_dict(), "config": json.dumps(cfg), "history": "[]"}, tmp_path / "net.pt")
    assert skdce.get_model(export_checkpoint(tmp_path / "net.pt", tmp_path / "m3.onnx")).scale_factor == 12
    cfg.update(net_size=None, scale_factor=1.0)  # the default: trained at full scale on crops, run at the paper's 12
    torch.save({"model": model.state_dict(), "config": json.dumps(cfg), "history": "[]"}, tmp_path / "one.pt")
    assert skdce.get_model(export_checkpoint(tmp_path / "one.pt", tmp_path / "m4.onnx")).scale_factor == 12
