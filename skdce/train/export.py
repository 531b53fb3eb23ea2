"""Export a trained curve estimator to ONNX, with its recipe in the metadata."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import torch

from ..engine.stages.boxes import CONTEXT_GRIDS
from ..io._atomic import atomic_path
from ..models import sha256_file
from .config import _PATH_KEYS
from .model import DCENetPP
from .weights import model_from_checkpoint, model_from_onnx

__all__ = ["export_onnx", "export_checkpoint", "model_from_checkpoint", "model_from_onnx", "bundle_model",
           "recipe_scale", "data_split_of", "record_in_manifest", "save_with_facts", "git_commit", "sha256_file"]

OPSET = 17


def git_commit(cwd=None) -> str:
    """The current git commit of ``cwd`` (``"unknown"`` outside a repository)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def export_onnx(model: torch.nn.Module, path, *, metadata: dict | None = None, scale_factor: float | None = None,
                overwrite: bool = True, net_size: int | None = None, black_point: float = 0.0) -> Path:
    """Write ``model``'s curve estimator to ``path`` (ONNX, opset 17).

    The graph maps ``image`` (N, 3, H, W) float32 in [0, 1] and its
    ``context`` (N, 1, H, W, :mod:`skdce.engine.stages.boxes`) to ``alphas``
    (N, 24 or 3, H, W) in [-1, 1]; batch, height and width are dynamic.
    ``metadata`` (strings, or values stored as JSON) lands in the model's
    ``metadata_props`` beside the facts skdce needs to run it (a shared-curve
    model's ``net_size`` and ``black_point`` among them, see
    :class:`skdce.ModelInfo`). The file is
    written atomically (:mod:`skdce.io._atomic`); with ``overwrite=False`` an
    existing ``path`` raises :class:`FileExistsError` and is kept.
    """
    import onnx

    path = Path(path)
    model = model.eval()
    shared = isinstance(model, DCENetPP)
    facts = {
        "skdce_architecture": "zero-dce++" if shared else "zero-dce",
        "skdce_iterations": str(model.iterations),
        "skdce_shared_curve": json.dumps(shared),
        "skdce_scale_factor": json.dumps(scale_factor if scale_factor is not None else (12 if shared else 1)),
    }
    if shared and net_size:
        facts["skdce_net_size"] = json.dumps(int(net_size))
    if shared and black_point:
        facts["skdce_black_point"] = json.dumps(float(black_point))
    for key, value in (metadata or {}).items():
        facts[key] = value if isinstance(value, str) else json.dumps(value)
    dummy = torch.rand(1, 3, 32, 32)
    dummy_context = torch.rand(1, 1, 32, 32)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy, dummy_context),
                str(tmp),
                input_names=["image", "context"],
                output_names=["alphas"],
                dynamic_axes={name: {0: "batch", 2: "height", 3: "width"} for name in ("image", "context", "alphas")},
                opset_version=OPSET,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        unshare_initializers(proto)
        flush_tiny_weights(proto)
        save_with_facts(proto, tmp, facts)
    return path


def save_with_facts(proto, path, facts: dict) -> None:
    """Replace ``proto``'s metadata with ``facts`` (strings), mark skdce as producer, check and save to ``path``."""
    import onnx

    del proto.metadata_props[:]
    for key, value in facts.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "skdce"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def unshare_initializers(proto) -> int:
    """Give every node input that reads a weight an initializer of its own; returns how many were added.

    Torch's exporter writes equal tensors once: the all-zero biases of a
    freshly initialised network become one initializer, passed to the other
    convolutions through ``Identity`` nodes. onnxruntime's ``quantize_static``
    finds no initializer behind such a bias and fails. Each ``Identity`` of an
    initializer is replaced by a copy named as its output (the parameter's
    name in the state dict, which :func:`model_from_onnx` loads), and an
    initializer read by several node inputs gets a copy per extra input.
    """
    graph = proto.graph
    inits = {init.name: init for init in graph.initializer}

    def copy_of(name, new_name):
        copy = graph.initializer.add()
        copy.CopyFrom(inits[name])
        copy.name = new_name
        inits[new_name] = copy
        return new_name

    added = 0
    for node in list(graph.node):
        if node.op_type == "Identity" and node.input[0] in inits:
            copy_of(node.input[0], node.output[0])
            graph.node.remove(node)
            added += 1
    seen = set()
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in seen:
                node.input[i] = copy_of(name, f"{name}/copy{added}")
                added += 1
            elif name in inits:
                seen.add(name)
    used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
    for init in [init for init in graph.initializer if init.name not in used]:
        graph.initializer.remove(init)
    return added


