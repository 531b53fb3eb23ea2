"""The engine under :func:`skdce.enhance` and :func:`skdce.estimate_curves` (private)."""
