"""The numeric stages of the pipeline, one module each (private).

In pipeline order: :mod:`.network` (the curve estimator), :mod:`.curve` (the LE curve), :mod:`.gain` (the
curve's slope and the noise it adds), :mod:`.noise` (the input's noise level), :mod:`.guided` (the guided
filter) or :mod:`.learned` (the learned denoiser), :mod:`.tone` (black point, exposure); :mod:`.boxes`
(box means, resampling, the illumination context) serves several of them. Each module holds its stage's
host code (and C binding), its ONNX graph builder (``onnx_*``), its torch twin (``torch_*``) and a float64
oracle (``reference_*``) where it has them; ``tests/engine/test_stages.py`` holds them against each other.
"""
