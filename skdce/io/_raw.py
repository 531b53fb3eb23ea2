"""Camera RAW files developed by LibRaw (through rawpy) into 16-bit, display-referred sRGB for the curves.

LibRaw does every step that needs the sensor's data: black and white levels,
white balance, demosaicing and the camera-to-sRGB matrix, all in linear light
on 16-bit integers; then the sRGB transfer curve, to 16 bits. No
auto-brightening (``no_auto_bright=True``) and no data-driven white point
(``adjust_maximum_thr=0``): the white level of the file maps to 1.0, and the
curves decide the brightness. The orientation flag is applied by LibRaw.

The capture facts (make, model, exposure, ISO, time) come from the file's
TIFF directories where it is a TIFF container (DNG, CR2, NEF, ARW, PEF, SRW),
through tifffile; LibRaw fills in exposure, ISO and time for the others
(rawpy does not expose LibRaw's make and model).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from .._base.validate import check_int
from ._formats import DEFAULT_MAX_PIXELS, ImageFileError, check_pixels, is_raw_path
from ._metadata import CaptureInfo, ImageMeta

__all__ = ["read_raw", "WHITE_BALANCES", "HIGHLIGHTS", "srgb_profile"]

#: White balance choices of :func:`read_raw`.
WHITE_BALANCES = ("camera", "auto", "daylight")

#: Highlight handling choices of :func:`read_raw` (LibRaw's highlight modes 0, 1, 2 and 5).
HIGHLIGHTS = ("clip", "ignore", "blend", "reconstruct")

# LibRaw's flip code (dcraw's: bit 0 flips left-right, bit 1 top-bottom, bit 2 transposes) -> EXIF orientation
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
_SRGB_GAMMA = (2.4, 12.92)  # rawpy's (power, toe slope): the sRGB transfer curve (rawpy's default is BT.709's)
_EXIF_TIME = "%Y:%m:%d %H:%M:%S"


def require_rawpy():
    try:
        import rawpy
    except ImportError:
        raise ImportError("reading camera RAW files needs rawpy (LibRaw): pip install 'skdce[raw]'.") from None
    return rawpy


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """The ICC profile of sRGB (Little CMS's, through Pillow), embedded in what RAW files become."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}.")
    return value


def read_raw(path, *, white_balance="camera", highlights="clip", max_pixels=DEFAULT_MAX_PIXELS):
    """Develop a camera RAW file into a float32 sRGB image in [0, 1], ready for :func:`skdce.enhance`.

    Parameters
    ----------
    path : str or os.PathLike
        A RAW file that LibRaw reads: DNG, CR2, CR3, NEF, ARW, RAF, ORF,
        RW2, PEF, SRW and others (see :data:`RAW_SUFFIXES`).
    white_balance : {"camera", "auto", "daylight"}, optional
        ``"camera"``: the white balance the camera recorded (as shot);
        ``"auto"``: LibRaw's grey-world estimate over the image;
        ``"daylight"``: the camera's daylight multipliers.
    highlights : {"clip", "ignore", "blend", "reconstruct"}, optional
        Pixels where a channel saturated: ``"clip"`` them to white (LibRaw's
        default, no colour casts), leave them unclipped (``"ignore"``,
        often tinted), ``"blend"`` clipped and unclipped values, or
        ``"reconstruct"`` them from the unclipped channels. The last three
        keep every channel's range: LibRaw scales the white balance so its
        largest multiplier is 1, which darkens the whole image by the
        smallest multiplier over the largest (often about one stop).
    max_pixels : int, optional
        Largest accepted width x height, checked before the sensor data is
        decoded.

    Returns
    -------
    image : (H, W, 3) ndarray
        float32 in [0, 1] on a grid of 1/65535 (16-bit precision),
        display-referred sRGB, upright.
    meta : ImageMeta
        ``format`` (the suffix, e.g. ``"DNG"``), mode ``"RGB"``, bit depth
        16, the sRGB ICC profile, an EXIF block with the capture facts, the
        orientation applied, and :attr:`ImageMeta.capture`.

    Raises
    ------
    ImportError
        If rawpy is not installed (``pip install 'skdce[raw]'``).
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For an unknown ``white_balance`` or ``highlights``, a ``max_pixels``
        below 1.
    ImageFileError
        A ``ValueError`` naming the file and the reason: empty, truncated,
        corrupt, not a RAW file, a camera LibRaw does not support, too many
        pixels.

    Notes
    -----
    LibRaw works in linear light: it subtracts the black level, scales by
    the white level and the white balance multipliers, demosaics (AHD) and
    converts camera RGB to linear sRGB with the camera's colour matrix. Only
    then is the sRGB transfer curve applied, on 16 bits. No brightening is
    done: the file's white level becomes 1.0, so a dark exposure stays dark
    (and keeps its 12-14 bits of shadow detail) for the curves to lift. See
    :doc:`/user_guide/raw`.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skdce.data import write_dng
    >>> from skdce.io import read_raw
    >>> grey = write_dng(os.path.join(tempfile.mkdtemp(), "grey.dng"), np.full((24, 32, 3), 0.18))
    >>> image, meta = read_raw(grey)  # 18% grey in linear light is 0.46 in sRGB
    >>> image.shape, image.dtype, meta.format, round(float(image.mean()), 2)
    ((24, 32, 3), dtype('float32'), 'DNG', 0.46)
    """
    path = Path(path)
    white_balance = _choice("white_balance", white_balance, WHITE_BALANCES)
    highlights = _choice("highlights", highlights, HIGHLIGHTS)
    max_pixels = check_int("max_pixels", max_pixels, min=1,
                           hint=f"the default, skdce.io.DEFAULT_MAX_PIXELS, is {DEFAULT_MAX_PIXELS}.")
    require_rawpy()  # ImportError before the file is looked at
    if not path.exists():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist.")
    try:
        if path.is_dir():
            raise ValueError("it is a folder, not a file")
        if path.stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        image, meta = develop(path, white_balance, highlights, max_pixels)
    except ValueError as exc:
        raise ImageFileError("read", path, str(exc)) from None
    except OSError as exc:
        raise ImageFileError("read", path, exc.strerror or str(exc)) from None
    return image.astype(np.float32) / np.float32(65535), meta


def develop(path: Path, white_balance: str, highlights: str, max_pixels: int):
    """``(uint16 (H, W, 3) sRGB array, ImageMeta)``; a ``ValueError`` with the reason for a file LibRaw refuses."""
    rawpy = require_rawpy()
    modes = {"clip": 0, "ignore": 1, "blend": 2, "reconstruct": 5}
    try:
        with rawpy.imread(str(path)) as raw:  # opens and parses the headers; the sensor data is decoded below
            sizes = raw.sizes
            check_pixels(sizes.width, sizes.height, max_pixels)
            check_pixels(sizes.raw_width, sizes.raw_height, max_pixels)
            other = raw.other
            rgb = raw.postprocess(
                use_camera_wb=white_balance == "camera",
                use_auto_wb=white_balance == "auto",
                highlight_mode=modes[highlights],
                output_color=rawpy.ColorSpace.sRGB,
                output_bps=16,
                gamma=_SRGB_GAMMA,
                no_auto_bright=True,  # the curves decide the brightness, not LibRaw's histogram
                adjust_maximum_thr=0.0,  # nor a white point lowered to the brightest pixel found
            )
    except rawpy.LibRawFileUnsupportedError:
        raise ValueError(
            f"LibRaw {'.'.join(map(str, rawpy.libraw_version))} cannot read it: not a camera RAW file (another "
            f"format with a RAW suffix?) or a camera it does not support"
        ) from None
    except rawpy.LibRawIOError:
        raise ValueError("the file is truncated or cannot be read (LibRaw: input/output error)") from None
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawMemPoolOverflowError):
        raise ValueError("the image is too large for LibRaw's memory limits") from None
    except rawpy.LibRawError as exc:
        raise ValueError(f"LibRaw cannot develop it ({_libraw_text(exc)}); the file may be corrupt") from None
    orientation = _FLIP_TO_ORIENTATION.get(int(sizes.flip), 1)
    capture = _capture_info(path, other)
    meta = ImageMeta(
        format=path.suffix.lstrip(".").upper() if is_raw_path(path) else "DNG",  # else: a DNG named .tif
        mode="RGB",
        bit_depth=16,
        icc_profile=srgb_profile(),
        exif=exif_block(capture),
        orientation=orientation,
        dpi=None,
        capture=capture,
    )
    return np.ascontiguousarray(rgb, dtype=np.uint16), meta


