"""The one place where skdce decides what an image array means.

Rules (each is tested in ``tests/test_image.py``):

* **dtype.** Unsigned integer images (uint8, uint16, uint32) are scaled by their
  dtype's maximum into [0, 1]. Float images must already lie in [0, 1].
  float16 and float32 compute in float32, float64 stays float64, integer images
  compute in float32. bool, signed integer, complex and object arrays are refused.
* **values.** NaN, inf and floats outside [0, 1] are refused; skdce never clips
  bad input silently.
* **back to integers.** :func:`to_uint` is the one float-to-integer conversion
  (files, the CLI, reports): ``round(x * max)`` with NumPy's rounding (half to
  even), for float images in [0, 1] and for unsigned integer images (scaled by
  their own maximum first, so uint16 -> uint8 is ``round(x / 257)``).
* **layout.** ``channel_axis`` names the colour axis (default ``-1``); the image is
  ``(H, W, C)`` or a batch ``(N, H, W, C)`` in channel-last terms. With
  ``channel_axis=None`` the image is grayscale: ``(H, W)`` or a batch ``(N, H, W)``.
* **channels.** 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). An alpha channel
  is the last one and is passed through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validate import check_image_arg, check_int

__all__ = ["ImageLayout", "compute_dtype", "to_float", "to_uint", "check_unit_range", "image_layout"]


def compute_dtype(dtype: np.dtype, name: str = "image") -> np.dtype:
    """Return the float dtype skdce computes in for an input of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.dtype(np.float64) if dtype.itemsize > 4 else np.dtype(np.float32)
    if dtype.kind == "u":
        return np.dtype(np.float32)
    if dtype.kind == "i":
        raise TypeError(
            f"{name} has signed integer dtype {dtype}; skdce takes unsigned integer "
            f"(uint8, uint16) or float images in [0, 1]. Convert it first, e.g. with "
            f"skimage.exposure.rescale_intensity({name}, out_range=(0.0, 1.0))."
        )
    raise TypeError(
        f"{name} has dtype {dtype}, which is not an image dtype; pass uint8, uint16 or "
        f"float16/32/64 values in [0, 1] (e.g. {name}.astype(np.float32) for real data)."
    )


def check_unit_range(arr: np.ndarray, name: str, *, lower: float = 0.0, fix: str = "") -> None:
    """Raise ``ValueError`` unless every value of ``arr`` is finite and in [lower, 1]."""
    if arr.size == 0:
        return
    lo = float(np.min(arr))
    hi = float(np.max(arr))
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name} contains NaN; replace it first, e.g. with np.nan_to_num({name}).")
    if np.isinf(lo) or np.isinf(hi):
        raise ValueError(f"{name} contains inf; replace it first, e.g. with np.nan_to_num({name}).")
    if lo < lower or hi > 1.0:
        raise ValueError(
            f"{name} has values in [{lo:.6g}, {hi:.6g}], outside [{lower:g}, 1]; " + fix
        )


_FLOAT_FIX_OF = (
    "float images must lie in [0, 1]. Rescale it, e.g. with "
    "skimage.exposure.rescale_intensity({name}, out_range=(0.0, 1.0))."
)
_FLOAT_FIX = _FLOAT_FIX_OF.format(name="image")


def unit_scale(dtype) -> float:
    """The factor that brings values of ``dtype`` to [0, 1]: ``1 / max`` for unsigned integers, else 1."""
    dtype = np.dtype(dtype)
    return 1.0 / np.iinfo(dtype).max if dtype.kind == "u" else 1.0


def validate_values(image: np.ndarray, name: str = "image") -> None:
    """Check the values of a float image; integer images are always valid."""
    if image.dtype.kind == "f":
        check_unit_range(image, name, fix=_FLOAT_FIX_OF.format(name=name))


