"""``skdce train`` and ``skdce export``: train DCE-Net weights from a TOML file, export a checkpoint to ONNX.

Both need the ``train`` extra (torch); without it they say so and exit 1.
``skdce --help`` never imports torch.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ._batch import Progress, interrupts
from ._errors import EXIT_INTERRUPTED, echo_out, os_reason
from ._options import FiniteFloatRange, overwrite_option, quiet_option, threads_option

__all__ = ["export", "train"]


def _import_train():
    try:
        import skdce.train as train_module
    except ImportError as exc:
        raise click.ClickException(f"{exc} (training needs the 'train' extra: pip install 'skdce[train]')") from None
    return train_module


_TRAIN_EXAMPLES = """
\b
Examples:
  skdce train weights/zero-dce.toml --data lol/ --run-dir runs/zero-dce
  skdce train my.toml --data my-photos/ --epochs 5        # a short run on other data
  skdce export runs/zero-dce/checkpoint.pt -o my-model.onnx
"""


@click.command(epilog=_TRAIN_EXAMPLES)
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for checkpoint.pt and logs [default: runs/<config name>].")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the config's epochs.")
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="The dataset folder: the config's relative paths (data_dir, split files, extra_dirs) resolve "
                   "against it [default: the config's folder].")
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False),
              help="Override the config's data_dir (relative to the working folder).")
@click.option("--val-list", type=click.Path(exists=True, dir_okay=False),
              help="Override the config's val_list: the validation names (relative to the working folder), e.g. "
                   "weights/splits/tune.txt.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the config's batch_size.")
@threads_option(help="Override the config's torch threads.")
@click.option("--no-resume", is_flag=True, help="Refuse to continue an existing checkpoint in the run folder.")
@quiet_option(help="No progress bar and no per-epoch lines.")
def train(config, run_dir, epochs, data, data_dir, val_list, batch_size, threads, no_resume, quiet):
    """Train DCE-Net weights as the TOML file CONFIG says.

    A checkpoint is written to the run folder after every epoch; running the
    same command again resumes from it (with the same configuration; only
    --epochs may change, to train longer). Export the result with `skdce export`.
    """
    train_module = _import_train()
    run_dir = run_dir or Path("runs") / config.stem
    try:
        cfg = train_module.load_config(config, data=data, epochs=epochs, data_dir=data_dir, val_list=val_list,
                                       batch_size=batch_size, threads=threads)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists() and not no_resume and not quiet:
        click.echo(f"skdce: resuming from {checkpoint}", err=True)
    state = {"progress": None}

    def on_step(epoch, step, nsteps, loss):
        if state["progress"] is None:  # a resumed run starts where its checkpoint left off
            done = (epoch - 1) * nsteps + step - 1
            state["progress"] = Progress(cfg.epochs * nsteps, "training", enabled=not quiet, initial=done)
        state["progress"].update((epoch - 1) * nsteps + step, f"epoch {epoch}/{cfg.epochs} loss {loss:.4f}")

    def on_epoch(row):
        state["trained"] = state.get("trained", 0) + 1
        if quiet:
            return
        parts = [f"epoch {row['epoch']}/{cfg.epochs}", f"loss {row['train_total']:.4f}"]
        parts += [f"{k[4:]} {v:.4f}" for k, v in row.items() if k in ("val_total", "val_psnr", "val_ssim")]
        line = "skdce: " + "  ".join(parts) + f"  ({row['seconds']:.1f} s)"
        if state["progress"] is not None:
            state["progress"].echo(line)
        else:
            click.echo(line, err=True)

    t0 = time.perf_counter()
    with interrupts() as signals:
        try:
            train_module.train(cfg, run_dir, resume=not no_resume, on_step=on_step, on_epoch=on_epoch)
        except KeyboardInterrupt:
            if state["progress"] is not None:
                state["progress"].close()
            click.echo(f"skdce: interrupted; run the same command to resume from {checkpoint}", err=True)
            sys.exit(EXIT_INTERRUPTED[signals["signal"]])
        except (ValueError, FileNotFoundError, FileExistsError) as exc:
            if state["progress"] is not None:
                state["progress"].close()
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # the run folder: a file in the way, a full disk, a file-size limit, read-only
            if state["progress"] is not None:
                state["progress"].close()
            raise click.ClickException(f"cannot write the run: {os_reason(exc, exc.filename or run_dir)}") from None
    if state["progress"] is not None:
        state["progress"].close()
    if not quiet:
        trained = state.get("trained", 0)
        if trained:
            click.echo(f"skdce: trained {trained} epoch{'s' if trained != 1 else ''} in "
                       f"{time.perf_counter() - t0:.1f} s ({cfg.epochs} in all); checkpoint {checkpoint}", err=True)
        else:
            held = int(train_module.load_checkpoint(checkpoint)["epoch"])
            if held > cfg.epochs:
                click.echo(f"skdce: nothing to train: {checkpoint} already holds {held} epochs, more than the "
                           f"{cfg.epochs} asked; it is kept as it is (pass --epochs N above {held} to train longer)",
                           err=True)
            else:
                click.echo(f"skdce: nothing to train: {checkpoint} already holds all {held} epochs "
                           f"(pass --epochs N to train longer)", err=True)
        click.echo(f"skdce: export it with: skdce export {checkpoint} -o model.onnx", err=True)


@click.command("export", epilog="\b\nExamples:\n  skdce export runs/zero-dce/checkpoint.pt -o my-model.onnx\n"
                                "  skdce enhance photos/ -o out/ --model my-model.onnx")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .onnx file to write.")
@click.option("--scale-factor", type=FiniteFloatRange(min=1),
              help="Downscaling recorded for shared-curve (zero-dce++) models [default: the recipe's scale_factor when "
                   "it set one above 1 and has no net_size, else 12; 1 for zero-dce].")
@overwrite_option(help="Replace an existing output file.")
def export(checkpoint, output, scale_factor, overwrite):
    """Export a training CHECKPOINT to an ONNX model usable with --model."""
    from ..io._paths import same_or_inside

    if same_or_inside(checkpoint, output):
        raise click.BadParameter(f"{str(output)!r} is the checkpoint being exported; skdce never replaces an input: "
                                 f"name the model e.g. model.onnx.", param_hint="'--output'")
    if output.exists() and not overwrite:
        raise click.ClickException(f"{str(output)!r} exists; pass --overwrite to replace it.")
    no_folder = click.ClickException(f"cannot write the model: the output folder {str(output.parent)!r} does not "
                                     f"exist; create it first, or choose another --output.")
    if not output.parent.exists():
        raise no_folder
    _import_train()
    try:
        from ..train.export import export_checkpoint

        export_checkpoint(checkpoint, output, scale_factor=scale_factor, overwrite=overwrite)
    except ImportError as exc:
        raise click.ClickException(f"{exc} (export needs the 'train' extra: pip install 'skdce[train]')") from None
    except FileExistsError:
        raise click.ClickException(f"{str(output)!r} exists; pass --overwrite to replace it.") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except FileNotFoundError as exc:
        if exc.filename is None:  # skdce's own message (the checkpoint)
            raise click.ClickException(str(exc)) from None
        raise no_folder from None  # the output folder removed meanwhile (the temporary file cannot be created)
    except OSError as exc:  # a file in the way, a full disk, a file-size limit, a read-only folder
        raise click.ClickException(f"cannot write the model: {os_reason(exc, exc.filename or output)}") from None
    from ..models import get_model, sha256_file

    info = get_model(output)
    echo_out(f"wrote {output}")
    echo_out(f"  architecture  {'zero-dce++' if info.shared_curve else 'zero-dce'}")
    echo_out(f"  iterations    {info.iterations}")
    echo_out(f"  scale factor  {info.scale_factor:g}")
    echo_out(f"  sha256        {sha256_file(output)}")
    echo_out(f"use it: skdce enhance IMAGES -o OUT --model {output}")
