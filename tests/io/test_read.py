"""Tests of skdce.io._read: decoders (imagecodecs, tifffile, Pillow), colour models, errors, the pixel limit."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from skdce.io import ImageFileError, read_image, write_image


@pytest.mark.parametrize("compression, dtype", [(c, d) for c in ("lzw", "jpeg", "zlib", None)
                                                for d in (np.uint8, np.uint16) if (c, d) != ("jpeg", np.uint16)])
def test_compressed_tiff_is_read_by_tifffile(tmp_path, random_image, compression, dtype):
    """Compressed TIFFs are read through tifffile (JPEG holds 8 bits: no 16-bit case)."""
    import tifffile

    image = np.cumsum(random_image((16, 24, 3), dtype) // 64, axis=1, dtype=dtype)
    tifffile.imwrite(tmp_path / "c.tif", image, photometric="rgb", compression=compression)
    back, meta = read_image(tmp_path / "c.tif")
    assert (meta.format, meta.mode, back.dtype, back.shape) == ("TIFF", "RGB", dtype, image.shape)
    if compression == "jpeg":
        assert np.abs(back.astype(int) - image).mean() < 8
    else:
        np.testing.assert_array_equal(back, image)


def test_png_transparency_key_becomes_alpha(tmp_path, random_image, with_chunk):
    import imagecodecs

    image = random_image((6, 5, 3), np.uint16)
    image[2, 3] = (1, 2, 3)
    png = with_chunk(bytes(imagecodecs.png_encode(image)), b"tRNS", struct.pack(">HHH", 1, 2, 3))
    (tmp_path / "t.png").write_bytes(png)
    back, meta = read_image(tmp_path / "t.png")
    assert meta.mode == "RGBA" and back.shape == (6, 5, 4)
    expected = np.full((6, 5), 65535, np.uint16)
    expected[2, 3] = 0
    np.testing.assert_array_equal(back[..., 3], expected)
    np.testing.assert_array_equal(back[..., :3], image)


def test_palette_and_cmyk_become_rgb(tmp_path, random_image):
    Image.fromarray(random_image((8, 8, 3), np.uint8)).convert("P").save(tmp_path / "p.png")
    back, meta = read_image(tmp_path / "p.png")
    assert meta.mode == "RGB" and back.dtype == np.uint8
    Image.new("CMYK", (5, 4), (0, 0, 0, 0)).save(tmp_path / "c.jpg", icc_profile=b"not-used")
    back, meta = read_image(tmp_path / "c.jpg")
    assert back.shape == (4, 5, 3) and meta.icc_profile is None  # a CMYK profile does not describe RGB


# -- errors --------------------------------------------------------------------------------------------


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image file '.*nope\.png' does not exist"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageFileError, match="it is a folder"):
        read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageFileError, match=r"cannot read image '.*empty\.jpg': the file is empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageFileError, match="not an image"):
        read_image(tmp_path / "text.png")
    with pytest.raises(ValueError,
                       match=r"max_pixels=0 is out of range: max_pixels must be an integer >= 1; the default"):
        read_image(tmp_path / "text.png", max_pixels=0)


@pytest.mark.parametrize("value", [True, 1e6, "1000", None])
def test_max_pixels_must_be_an_integer(tmp_path, value):
    path = write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match=rf"max_pixels={value!r} \({type(value).__name__}\) must be an integer >= 1"):
        read_image(path, max_pixels=value)
    assert read_image(path, max_pixels=np.int64(16))[0].shape == (4, 4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_truncated_and_corrupt_png(tmp_path, random_image, dtype):
    data = write_image(tmp_path / "a.png", random_image((40, 40, 3), dtype)).read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=r"'.*t\.png': the file is truncated"):
        read_image(tmp_path / "t.png")
    if dtype == np.uint16:
        broken = bytearray(data)
        broken[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
        (tmp_path / "c.png").write_bytes(bytes(broken))
        with pytest.raises(ImageFileError, match=r"'.*c\.png': the file is truncated or corrupt "
                                                 r"\(the decoder said: IDAT: CRC error\)"):
            read_image(tmp_path / "c.png")


def test_truncated_tiff(tmp_path, random_image):
    data = write_image(tmp_path / "a.tif", random_image((64, 64, 3), np.uint16)).read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=r"'.*t\.tif': the file is truncated or corrupt"):
        read_image(tmp_path / "t.tif")


@pytest.mark.parametrize("depth", [8, 16])
def test_pixel_limit_is_checked_before_decoding(tmp_path, png_chunk, depth):
    # A header claiming 30000 x 30000 pixels over a few bytes of data: refused from the header alone.
    header = struct.pack(">IIBBBBB", 30000, 30000, depth, 2, 0, 0, 0)
    chunk = png_chunk
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(ImageFileError, match="pixels"):
        read_image(tmp_path / "bomb.png")
    small = write_image(tmp_path / "small.png", np.zeros((10, 10, 3), np.uint8 if depth == 8 else np.uint16))
    with pytest.raises(ImageFileError, match=r"10 x 10 = 100 pixels, more than max_pixels=99"):
        read_image(small, max_pixels=99)
    assert read_image(small, max_pixels=100)[0].shape == (10, 10, 3)


def test_unsupported_sample_formats(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 4), np.float32))
    with pytest.raises(ImageFileError, match="32-bit floating-point samples"):
        read_image(tmp_path / "f.tif")


def test_special_files_are_refused_without_opening_them(tmp_path):
    import os

    from skdce.io import ImageFileError, read_image

    os.mkfifo(tmp_path / "pipe.png")  # opening it would wait for a writer, forever
    with pytest.raises(ImageFileError, match="pipe.png.*a FIFO \\(named pipe\\), not a regular file"):
        read_image(tmp_path / "pipe.png")
    with pytest.raises(ImageFileError, match="a character device, not a regular file"):
        read_image("/dev/zero")  # reading it would never end


@pytest.mark.parametrize("mode, key", [("L", 7), ("RGB", (1, 2, 3))])
def test_8_bit_png_transparency_key_becomes_alpha(tmp_path, mode, key):
    from PIL import Image

    image = np.full((5, 6) if mode == "L" else (5, 6, 3), 40, np.uint8)
    image[2, 3] = key
    Image.fromarray(image, mode).save(tmp_path / "t.png", transparency=key)
    back, meta = read_image(tmp_path / "t.png")
    assert meta.mode == mode.replace("L", "LA") if mode == "L" else meta.mode == "RGBA"
    expected = np.full((5, 6), 255, np.uint8)
    expected[2, 3] = 0
    np.testing.assert_array_equal(back[..., -1], expected)
    np.testing.assert_array_equal(back[..., :-1].reshape(image.shape), image)


def test_several_frames_are_refused_not_dropped(tmp_path):
    """A multi-page TIFF (tifffile's and Pillow's path), an animated PNG or GIF: refused, naming the frames."""
    import tifffile
    from PIL import Image

    from skdce.io import ImageFileError

    frames = [np.full((8, 8, 3), v, np.uint8) for v in (10, 200)]
    tifffile.imwrite(tmp_path / "pages.tif", np.stack(frames), photometric="rgb")
    with tifffile.TiffWriter(tmp_path / "shapes.tif") as tw:
        tw.write(frames[0], photometric="rgb")
        tw.write(np.zeros((4, 4), np.uint8), photometric="minisblack")
    with tifffile.TiffWriter(tmp_path / "palette.tif") as tw:  # read by Pillow
        for f in frames:
            tw.write(f[..., 0], photometric="palette", colormap=np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1)))
    pils = [Image.fromarray(f) for f in frames]
    pils[0].save(tmp_path / "anim.png", save_all=True, append_images=pils[1:])
    pils[0].save(tmp_path / "anim.gif", save_all=True, append_images=pils[1:])
    import imagecodecs

    (tmp_path / "anim16.png").write_bytes(imagecodecs.apng_encode(np.stack(frames).astype(np.uint16) * 257))
    pils[0].save(tmp_path / "stereo.jpg", format="MPO", save_all=True, append_images=pils[1:])  # two views
    for name in ("pages.tif", "shapes.tif", "palette.tif", "anim.png", "anim.gif", "anim16.png", "stereo.jpg"):
        with pytest.raises(ImageFileError, match=rf"{name}.*holds 2 frames .*save each frame as its own file"):
            read_image(tmp_path / name)
    tifffile.imwrite(tmp_path / "thumb.tif", frames[0], photometric="rgb")  # a reduced-resolution copy is no frame
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tw:
        tw.write(frames[0], photometric="rgb")
        tw.write(frames[0][::2, ::2], photometric="rgb", subfiletype=1)
    np.testing.assert_array_equal(read_image(tmp_path / "thumb.tif")[0], frames[0])


def _camera_jpeg(photo, preview) -> bytes:
    """A multi-picture JPEG as cameras write it: the photo, then a preview whose MP type is a large thumbnail."""
    import io

    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="MPO", save_all=True, append_images=[Image.fromarray(preview)])
    data = bytearray(buf.getvalue())
    tiff = data.find(b"MPF\x00") + 4  # the MP Index IFD, a TIFF structure
    order = "<" if data[tiff : tiff + 2] == b"II" else ">"
    ifd = tiff + struct.unpack(order + "I", data[tiff + 4 : tiff + 8])[0]
    for k in range(struct.unpack(order + "H", data[ifd : ifd + 2])[0]):
        tag, _, _, offset = struct.unpack(order + "HHII", data[ifd + 2 + 12 * k : ifd + 14 + 12 * k])
        if tag == 0xB002:  # MP Entry: 16 bytes an image, the attribute first (flags, then the 24-bit type)
            entry = tiff + offset + 16
            attribute = struct.unpack(order + "I", data[entry : entry + 4])[0]
            data[entry : entry + 4] = struct.pack(order + "I", (attribute & 0xFF000000) | 0x010001)
    return bytes(data)


def test_a_camera_jpeg_with_a_preview_is_its_photo(tmp_path):
    """Pillow opens a JPEG with MPF previews as a 2-frame MPO; the photo is read, as a JPEG (written as one)."""
    photo = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    (tmp_path / "cam.jpg").write_bytes(_camera_jpeg(photo, np.full((4, 6, 3), 90, np.uint8)))
    with Image.open(tmp_path / "cam.jpg") as im:
        assert im.format == "MPO" and im.n_frames == 2
        expected = np.asarray(im.convert("RGB"))
    image, meta = read_image(tmp_path / "cam.jpg")
    assert meta.format == "JPEG" and image.shape == (16, 24, 3)
    np.testing.assert_array_equal(image, expected)


def test_formats_outside_the_list_are_not_opened(tmp_path, monkeypatch):
    """An EPS would have Pillow run Ghostscript on the file (a server's upload): refused before any plugin opens it."""
    from PIL import EpsImagePlugin

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was asked to run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_ghostscript)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\nshowpage\n"
    for name in ("x.eps", "x.png"):
        (tmp_path / name).write_bytes(eps)
        with pytest.raises(ImageFileError, match=r"not an image in a format skdce reads \(PNG, JPEG"):
            read_image(tmp_path / name)


def test_max_pixels_above_pillows_own_limit_is_honoured(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "a.jpg"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # Pillow refuses above 2 x 20 pixels
    assert read_image(path, max_pixels=100)[0].shape == (10, 10, 3)
    assert Image.MAX_IMAGE_PIXELS == 20  # restored



@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".tif", ".png"])
def test_truncated_files_say_so_in_plain_words(tmp_path, random_image, suffix):
    """'truncated or corrupt' first, whatever the decoder (libjpeg, libwebp, libdeflate) said after it."""
    data = write_image(tmp_path / f"a{suffix}", random_image((64, 64, 3), np.uint8)).read_bytes()
    (tmp_path / f"t{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=rf"t\{suffix}': the file is truncated or corrupt \(the decoder said: "):
        read_image(tmp_path / f"t{suffix}")
