"""``skdce demo``: enhance a darkened scikit-image sample; write the input, the output and a before/after."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._batch import check_output_folder
from ._errors import echo_out, os_reason
from ._options import (
    check_model,
    denoise_option,
    exposure_option,
    model_option,
    parse_providers,
    providers_option,
    strength_option,
)
from ._report import to_uint

__all__ = ["demo"]


@click.command(epilog="\b\nExamples:\n  skdce demo\n  skdce demo -o demo/ --sample chelsea --strength 1.5")
@click.option("-o", "--output", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("skdce-demo"), show_default=True,
              help="Folder for the three PNG files (rewritten on each run).")
@click.option("--sample", type=click.Choice(["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry"]),
              default="astronaut", show_default=True, help="Which bundled scikit-image sample to darken.")
@model_option(help="Bundled model name or .onnx file.")
@strength_option(help="Curve strength.")
@exposure_option
@denoise_option
@providers_option(help="ONNX Runtime providers.")
def demo(output_dir, sample, model, strength, exposure, denoise, providers):
    """Enhance the bundled low-light sample; write input, output and a before/after PNG."""
    import numpy as np

    from .. import io as skio
    from ..data import low_light_sample
    from ..pipeline import enhance as enhance_array

    info, running = check_model(model, providers, None)
    # before any work or file: usage errors, as enhance says them (a folder in the way failed after the first file)
    check_output_folder(output_dir, create=True)
    targets = {name: output_dir / f"{sample}_{name}.png" for name in ("low", "enhanced", "before_after")}
    for path in targets.values():
        if path.is_dir():
            raise click.BadParameter(f"{str(path)!r} is a folder, in the way of the demo image of that name; "
                                     f"remove it or choose another -o.", param_hint="'--output'")
    t0 = time.perf_counter()
    low = low_light_sample(sample)
    out = to_uint(enhance_array(low, model=info, strength=strength, exposure=exposure, denoise=denoise,
                                      providers=parse_providers(providers)), 8)
    seconds = time.perf_counter() - t0
    gap = np.full((low.shape[0], 8, 3), 255, np.uint8)
    paths = []
    try:
        for name, image in (("low", low), ("enhanced", out), ("before_after", np.concatenate([low, gap, out], axis=1))):
            paths.append(skio.write_image(targets[name], image, overwrite=True))
    except skio.ImageFileError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a file in the way, a full disk, a file-size limit, a read-only folder
        reason = os_reason(exc, exc.filename or output_dir)
        raise click.ClickException(f"cannot write the demo images: {reason}") from None
    echo_out(
        f"enhanced the darkened {sample!r} sample ({low.shape[1]}x{low.shape[0]}) with {info.name} "
        f"on {running[0]} in {seconds:.2f} s; mean brightness {low.mean() / 255:.3f} -> {out.mean() / 255:.3f}"
    )
    for path in paths:
        echo_out(f"  {path}")
