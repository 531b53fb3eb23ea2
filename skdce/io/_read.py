"""Decoding image files to upright uint8/uint16 arrays, with a pixel limit checked before decoding.

16-bit PNG pixels are decoded by ``imagecodecs`` (their metadata read by
Pillow), TIFF files by tifffile, everything else (and the 8-bit TIFF colour
models tifffile leaves as they are) by Pillow. Every failure is an
:class:`~skdce.io.ImageFileError` naming the file and the reason.
"""

from __future__ import annotations

import struct
import threading
import warnings
from pathlib import Path

import numpy as np

from .._base.validate import check_int
from . import _raw
from ._formats import (
    _MODES,
    _PNG_SIGNATURE,
    _TIFF_SIGNATURES,
    DEFAULT_MAX_PIXELS,
    ImageFileError,
    check_pixels,
    is_raw_path,
)
from ._metadata import (
    _EXIF_HEADER,
    _EXIF_SUBIFDS,
    _TIFF_TEXT_TAGS,
    ImageMeta,
    _clean_dpi,
    _upright_exif,
    apply_orientation,
    tiff_dpi,
)

__all__ = ["DEFAULT_MAX_PIXELS", "read_image"]


def _png_bit_depth(head: bytes) -> int | None:
    """The bit depth in a PNG file's IHDR chunk (its first 25 bytes), or ``None``."""
    return head[24] if len(head) >= 25 and head[12:16] == b"IHDR" else None


def _read_png16(path: Path, max_pixels: int):
    """A 16-bit PNG: header and metadata from Pillow (which decodes these pixels to 8 bits), pixels from imagecodecs."""
    import imagecodecs

    im = _open_pillow(path, max_pixels)  # checks the pixel count from the header
    with im:
        frames = _frame_count(im)
        if frames > 1:  # an animated PNG: imagecodecs would decode its first frame alone
            raise _frames_error(frames, "PNG")
        icc = im.info.get("icc_profile") or None
        dpi = im.info.get("dpi")
        exif = im.info.get("exif")
    try:
        arr = imagecodecs.png_decode(path.read_bytes())  # tRNS becomes an alpha channel
    except (imagecodecs.PngError, ValueError) as exc:
        text = str(exc)
        raise ValueError(f"the file is truncated or corrupt (the decoder said: {text})") from None
    exif, orientation = _upright_exif(exif)
    return arr, icc, exif, orientation, _clean_dpi(dpi)


_pillow_lock = threading.Lock()


#: The formats Pillow may open: those skdce documents. Pillow knows many more, some through outside programs
#: (EPS runs Ghostscript on the file), which a server must not run on a client's upload. A camera's multi-picture
#: JPEG (MPO) is opened by the JPEG plugin.
PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "DIB", "PPM", "GIF")