def _libraw_text(exc) -> str:
    text = exc.args[0] if exc.args else type(exc).__name__
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


# --------------------------------------------------------------------------------------------
# Capture facts
# --------------------------------------------------------------------------------------------


def _number(value) -> float | None:
    """A TIFF value (int, float, ``(num, den)``, or a sequence of them: the first) as a positive float, or None."""
    if isinstance(value, (tuple, list)):
        if len(value) == 2 and all(isinstance(v, int) for v in value) and value[1] > 1:
            value = value[0] / value[1]  # a rational
        elif value:
            value = value[0]
        else:
            return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip("\x00 ") if value is not None else ""
    return value or None


def _time(value) -> datetime.datetime | None:
    text = _text(value)
    try:
        return datetime.datetime.strptime(text[:19], _EXIF_TIME) if text else None
    except ValueError:
        return None


@contextlib.contextmanager
def _quiet_tifffile():
    """Drop tifffile's log records from this thread: camera makers' private tags make it complain, on stderr."""
    logger = logging.getLogger("tifffile")
    thread = threading.get_ident()

    def other_threads(record):
        return record.thread != thread

    logger.addFilter(other_threads)
    try:
        yield
    finally:
        logger.removeFilter(other_threads)


def _tiff_capture(path: Path) -> dict:
    """Make, model, exposure, ISO and time from the first TIFF directory and its EXIF directory; {} if not a TIFF."""
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(path) as tf:
            tags = tf.pages.first.tags
            ifd0 = {tag.code: tag.value for tag in tags.values()}
    except Exception:  # not a TIFF container (CR3, RAF, ORF, RW2...) or a broken one: LibRaw's facts only
        return {}
    exif = ifd0.get(34665) if isinstance(ifd0.get(34665), dict) else {}
    return {
        "make": _text(ifd0.get(271)),
        "model": _text(ifd0.get(272)),
        # the EXIF directory first, then TIFF/EP's copies in the first directory (as DNG allows)
        "exposure_time": _number(exif.get("ExposureTime", ifd0.get(33434))),
        "iso": _number(exif.get("ISOSpeedRatings", exif.get("PhotographicSensitivity", ifd0.get(34855)))),
        "datetime": _time(exif.get("DateTimeOriginal", ifd0.get(36867, ifd0.get(306)))),
    }


