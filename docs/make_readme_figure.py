"""Make ``docs/_static/before_after.png``, the picture shown by the README and the docs' front page.

Run it again whenever the bundled weights change::

    python docs/make_readme_figure.py

It enhances a darkened scikit-image sample with the default model and writes
a labelled side-by-side picture, quantised to a 256-colour palette to stay
small (under 300 KB).
"""

import io
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

import skdce  # noqa: E402
from skdce.data import low_light_sample  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "before_after.png"
MAX_BYTES = 300_000


def make_figure(sample="chelsea", width_px=800):
    dark = low_light_sample(sample)
    bright = skdce.enhance(dark)
    h, w = dark.shape[:2]
    dpi = 100
    fig_w = width_px / dpi
    fig_h = fig_w * h / (2 * w) + 0.35  # two images side by side, plus a title row
    fig, axes = plt.subplots(1, 2, figsize=(fig_w, fig_h), dpi=dpi)
    for ax, img, title in zip(axes, (dark, bright), ("low-light input", "skdce.enhance(image)")):
        ax.imshow(img, interpolation="lanczos")
        ax.set_title(title, fontsize=11)
        ax.set_axis_off()
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=1 - 0.3 / fig_h, wspace=0.02)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def main():
    image = make_figure()
    palette = image.quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    palette.save(OUT, optimize=True)
    size = OUT.stat().st_size
    print(f"wrote {OUT} ({image.width}x{image.height}, {size / 1000:.0f} KB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{OUT} is {size} bytes, over {MAX_BYTES}; lower width_px.")


if __name__ == "__main__":
    main()