#: Weights smaller than this are written as 0 (see :func:`flush_tiny_weights`).
TINY_WEIGHT = 1e-12


def flush_tiny_weights(proto) -> int:
    """Set the float weights of ``proto`` below :data:`TINY_WEIGHT` in magnitude to 0; returns how many.

    Weight decay leaves thousands of dead weights near 1e-27; their products
    with small activations are subnormal floats, which CPUs handle in
    microcode: the Zero-DCE++ network on a 333x250 copy ran 0.43 s with them
    and 0.019 s without, with identical outputs (their contributions are
    below float32 resolution). Flushing subnormals in the session instead
    would change the floating-point state of the caller's thread.
    """
    import numpy as np
    from onnx import numpy_helper

    flushed = 0
    for init in proto.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype.kind != "f":
            continue
        tiny = (np.abs(a) < TINY_WEIGHT) & (a != 0)
        if tiny.any():
            a = np.where(tiny, 0, a).astype(a.dtype)
            init.CopyFrom(numpy_helper.from_array(a, init.name))
            flushed += int(tiny.sum())
    return flushed


def recipe_scale(config: dict, shared: bool, scale_factor: float | None = None) -> float:
    """The downscaling an export records: ``scale_factor`` when given, else the recipe's.

    A shared-curve (zero-dce++) recipe without ``net_size`` that set a
    ``scale_factor`` of its own (above 1) estimated its curves at that
    scale, and runs at it; otherwise (``net_size``, which overrides it, or
    the default 1: trained on crops at full scale, as the paper did before
    testing at 12) it gets the paper's 12; zero-dce gets 1.
    """
    if scale_factor is not None:
        return scale_factor
    if not shared:
        return 1
    own = config.get("scale_factor")
    if not config.get("net_size") and own is not None and float(own) > 1:
        return float(own)
    return 12


def export_checkpoint(checkpoint, path, *, metadata: dict | None = None, scale_factor: float | None = None,
                      overwrite: bool = True) -> Path:
    """Export a training checkpoint, recording its config and last validation metrics.

    A zero-dce++ model trained without ``net_size`` at a ``scale_factor``
    above 1 records that scale unless ``scale_factor`` is given, else 12
    (:func:`recipe_scale`).

    No licence is recorded: the weights are the trainer's own (pass
    ``metadata={"skdce_license": ...}`` to state one); bundled models carry
    skdce's BSD-3-Clause (:func:`bundle_model`).
    """
    model, config, history = model_from_checkpoint(checkpoint)
    meta = {
        "skdce_recipe": config,
        "skdce_validation": history[-1] if history else {},
        "skdce_commit": git_commit(Path(checkpoint).parent),
    }
    meta.update(metadata or {})
    scale = recipe_scale(config, isinstance(model, DCENetPP), scale_factor)
    return export_onnx(model, path, metadata=meta, scale_factor=scale, overwrite=overwrite,
                       net_size=config.get("net_size"), black_point=float(config.get("black_point") or 0.0))




def data_split_of(config: dict) -> dict:
    """What a recipe trained and validated on, in words, from its own lists (for the metadata and the manifest)."""
    def named(path) -> str:
        p = Path(path)
        return p.parent.name + "/" + p.name if p.name in ("images", "low", "high") else p.name

    train = f"{Path(config['train_list']).name} of {named(config['data_dir'])}" if config.get("train_list") \
        else f"every image of {named(config['data_dir'])}"
    extra = [named(d) for d in config.get("extra_dirs") or ()]
    if extra:
        train += ", and the unpaired inputs of " + ", ".join(extra)
    validation = Path(config["val_list"]).name if config.get("val_list") else "none"
    return {"train": train, "validation": validation}


