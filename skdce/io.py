"""Image files for the command line: bit depth, EXIF orientation, ICC and EXIF metadata.

:func:`read_image` returns the pixels of a file as a uint8 or uint16 array,
upright (its EXIF orientation applied), and an :class:`ImageMeta` describing
it; :func:`write_image` writes such an array back, carrying the metadata
where the output format can hold it. The enhancement functions never touch
files; this module is the file layer of ``skdce enhance`` and friends.

What is read, and how:

* **layouts.** ``(H, W)`` grayscale, ``(H, W, 2)`` gray + alpha,
  ``(H, W, 3)`` RGB, ``(H, W, 4)`` RGBA. Palette images become RGB (RGBA with
  transparency), 1-bit images 8-bit gray, CMYK/LAB images RGB (their ICC
  profile, which describes the old colour space, is dropped).
* **bit depth.** 8-bit files give uint8, 16-bit PNG and TIFF files uint16.
  Pillow decodes 16-bit *colour* PNGs to 8 bits, so the pixels of 16-bit PNGs
  are decoded by ``imagecodecs`` (libpng; every filter, Adam7 interlacing,
  ``tRNS`` as alpha), their metadata (``iCCP``, ``eXIf``, ``pHYs``) read by
  Pillow. TIFF files are read with tifffile, which decodes every common
  compression (deflate, LZW, JPEG...) through ``imagecodecs``; Pillow only
  converts the 8-bit colour models tifffile leaves as they are (palette,
  CMYK, min-is-white...). 32-bit and float files are refused.
* **orientation.** The EXIF orientation (tag 274) is applied to the pixels and
  reset to 1 in the EXIF block kept in :attr:`ImageMeta.exif` (the block is
  patched in place, so maker notes survive).
* **limits.** Files with more than ``max_pixels`` pixels are refused before
  their pixels are decoded (a guard against decompression bombs); so are
  empty, truncated and corrupt files. Every such error is an
  :class:`ImageFileError` (a ``ValueError``) naming the file and the reason.

What is written (:func:`write_image`):

========  ==========  =====  ====  ====  ===
format    bit depth   alpha  ICC   EXIF  dpi
========  ==========  =====  ====  ====  ===
PNG       8, 16       yes    yes   yes   yes
TIFF      8, 16       yes    yes   no    yes
JPEG      8           no     yes   yes   yes
WebP      8 (colour)  yes    yes   yes   no
========  ==========  =====  ====  ====  ===

JPEG and WebP hold 8 bits: 16-bit arrays are rounded to 8 bits
(``round(x / 257)``, the one conversion of ``skdce._image.to_uint``). WebP has
no grayscale mode: gray images are written as RGB. PNG files are encoded by
``imagecodecs`` with the ``iCCP``, ``pHYs`` and ``eXIf`` chunks added after
the header (as Pillow writes them); TIFF files are written by tifffile, which
does not write an EXIF directory. Every file is written to a temporary file
in the destination folder (named ``.<name>.<random>.skdce-tmp``) and renamed
into place, so a reader never sees a partial file and an interrupted write
leaves nothing behind.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ._atomic import TEMP_SUFFIX, atomic_path
from ._image import to_uint
from ._validate import check_int

__all__ = [
    "ImageMeta",
    "ImageFileError",
    "read_image",
    "apply_orientation",
    "write_image",
    "format_from_path",
    "normalize_format",
    "FORMATS",
    "DEFAULT_MAX_PIXELS",
    "TEMP_SUFFIX",
    "IMAGE_SUFFIXES",
]

#: Output formats and their file name suffixes (the first is the default).
FORMATS = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "TIFF": (".tif", ".tiff"),
    "WEBP": (".webp",),
}

#: Default pixel limit of :func:`read_image` (2**27, about 134 megapixels, e.g. 16384 x 8192).
DEFAULT_MAX_PIXELS = 2**27


#: File name suffixes that skdce treats as images when it lists a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm")

_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_EIGHT_BIT_ONLY = ("JPEG", "WEBP")
_EXIF_HEADER = b"Exif\x00\x00"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_DEFAULT_QUALITY = {"JPEG": 95, "WEBP": 90}
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class ImageFileError(ValueError):
    """An image file that cannot be read or written; ``path`` and ``reason`` say which and why."""

    def __init__(self, action: str, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot {action} image {self.path!r}: {reason}")


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
        data), its orientation already reset to 1. ``None`` for TIFF files,
        whose EXIF tags live in the TIFF directory itself.
    orientation : int
        The EXIF orientation (1-8) that was applied to the pixels; 1 when none.
    dpi : (float, float) or None
        Horizontal and vertical resolution in dots per inch.
    """

    format: str
    mode: str
    bit_depth: int
    icc_profile: bytes | None = None
    exif: bytes | None = None
    orientation: int = 1
    dpi: tuple | None = None


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
# PNG: imagecodecs for the pixels, three metadata chunks written here
# --------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_metadata_chunks(meta: ImageMeta | None) -> bytes:
    """``iCCP``, ``pHYs`` and ``eXIf`` chunks for ``meta`` (what Pillow writes for the same metadata)."""
    if meta is None:
        return b""
    parts = []
    if meta.icc_profile:
        parts.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc_profile)))
    if meta.dpi:
        ppm = [max(1, round(v / 0.0254)) for v in meta.dpi]
        parts.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if meta.exif:
        exif = meta.exif[len(_EXIF_HEADER) :] if meta.exif.startswith(_EXIF_HEADER) else meta.exif
        parts.append(_png_chunk(b"eXIf", exif))
    return b"".join(parts)


