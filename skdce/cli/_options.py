"""The options that several commands take, each defined once, and the checks of their values.

A command decorates itself with, e.g., ``@providers_option(help=...)``: the
flag, its type and its default are written here only, so ``--providers`` or
``--strength`` parse the same way everywhere; the help text says what the
option means to that command. :func:`check_model` turns ``--model`` and
``--providers`` into a loaded model before any work starts (a usage error
otherwise).
"""

from __future__ import annotations

import json
import math

import click

from .._base.validate import max_threads
from ..models import DEFAULT_MODEL, GPU_DEFAULT_MODEL  # pure Python, no heavy imports


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (nan compares false with both bounds)."""

    def convert(self, value, param, ctx):
        rv = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(rv, param, ctx)


class TileSize(click.ParamType):
    """``auto``, ``none`` or a tile size of at least 16: the values of ``tile_size=`` in :func:`skdce.enhance`."""

    name = "auto|none|PIXELS"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value if value is None else click.IntRange(min=16).convert(value, param, ctx)
        word = str(value).strip().lower()
        if word in ("auto", "none"):
            return None if word == "none" else "auto"
        return click.IntRange(min=16).convert(value, param, ctx)


def tile_size_option():
    """``--tile-size``: one meaning with the library's ``tile_size=`` (``skdce.engine.plan.resolve_tile``)."""
    return click.option("--tile-size", type=TileSize(), default="auto", show_default=True,
                        help="Tile size of the network and the denoiser (bounds memory; the results do not depend "
                             "on it). auto: 512 on the host, 2048 where the pipeline runs on CUDA; none: the whole "
                             "image as one tile.")


#: The most ONNX Runtime / torch threads accepted: the library's own bound (more only oversubscribes the cores).
MAX_THREADS = max_threads()
THREADS = click.IntRange(1, MAX_THREADS)


def model_option(*, help: str):
    """``-m/--model``: a bundled model name or an .onnx file; ``help`` is followed by the default."""
    return click.option("-m", "--model", default=None,
                        help=f"{help} Default: {DEFAULT_MODEL} on the CPU, {GPU_DEFAULT_MODEL} on CUDA.")


def strength_option(*, help: str):
    """``-s/--strength``: the curve strength, a finite number in [0, 2]."""
    return click.option("-s", "--strength", type=FiniteFloatRange(0, 2), default=1.0, show_default=True, help=help)


class Exposure(click.ParamType):
    """``auto``, ``model`` or a finite number of stops in :data:`skdce.tone.EXPOSURE_RANGE`."""

    name = "auto|model|STOPS"

    def convert(self, value, param, ctx):
        from ..tone import EXPOSURE_RANGE

        if isinstance(value, str) and value.strip().lower() in ("auto", "model"):
            return value.strip().lower()
        lo, hi = EXPOSURE_RANGE
        return FiniteFloatRange(lo, hi).convert(value, param, ctx)


#: ``--exposure``: one definition for enhance and demo.
exposure_option = click.option(
    "--exposure", type=Exposure(), default="auto", show_default=True,
    help="Exposure: auto = decided for the scene (the model's curves, then the highlights brought up to a "
         "well-exposed photo's); model = the curves alone; a number = that many stops brighter (positive) or "
         "darker (negative) at middle grey than auto, from -4 to 2.",
)


#: ``--denoiser``: which denoiser (skdce.engine.plan.DENOISERS).
denoiser_option = click.option(
    "--denoiser", type=click.Choice(["guided", "learned"]), default="guided", show_default=True,
    help="What removes the noise the curves amplify: the guided filter, or the small learned network "
         "(a little more texture indoors, 6-8x slower).",
)


#: ``--denoise``: one definition for enhance, evaluate and demo.
denoise_option = click.option(
    "--denoise", type=FiniteFloatRange(0, 4), default=1.0, show_default=True,
    help="Noise removal after the curves, scaled to the noise they amplify: 0 = off, 1 = default, more = stronger.",
)


def providers_option(*, help: str):
    """``--providers``: auto, cpu, cuda or comma-separated ONNX Runtime provider names (see :func:`parse_providers`)."""
    return click.option("--providers", default="auto", show_default=True, help=help)


def threads_option(*, help: str):
    """``--threads``: ONNX Runtime or torch threads, 1 to :data:`MAX_THREADS`."""
    return click.option("--threads", type=THREADS, help=help)


def overwrite_option(*, help: str):
    """``--overwrite``: replace existing output files."""
    return click.option("--overwrite", is_flag=True, help=help)


def json_option(*, help: str):
    """``--json`` (the parameter ``as_json``): print JSON (written with :func:`dump_json`)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def quiet_option(*, help: str):
    """``--quiet``: no progress bar (and, per command, fewer lines)."""
    return click.option("--quiet", is_flag=True, help=help)


#: ``--verbose``: one line per file, and what ran.
verbose_option = click.option(
    "--verbose", is_flag=True, help="One line per file with its time, and the model, providers and threads used."
)


def parse_providers(value: str):
    """``"auto"``, ``"cpu"``, ``"cuda"`` or a comma-separated list of ONNX Runtime provider names."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) == 1 and not parts[0].endswith("ExecutionProvider"):
        return parts[0]  # "auto", "cpu", "cuda" (anything else gets resolve_providers' message)
    return parts


def check_model(model: str, providers: str, threads: int | None):
    """Load the model once up front: ``(ModelInfo, providers that run it)``; usage errors otherwise."""
    from ..engine.runtime import get_session, resolve_providers
    from ..models import default_model, get_model, verify

    providers = parse_providers(providers)
    try:
        resolve_providers(providers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--providers'") from None
    try:
        info = get_model(model if model is not None else default_model(providers))
        verify(info)
        session = get_session(info.path, providers, threads)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--model'") from None
    return info, session.providers


def dump_json(data) -> str:
    """The JSON that ``--json`` prints: indented, and never ``NaN``/``Infinity`` (not JSON)."""
    return json.dumps(data, indent=2, allow_nan=False)