def to_float(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as float32/float64 in [0, 1] (a view when already so)."""
    check_image_arg(image, name)
    image = np.asarray(image)
    dtype = compute_dtype(image.dtype, name)
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape}); pass an image with at least one pixel.")
    if image.dtype.kind == "u":
        out = image.astype(dtype)
        out *= dtype.type(1.0 / np.iinfo(image.dtype).max)
        return out
    validate_values(image, name)
    return image.astype(dtype, copy=False)


def to_uint(image, dtype, *, consume=False):
    """Return ``image`` (float in [0, 1], or unsigned integers) as the unsigned ``dtype``, rounded.

    ``round(x * max)`` with half to even; the clip only absorbs float error at
    the ends of [0, 1] (values are not checked here: the enhancement results
    this takes lie in [0, 1]). Works on NumPy and Dask arrays alike. With
    ``consume=True`` a float ndarray is scaled and rounded in place (the
    caller no longer needs it): no temporary of its size.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "u":
        raise TypeError(f"dtype={dtype} must be an unsigned integer dtype (uint8, uint16).")
    if image.dtype == dtype:
        return image
    top = np.iinfo(dtype).max
    if image.dtype.kind == "u":  # float64: exact for every uint16 -> uint8 value
        scaled = image.astype(np.float64) * (top / np.iinfo(image.dtype).max)
    elif consume and isinstance(image, np.ndarray) and image.flags.writeable:
        scaled = image
        scaled *= image.dtype.type(top)
    else:
        scaled = image * image.dtype.type(top)
    if isinstance(scaled, np.ndarray):  # one temporary, rounded and clipped in place (24 MP: 288 MB, not 864)
        np.round(scaled, out=scaled)
        np.clip(scaled, 0, top, out=scaled)
        return scaled.astype(dtype)
    return np.clip(np.round(scaled), 0, top).astype(dtype)


@dataclass(frozen=True)
class ImageLayout:
    """How an input array maps to skdce's channel-last ``(N, H, W, C)`` view."""

    shape: tuple
    channel_axis: int | None
    batched: bool

    @property
    def n_channels(self) -> int:
        return 1 if self.channel_axis is None else self.shape[self.channel_axis]

    @property
    def n_color(self) -> int:
        """Colour channels: 1 for gray (+ alpha), 3 for RGB(A)."""
        return 1 if self.n_channels <= 2 else 3

    @property
    def has_alpha(self) -> bool:
        return self.n_channels in (2, 4)

    def to_nhwc(self, arr: np.ndarray) -> np.ndarray:
        """View ``arr`` (laid out like the input) as ``(N, H, W, C)``."""
        if self.channel_axis is None:
            arr = arr[..., None]
        else:
            arr = np.moveaxis(arr, self.channel_axis, -1)
        return arr if self.batched else arr[None]

    def from_nhwc(self, arr: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_nhwc` (a view)."""
        if not self.batched:
            arr = arr[0]
        if self.channel_axis is None:
            return arr[..., 0]
        return np.moveaxis(arr, -1, self.channel_axis)


def image_layout(image: np.ndarray, channel_axis: int | None, name: str = "image") -> ImageLayout:
    """Interpret the shape of ``image`` under ``channel_axis``; raise on anything else."""
    shape = tuple(image.shape)
    if channel_axis is None:
        if image.ndim not in (2, 3):
            raise ValueError(
                f"{name} has shape {shape}; with channel_axis=None it must be grayscale "
                f"(H, W) or a batch (N, H, W). For colour images pass channel_axis=-1."
            )
        return ImageLayout(shape, None, image.ndim == 3)
    channel_axis = check_int("channel_axis", channel_axis, hint="or None for a grayscale image without one.")
    if image.ndim not in (3, 4):
        raise ValueError(
            f"{name} has shape {shape}; with channel_axis={channel_axis} it must be (H, W, C) "
            f"or a batch (N, H, W, C). For a grayscale (H, W) image pass channel_axis=None."
        )
    if not -image.ndim <= channel_axis < image.ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for {name} with {image.ndim} dimensions.")
    axis = int(channel_axis) % image.ndim
    if image.ndim == 4 and axis not in (1, 3):
        raise ValueError(
            f"channel_axis={channel_axis} is not valid for a batch of shape {shape}; "
            f"batches are (N, H, W, C) (channel_axis=-1) or (N, C, H, W) (channel_axis=1)."
        )
    n = shape[axis]
    if n not in (1, 2, 3, 4):
        raise ValueError(
            f"{name} has {n} channels along channel_axis={channel_axis} (shape {shape}); "
            f"skdce takes 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels. "
            f"Check channel_axis, or select the colour channels first."
        )
    return ImageLayout(shape, axis, image.ndim == 4)