def _png_bytes(image: np.ndarray, meta: ImageMeta | None) -> bytes:
    """PNG bytes of a uint8/uint16 ``(H, W[, C])`` array: imagecodecs' encoder, metadata chunks after IHDR."""
    import imagecodecs

    data = bytes(imagecodecs.png_encode(image, level=6))
    ihdr_end = len(_PNG_SIGNATURE) + 8 + 13 + 4  # length, type, 13 bytes of IHDR, CRC
    return data[:ihdr_end] + _png_metadata_chunks(meta) + data[ihdr_end:]


def _png_bit_depth(head: bytes) -> int | None:
    """The bit depth in a PNG file's IHDR chunk (its first 25 bytes), or ``None``."""
    return head[24] if len(head) >= 25 and head[12:16] == b"IHDR" else None


def _read_png16(path: Path, max_pixels: int):
    """A 16-bit PNG: the header and metadata from Pillow (which decodes these pixels to 8 bits), pixels from imagecodecs."""
    import imagecodecs

    im = _open_pillow(path, max_pixels)  # checks the pixel count from the header
    with im:
        icc = im.info.get("icc_profile") or None
        dpi = im.info.get("dpi")
        exif = im.info.get("exif")
    try:
        arr = imagecodecs.png_decode(path.read_bytes())  # tRNS becomes an alpha channel
    except (imagecodecs.PngError, ValueError) as exc:
        text = str(exc)
        if "too small" in text or "truncated" in text.lower():
            raise ValueError(f"the file is truncated ({text})") from None
        raise ValueError(f"the file is corrupt ({text})") from None
    exif, orientation = _upright_exif(exif)
    return arr, icc, exif, orientation, _clean_dpi(dpi)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

_pillow_lock = threading.Lock()


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ValueError(
            f"the image has {width} x {height} = {width * height} pixels, more than max_pixels={max_pixels} "
            f"(a guard against decompression bombs); raise the limit if the file is trusted"
        )


def _open_pillow(path: Path, max_pixels: int):
    from PIL import Image

    # Pillow warns above Image.MAX_IMAGE_PIXELS and refuses above twice that;
    # skdce applies its own limit (an error) right after the header is read.
    with _pillow_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise ValueError(f"the image has too many pixels for Pillow ({exc})") from None
        except Image.UnidentifiedImageError:
            raise ValueError("the file is not an image in a format skdce reads (PNG, JPEG, TIFF, WebP, ...)") from None
        except (SyntaxError, EOFError, struct.error, ValueError) as exc:  # a broken header
            raise ValueError(_pillow_reason(exc)) from None
    try:
        _check_pixels(im.width, im.height, max_pixels)
    except ValueError:
        im.close()
        raise
    return im


