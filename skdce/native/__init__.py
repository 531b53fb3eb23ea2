"""The optional C extensions: ``_kernels`` (LE curves, box means), ``_gfilter`` (gain map, guided filter) and
``_temporal`` (the video path's temporal filter).

Each is bound by the module that owns its stage (:mod:`skdce.engine.stages`,
:mod:`skdce.video`), which falls back to NumPy where the extension was not built.
"""
