"""``skdce evaluate``: PSNR and SSIM of enhanced images against references, matched by file name.

With ``--enhance`` the images are low-light inputs, enhanced first with
``--model``. The table is CSV (or JSON) on stdout and optionally in a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..io import IMAGE_SUFFIXES  # pure Python, no heavy imports
from ._batch import Progress
from ._errors import echo_out, os_reason
from ._options import (
    check_model,
    denoise_option,
    dump_json,
    json_option,
    model_option,
    parse_providers,
    providers_option,
    quiet_option,
    strength_option,
)
from ._report import to_uint

__all__ = ["evaluate"]


def _index_folder(folder: Path, strip: str = "") -> dict:
    """``{matching name: path}`` for the images directly in ``folder``."""
    index: dict = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        stem = path.stem
        if strip and stem.endswith(strip):
            stem = stem[: -len(strip)]
        if stem in index:
            raise click.ClickException(
                f"{str(index[stem])!r} and {str(path)!r} in {str(folder)!r} both match the name {stem!r}; keep one."
            )
        index[stem] = path
    return index


def _check_table_folder(output: Path) -> None:
    """Make sure the table can be written in the folder of ``output`` (a usage error otherwise)."""
    import os

    folder = output.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise click.BadParameter(f"the folder {str(folder)!r} {what}; create it or name a file in another folder.",
                                 param_hint="'--output'")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write in the folder {str(folder)!r}: permission denied; check its "
                                 f"permissions or name a file in another folder.", param_hint="'--output'")


def _subfolders(folder: Path) -> int:
    """How many folders (not hidden) ``folder`` holds: what evaluate does not look into."""
    try:
        return sum(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return 0


def _rgb8(image):
    """uint8/uint16 gray/RGB(A) -> (H, W, 3) uint8."""
    import numpy as np

    image = to_uint(image, 8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] in (2, 4):
        image = image[..., :-1]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image


def _csv_table(results, mean) -> str:
    """The CSV table of evaluate (the csv module quotes names holding commas, quotes or newlines)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "psnr", "ssim"])
    writer.writerows([r["name"], f"{r['psnr']:.4f}", f"{r['ssim']:.4f}"] for r in results)
    if results:
        writer.writerow(["mean", f"{mean['psnr']:.4f}", f"{mean['ssim']:.4f}"])
    return buffer.getvalue()


def _report(results, failed, unmatched, info) -> tuple[dict, dict]:
    """``(the JSON report, the mean PSNR and SSIM)``; the mean PSNR is over the pairs that differ (inf if none)."""
    import numpy as np

    finite = [r["psnr"] for r in results if np.isfinite(r["psnr"])]
    mean = {  # over the pairs whose PSNR is finite: an identical pair (inf) says nothing of the others
        "psnr": (float(np.mean(finite)) if finite else float("inf")) if results else None,
        "ssim": float(np.mean([r["ssim"] for r in results])) if results else None,
    }

    def json_value(v):
        return v if v is None or np.isfinite(v) else None  # PSNR inf is not JSON: null, with "identical": true

    report = {
        "images": [{**r, "psnr": json_value(r["psnr"]), "identical": bool(np.isinf(r["psnr"]))} for r in results],
        "mean": {k: json_value(v) for k, v in mean.items()},
        "count": len(results),
        "identical": len(results) - len(finite),
        "failed": failed,
        "unmatched": unmatched,
        "model": None if info is None else info.name,
    }
    return report, mean


_EVALUATE_EXAMPLES = """
\b
Examples:
  skdce evaluate out/ data/high/                      score enhanced files
  skdce evaluate data/low/ data/high/ --enhance       enhance and score in one go
  skdce evaluate out/ ref/ --suffix _dce -o scores.csv
  skdce evaluate data/low/ data/high/ --enhance --model my.onnx --json
"""


@click.command(epilog=_EVALUATE_EXAMPLES)
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("references", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--enhance", "enhance_first", is_flag=True,
              help="IMAGES are low-light inputs: enhance each with --model, then score.")
