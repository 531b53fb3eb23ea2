"""The optional C extensions: ``_kernels`` (LE curves, box means) and ``_gfilter`` (gain map, guided filter).

Each is bound by the stage that owns it (:mod:`skdce.engine.stages`), which
falls back to NumPy where the extension was not built.
"""
