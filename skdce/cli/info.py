"""``skdce models`` and ``skdce info``: the models there are, and what runs them on this machine."""

from __future__ import annotations

import json
import os
import platform
import sys

import click

from .. import __version__
from ._errors import echo_out
from ._options import dump_json, json_option, parse_providers, providers_option

__all__ = ["info", "models"]


def _model_facts(info, n_maps=None) -> dict:
    """The facts ``skdce models`` prints; ``n_maps``: what a user file's network really outputs (its session's),
    which ``skdce.enhance`` goes by where the file's metadata says otherwise or nothing."""
    recipe = info.recipe or {}
    shared = info.shared_curve if n_maps is None else n_maps == 3
    architecture = recipe.get("architecture") or recipe.get("skdce_architecture")
    if architecture is None:
        architecture = ("zero-dce++" if shared else "zero-dce") if info.bundled else "unknown (no skdce metadata)"
    return {
        "name": info.name,
        "bundled": info.bundled,
        "file": str(info.path),
        "architecture": architecture,
        "iterations": info.iterations,
        "curve": "shared" if shared else "one per iteration",
        "maps": info.n_maps if n_maps is None else n_maps,
        "scale_factor": info.scale_factor,
        "precision": info.precision,
        "sha256": info.sha256,
        "license": recipe.get("license") or recipe.get("skdce_license"),
        "validation": recipe.get("validation") or recipe.get("skdce_validation") or None,
    }


@click.command(epilog="\b\nExamples:\n  skdce models\n  skdce models my-model.onnx --json")
@click.argument("files", metavar="[MODEL.onnx]...", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@json_option(help="Print JSON.")
def models(files, as_json):
    """The bundled models (and any given .onnx files) with their facts."""
    from ..engine.runtime import get_session
    from ..models import get_model, list_models

    try:
        facts = [_model_facts(get_model(name)) for name in list_models()]
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    failed = []
    for path in files:  # each as skdce.enhance would load it: a file that is no DCE-Net is said, the rest listed
        try:
            info = get_model(path)
            facts.append(_model_facts(info, get_session(info.path, "cpu", 1).n_maps))
        except (ValueError, FileNotFoundError) as exc:
            failed.append(f"{path}: {exc}")
    if as_json:
        echo_out(dump_json(facts))  # the files that failed are said on stderr, with exit status 1
    else:
        if not facts:
            echo_out("no bundled models are installed")
        for f in facts:
            echo_out(f"{f['name']}  ({'bundled' if f['bundled'] else 'user model'})")
            for key in ("architecture", "iterations", "curve", "maps", "scale_factor", "precision", "file", "sha256",
                        "license", "validation"):
                if f[key] not in (None, "", {}):
                    value = json.dumps(f[key]) if isinstance(f[key], dict) else f[key]
                    echo_out(f"  {key:<13} {value}")
        echo_out("Any .onnx file written by `skdce export` works too: skdce enhance ... --model FILE.onnx")
    for line in failed:
        click.echo(f"skdce models: {line}", err=True)
    if failed:
        sys.exit(1)


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@click.command(epilog="\b\nExamples:\n  skdce info\n  skdce info --providers cuda --json")
@providers_option(help="Providers to resolve and load the default model with.")
@json_option(help="Print JSON.")
def info(providers, as_json):
    """Versions, ONNX Runtime providers (available, chosen, running) and thread counts."""
    import onnxruntime

    from ..engine.runtime import get_session, resolve_providers
    from ..models import default_model, get_model, list_models

    requested = parse_providers(providers)
    known = {"auto", "cpu", "cuda", *onnxruntime.get_all_providers()}
    unknown = [name for name in ([requested] if isinstance(requested, str) else requested) if name not in known]
    if unknown:  # a name no ONNX Runtime build has: a usage error, as for enhance (one this build lacks is reported)
        raise click.BadParameter(f"{unknown[0]!r} is no provider name; use auto, cpu, cuda or ONNX Runtime provider "
                                 f"names such as CUDAExecutionProvider.", param_hint="'--providers'")
    data = {
        "skdce": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {d: _version(d) for d in ("numpy", "onnxruntime", "onnxruntime-gpu", "pillow", "scikit-image",
                                              "tifffile", "click", "torch")},
        "providers_available": list(onnxruntime.get_available_providers()),
        "providers_requested": providers,
        "providers_chosen": None,
        "providers_running": None,
        "model": None,
        "error": None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "onnxruntime_threads": "one per physical core (ONNX Runtime default; skdce enhance --threads N to change)",
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES") if k in os.environ},
    }
    try:
        chosen = resolve_providers(requested)
        data["providers_chosen"] = [name for name, _ in chosen]
        data["provider_options"] = {name: dict(options) for name, options in chosen if options}
        name = default_model(parse_providers(providers))
        if name in list_models():
            model = get_model(name)
            data["model"] = model.name
            data["providers_running"] = list(get_session(model.path, parse_providers(providers), None).providers)
    except (ValueError, FileNotFoundError) as exc:
        data["error"] = str(exc)
    if as_json:
        echo_out(dump_json(data))
    else:
        echo_out(f"skdce {data['skdce']} (python {data['python']}, {data['platform']})")
        for dist, version in data["versions"].items():
            if version is not None:
                echo_out(f"  {dist:<14} {version}")
        echo_out(f"providers available  {', '.join(data['providers_available'])}")
        echo_out(f"providers chosen     {', '.join(data['providers_chosen'] or []) or '-'}  (--providers {providers})")
        if data["providers_running"]:
            echo_out(f"providers running    {', '.join(data['providers_running'])}  ({data['model']})")
        echo_out(f"cpu cores            {data['cpu_count']} ({data['cpus_usable']} usable by this process)")
        echo_out(f"onnxruntime threads  {data['onnxruntime_threads']}")
        for key, value in data["env"].items():
            echo_out(f"  {key}={value}")
        if data["error"]:
            echo_out(f"error                {data['error']}")
    if data["error"]:
        sys.exit(1)