@model_option(help="Model for --enhance.")
@strength_option(help="Strength for --enhance.")
@denoise_option
@providers_option(help="ONNX Runtime providers for --enhance.")
@click.option("--suffix", default="", help="Suffix to strip from IMAGES names before matching (e.g. _enhanced).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the table to FILE: JSON for .json, else CSV.")
@json_option(help="Print JSON instead of CSV.")
@quiet_option(help="No progress bar.")
def evaluate(images, references, enhance_first, model, strength, denoise, providers, suffix, output, as_json, quiet):
    """PSNR and SSIM of IMAGES against REFERENCES, matched by file name.

    Files are matched by name without extension (`1.png` with `1.jpg`) and
    compared as 8-bit RGB with skimage.metrics: PSNR with data_range=255, SSIM
    with channel_axis=-1 and data_range=255. Prints CSV (name, psnr, ssim, then
    the mean) or JSON; the exit status is 1 when a pair could not be scored.
    """
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from .. import io as skio
    from ..io._paths import file_id

    if output is not None:  # before any scoring: a usage error, not a failure once every pair is scored
        _check_table_folder(output)
    folder_id = file_id(images)
    if not enhance_first and folder_id is not None and folder_id == file_id(references):
        raise click.BadParameter(f"{str(images)!r} and {str(references)!r} are the same folder: every image would be "
                                 f"scored against itself; name the folder of the references.",
                                 param_hint="'REFERENCES'")
    found = _index_folder(images, suffix)
    refs = _index_folder(references)
    if output is not None:
        if file_id(output) in {file_id(p) for p in (*found.values(), *refs.values())}:
            raise click.BadParameter(f"{str(output)!r} is one of the images being scored; skdce never replaces an "
                                     f"input: write the table e.g. to scores.csv.", param_hint="'--output'")
    info = None
    if enhance_first:
        info, _ = check_model(model, providers, None)
    names = [n for n in found if n in refs]
    unmatched = [str(found[n]) for n in found if n not in refs]
    skipped = {str(f): _subfolders(f) for f in dict.fromkeys((images, references))}
    if any(skipped.values()):  # evaluate has no --recursive: they were skipped silently
        n = sum(skipped.values())
        where = ", ".join(f"{count} in {folder}" for folder, count in skipped.items() if count)
        click.echo(f"skdce: note: {n} subfolder{'s' if n != 1 else ''} not looked into ({where}); evaluate scores "
                   f"the files directly in IMAGES and REFERENCES", err=True)
    if not names:
        if as_json:  # still a report, with no pairs, for whatever reads it
            echo_out(dump_json(_report([], [], unmatched, info)[0]))
        raise click.ClickException(
            f"no file in {str(images)!r} has a reference of the same name in {str(references)!r}"
            + (f" (after stripping {suffix!r})" if suffix else "")
        )
    for path in unmatched:
        click.echo(f"skdce: no reference for {path}", err=True)
    results, failed = [], []
    progress = Progress(len(names), "evaluating", enabled=not quiet)
    for name in names:
        try:
            image_id = file_id(found[name])
            if info is None and image_id is not None and image_id == file_id(refs[name]):  # the same file
                raise ValueError("the reference is the image itself (the same file); name a folder of other "
                                 "files as REFERENCES")
            image, _ = skio.read_image(found[name])
            reference, _ = skio.read_image(refs[name])
            if info is not None:
                from ..pipeline import enhance

                out = enhance(image, model=info, strength=strength, denoise=denoise,
                              channel_axis=None if image.ndim == 2 else -1, providers=parse_providers(providers))
                image = to_uint(out, 8)
            image, reference = _rgb8(image), _rgb8(reference)
            if image.shape != reference.shape:
                raise ValueError(f"sizes differ: {image.shape[1]}x{image.shape[0]} vs reference "
                                 f"{reference.shape[1]}x{reference.shape[0]}")
            if min(image.shape[:2]) < 7:  # skimage's 7x7 window (its message asks for win_size, no option here)
                raise ValueError(f"too small for SSIM (needs at least 7x7 pixels): "
                                 f"{image.shape[1]}x{image.shape[0]}")
            with np.errstate(divide="ignore"):  # identical images: PSNR is inf
                psnr = float(peak_signal_noise_ratio(reference, image, data_range=255))
            ssim = float(structural_similarity(reference, image, channel_axis=-1, data_range=255))
            results.append({"name": name, "image": str(found[name]), "reference": str(refs[name]), "psnr": psnr,
                            "ssim": ssim})
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            failed.append({"name": name, "image": str(found[name]), "reason": reason})
            progress.echo(f"skdce: failed: {found[name]}: {reason}")
        progress.advance(name)
    progress.close()
    report, mean = _report(results, failed, unmatched, info)
    if report["identical"]:
        progress.echo(f"skdce: note: {report['identical']} of {len(results)} pairs are identical to their "
                      f"reference (PSNR inf); the mean PSNR is over the other {len(results) - report['identical']}")
    csv_text = _csv_table(results, mean)
    echo_out(dump_json(report) if as_json else csv_text, nl=as_json)
    if output is not None:
        from ..io._atomic import atomic_path

        try:
            with atomic_path(output, overwrite=True) as tmp:
                tmp.write_text(dump_json(report) + "\n" if output.suffix.lower() == ".json" else csv_text)
        except OSError as exc:
            raise click.ClickException(f"cannot write the table: {os_reason(exc, output)}") from None
    if failed:
        sys.exit(1)
