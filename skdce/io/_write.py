"""Encoding uint8/uint16 arrays to PNG, TIFF, JPEG and WebP files, written atomically.

PNG files are encoded by ``imagecodecs`` with the ``iCCP``, ``pHYs`` and
``eXIf`` chunks added after the header, TIFF files by tifffile, JPEG and
WebP by Pillow. Every file goes through :func:`skdce.io._atomic.atomic_file`:
a temporary file in the destination folder, renamed into place.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._base.image import to_uint
from .._base.validate import check_bool, check_int
from ._atomic import atomic_file
from ._formats import (
    _DEFAULT_QUALITY,
    _EIGHT_BIT_ONLY,
    _MODES,
    _PNG_SIGNATURE,
    ImageFileError,
    check_fits,
    format_from_path,
    normalize_format,
)
from ._metadata import _EXIF_HEADER, _EXIF_SUBIFDS, _TIFF_TEXT_TAGS, ImageMeta, _is_gray_profile

__all__ = ["write_image"]


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

    try:
        data = bytes(imagecodecs.png_encode(image, level=6))
    except imagecodecs.PngError:
        # imagecodecs sizes its output buffer by a guess that falls short for narrow images that do not compress
        # (400 x 1 of noise: "output stream too small"); then it gets room for the worst case: the raw rows with
        # their filter bytes, zlib's stored blocks and the chunk headers
        channels = image.shape[2] if image.ndim == 3 else 1
        raw = image.shape[0] * (1 + image.shape[1] * channels * image.itemsize)
        data = bytes(imagecodecs.png_encode(image, level=6, out=raw + raw // 100 + 4096))
    ihdr_end = len(_PNG_SIGNATURE) + 8 + 13 + 4  # length, type, 13 bytes of IHDR, CRC
    return data[:ihdr_end] + _png_metadata_chunks(meta) + data[ihdr_end:]


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
    check_fits(fmt, image.shape, meta.exif if fmt == "JPEG" else None)
    if fmt in _EIGHT_BIT_ONLY:
        image = to_uint(image, np.uint8)
    if fmt == "JPEG" and channels in (2, 4):
        raise ValueError("JPEG has no alpha channel; write PNG, TIFF or WebP, or drop the alpha channel first")
    if fmt == "WEBP" and channels in (1, 2):  # WebP stores colour only
        image = np.repeat(image[..., None], 3, axis=-1) if channels == 1 else image[..., [0, 0, 0, 1]]
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
    # into memory first, then one Python write: Pillow's JPEG encoder writes to the file descriptor itself and
    # can drop a short write on a full disk without an error
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **options)
    fh.write(buffer.getbuffer())


def _exif_for_tiff(exif: bytes):
    """``(byte order, text tags, {pointer tag: directory})`` of an EXIF block, parsed by Pillow; ``None`` if unusable.

    tifffile writes a TIFF's own tags but no EXIF sub-directory; Pillow
    parses one with its value types and writes it back at a given offset
    (``ImageFileDirectory_v2.tobytes``), which :func:`_write_tiff` appends.
    """
    import io

    from PIL import TiffImagePlugin

    data = exif[len(_EXIF_HEADER):] if exif.startswith(_EXIF_HEADER) else exif
    try:
        fp = io.BytesIO(data)
        ifd0 = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        fp.seek(ifd0.next)
        ifd0.load(fp)
        text = [(tag, ifd0[tag]) for tag in _TIFF_TEXT_TAGS if isinstance(ifd0.get(tag), str) and ifd0[tag]]
        subs = {}
        for pointer in _EXIF_SUBIFDS:
            if pointer in ifd0:
                sub = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
                fp.seek(int(ifd0[pointer]))
                sub.load(fp)
                for nested in (0xA005, 0x8769, 0x8825):  # pointers to directories not carried: would dangle
                    if nested in sub:
                        del sub[nested]
                for tag in list(sub.keys()):
                    sub[tag]  # decoded on first access; tobytes writes only the decoded values
                if len(sub):
                    subs[pointer] = sub
    except Exception:  # a malformed EXIF block: the image is still written, without it
        return None
    return ("<" if data[:2] == b"II" else ">"), text, subs


def _with_exif_directories(tiff: bytes, order: str, subs: dict) -> bytes:
    """Append each EXIF sub-directory to ``tiff`` and point its tag (written as 0 by tifffile) at it."""
    import io

    import tifffile

    with tifffile.TiffFile(io.BytesIO(tiff)) as tf:
        tags = tf.pages.first.tags
        slots = {code: (tags[code - 1].offset, tags[code - 1].valueoffset) for code in subs}
    out = bytearray(tiff)
    for code, sub in subs.items():
        if len(out) % 2:
            out += b"\0"  # a directory starts on a word boundary
        offset = len(out)
        out += sub.tobytes(offset)
        entry, value = slots[code]
        out[entry : entry + 2] = struct.pack(order + "H", code)  # the placeholder's code, one below: same order
        out[value : value + 4] = struct.pack(order + "I", offset)
    return bytes(out)


def _write_tiff(fh, image: np.ndarray, meta: ImageMeta) -> None:
    import tifffile

    channels = 1 if image.ndim == 2 else image.shape[2]
    options = {}
    if meta.dpi:
        options.update(resolution=tuple(meta.dpi), resolutionunit="INCH")
    exif = _exif_for_tiff(meta.exif) if meta.exif and image.nbytes < 2**31 else None  # classic TIFF: 32-bit offsets
    target = fh
    if exif is not None:
        import io

        order, text, subs = exif
        options.update(byteorder=order, extratags=[(tag, "s", 0, value, True) for tag, value in text]
                       + [(code - 1, "I", 1, 0, True) for code in subs])  # tifffile writes no pointer tags:
        # a placeholder whose code sorts where the pointer's does is written, then renamed
        target = io.BytesIO()
    tifffile.imwrite(
        target,
        image,
        photometric="minisblack" if channels <= 2 else "rgb",
        planarconfig="contig" if channels > 1 else None,
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        iccprofile=meta.icc_profile,
        metadata=None,
        **options,
    )
    if exif is not None:
        fh.write(_with_exif_directories(target.getvalue(), exif[0], exif[2]) if exif[2] else target.getvalue())


def write_image(path, image, meta=None, *, format=None, quality=None, overwrite=False, root=None):
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
    root : str or os.PathLike, optional
        A folder that ``path`` lies in (``path`` written as ``root / ...``):
        the folders between them are created where missing, and the file is
        never written through a symbolic link below ``root``, not even one
        swapped in while the file is written (``OSError`` with ``ELOOP``).
        Default: ``path``'s folder must exist.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    TypeError
        For arrays that are not uint8/uint16, a ``quality`` that is not an
        integer, an ``overwrite`` that is not True or False.
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
    See :mod:`skdce.io` for what each format keeps.

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
    overwrite = check_bool("overwrite", overwrite)
    image, meta = _prepare(image, fmt, meta)
    if root is None and not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {str(path)!r} does not exist; create it first.")
    try:
        with atomic_file(path, overwrite=overwrite, root=root) as fh:
            if fmt == "PNG":
                fh.write(_png_bytes(image, meta))
            elif fmt == "TIFF":
                _write_tiff(fh, image, meta)
            else:
                _write_pillow(fh, image, meta, fmt, quality)
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:  # a failed write() names no file: name this one
            exc.filename = str(path)
        raise
    except (TypeError, ValueError):
        raise
    except Exception as exc:  # an encoder's own error type
        raise ImageFileError("write", path, str(exc) or type(exc).__name__) from exc
    return path
