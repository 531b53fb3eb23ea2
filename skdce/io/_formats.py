"""What skdce reads and writes: format names and suffixes, array layouts, file signatures.

Also the one error type of the file layer, :class:`ImageFileError`, raised by
both :func:`~skdce.io.read_image` and :func:`~skdce.io.write_image`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FORMATS", "IMAGE_SUFFIXES", "ImageFileError", "normalize_format", "format_from_path"]

#: Output formats and their file name suffixes (the first is the default).
FORMATS = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "TIFF": (".tif", ".tiff"),
    "WEBP": (".webp",),
}

#: File name suffixes that skdce treats as images when it lists a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm")

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


def normalize_format(name) -> str:
    """``"png"``, ``"jpg"``, ``"jpeg"``, ``"tif"``, ``"tiff"``, ``"webp"`` -> a key of :data:`FORMATS`."""
    key = str(name).upper().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"format={name!r} is not supported for writing; use one of png, jpg, tiff, webp.")
    return key


def format_from_path(path) -> str | None:
    """The output format a file name asks for (``"x.JPG"`` -> ``"JPEG"``), or ``None``."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    return None