def bundle_model(checkpoint, name: str, weights_dir, *, config_file: str, train_wall_time_s: float | None = None,
                 validation: dict | None = None, scale_factor: float | None = None,
                 data_split: dict | None = None) -> dict:
    """Export ``checkpoint`` as ``weights_dir/<name>.onnx`` under skdce's licence and record it in ``manifest.json``.

    How the bundled weights are made (``weights/README.md``): train with the
    recipe ``weights/<config_file>``, then bundle the run's checkpoint here;
    other entries of the manifest are kept.

    Parameters
    ----------
    checkpoint : path-like
        A ``checkpoint.pt`` of :func:`skdce.train.train` (its weight average where it kept one).
    name : str
        The model's name in the manifest (``skdce.get_model(name)`` once the file ships).
    weights_dir : path-like
        The folder of the ONNX files and ``manifest.json``.
    config_file : str
        The recipe's file name, recorded so the weights can be reproduced.
    train_wall_time_s : float, optional
        The training's wall time.
    validation : dict, optional
        Figures measured on held-out data (default: the run's last validation
        row); they go into the ONNX metadata and the manifest.
    scale_factor : float, optional
        A shared-curve model's downscaling (default: the recipe's where it set
        one above 1 and has no ``net_size``, else 12; :func:`recipe_scale`).
    data_split : dict, optional
        ``{"train": ..., "validation": ...}`` in words; default: the recipe's
        own lists (:func:`data_split_of`).

    Returns
    -------
    dict
        The manifest entry (file, sha256, licence, recipe without paths, ...).
    """
    weights_dir = Path(weights_dir)
    model, config, history = model_from_checkpoint(checkpoint)
    config["epochs"] = len(history)  # the recipe of this checkpoint: a run stopped here is identical
    shared = isinstance(model, DCENetPP)
    scale = recipe_scale(config, shared, scale_factor)
    path = weights_dir / f"{name}.onnx"
    grids = list(CONTEXT_GRIDS)
    split = dict(data_split) if data_split is not None else data_split_of(config)
    validation = validation or (history[-1] if history else {})
    meta = {
        "skdce_name": name,
        "skdce_recipe": config,
        "skdce_config_file": config_file,
        "skdce_train_wall_time_s": train_wall_time_s,
        "skdce_validation": validation,
        "skdce_data_split": split,
        "skdce_seed": config["seed"],
        "skdce_context_grids": grids,
        "skdce_commit": git_commit(weights_dir),
        "skdce_license": "BSD-3-Clause",
    }
    net_size, black_point = config.get("net_size"), float(config.get("black_point") or 0.0)
    export_onnx(model, path, metadata=meta, scale_factor=scale, net_size=net_size, black_point=black_point)
    extra = {"net_size": int(net_size)} if shared and net_size else {}
    if shared and black_point:
        extra["black_point"] = black_point
    paths = (*_PATH_KEYS, "extra_dirs")
    return record_in_manifest(
        path,
        name,
        architecture=config["architecture"],
        iterations=model.iterations,
        shared_curve=shared,
        scale_factor=scale,
        precision="fp32",
        context_grids=grids,
        config=config_file,
        recipe={k: v for k, v in config.items() if k not in paths},
        train_wall_time_s=train_wall_time_s,
        validation=validation,
        data_split=split,
        **extra,
    )


def record_in_manifest(path, name: str, **facts) -> dict:
    """Add (or replace) ``name`` in the ``manifest.json`` beside ``path``, with its sha256."""
    path = Path(path)
    manifest_path = path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    entry = {"file": path.name, "sha256": sha256_file(path), "license": "BSD-3-Clause", **facts}
    manifest["models"][name] = entry
    with atomic_path(manifest_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry
