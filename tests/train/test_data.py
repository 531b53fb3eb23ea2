"""skdce.train.data: image folders, split lists and image decoding for training."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from skdce.train.data import list_images, load_images, read_split  # noqa: E402


def test_data_folder_handling(tmp_path):
    d = tmp_path / "imgs"
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        list_images(d)
    d.mkdir()
    with pytest.raises(ValueError, match="holds no image files"):
        list_images(d)
    # grayscale 8-bit, 16-bit, RGBA and JPEG files are all read as RGB
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(d / "gray.png")
    Image.fromarray(np.full((20, 30), 40000, np.uint16)).save(d / "gray16.png")
    Image.fromarray(np.full((20, 30, 4), 50, np.uint8)).save(d / "rgba.png")
    Image.fromarray(np.full((20, 30, 3), 50, np.uint8)).save(d / "photo.jpg")
    names = list_images(d)
    imgs = load_images(d, names, 16)
    assert imgs.shape == (4, 16, 16, 3) and imgs.dtype == torch.uint8
    assert int(imgs[names.index("gray16.png")].float().mean().round()) == round(40000 / 65535 * 255)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="cannot read training image .*broken.png.*Remove or replace"):
        load_images(d, list_images(d), 16)
    (d / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.jpg"):
        load_images(d, ["empty.jpg"], 16)
    with pytest.raises(FileNotFoundError, match="1 listed files are missing"):
        load_images(d, ["nope.png"], 16)
    (tmp_path / "split.txt").write_text("# only comments\n\n")
    with pytest.raises(ValueError, match="lists no files"):
        read_split(tmp_path / "split.txt")
    with pytest.raises(ValueError, match="different sizes"):
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(d / "small.png")
        load_images(d, ["small.png", "gray.png"], None)

