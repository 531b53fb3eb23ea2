"""``skdce models`` and ``skdce info`` (skdce/cli/info.py)."""

import json

import numpy as np

from .._helpers import invoke


def test_models_and_info():
    result = invoke("models", "--json")
    assert result.exit_code == 0
    facts = {f["name"]: f for f in json.loads(result.stdout)}
    assert facts["zero-dce"]["bundled"] and facts["zero-dce"]["iterations"] == 8
    assert len(facts["zero-dce"]["sha256"]) == 64
    assert "zero-dce  (bundled)" in invoke("models").output

    result = invoke("info", "--json", "--providers", "cpu")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["skdce"] == "0.2.0.dev0" and data["versions"]["numpy"] == np.__version__
    assert "CPUExecutionProvider" in data["providers_available"]
    assert data["providers_chosen"] == ["CPUExecutionProvider"] == data["providers_running"]
    assert data["cpu_count"] >= 1
    text = invoke("info").output
    assert "providers running" in text and "onnxruntime threads" in text
