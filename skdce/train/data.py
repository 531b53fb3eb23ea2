"""Training images: a folder of files, a split given by file lists, held in memory.

Every readable still-image format Pillow knows is accepted (PNG, JPEG, TIFF,
BMP, WebP, ...). Documented handling of unusual files:

* grayscale (``L``, 16-bit ``I;16``) and palette files are converted to RGB
  (the gray value in all three channels);
* 16-bit files are scaled by 65535, then stored like the rest as 8-bit after resizing;
* an alpha channel is dropped (training is on colour only);
* EXIF orientation is applied.

A file that cannot be decoded is an error naming the file, never a skip: a
training set that silently shrinks would not reproduce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_split", "load_images", "ImageSet"]

from ..io import IMAGE_SUFFIXES  # noqa: E402


def list_images(folder) -> list[str]:
    """Sorted names of the image files directly in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist or is not a folder.")
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not names:
        raise ValueError(
            f"image folder {str(folder)!r} holds no image files (looked for {', '.join(IMAGE_SUFFIXES)})."
        )
    return names


def read_split(list_file) -> list[str]:
    """File names listed one per line in ``list_file`` (blank lines and ``#`` comments ignored)."""
    path = Path(list_file)
    if not path.is_file():
        raise FileNotFoundError(f"split file {str(path)!r} does not exist.")
    names = [ln.strip() for ln in path.read_text().splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ValueError(f"split file {str(path)!r} lists no files.")
    return names


def _read_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except Exception as exc:  # Pillow raises many types for broken files
        raise ValueError(f"cannot read training image {str(path)!r}: {exc}. Remove or replace the file.") from exc
    if im.mode.startswith("I;16") or im.mode == "I":
        arr = np.asarray(im, dtype=np.float64) / 65535.0
        im = Image.fromarray(np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8), "L")
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8), "L")
    return im.convert("RGB")


def load_images(folder, names, size: int | None) -> torch.Tensor:
    """Read ``names`` from ``folder``, resized to ``size x size`` (bicubic), as a uint8 NHWC tensor."""
    folder = Path(folder)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} listed files are missing from {str(folder)!r}, e.g. {missing[:3]}; "
            f"check the split file and the data folder."
        )
    arrays = []
    for name in names:
        im = _read_rgb(folder / name)
        if size:
            im = im.resize((size, size), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(im, dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"images in {str(folder)!r} have different sizes {sorted(shapes)[:3]}; set image_size to resize them."
        )
    return torch.from_numpy(np.stack(arrays))


class ImageSet:
    """An in-memory image set with seeded batches and random crops."""

    def __init__(self, images: torch.Tensor, names: list[str]):
        self.images = images  # (N, H, W, 3) uint8
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def batches(self, batch_size: int, *, crop: int | None, generator: torch.Generator | None):
        """Yield float NCHW batches in [0, 1]; shuffled and cropped when ``generator`` is given."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        _, h, w, _ = self.images.shape
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            batch = self.images[idx]
            if crop and generator is not None and (crop < h or crop < w):
                tops = torch.randint(0, h - crop + 1, (len(idx),), generator=generator)
                lefts = torch.randint(0, w - crop + 1, (len(idx),), generator=generator)
                flips = torch.rand(len(idx), generator=generator) < 0.5
                crops = []
                for b, t, l, f in zip(batch, tops.tolist(), lefts.tolist(), flips.tolist()):
                    c = b[t : t + crop, l : l + crop]
                    crops.append(torch.flip(c, dims=(1,)) if f else c)
                batch = torch.stack(crops)
            yield batch.permute(0, 3, 1, 2).float().div_(255.0).contiguous()
