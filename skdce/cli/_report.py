"""What the batch commands share with the video path: a report row, and the conversion to the output's bits."""

from __future__ import annotations

__all__ = ["row", "to_uint"]


def row(src, dst, status: str, reason: str | None = None, seconds: float = 0.0) -> dict:
    """One line of the report: ``input``, ``output``, ``status`` (ok, skipped, failed), ``reason``, ``seconds``."""
    return {
        "input": str(src),
        "output": None if dst is None else str(dst),
        "status": status,
        "reason": reason,
        "seconds": round(seconds, 3),
    }


def to_uint(image, bits: int, consume: bool = False):
    """Enhanced floats in [0, 1] -> uint8/uint16 (in place with ``consume``): skdce._base.image's one conversion."""
    import numpy as np

    from .._base.image import to_uint as image_to_uint

    return image_to_uint(image, np.uint8 if bits == 8 else np.uint16, consume=consume)
