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



@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_rgb_images_are_scaled_not_truncated(tmp_path, suffix):
    """Pillow opens 16-bit RGB PNG and TIFF files as 8-bit 'RGB': their high bytes, not a scaling by 65535."""
    from skdce._base.image import to_uint
    from skdce.io import write_image

    rng = np.random.default_rng(0)
    high = rng.integers(0, 255, (12, 10, 3))
    rgb16 = (high * 257 + 200).astype(np.uint16)  # the low bytes round each value up by one step of 8 bits
    write_image(tmp_path / f"rgb16{suffix}", rgb16)
    Image.fromarray(np.full((12, 10), 40000, np.uint16)).save(tmp_path / "gray16.png")  # was right: kept so
    imgs = load_images(tmp_path, [f"rgb16{suffix}", "gray16.png"], None)
    np.testing.assert_array_equal(imgs[0].numpy(), to_uint(rgb16 / 65535.0, np.uint8))
    assert (imgs[0].numpy() == high + 1).all()
    assert (imgs[1].numpy() == round(40000 / 65535 * 255)).all()


def test_mixed_lighting_darkens_one_half_of_the_chosen_images():
    import torch

    from skdce.train.data import change_exposure, mixed_lighting

    batch = torch.rand(64, 3, 8, 10, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1
    out = mixed_lighting(batch, 0.5, (0.1, 0.1), torch.Generator().manual_seed(2))
    dark = change_exposure(batch, torch.full((64,), 0.1))
    halves = ((slice(None), slice(0, 5)), (slice(None), slice(5, 10)), (slice(0, 4), slice(None)),
              (slice(4, 8), slice(None)))
    changed = 0
    for b in range(64):
        if torch.equal(out[b], batch[b]):
            continue
        changed += 1
        # exactly one half darkened by the gain, the rest untouched
        hits = [h for h in halves if torch.allclose(out[b][:, h[0], h[1]], dark[b][:, h[0], h[1]])]
        assert len(hits) == 1
        mask = torch.ones(8, 10, dtype=torch.bool)
        mask[hits[0]] = False
        assert torch.equal(out[b][:, mask], batch[b][:, mask])
    assert 16 < changed < 48  # about half of them


def test_mixed_prob_zero_draws_nothing():
    """Older recipes (no mixed_prob) draw exactly what they drew before the augmentation existed."""
    import torch

    from skdce.train.data import ImageSet

    images = torch.randint(0, 255, (6, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    s = ImageSet(images, [str(i) for i in range(6)])
    gen = torch.Generator().manual_seed(3)
    plain = list(s.batches(4, crop=None, generator=gen, gain_range=(0.1, 2), gain_prob=0.5))
    expected = torch.Generator().manual_seed(3)
    torch.randperm(6, generator=expected)
    for n in (4, 2):  # the gains and the keep draws of each batch, nothing more
        torch.rand(n, generator=expected)
        torch.rand(n, generator=expected)
    assert torch.equal(gen.get_state(), expected.get_state())
    mixed = list(s.batches(4, crop=None, generator=torch.Generator().manual_seed(3), gain_range=(0.1, 2),
                           gain_prob=0.5, mixed_prob=1.0))
    assert not torch.equal(mixed[0][0], plain[0][0])
