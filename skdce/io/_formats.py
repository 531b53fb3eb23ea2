"""What skdce reads and writes: format names and suffixes, array layouts, file signatures.

Also the one error type of the file layer, :class:`ImageFileError`, raised by
both :func:`~skdce.io.read_image` and :func:`~skdce.io.write_image`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS", "IMAGE_SUFFIXES", "RAW_SUFFIXES", "ImageFileError", "normalize_format", "format_from_path", "is_raw_path"]

#: Output formats and their file name suffixes (the first is the default).
FORMATS = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "TIFF": (".tif", ".tiff"),
    "WEBP": (".webp",),
}

#: Camera RAW file name suffixes, read through LibRaw (rawpy) by :func:`~skdce.io.read_raw`.
RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")

#: File name suffixes that skdce treats as images when it lists a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm") + RAW_SUFFIXES

#: Default pixel limit of :func:`read_image` (2**27, about 134 megapixels, e.g. 16384 x 8192).
DEFAULT_MAX_PIXELS = 2**27

_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_EIGHT_BIT_ONLY = ("JPEG", "WEBP")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_DEFAULT_QUALITY = {"JPEG": 95, "WEBP": 90}
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class ImageFileError(ValueError):
    """An image file that cannot be read or written: ``action`` (``"read"``, ``"write"``), ``path`` and ``reason``."""

    def __init__(self, action: str, path, reason: str):
        self.action = action
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot {action} image {self.path!r}: {reason}")

    def __reduce__(self):
        # pickle rebuilds an exception from self.args (the message alone); rebuild it from its fields, so it
        # crosses process boundaries (Dask workers, multiprocessing) whole
        return type(self), (self.action, self.path, self.reason), self.__dict__


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image of ``width x height`` pixels above ``max_pixels`` (a ``ValueError`` saying how to raise it)."""
    if width * height > max_pixels:
        raise ValueError(
            f"the image has {width} x {height} = {width * height} pixels, more than max_pixels={max_pixels} "
            f"(a guard against decompression bombs); raise the limit if the file is trusted"
        )


def normalize_format(name) -> str:
    """``"png"``, ``"jpg"``, ``"jpeg"``, ``"tif"``, ``"tiff"``, ``"webp"`` -> a key of :data:`FORMATS`."""
    key = str(name).upper().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"format={name!r} is not supported for writing; use one of png, jpg, tiff, webp.")
    return key


def is_raw_path(path) -> bool:
    """Whether the name of ``path`` ends in a camera RAW suffix (:data:`RAW_SUFFIXES`, any case)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def format_from_path(path) -> str | None:
    """The output format a file name asks for (``"x.JPG"`` -> ``"JPEG"``), or ``None``."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    return None
