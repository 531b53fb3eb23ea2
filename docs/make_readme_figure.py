"""Make ``docs/_static/before_after.png``, the picture shown by the README and the docs' front page.

Run it again whenever the bundled weights change::

    python docs/make_readme_figure.py                 # writes docs/_static/before_after.png
    python docs/make_readme_figure.py -o /tmp/x.png   # anywhere else, e.g. to look first

The input is a realistic low-light photo, not a plain dimming: scikit-image's
``chelsea`` sample (a cat indoors; "No copyright restrictions. CC0 by the
photographer (Stefan van der Walt)", as scikit-image's ``skimage.data.chelsea``
says) darkened as a camera would record it with about 4 stops less light:
in linear light (gamma 2.2), times 0.06, with Poisson shot noise of 300
photo-electrons at full scale and Gaussian read noise of 0.004
(:func:`skdce.data.darken`). The picture shows that input, the default call
``skdce.enhance(image)`` and the well-exposed original, labelled, and is
quantised to a 256-colour palette to stay small (under 300 KB).
"""

import argparse
import io
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

import skdce  # noqa: E402
from skdce.data import darken  # noqa: E402
from skdce.io._atomic import atomic_path  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "before_after.png"
MAX_BYTES = 300_000
#: The simulated capture: linear-light gain, photo-electrons at full scale, read noise.
GAIN, PHOTONS, READ_NOISE = 0.06, 300.0, 0.004


def make_figure(sample="chelsea", width_px=900, original=True):
    photo = getattr(skimage.data, sample)()[..., :3]
    dark = darken(photo, gain=GAIN, photons=PHOTONS, read_noise=READ_NOISE)
    bright = skdce.enhance(dark)
    panels = [(dark, "low-light input"), (bright, "skdce.enhance(image)")]
    if original:
        panels.append((photo, "well-exposed original"))
    h, w = dark.shape[:2]
    dpi = 100
    fig_w = width_px / dpi
    fig_h = fig_w * h / (len(panels) * w) + 0.35  # the images side by side, plus a title row
    fig, axes = plt.subplots(1, len(panels), figsize=(fig_w, fig_h), dpi=dpi)
    for ax, (img, title) in zip(axes, panels):
        ax.imshow(img, interpolation="lanczos")
        ax.set_title(title, fontsize=11)
        ax.set_axis_off()
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=1 - 0.3 / fig_h, wspace=0.02)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT, help=f"where to write the PNG (default {OUT})")
    parser.add_argument("--sample", default="chelsea", help="the scikit-image sample (default chelsea)")
    parser.add_argument("--width", type=int, default=900, help="width of the picture in pixels (default 900)")
    parser.add_argument("--no-original", action="store_true", help="leave out the well-exposed original")
    args = parser.parse_args(argv)

    image = make_figure(args.sample, width_px=args.width, original=not args.no_original)
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    data = io.BytesIO()
    palette.save(data, format="png", optimize=True)
    size = data.tell()
    if size > MAX_BYTES:
        raise SystemExit(f"the picture is {size} bytes, over {MAX_BYTES}; lower --width. Nothing written.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output, overwrite=True) as tmp:  # a reader never sees half a picture
        tmp.write_bytes(data.getvalue())
    print(f"wrote {args.output} ({image.width}x{image.height}, {size / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
