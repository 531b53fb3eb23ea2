"""Training images: a folder of files, a split given by file lists, held in memory.

Every readable still-image format Pillow knows is accepted (PNG, JPEG, TIFF,
BMP, WebP, ...). Documented handling of unusual files:

* grayscale (``L``, 16-bit ``I;16``) and palette files are converted to RGB
  (the gray value in all three channels);
* 16-bit files, gray or RGB, are scaled by 65535 (read with :func:`skdce.io.read_image`:
  Pillow alone keeps only the high byte of 16-bit RGB), then stored like the rest as 8-bit;
* an alpha channel is dropped (training is on colour only);
* EXIF orientation is applied.

A file that cannot be decoded is an error naming the file, never a skip: a
training set that silently shrinks would not reproduce.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_split", "load_images", "change_exposure", "mixed_lighting",
           "ImageSet"]

from .._base.image import to_uint
from ..io import IMAGE_SUFFIXES, RAW_SUFFIXES, read_image  # noqa: E402


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
    if path.suffix.lower() not in RAW_SUFFIXES:
        try:  # 16 bits kept: Pillow opens 16-bit RGB PNG and TIFF files as 8-bit "RGB" (their high bytes)
            arr, _ = read_image(path)
        except ValueError:  # 32-bit and float samples, several frames, broken files: Pillow's way, below
            arr = None
        if arr is not None:
            arr = arr[..., None] if arr.ndim == 2 else arr
            arr = arr[..., :3] if arr.shape[-1] >= 3 else arr[..., :1]  # alpha dropped
            if arr.dtype == np.uint16:
                arr = to_uint(arr / 65535.0, np.uint8)
            return Image.fromarray(np.ascontiguousarray(np.broadcast_to(arr, (*arr.shape[:2], 3))), "RGB")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except Exception as exc:  # Pillow raises many types for broken files
        raise ValueError(f"cannot read training image {str(path)!r}: {exc}. Remove or replace the file.") from exc
    if im.mode.startswith("I;16") or im.mode == "I":
        arr = np.asarray(im, dtype=np.float64) / 65535.0
        im = Image.fromarray(to_uint(np.clip(arr, 0, 1), np.uint8), "L")
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(to_uint(np.clip(arr, 0, 1), np.uint8), "L")
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


#: sRGB is approximated as gamma 2.2 when exposure is changed in linear light.
GAMMA = 2.2


def change_exposure(batch: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Scale NCHW sRGB images in [0, 1] by per-image ``gains`` in linear light (clipped at 1)."""
    linear = batch.clamp(0, 1) ** GAMMA
    return (linear * gains.view(-1, 1, 1, 1)).clamp_(0, 1) ** (1 / GAMMA)


def mixed_lighting(batch: torch.Tensor, prob: float, gain_range, generator: torch.Generator) -> torch.Tensor:
    """Re-expose one half (left, right, top or bottom) of each NCHW image with probability ``prob``.

    The gain is drawn log-uniformly from ``gain_range``, in linear light
    (:func:`change_exposure`); the other half is left as it is.
    """
    n, _, h, w = batch.shape
    lo, hi = math.log(gain_range[0]), math.log(gain_range[1])
    gains = torch.exp(lo + (hi - lo) * torch.rand(n, generator=generator))
    chosen = torch.rand(n, generator=generator) < prob
    sides = torch.randint(0, 4, (n,), generator=generator)
    out = batch.clone()
    halves = ((slice(None), slice(0, w // 2)), (slice(None), slice(w // 2, w)),
              (slice(0, h // 2), slice(None)), (slice(h // 2, h), slice(None)))
    for b in torch.nonzero(chosen).flatten().tolist():
        rows, cols = halves[int(sides[b])]
        out[b : b + 1, :, rows, cols] = change_exposure(batch[b : b + 1, :, rows, cols], gains[b : b + 1])
    return out


class ImageSet:
    """An in-memory image set with seeded batches, exposure changes and random crops."""

    def __init__(self, images: torch.Tensor, names: list[str]):
        self.images = images  # (N, H, W, 3) uint8
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def batches(self, batch_size: int, *, crop: int | None, generator: torch.Generator | None,
                gain_range: tuple[float, float] | None = None, gain_prob: float = 0.0, mixed_prob: float = 0.0,
                mixed_range: tuple[float, float] = (0.03, 0.3)):
        """Yield ``(images, context)``: float NCHW batches in [0, 1] and their ``(N, 1, H, W)`` context.

        With a ``generator`` the order is shuffled, and each image is (with
        probability ``gain_prob``) re-exposed by a gain drawn log-uniformly from
        ``gain_range`` in linear light, then (with probability ``mixed_prob``)
        has one half re-exposed by a gain from ``mixed_range`` (mixed lighting),
        then cropped (with flips). The context
        is that of the whole re-exposed image, so a crop sees what the full
        image would show it.
        """
        from ..engine.stages.boxes import torch_illumination_context

        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        _, h, w, _ = self.images.shape
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            batch = self.images[idx].permute(0, 3, 1, 2).float().div_(255.0)
            if generator is not None and gain_range is not None and gain_prob > 0:
                lo, hi = math.log(gain_range[0]), math.log(gain_range[1])
                gains = torch.exp(lo + (hi - lo) * torch.rand(len(idx), generator=generator))
                keep = torch.rand(len(idx), generator=generator) >= gain_prob
                batch = change_exposure(batch, torch.where(keep, torch.ones_like(gains), gains))
            if generator is not None and mixed_prob > 0:  # drawn only when asked: older recipes draw as before
                batch = mixed_lighting(batch, mixed_prob, mixed_range, generator)
            context = torch_illumination_context(batch)
            if crop and generator is not None and (crop < h or crop < w):
                tops = torch.randint(0, h - crop + 1, (len(idx),), generator=generator)
                lefts = torch.randint(0, w - crop + 1, (len(idx),), generator=generator)
                flips = torch.rand(len(idx), generator=generator) < 0.5
                pairs = []
                for b in range(len(idx)):
                    top, left = int(tops[b]), int(lefts[b])
                    pair = torch.cat([batch[b], context[b]])[:, top : top + crop, left : left + crop]
                    pairs.append(torch.flip(pair, dims=(2,)) if flips[b] else pair)
                pairs = torch.stack(pairs)
                batch, context = pairs[:, :3], pairs[:, 3:]
            yield batch.contiguous(), context.contiguous()
