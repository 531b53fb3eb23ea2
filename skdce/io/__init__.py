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
* **camera RAW.** DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF and SRW files
  (and a DNG under any name) are developed by LibRaw through rawpy
  (``skdce[raw]``): camera white balance, demosaicing and the colour matrix in
  linear light, then the sRGB curve, to 16 bits, without auto-brightening;
  :func:`read_raw` gives float32 and the white balance and highlight options,
  :func:`read_image` uint16 with the defaults. The metadata holds the sRGB ICC
  profile and an EXIF block with make, model, exposure time, ISO and capture
  time (also in :attr:`ImageMeta.capture`).
* **limits.** Files with more than ``max_pixels`` pixels are refused before
  their pixels are decoded (a guard against decompression bombs); so are
  empty, truncated and corrupt files. Every such error is an
  :class:`ImageFileError` (a ``ValueError``) naming the file and the reason.
* **formats.** PNG, JPEG, TIFF, WebP, BMP, PPM/PGM and GIF (and camera RAW);
  Pillow is not allowed to open anything else, so none of its plugins that
  run outside programs (EPS runs Ghostscript) ever sees a file, an upload to
  ``skdce serve`` included. A file of several frames is refused (a
  multi-page TIFF, an animated PNG, GIF or WebP), except a camera's JPEG
  that carries previews of itself (MPF large thumbnails): its photo is read.

What is written (:func:`write_image`):

========  ==========  =====  ====  ====  ===
format    bit depth   alpha  ICC   EXIF  dpi
========  ==========  =====  ====  ====  ===
PNG       8, 16       yes    yes   yes   yes
TIFF      8, 16       yes    yes   yes   yes
JPEG      8           no     yes   yes   yes
WebP      8 (colour)  yes    yes   yes   no
========  ==========  =====  ====  ====  ===

Other metadata is not carried: XMP packets (ratings, keywords, edit
history), JPEG comments and PNG text chunks are dropped, as are IPTC blocks;
copy them with a metadata tool (e.g. ``exiftool -tagsFromFile``) where they
matter.

JPEG and WebP hold 8 bits: 16-bit arrays are rounded to 8 bits
(``round(x / 257)``, the one conversion of ``skdce._base.image.to_uint``). WebP has
no grayscale mode: gray images are written as RGB. PNG files are encoded by
``imagecodecs`` with the ``iCCP``, ``pHYs`` and ``eXIf`` chunks added after
the header (as Pillow writes them); TIFF files are written by tifffile, with
the EXIF's text tags (make, model, date...) in the TIFF's own directory and
its Exif and GPS directories appended (tifffile writes no EXIF directory;
Pillow serialises them). Every file is written to a temporary file
in the destination folder (named ``.<name>.<random>.skdce-tmp``) and renamed
into place, so a reader never sees a partial file and an interrupted write
leaves nothing behind.
"""

from __future__ import annotations

from . import _atomic, _formats
from ._formats import ImageFileError, check_fits, format_from_path, is_raw_path, normalize_format
from ._metadata import CaptureInfo, ImageMeta, apply_orientation
from ._raw import read_raw
from ._read import read_image
from ._write import write_image

__all__ = [
    "ImageMeta",
    "CaptureInfo",
    "ImageFileError",
    "read_image",
    "read_raw",
    "apply_orientation",
    "write_image",
    "format_from_path",
    "normalize_format",
    "is_raw_path",
    "check_fits",
    "FORMATS",
    "RAW_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "TEMP_SUFFIX",
    "IMAGE_SUFFIXES",
]

# The constants are bound here, not imported, so that their doc comments are
# in this module, where Sphinx's autodata looks for them.

#: Output formats and their file name suffixes (the first is the default).
FORMATS = _formats.FORMATS

#: File name suffixes that skdce treats as images when it lists a folder (RAW_SUFFIXES included).
IMAGE_SUFFIXES = _formats.IMAGE_SUFFIXES

#: Camera RAW suffixes (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, SRW), read by :func:`read_raw`.
RAW_SUFFIXES = _formats.RAW_SUFFIXES

#: Default pixel limit of :func:`read_image` (2**27, about 134 megapixels, e.g. 16384 x 8192).
DEFAULT_MAX_PIXELS = _formats.DEFAULT_MAX_PIXELS

#: Suffix of the temporary files renamed into place (``.<name>.<random>.skdce-tmp``).
TEMP_SUFFIX = _atomic.TEMP_SUFFIX

# The public home of these is skdce.io (as when it was one module): in reprs,
# tracebacks, pickles and the API reference.
for _obj in (ImageMeta, CaptureInfo, ImageFileError, read_image, read_raw, apply_orientation, write_image,
             format_from_path, normalize_format, is_raw_path, check_fits):
    _obj.__module__ = __name__
del _obj