def _open_pillow(path: Path, max_pixels: int):
    from PIL import Image

    # Pillow warns above Image.MAX_IMAGE_PIXELS and refuses above twice that;
    # skdce applies its own limit, max_pixels (an error), right after the header
    # is read, so Pillow's is lifted meanwhile (a larger max_pixels had no effect).
    with _pillow_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pillow_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            im = Image.open(path, formats=PILLOW_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ValueError(f"the image has too many pixels for Pillow ({exc})") from None
        except Image.UnidentifiedImageError:
            raise ValueError("the file is not an image in a format skdce reads (PNG, JPEG, TIFF, WebP, BMP, "
                             "PPM/PGM, GIF, or camera RAW)") from None
        except (SyntaxError, EOFError, struct.error, ValueError) as exc:  # a broken header
            raise ValueError(_pillow_reason(exc)) from None
        except OSError as exc:
            if exc.errno is not None:  # the file system's error (permission, I/O...), not the decoder's
                raise
            raise ValueError(_pillow_reason(exc)) from None  # e.g. WebP: "could not create decoder object"
        finally:
            Image.MAX_IMAGE_PIXELS = pillow_limit
    try:
        check_pixels(im.width, im.height, max_pixels)
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
    elif mode in ("L", "RGB") and "transparency" in im.info:  # a tRNS colour: the pixels of that value are transparent
        im = im.convert("LA" if mode == "L" else "RGBA")
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


def _frames_error(count, fmt: str) -> ValueError:
    return ValueError(
        f"the file holds {count} frames (a multi-page or animated {fmt}); skdce enhances one image per file and "
        f"would drop the others: save each frame as its own file first (e.g. with PIL.ImageSequence or tifffile)"
    )


def _frame_count(im) -> int:
    """How many frames a Pillow image holds (a ValueError with the reason for a file whose frame headers break)."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception as exc:  # counting reads the file's frame headers
        raise ValueError(_pillow_reason(exc)) from None


def _previews_only(im) -> bool:
    """Whether a multi-picture JPEG (MPO) holds one photo and previews of it: every image after the first is a
    large thumbnail (MP type 0x010001 or 0x010002, as cameras write), not a stereo view or a panorama's part."""
    entries = (getattr(im, "mpinfo", None) or {}).get(0xB002) or []
    types = [str(e.get("Attribute", {}).get("MPType", "")) for e in entries[1:]]
    return bool(types) and all("Thumbnail" in t for t in types)


def _read_pillow(path: Path, max_pixels: int):
    im = _open_pillow(path, max_pixels)
    with im:
        fmt = im.format or "unknown"
        frames = _frame_count(im)
        if frames > 1 and fmt == "MPO" and _previews_only(im):
            fmt = "JPEG"  # a camera's JPEG: the photo, then its previews (MPF); the photo is read
        elif frames > 1:
            raise _frames_error(frames, fmt)
        try:
            im.load()
        except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error... for broken files
            raise ValueError(_pillow_reason(exc)) from None
        arr, keeps_icc = _pillow_array(im)
        icc = im.info.get("icc_profile") or None
        dpi = im.info.get("dpi")
        if fmt == "TIFF":
            exif, orientation = _exif_of_tiff(im), int(im.tag_v2.get(274, 1))
        else:
            exif, orientation = _upright_exif(im.info.get("exif"))
    return arr, fmt, (icc if keeps_icc else None), exif, orientation, _clean_dpi(dpi)


def _exif_of_tiff(im) -> bytes | None:
    """A TIFF's EXIF as an EXIF block: its directory's text tags and its Exif and GPS directories, or ``None``.

    A TIFF keeps EXIF in its own directory (with its layout: sizes, strips,
    compression), so the block is rebuilt from what describes the picture;
    the orientation, applied to the pixels, is left out.
    """
    from PIL import Image

    try:
        tags = im.getexif()
        exif = Image.Exif()
        for tag in _TIFF_TEXT_TAGS:
            if isinstance(tags.get(tag), str) and tags[tag]:
                exif[tag] = tags[tag]
        for pointer in _EXIF_SUBIFDS:
            sub = dict(tags.get_ifd(pointer)) if pointer in tags else {}
            sub.pop(0xA005, None)  # the interoperability directory is not carried
            if sub:
                exif[pointer] = sub
        if not len(exif):
            return None
        data = exif.tobytes()
        return data if data.startswith(_EXIF_HEADER) else _EXIF_HEADER + data
    except Exception:  # a malformed directory: the pixels are still read, without EXIF
        return None


def _pillow_reason(exc: Exception) -> str:
    """A decoder's failure in plain words first, its own words after (they mean little to most readers)."""
    text = str(exc) or type(exc).__name__
    return f"the file is truncated or corrupt (the decoder said: {text})"


def _read_tiff(path: Path, max_pixels: int):
    import tifffile

    try:
        tf = tifffile.TiffFile(path)
    except Exception as exc:
        raise ValueError(f"the file is truncated or corrupt (the decoder said: {exc})") from None
    with tf:
        if not tf.pages:
            raise ValueError("the TIFF file holds no image")
        full = 0  # images that are not a reduced-resolution copy (a thumbnail, a pyramid level) of another
        for i in range(len(tf.pages)):
            full += not getattr(tf.pages[i], "is_reduced", False)
            if full > 1:
                raise _frames_error(len(tf.pages), "TIFF")
        page = tf.pages.first
        if 50706 in page.tags or int(page.photometric) in (32803, 34892):  # DNGVersion; CFA, LinearRaw
            return "raw"  # a DNG (or TIFF/EP raw) named .tif: its mosaic is not a picture
        check_pixels(page.imagewidth, page.imagelength, max_pixels)
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
            raise ValueError(f"the file is truncated or corrupt (the decoder said: {exc})") from None
        if page.axes.startswith("S"):  # planar: (S, Y, X)
            arr = np.moveaxis(arr, 0, -1)
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] > 4):
            raise ValueError(f"TIFF image of shape {arr.shape} ({page.axes}) is not a gray or RGB(A) image")
        tags = page.tags
        orientation = int(tags[274].value) if 274 in tags else 1
        icc = bytes(tags[34675].value) if 34675 in tags else None
        return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")), icc, orientation, tiff_dpi(tags)


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS, white_balance="camera", highlights="clip"):
    """Read an image file as an upright uint8/uint16 array and its metadata.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG, TIFF or WebP file (or BMP, PPM/PGM, GIF: no other
        format is opened), or a camera RAW file (a name in :data:`RAW_SUFFIXES`,
        or a DNG under any name), developed as :func:`read_raw` does, to
        uint16. A file of several frames (multi-page TIFF, animated PNG, GIF
        or WebP) is refused: its other frames would be lost.
    max_pixels : int, optional
        Largest accepted width x height; larger files are refused before
        their pixels are decoded.
    white_balance, highlights : str, optional
        For a camera RAW file, :func:`read_raw`'s options (ignored for other files).

    Returns
    -------
    image : (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray
        uint8 for 8-bit (and lower) files, uint16 for 16-bit files and
        camera RAW files (16-bit sRGB); gray, gray + alpha, RGB or RGBA;
        the EXIF orientation applied.
    meta : ImageMeta
        Format, layout, bit depth, ICC profile, EXIF (orientation reset to 1),
        the orientation applied, resolution.

    Raises
    ------
    ImportError
        For a camera RAW file when rawpy is not installed (``pip install 'skdce[raw]'``).
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
    raw = (_raw._choice("white_balance", white_balance, _raw.WHITE_BALANCES),
           _raw._choice("highlights", highlights, _raw.HIGHLIGHTS))
    try:
        return _read(path, max_pixels, raw)
    except ValueError as exc:
        raise ImageFileError("read", path, str(exc)) from None
    except OSError as exc:
        raise ImageFileError("read", path, exc.strerror or str(exc)) from None


def _read(path: Path, max_pixels: int, raw=("camera", "clip")):
    from ._paths import special_file_reason

    if path.is_dir():
        raise ValueError("it is a folder, not a file")
    reason = special_file_reason(path)  # before opening: opening a FIFO waits for a writer, forever
    if reason:
        raise ValueError(reason)
    with open(path, "rb") as fh:
        head = fh.read(32)
    if not head:
        raise ValueError("the file is empty (0 bytes)")
    if is_raw_path(path):  # before the TIFF signature: a DNG, CR2, NEF... is a TIFF whose first image is no picture
        return _raw.develop(path, *raw, max_pixels)
    if head.startswith(_PNG_SIGNATURE) and _png_bit_depth(head) == 16:
        arr, icc, exif, orientation, dpi = _read_png16(path, max_pixels)
        return _finish(arr, "PNG", icc, exif, orientation, dpi)
    if head[:4] in _TIFF_SIGNATURES:
        tiff = _read_tiff(path, max_pixels)
        if tiff == "raw":
            return _raw.develop(path, *raw, max_pixels)
        if tiff is not None:
            arr, icc, orientation, dpi = tiff
            exif = None
            try:
                with _open_pillow(path, max_pixels) as im:  # tags only: Pillow decodes no pixels here
                    exif = _exif_of_tiff(im)
            except ValueError:  # a TIFF Pillow cannot open (tifffile could): its pixels, without EXIF
                pass
            return _finish(arr, "TIFF", icc, exif, orientation, dpi)
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
