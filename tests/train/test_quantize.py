"""skdce.train.quantize: the int8 copy keeps the metadata, records its calibration, and stays close to fp32."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")
from PIL import Image  # noqa: E402

import skdce  # noqa: E402
from skdce.train import build_model  # noqa: E402
from skdce.train.export import export_onnx, model_from_onnx  # noqa: E402
from skdce.train.quantize import quantize_model  # noqa: E402
from skdce.train.trainer import _init_weights  # noqa: E402


def test_quantized_copy(tmp_path):
    torch.manual_seed(0)
    model = build_model("zero-dce")
    _init_weights(model, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():  # distinct, non-zero biases, as training leaves them (the initial zero ones:
        for p in model.parameters():  # test_untrained_model_quantizes)
            p.add_(torch.randn(p.shape, generator=gen) * 0.01)
    src = tmp_path / "fp32.onnx"
    export_onnx(model, src, metadata={"skdce_recipe": {"seed": 1}})
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((40, 48, 3)) * 80).astype(np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "calib.txt").write_text("0.png\n1.png\n2.png\n")
    dst = quantize_model(src, tmp_path / "int8.onnx", tmp_path, tmp_path / "calib.txt", size=(48, 40))
    assert dst == tmp_path / "int8.onnx" and not (tmp_path / "int8.onnx.tmp").exists()

    meta = {p.key: p.value for p in onnx.load(str(dst)).metadata_props}
    assert meta["skdce_precision"] == "int8"
    assert json.loads(meta["skdce_calibration"]) == {"images": 3, "size": [48, 40], "method": "minmax"}
    assert json.loads(meta["skdce_recipe"]) == {"seed": 1}  # the source's metadata is kept
    graph_ops = {n.op_type for n in onnx.load(str(dst)).graph.node}
    assert "QLinearConv" in graph_ops  # QOperator format: int8 convolutions

    info = skdce.get_model(dst)
    assert info.precision == "int8" and not info.bundled
    img = rng.random((40, 48, 3)).astype(np.float32) * np.float32(0.3)
    fp32 = skdce.estimate_curves(img, model=str(src))
    int8 = skdce.estimate_curves(img, model=str(dst))
    assert fp32.shape == int8.shape
    assert np.abs(int8 - fp32).max() < 0.1 * max(np.abs(fp32).max(), 1e-3)  # quantised, not a different network


@pytest.mark.parametrize("arch", ["zero-dce", "zero-dce++"])
def test_untrained_model_quantizes(tmp_path, arch):
    # torch exports the identical zero biases of a fresh network as one tensor behind Identity nodes;
    # export_onnx gives every convolution initializers of its own, so quantize_static can read them
    model = build_model(arch)
    _init_weights(model, torch.Generator().manual_seed(1))
    src = export_onnx(model, tmp_path / "fp32.onnx")
    proto = onnx.load(str(src))
    assert "Identity" not in {n.op_type for n in proto.graph.node}
    inits = {i.name for i in proto.graph.initializer}
    uses = [name for n in proto.graph.node for name in n.input if name in inits]
    assert len(uses) == len(set(uses)) == len(inits) == len(model.state_dict())  # one per weight and bias
    assert model_from_onnx(src).state_dict().keys() == model.state_dict().keys()  # named as the parameters
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 48, 3)) * 80).astype(np.uint8)).save(tmp_path / "0.png")
    dst = quantize_model(src, tmp_path / "int8.onnx", tmp_path, ["0.png"], size=(48, 40))
    assert "QLinearConv" in {n.op_type for n in onnx.load(str(dst)).graph.node}
    img = rng.random((40, 48, 3)).astype(np.float32) * np.float32(0.3)
    kw = {"scale_factor": 1} if model.shared_curve else {}
    out = skdce.enhance(img, model=dst, providers="cpu", denoise=0, **kw)
    assert out.shape == img.shape and np.isfinite(out).all()