def _capture_info(path: Path, other) -> CaptureInfo:
    found = _tiff_capture(path)
    stamp = other.timestamp
    libraw_time = None if stamp == datetime.datetime.fromtimestamp(0) else stamp.replace(microsecond=0)
    return CaptureInfo(
        make=found.get("make"),
        model=found.get("model"),
        exposure_time=found.get("exposure_time") or _number(other.shutter_speed),
        iso=found.get("iso") or _number(other.iso_speed),
        datetime=found.get("datetime") or libraw_time,
    )


def exif_block(capture: CaptureInfo) -> bytes | None:
    """An EXIF block (as Pillow writes it) holding ``capture``'s facts, or None if it has none."""
    from PIL import Image, TiffImagePlugin

    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)  # the EXIF directory
    if capture.make:
        exif[0x010F] = capture.make
    if capture.model:
        exif[0x0110] = capture.model
    if capture.datetime:
        exif[0x0132] = sub[0x9003] = capture.datetime.strftime(_EXIF_TIME)
    if capture.exposure_time:
        exposure = Fraction(capture.exposure_time).limit_denominator(1_000_000)
        sub[0x829A] = TiffImagePlugin.IFDRational(exposure.numerator, exposure.denominator)
    if capture.iso:
        sub[0x8827] = min(65535, round(capture.iso))
    if not len(exif) and not sub:
        return None
    return exif.tobytes()