def _pillow_array(im) -> tuple[np.ndarray, bool]:
    """``(array, keeps_icc)``: the pixels of a loaded Pillow image as uint8/uint16."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), True
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError("32-bit integer images are not supported; convert the file to 8 or 16 bits")
        return arr.astype(np.uint16), True
    if mode == "F":
        raise ValueError("floating-point images are not supported; convert the file to 8 or 16 bits")
    keeps_icc = True
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode in ("RGBX", "YCbCr", "HSV"):
        im = im.convert("RGB")
    elif mode in ("CMYK", "LAB"):
        im, keeps_icc = im.convert("RGB"), False
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise ValueError(f"Pillow image mode {mode!r} is not supported")
    return np.asarray(im), keeps_icc


def _read_pillow(path: Path, max_pixels: int):
    im = _open_pillow(path, max_pixels)
    with im:
        fmt = im.format or "unknown"
        try:
            im.load()
            arr, keeps_icc = _pillow_array(im)
        except ValueError:
            raise
        except Exception as exc:  # Pillow raises OSError, SyntaxError, struct.error... for broken files
            raise ValueError(_pillow_reason(exc)) from None
        icc = im.info.get("icc_profile") or None
        dpi = im.info.get("dpi")
        if fmt == "TIFF":
            exif, orientation = None, int(im.tag_v2.get(274, 1))
        else:
            exif, orientation = _upright_exif(im.info.get("exif"))
    return arr, fmt, (icc if keeps_icc else None), exif, orientation, _clean_dpi(dpi)


def _pillow_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"the file is truncated ({text})"
    return f"the file is corrupt ({text})"


def _clean_dpi(dpi):
    if not dpi:
        return None
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _read_tiff(path: Path, max_pixels: int):
    import tifffile

    try:
        tf = tifffile.TiffFile(path)
    except Exception as exc:
        raise ValueError(f"the file is corrupt or truncated ({exc})") from None
    with tf:
        if not tf.pages:
            raise ValueError("the TIFF file holds no image")
        page = tf.pages.first
        _check_pixels(page.imagewidth, page.imagelength, max_pixels)
        bits = page.bitspersample
        photometric = int(page.photometric)
        simple = photometric in (int(tifffile.PHOTOMETRIC.MINISBLACK), int(tifffile.PHOTOMETRIC.RGB))
        if page.sampleformat != 1 or bits not in (8, 16) or (bits == 16 and not simple):
            kind = {1: "unsigned integer", 2: "signed integer", 3: "floating-point"}.get(page.sampleformat, "other")
            raise ValueError(
                f"TIFF with {bits}-bit {kind} samples ({page.photometric.name}) is not supported; "
                f"skdce reads 8- and 16-bit gray or RGB(A) TIFF files"
            )
        jpeg_ycbcr = photometric == int(tifffile.PHOTOMETRIC.YCBCR) and page.compression == 7  # decoded to RGB
        if not (simple or jpeg_ycbcr):
            return None  # palette, CMYK, LAB, min-is-white...: Pillow converts these 8-bit files to RGB or gray
        try:
            arr = page.asarray()  # every compression tifffile knows (LZW, JPEG... through imagecodecs)
        except Exception as exc:
            raise ValueError(f"the file is corrupt or truncated ({exc})") from None
        if page.axes.startswith("S"):  # planar: (S, Y, X)
            arr = np.moveaxis(arr, 0, -1)
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] > 4):
            raise ValueError(f"TIFF image of shape {arr.shape} ({page.axes}) is not a gray or RGB(A) image")
        tags = page.tags
        orientation = int(tags[274].value) if 274 in tags else 1
        icc = bytes(tags[34675].value) if 34675 in tags else None
        dpi = None
        if 282 in tags and 283 in tags:
            unit = int(tags[296].value) if 296 in tags else 2
            scale = {2: 1.0, 3: 2.54}.get(unit)
            if scale is not None:
                dpi = tuple(_rational(tags[t].value) * scale for t in (282, 283))
        return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")), icc, orientation, _clean_dpi(dpi)


def _rational(value) -> float:
    if isinstance(value, tuple):
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image file as an upright uint8/uint16 array and its metadata.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG, TIFF or WebP file (or any other format Pillow reads:
        BMP, GIF, PPM...; animated files give their first frame).
    max_pixels : int, optional
        Largest accepted width x height; larger files are refused before
        their pixels are decoded.

    Returns
    -------
    image : (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray
        uint8 for 8-bit (and lower) files, uint16 for 16-bit files; gray,
        gray + alpha, RGB or RGBA; the EXIF orientation applied.
    meta : ImageMeta
        Format, layout, bit depth, ICC profile, EXIF (orientation reset to 1),
        the orientation applied, resolution.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError
        If ``max_pixels`` is not an integer.
    ValueError
        If ``max_pixels`` is less than 1.
    ImageFileError
        A ``ValueError`` naming the file and the reason: a folder, an empty,
        truncated or corrupt file, not an image, too many pixels, an
        unsupported sample format.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdce.io import read_image, write_image
    >>> folder = tempfile.mkdtemp()
    >>> path = write_image(os.path.join(folder, "a.png"), np.zeros((4, 6, 3), np.uint16))
    >>> image, meta = read_image(path)
    >>> image.shape, image.dtype, meta.format, meta.mode, meta.bit_depth
    ((4, 6, 3), dtype('uint16'), 'PNG', 'RGB', 16)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist.")
    max_pixels = check_int("max_pixels", max_pixels, min=1,
                           hint=f"the default, skdce.io.DEFAULT_MAX_PIXELS, is {DEFAULT_MAX_PIXELS}.")
    try:
        return _read(path, max_pixels)
    except ValueError as exc:
        raise ImageFileError("read", path, str(exc)) from None
    except OSError as exc:
        raise ImageFileError("read", path, exc.strerror or str(exc)) from None


def _read(path: Path, max_pixels: int):
    if path.is_dir():
        raise ValueError("it is a folder, not a file")
    with open(path, "rb") as fh:
        head = fh.read(32)
    if not head:
        raise ValueError("the file is empty (0 bytes)")
    if head.startswith(_PNG_SIGNATURE) and _png_bit_depth(head) == 16:
        arr, icc, exif, orientation, dpi = _read_png16(path, max_pixels)
        return _finish(arr, "PNG", icc, exif, orientation, dpi)
    if head[:4] in _TIFF_SIGNATURES:
        tiff = _read_tiff(path, max_pixels)
        if tiff is not None:
            arr, icc, orientation, dpi = tiff
            return _finish(arr, "TIFF", icc, None, orientation, dpi)
    arr, fmt, icc, exif, orientation, dpi = _read_pillow(path, max_pixels)
    return _finish(arr, fmt, icc, exif, orientation, dpi)


def _finish(arr, fmt, icc, exif, orientation, dpi):
    if not 1 <= orientation <= 8:
        orientation = 1
    arr = np.ascontiguousarray(apply_orientation(arr, orientation))
    if orientation in (5, 6, 7, 8) and dpi:
        dpi = (dpi[1], dpi[0])
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    meta = ImageMeta(
        format=fmt,
        mode=_MODES[channels],
        bit_depth=8 if arr.dtype == np.uint8 else 16,
        icc_profile=bytes(icc) if icc else None,
        exif=exif,
        orientation=orientation,
        dpi=dpi,
    )
    return arr, meta


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _is_gray_profile(icc: bytes | None) -> bool:
    return bool(icc) and icc[16:20] == b"GRAY"


def _prepare(image, fmt: str, meta: ImageMeta | None):
    """Check the array and fit it (and its metadata) to ``fmt``."""
    image = np.asarray(image)
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(
            f"image has dtype {image.dtype}; write_image takes uint8 or uint16 arrays. Convert float images "
            f"in [0, 1] first, e.g. with skimage.util.img_as_ubyte(image)."
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (2, 3, 4)) or image.size == 0:
        raise ValueError(
            f"image has shape {image.shape}; write_image takes (H, W) gray, (H, W, 2) gray + alpha, "
            f"(H, W, 3) RGB or (H, W, 4) RGBA arrays with at least one pixel."
        )
    channels = 1 if image.ndim == 2 else image.shape[2]
    meta = meta if meta is not None else ImageMeta(format=fmt, mode=_MODES[channels], bit_depth=8)
    if fmt in _EIGHT_BIT_ONLY:
        image = to_uint(image, np.uint8)
    if fmt == "JPEG" and channels in (2, 4):
        raise ValueError("JPEG has no alpha channel; write PNG, TIFF or WebP, or drop the alpha channel first")
    if fmt == "WEBP" and channels in (1, 2):  # WebP stores colour only
        image = np.repeat(image, 3, axis=-1) if channels == 1 else image[..., [0, 0, 0, 1]]
        if _is_gray_profile(meta.icc_profile):
            meta = replace(meta, icc_profile=None)
    return np.ascontiguousarray(image), meta


def _write_pillow(fh, image: np.ndarray, meta: ImageMeta, fmt: str, quality) -> None:
    from PIL import Image

    channels = 1 if image.ndim == 2 else image.shape[2]
    im = Image.fromarray(image, _MODES[channels])
    options = {}
    if meta.icc_profile:
        options["icc_profile"] = meta.icc_profile
    if meta.exif:
        options["exif"] = meta.exif[len(_EXIF_HEADER) :] if fmt == "WEBP" else meta.exif
    if meta.dpi and fmt != "WEBP":
        options["dpi"] = tuple(meta.dpi)
    if fmt in _DEFAULT_QUALITY:
        options["quality"] = int(quality) if quality is not None else _DEFAULT_QUALITY[fmt]
    im.save(fh, format=fmt, **options)


def _write_tiff(fh, image: np.ndarray, meta: ImageMeta) -> None:
    import tifffile

    channels = 1 if image.ndim == 2 else image.shape[2]
    options = {}
    if meta.dpi:
        options.update(resolution=tuple(meta.dpi), resolutionunit="INCH")
    tifffile.imwrite(
        fh,
        image,
        photometric="minisblack" if channels <= 2 else "rgb",
        planarconfig="contig" if channels > 1 else None,
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        iccprofile=meta.icc_profile,
        metadata=None,
        **options,
    )


def write_image(path, image, meta=None, *, format=None, quality=None, overwrite=False):
    """Write a uint8/uint16 array to an image file atomically, with its metadata.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    image : (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray
        uint8 or uint16: gray, gray + alpha, RGB or RGBA.
    meta : ImageMeta, optional
        Metadata to carry (ICC profile, EXIF, dpi), usually from :func:`read_image`.
    format : {"png", "jpg", "jpeg", "tiff", "tif", "webp"}, optional
        Output format; default: from the suffix of ``path``.
    quality : int, optional
        JPEG and WebP quality, 1-100 (default 95 for JPEG, 90 for WebP);
        ignored by the lossless formats.
    overwrite : bool, optional
        Replace an existing file; by default an existing ``path`` raises.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    TypeError
        For arrays that are not uint8/uint16, a ``quality`` that is not an integer.
    ValueError
        For unknown formats, bad shapes, alpha in a JPEG, a ``quality`` outside 1-100.

    Notes
    -----
    The file is written to a temporary file in the destination folder,
    flushed to disk and put in place: with ``overwrite=True`` by
    :func:`os.replace`, without by a hard link that fails if ``path`` exists,
    so an existing file is never replaced, even one another process wrote
    a moment ago. On any error, including ``KeyboardInterrupt``, the
    temporary file is removed.
    See the module docstring for what each format keeps.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdce.io import write_image
    >>> folder = tempfile.mkdtemp()
    >>> write_image(os.path.join(folder, "a.jpg"), np.zeros((4, 6, 3), np.uint8), quality=90).name
    'a.jpg'
    """
    path = Path(path)
    if format is not None:
        fmt = normalize_format(format)
    else:
        fmt = format_from_path(path)
        if fmt is None:
            raise ValueError(
                f"cannot tell the format of {str(path)!r} from its suffix; name it .png, .jpg, .tif or .webp, "
                f"or pass format=."
            )
    if quality is not None:
        quality = check_int("quality", quality, min=1, max=100, hint="the default is 95 for JPEG, 90 for WebP.")
    image, meta = _prepare(image, fmt, meta)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {str(path)!r} does not exist; create it first.")
    try:
        with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:  # by name: tifffile wants a named file
            if fmt == "PNG":
                fh.write(_png_bytes(image, meta))
            elif fmt == "TIFF":
                _write_tiff(fh, image, meta)
            else:
                _write_pillow(fh, image, meta, fmt, quality)
    except (OSError, TypeError, ValueError):
        raise
    except Exception as exc:  # an encoder's own error type
        raise ImageFileError("write", path, str(exc) or type(exc).__name__) from exc
    return path
