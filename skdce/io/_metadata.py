"""The metadata carried from a read file to a written one: the ImageMeta record, EXIF orientation, dpi, ICC.

:class:`ImageMeta` is what :func:`~skdce.io.read_image` learns about a file;
the helpers here find and reset the EXIF orientation (patching the EXIF block
in place, so maker notes survive), turn pixels upright, and normalize
resolutions. They are pure Python: no codec is imported.
"""

from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["ImageMeta", "CaptureInfo", "apply_orientation"]

_EXIF_HEADER = b"Exif\x00\x00"
#: EXIF tags of the first directory carried between EXIF blocks and TIFF directories (text: description,
#: make, model, date, artist, copyright); the rest of a TIFF's directory describes its layout, and its
#: software tag the program that wrote it (not skdce's output).
_TIFF_TEXT_TAGS = (270, 271, 272, 306, 315, 33432)
#: EXIF sub-directories carried: the Exif (camera settings, dates) and GPS directories.
_EXIF_SUBIFDS = (0x8769, 0x8825)


@dataclass(frozen=True)
class CaptureInfo:
    """How a camera RAW file was shot, as its file records it (``None`` where it does not).

    Attributes
    ----------
    make, model : str or None
        Camera maker and model (EXIF Make and Model).
    exposure_time : float or None
        Exposure time in seconds.
    iso : float or None
        ISO speed.
    datetime : datetime.datetime or None
        Capture time as the camera's clock showed it (naive: cameras record no time zone).
    """

    make: str | None = None
    model: str | None = None
    exposure_time: float | None = None
    iso: float | None = None
    datetime: datetime.datetime | None = None


@dataclass(frozen=True)
class ImageMeta:
    """What :func:`read_image` learnt about a file, and what :func:`write_image` carries over.

    Attributes
    ----------
    format : str
        The file's format as decoded: ``"PNG"``, ``"JPEG"``, ``"TIFF"``,
        ``"WEBP"``, or another format Pillow reads (``"BMP"``, ``"GIF"``...).
    mode : {"L", "LA", "RGB", "RGBA"}
        The layout of the array: gray, gray + alpha, RGB, RGBA.
    bit_depth : {8, 16}
        Bits per sample of the array (uint8 or uint16).
    icc_profile : bytes or None
        The embedded ICC colour profile.
    exif : bytes or None
        The EXIF block as Pillow writes it (``b"Exif\\x00\\x00"`` + TIFF
        data), its orientation already reset to 1. For a TIFF file, an EXIF
        block made of its directory's text tags (make, model, date...) and its
        Exif and GPS directories, without its orientation.
    orientation : int
        The EXIF orientation (1-8) that was applied to the pixels; 1 when none.
    dpi : (float, float) or None
        Horizontal and vertical resolution in dots per inch.
    capture : CaptureInfo or None
        Camera, exposure and capture time of a camera RAW file (also written
        into :attr:`exif`); ``None`` for other files.
    """

    format: str
    mode: str
    bit_depth: int
    icc_profile: bytes | None = None
    exif: bytes | None = None
    orientation: int = 1
    dpi: tuple | None = None
    capture: CaptureInfo | None = None


# --------------------------------------------------------------------------------------------
# EXIF orientation
# --------------------------------------------------------------------------------------------


def _with_exif_header(exif: bytes | None) -> bytes | None:
    if not exif:
        return None
    exif = bytes(exif)
    return exif if exif.startswith(_EXIF_HEADER) else _EXIF_HEADER + exif


def _find_orientation(exif: bytes) -> tuple[int, int | None, str]:
    """``(orientation, offset of its value, byte order)`` in a prefixed EXIF block; ``(1, None, "")`` if absent."""
    base = len(_EXIF_HEADER)
    tiff = exif[base:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1, None, ""
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1, None, ""
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            break
        tag, kind, n = struct.unpack(order + "HHI", tiff[entry : entry + 8])
        if tag == 0x0112 and kind == 3 and n == 1:  # Orientation, one SHORT
            (value,) = struct.unpack(order + "H", tiff[entry + 8 : entry + 10])
            return value, base + entry + 8, order
    return 1, None, ""


def _upright_exif(exif: bytes | None) -> tuple[bytes | None, int]:
    """``(exif with orientation 1, the orientation it had)``."""
    exif = _with_exif_header(exif)
    if exif is None:
        return None, 1
    orientation, offset, order = _find_orientation(exif)
    if offset is None or orientation == 1:
        return exif, 1
    patched = bytearray(exif)
    patched[offset : offset + 2] = struct.pack(order + "H", 1)
    return bytes(patched), orientation if 1 <= orientation <= 8 else 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an ``(H, W[, C])`` array stored with EXIF ``orientation`` (1-8) upright."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return image.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(image, 1)
    return image


# --------------------------------------------------------------------------------------------
# Resolution and ICC profile
# --------------------------------------------------------------------------------------------


def _clean_dpi(dpi):
    if not dpi:
        return None
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def tiff_dpi(tags):
    """The resolution of a tifffile page's ``tags`` in dots per inch, or None (missing, unknown unit, not positive)."""
    if 282 not in tags or 283 not in tags:
        return None
    scale = {2: 1.0, 3: 2.54}.get(int(tags[296].value) if 296 in tags else 2)  # ResolutionUnit: inch, centimetre
    if scale is None:
        return None
    return _clean_dpi(tuple(_rational(tags[t].value) * scale for t in (282, 283)))


def _rational(value) -> float:
    if isinstance(value, tuple):
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def _is_gray_profile(icc: bytes | None) -> bool:
    return bool(icc) and icc[16:20] == b"GRAY"
