"""What skdce reads and writes: format names and suffixes, array layouts, file signatures.

Also the one error type of the file layer, :class:`ImageFileError`, raised by
both :func:`~skdce.io.read_image` and :func:`~skdce.io.write_image`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_MAX_PIXELS", "FORMATS", "IMAGE_SUFFIXES", "RAW_SUFFIXES", "ImageFileError", "normalize_format",
    "format_from_path", "is_raw_path", "check_fits"]

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


#: Largest width or height each format stores (JPEG: libjpeg's 65,500; WebP: 16,383), and the largest
#: EXIF block (a JPEG APP1 segment holds 65,533 bytes, "Exif\\0\\0" included; WebP's chunk has no such bound).
_MAX_SIDE = {"JPEG": 65500, "WEBP": 16383}
_MAX_EXIF = {"JPEG": 65533}


def check_fits(format, shape, exif: bytes | None = None) -> None:
    """Raise ``ValueError`` if an image of ``shape`` (and its ``exif``) cannot be stored as ``format``.

    Cheap, so callers check before the work rather than fail at the end:
    JPEG stores at most 65,500 pixels a side and 65,533 bytes of EXIF, WebP
    16,383 pixels a side.

    Examples
    --------
    >>> from skdce.io import check_fits
    >>> check_fits("png", (70000, 100))
    >>> try:
    ...     check_fits("jpg", (70000, 100))
    ... except ValueError as exc:
    ...     print(str(exc)[:64])
    the image is 100 x 70000 pixels; JPEG stores at most 65,500 pixe
    """
    fmt = normalize_format(format)
    h, w = int(shape[0]), int(shape[1])
    side = _MAX_SIDE.get(fmt)
    if side is not None and max(h, w) > side:
        raise ValueError(f"the image is {w} x {h} pixels; {fmt} stores at most {side:,} pixels a side: write PNG or "
                         f"TIFF instead (--format png / format='png')")
    limit = _MAX_EXIF.get(fmt)
    if limit is not None and exif and len(exif) > limit:
        raise ValueError(f"its EXIF block is {len(exif):,} bytes; {fmt} holds at most {limit:,}: write PNG or TIFF "
                         f"instead, which keep it whole")
