"""Static int8 quantisation of an exported model, calibrated on training images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..engine.stages.boxes import illumination_context
from ..io._atomic import atomic_path
from .data import _read_rgb, read_split

__all__ = ["quantize_model"]


def quantize_model(src, dst, data_dir, names, *, size=(600, 400), per_channel=False) -> Path:
    """Write an int8 (QOperator, uint8 activations, int8 weights) copy of ``src`` to ``dst``.

    Activation ranges are calibrated (min/max) on ``names`` from ``data_dir``
    at ``size`` (width, height); the metadata of ``src`` is kept, with
    ``skdce_precision = "int8"`` and the calibration images recorded.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if isinstance(names, (str, Path)):
        names = read_split(names)
    batches = []
    for name in names:
        im = _read_rgb(Path(data_dir) / name).resize(size)
        rgb = np.asarray(im, np.float32)[None] / 255.0
        context = illumination_context(rgb)[:, None]
        batches.append({"image": np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)), "context": context})

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    dst = Path(dst)
    with atomic_path(dst, overwrite=True) as tmp:
        quantize_static(
            str(src), str(tmp), Reader(), quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
        )
        meta_src = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
        proto = onnx.load(str(tmp))
        meta_src["skdce_precision"] = "int8"
        meta_src["skdce_calibration"] = json.dumps({"images": len(batches), "size": list(size), "method": "minmax"})
        del proto.metadata_props[:]
        for k, v in meta_src.items():
            e = proto.metadata_props.add()
            e.key, e.value = k, v
        onnx.save(proto, str(tmp))
    return dst
