"""The illumination context: what a curve estimator sees beyond its 15-pixel field.

skdce's models take it as a second input, and the adaptive losses of
:mod:`skdce.losses` (:func:`~skdce.losses.exposure_target`,
:func:`~skdce.losses.adaptive_exposure_loss`, :func:`~skdce.losses.adaptive_color_loss`,
:func:`~skdce.losses.prior_color_loss`) take it to judge an output: one
channel computed from the whole image, ``max(up(box(gray, 1)), up(box(gray, 2)))``,
the whole image's mean brightness and that of each half, bilinearly spread
over the pixels. The stage that computes it, with its ONNX graph builder and
its torch twin, is :mod:`skdce.engine.stages.boxes`; its notes say why it is
this coarse.
"""

from __future__ import annotations

import numpy as np

from ._base.image import compute_dtype, image_layout, validate_values
from ._base.validate import check_image_arg
from .engine.stages.boxes import CONTEXT_GRIDS
from .engine.stages.boxes import illumination_context as _context

__all__ = ["illumination_context", "CONTEXT_GRIDS"]


def illumination_context(image, *, channel_axis=-1) -> np.ndarray:
    """The illumination context of an image, as skdce's models and adaptive losses see it.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float in [0, 1] (the usual skdce layouts, see
        :func:`skdce.enhance`); the gray level is the mean of the colour channels.
        Other dtypes (bool, signed integer, complex, object) raise ``TypeError``.
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for grayscale.

    Returns
    -------
    context : (H, W) or (N, H, W) ndarray, float32
        In [0, 1]; one map per image of a batch.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.context import illumination_context
    >>> img = np.zeros((20, 40, 3), np.float32)
    >>> img[:, 20:] = 0.5  # a dark left half, a grey right half
    >>> ctx = illumination_context(img)
    >>> ctx.shape, round(float(ctx[10, 0]), 3), round(float(ctx[10, 39]), 3)
    ((20, 40), 0.25, 0.5)
    """
    check_image_arg(image, "image", "skdce.context.illumination_context")
    arr = np.asarray(image)
    compute_dtype(arr.dtype, "image")  # bool, signed integer, complex, object: TypeError, as apply_le_curves
    layout = image_layout(arr, channel_axis, "image")
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape}); pass an image with at least one pixel.")
    validate_values(arr, "image")
    ctx = _context(layout.to_nhwc(arr)[..., : layout.n_color])
    return ctx if layout.batched else ctx[0]
