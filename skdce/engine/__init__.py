"""The engine under :func:`skdce.enhance` and :func:`skdce.estimate_curves` (private).

* :mod:`.plan`: every argument checked once, into a frozen ``Plan``; the ``tile_size`` rule.
* :mod:`.tiles`: ``Tile`` and ``Window``, where a piece of work lies.
* the drivers, thin readers of the plan: :mod:`.host` (this machine's cores), :mod:`.fused` (one ONNX
  graph on the provider, assembled by :mod:`.graph`) and :mod:`.dask` (lazy, chunk by chunk).
* :mod:`.runtime` (ONNX Runtime sessions) and :mod:`.workers` (skdce's thread pool).
* :mod:`.stages`: one module per numeric stage, each with its host code, ONNX builder, torch twin and
  float64 oracle side by side.

``docs/user_guide/architecture.rst`` draws the whole tree.
"""
