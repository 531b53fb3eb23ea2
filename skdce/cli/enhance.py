"""``skdce enhance``: image files, folders or glob patterns in, enhanced files out.

The command checks its options, the output folder and the model before any
work starts (usage errors, exit status 2), then hands the files to the batch
runner (:mod:`skdce.cli._batch`), to a Dask cluster (``--cluster``,
``--scheduler``), or streams one image larger than memory (a .zarr store or
a .tif file) chunk by chunk.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
import time
from pathlib import Path

import click

from . import _batch, _video
from ._errors import EXIT_INTERRUPTED, echo_out, os_reason
from ._options import (
    check_model,
    denoise_option,
    denoiser_option,
    dump_json,
    exposure_option,
    json_option,
    model_option,
    overwrite_option,
    parse_providers,
    providers_option,
    quiet_option,
    strength_option,
    threads_option,
    tile_size_option,
    verbose_option,
)

__all__ = ["enhance"]

#: An -o ending like this names a file (x.png, x.bmp, x.txt, x.mp4), not a folder (out, run.2024-05-01, v1.0).
_FILE_LIKE = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")


def _stream_output(inputs, output_dir: Path) -> bool:
    """Whether this is ``skdce enhance big.zarr -o out.zarr`` or ``big.tif -o out.zarr|out.tif`` (streamed)."""
    from ._stream import stream_kind

    if len(inputs) != 1:
        return False
    src = stream_kind(inputs[0])
    if src == "zarr":
        return True
    return (src == "tiff" and Path(inputs[0]).is_file() and stream_kind(output_dir) is not None
            and not output_dir.is_dir())


def _check_lookup(path: Path, param_hint: str) -> None:
    """A usage error, not a traceback, where the system refuses to look ``path`` up.

    Python 3.11's ``Path.exists``/``is_dir``/``is_file`` return False for a
    missing path but raise for a name over 255 bytes, a folder that cannot
    be searched, and the like.
    """
    try:
        path.exists()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            reason = f"{path}: the name is too long for the file system (most allow 255 bytes a name); shorten it"
        else:
            reason = os_reason(exc, path)
        raise click.BadParameter(f"{reason}.", param_hint=param_hint) from None


def _output_file(inputs, output: Path, as_folder: bool) -> Path | None:
    """``output`` when it names the output file of the one input file (``dark.jpg -o bright.png``), else ``None``.

    ``-o`` is a folder where it exists as one, ends in a separator
    (``as_folder``), has no file-like suffix (``out``, ``run.2024-05-01``),
    or there are several inputs or a folder or pattern. A file-like suffix
    that is not written for the one input (``in.bmp -o out.bmp``, ``.txt``,
    ``.mp4`` for an image), or a single input that is not there (``drak.png
    -o bright.png``), is a usage error: a folder of that name would be made
    otherwise, and later runs would write into it.
    """
    from ..io import FORMATS, format_from_path
    from ._video import VIDEO_SUFFIXES

    if len(inputs) != 1 or as_folder or output.is_dir() or not _FILE_LIKE.fullmatch(output.suffix):
        return None
    src = Path(inputs[0])
    if not src.is_file():
        if src.exists() or _batch.expand_pattern(inputs[0]):
            return None  # a folder, or a pattern that matches files: -o is a folder
        raise click.BadParameter(f"{inputs[0]!r}: no such file or folder, and no file matches it as a pattern; "
                                 f"check the name.", param_hint="'INPUT...'")
    if _video.is_video(src) and _video.is_video(output) or not _video.is_video(src) and format_from_path(output):
        return output
    if _video.is_video(src):
        kind, suffixes = "a video", list(VIDEO_SUFFIXES)
    else:
        kind, suffixes = "an image", [s for group in FORMATS.values() for s in group]
    raise click.BadParameter(
        f"{str(output)!r} names a {output.suffix} file, but {kind} is written as {', '.join(suffixes[:-1])} or "
        f"{suffixes[-1]}; name the output so, or end -o with '/' for a folder of that name.", param_hint="'--output'")


def _enhance_stream(src: Path, dst: Path, info, strength, denoise, denoiser, exposure, providers, threads, tile_size,
                    overwrite, quiet):
    """One image larger than memory, Zarr or TIFF in, Zarr or TIFF out, streamed chunk by chunk (Dask).

    The array is ``(H, W)`` gray or ``(H, W, C)``; the output keeps its dtype
    (integers rounded from the float result). It is written to a temporary
    store or file beside ``dst`` and renamed into place, so an interrupted run
    leaves no partial output; an existing ``dst`` is kept unless --overwrite.
    """
    from ._stream import stream_enhance, stream_kind

    if stream_kind(dst) is None:
        raise click.BadParameter(f"{str(dst)!r}: the output of a .zarr input is a .zarr store (or a .tif file); "
                                 f"name it e.g. out.zarr.", param_hint="'--output'")
    t0 = time.perf_counter()
    try:
        shape, dtype = stream_enhance(src, dst, overwrite=overwrite, model=info, strength=strength, denoise=denoise,
                                      denoiser=denoiser, exposure=exposure, providers=providers, num_threads=threads,
                                      tile_size=tile_size)
    except (ImportError, ValueError, TypeError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    except MemoryError as exc:
        raise click.ClickException(str(exc) or "out of memory") from None
    except OSError as exc:  # a full disk, a file-size limit, a read-only folder, a file in the way
        raise click.ClickException(f"cannot write {os_reason(exc, dst)}") from None
    if not quiet:
        click.echo(f"skdce: enhanced {src} {shape} {dtype} into {dst} in {time.perf_counter() - t0:.1f} s", err=True)


def _check_cluster(cluster, scheduler, jobs: int, stream: bool, threads):
    """Usage errors of --cluster/--scheduler; the ONNX Runtime threads per file there (default 1)."""
    try:
        from ._distributed import parse_cluster, require_distributed

        require_distributed()
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None
    if cluster is not None and scheduler is not None:
        raise click.UsageError("--cluster and --scheduler are alternatives; pass one.")
    if cluster is not None:
        try:
            parse_cluster(cluster)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--cluster'") from None
    if jobs > 1:
        raise click.UsageError("--jobs is for the local runner; on a cluster each worker runs one file at a time "
                               "(add workers instead).")
    if stream:
        raise click.UsageError("--cluster and --scheduler spread files; a streamed .zarr/.tif image runs on this "
                               "machine (use skdce.enhance on a dask array with a distributed Client instead).")
    return 1 if threads is None else threads


_ENHANCE_EXAMPLES = """
\b
Examples:
  skdce enhance dark.jpg -o out/
  skdce enhance dark.jpg -o bright.png                 one file in, one file out
  skdce enhance photos/ -o out/ --recursive --jobs 2
  skdce enhance photos/ -o out/ --dry-run              print the plan, write nothing
  skdce enhance "scans/*.tif" -o out/ --format png --suffix _dce
  skdce enhance shot.dng -o out/                       camera RAW: a 16-bit TIFF (also .cr2 .nef .arw ...)
  skdce enhance photos/ -o out/ --format jpg --quality 92 --json > report.json
  skdce enhance big.tif -o big-enhanced.tif            streamed chunk by chunk (also .zarr)
  skdce enhance night.mp4 -o bright.mp4 --crf 20       a video (also .mov .mkv .webm .avi)
  skdce enhance frames/ -o out/ --sequence             frame_0001.png ... as one sequence
  skdce enhance photos/ -o out/ --cluster local:4      4 worker processes (Dask)
  skdce enhance /shared/photos -o /shared/out --scheduler tcp://10.0.0.5:8786
"""


@click.command(epilog=_ENHANCE_EXAMPLES)
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("-o", "--output", "--output-dir", "output_dir", required=True, type=click.Path(),
              help="Folder for the enhanced files (created if needed); with one input file, a name ending in .png, "
                   ".jpg, .tif or .webp (.mp4, .mov, .mkv, .webm, .avi for a video) is the output file itself (another "
                   "file suffix there is refused: end -o with / for a folder); a .zarr store or .tif file for one "
                   "streamed .zarr/.tif input.")
@click.option("-r", "--recursive", is_flag=True,
              help="Look for images in subfolders of folder inputs (their layout is kept).")
@model_option(help="Bundled model name (see `skdce models`) or an .onnx file (videos and --sequence: zero-dce++ "
                   "unless given).")
@strength_option(help="Curve strength: 0 = unchanged, 1 = the model, up to 2 = stronger.")
@denoise_option
@denoiser_option
@exposure_option
@providers_option(help="ONNX Runtime providers: auto, cpu, cuda, or comma-separated provider names.")
@click.option("--suffix", default="",
              help="Text added to each output file name before its extension, e.g. _enhanced.")
@click.option("-f", "--format", "fmt",
              type=click.Choice(["png", "jpg", "jpeg", "tiff", "tif", "webp"], case_sensitive=False),
              help="Output format [default: the input's own; 16-bit TIFF for camera RAW; PNG for other formats].")
@click.option("-q", "--quality", type=click.IntRange(1, 100),
              help="JPEG/WebP quality 1-100 [default: 95 for JPEG, 90 for WebP].")
@click.option("--white-balance", type=click.Choice(["camera", "auto", "daylight"]), default="camera",
              show_default=True,
              help="Camera RAW inputs: the white balance the camera recorded, LibRaw's grey-world estimate, or "
                   "daylight.")
@click.option("--highlights", type=click.Choice(["clip", "ignore", "blend", "reconstruct"]), default="clip",
              show_default=True,
              help="Camera RAW inputs: how LibRaw treats saturated pixels (clip: to white, no colour casts).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files enhanced at the same time (threads).")
@threads_option(help="ONNX Runtime threads per file [default: all cores, divided among --jobs].")
@tile_size_option()
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Refuse larger images (decompression-bomb guard) [default: 134217728].")
@overwrite_option(help="Replace existing output files (inputs are never overwritten).")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (each input -> output: write, overwrite or skip) and write nothing.")
@json_option(help="Print a JSON report (per file: input, output, status, reason, seconds) on stdout.")
@verbose_option
@quiet_option(help="No progress bar, no summary; failures are still printed.")
@click.option("--cluster", metavar="local:N",
              help="Spread the files over N Dask worker processes on this machine (one file and one ONNX Runtime "
                   "thread each). Needs skdce[dask].")
@click.option("--scheduler", metavar="ADDRESS",
              help="Spread the files over the workers of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; inputs "
                   "and the output folder must be on storage the workers see.")
@_video.video_options
def enhance(inputs, output_dir, recursive, model, strength, denoise, denoiser, exposure, providers, suffix, fmt,
            quality, white_balance, highlights, jobs, threads, tile_size, max_pixels, overwrite, dry_run, as_json,
            verbose, quiet, cluster, scheduler, temporal, crf, sequence):
    """Enhance image files, folders or glob patterns into the folder -o (or, for one file, the file -o).

    EXIF orientation is applied; ICC profile and EXIF are carried over where
    the output format allows; 16-bit PNG/TIFF stay 16-bit, gray stays gray,
    alpha is kept. Camera RAW files (.dng .cr2 .cr3 .nef .arw .raf .orf .rw2
    .pef .srw; needs skdce[raw]) are developed to 16-bit sRGB by LibRaw
    without brightening and written as 16-bit TIFF by default, with an sRGB
    profile and the camera's make, model, exposure, ISO and capture time.
    Each output is written to a temporary file and renamed into place, so an
    interruption leaves only complete files. Existing outputs are never
    replaced unless --overwrite (not even by another skdce running at the same
    time), and every output stays inside -o. One bad file is reported and does
    not stop the others. Ctrl-C stops: no new file starts and files in
    progress are discarded. Exit status: 0 done, 1 some file failed, 2 usage
    error, 130 interrupted (143 on SIGTERM).
    """
    from ..io import DEFAULT_MAX_PIXELS, format_from_path, normalize_format

    if quality is not None and fmt is not None and normalize_format(fmt) not in ("JPEG", "WEBP"):
        raise click.BadParameter(f"--quality applies to jpg and webp, not {fmt}.", param_hint="'--quality'")
    if "/" in suffix or "\\" in suffix or ".." in suffix or "\0" in suffix:
        raise click.BadParameter(f"{suffix!r}: a suffix is added to file names; it may not hold '/', '\\' or '..'.",
                                 param_hint="'--suffix'")
    for arg in inputs:  # Path("") is ".": an unset shell variable would enhance the current folder
        if not arg.strip():
            raise click.BadParameter(f"INPUT is empty ({arg!r}; an unset shell variable?); name a file, folder or "
                                     f"pattern.", param_hint="'INPUT...'")
    if not output_dir.strip():  # the same for -o: the outputs would land in the current folder
        raise click.BadParameter(f"-o is empty ({output_dir!r}; an unset shell variable?); name a folder, or an "
                                 f"image file for one input.", param_hint="'--output'")
    if output_dir == "-":
        raise click.BadParameter("'-' (standard output) is not an output here: enhanced images are written to files; "
                                 "name a folder, or an image file for one input.", param_hint="'--output'")
    as_folder = output_dir.endswith(("/", os.sep))
    output_dir = Path(output_dir)
    for arg in inputs:
        _check_lookup(Path(arg), "'INPUT...'")
    _check_lookup(output_dir, "'--output'")
    stream = _stream_output(inputs, output_dir)
    if cluster is not None or scheduler is not None:
        threads = _check_cluster(cluster, scheduler, jobs, stream, threads)
    if sequence and (stream or cluster is not None or scheduler is not None or jobs > 1):
        raise click.UsageError("--sequence enhances frames one after the other on this machine; drop --jobs, "
                               "--cluster and --scheduler.")
    if sequence and denoiser != "guided":  # skdce.video has the guided filter only: it was silently used
        raise click.UsageError(f"--denoiser {denoiser} applies to still images; --sequence runs skdce.video, "
                               f"which denoises with the guided filter. Drop --denoiser, or --sequence.")
    out_file = None if stream or sequence else _output_file(inputs, output_dir, as_folder)
    if out_file is not None and _video.is_video(out_file):  # image options that a video would silently ignore
        for given, flag, why in ((fmt, "--format", "the container is -o's suffix"),
                                 (quality, "--quality", "pass --crf for a video"),
                                 (suffix, "--suffix", "-o names the output file")):
            if given:
                raise click.BadParameter(f"{flag} applies to images; {str(out_file)!r} is a video ({why}).",
                                         param_hint=f"'{flag}'")
    if out_file is not None and not _video.is_video(out_file):
        if fmt is not None and normalize_format(fmt) != format_from_path(out_file):
            raise click.BadParameter(f"--format {fmt} differs from the suffix of {str(out_file)!r}.",
                                     param_hint="'--format'")
        if suffix:
            raise click.BadParameter("--suffix applies to output folders, not to the output file -o.",
                                     param_hint="'--suffix'")
        fmt = format_from_path(out_file).lower()
    out_dir = out_file.parent if out_file is not None else output_dir
    start = time.perf_counter()
    if not stream:
        files, rows = _batch.collect(inputs, recursive, out_dir.resolve())
        # before any work: a usage error, not one per file; created only once there is something to write in it
        _batch.check_output_folder(out_dir, create=not dry_run and bool(files))
    if threads is None and jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    info, running = check_model(model, providers, threads)
    if stream:
        _enhance_stream(Path(inputs[0]), output_dir, info, strength, denoise, denoiser, exposure,
                        parse_providers(providers), threads, tile_size, overwrite, quiet)
        return
    settings = _batch.Settings(
        model=info,
        strength=strength,
        denoise=denoise,
        exposure=exposure,
        denoiser=denoiser,
        providers=parse_providers(providers),
        threads=threads,
        tile_size=tile_size,
        quality=quality,
        overwrite=overwrite,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        white_balance=white_balance,
        highlights=highlights,
        temporal=temporal,
        crf=crf,
        video_model=None if model is None else info,
        root=out_dir,
    )
    jobs_list, planned = _batch.plan(files, out_dir, normalize_format(fmt) if fmt else None, suffix, overwrite,
                                     out_file)
    rows += planned
    if dry_run:
        _batch.print_plan(jobs_list, rows, overwrite, as_json)
        sys.exit(1 if any(r["status"] == "failed" for r in rows) else 0)
    done: dict = {}
    progress = _batch.Progress(len(jobs_list), "enhancing", enabled=not quiet)
    if cluster is None and scheduler is None:  # (the settings travel to cluster workers: no bar in them)
        settings.on_frames = lambda note: progress.update(progress.done, note)
    if verbose:
        n_files = f"{len(jobs_list)} file{'s' if len(jobs_list) != 1 else ''}"
        if threads:
            each = f"{threads} ONNX Runtime thread{'s' if threads != 1 else ''}"
        else:
            each = "ONNX Runtime's default threads (all cores)"
        progress.echo(f"skdce: {n_files} with {info.name} on {', '.join(running)}, {jobs} at a time, {each} each")

    def report(row):
        if row["status"] == "failed":
            progress.echo(f"skdce: failed: {row['input']}: {row['reason']}")
        elif row["status"] == "skipped" and verbose:  # else counted in the summary (a rerun skips every file)
            progress.echo(f"skdce: skipped: {row['input']}: {row['reason']}")
        elif row["status"] == "ok" and row.get("warning"):
            progress.echo(f"skdce: warning: {row['input']}: {row['warning']}")
        elif row["status"] == "ok" and verbose:
            progress.echo(f"skdce: ok: {row['input']} -> {row['output']} ({row['seconds']:.2f} s)")

    def on_row(job, row):
        if row is not None:
            done[job.index] = row
            report(row)
        progress.advance(job.src.name)

    for row in rows:
        report(row)
    if not recursive and not quiet:
        for folder in {Path(arg) for arg in inputs if Path(arg).is_dir()}:
            if _batch.has_subfolders(folder, out_dir.resolve()):
                progress.echo(f"skdce: note: {folder} has subfolders, which are not looked in (add --recursive)")
    stop = threading.Event()
    with _batch.stop_on_signals(stop, progress.echo) as state:
        if sequence:
            _video.run_sequence(jobs_list, settings, on_row, stop)
        elif cluster is None and scheduler is None:
            _batch.run_jobs(jobs_list, settings, jobs, on_row, stop)
        else:
            from ._distributed import ClusterError, run_batch

            try:
                run_batch(jobs_list, settings, _batch.enhance_file, on_row, _batch.row, cluster=cluster,
                          scheduler=scheduler, stop=stop)
            except ClusterError as exc:
                progress.close()
                raise click.ClickException(str(exc)) from None
    interrupted = state["signal"]
    progress.close()
    rows += [done[i] for i in sorted(done)]
    counts = {status: sum(r["status"] == status for r in rows) for status in ("ok", "skipped", "failed")}
    seconds = time.perf_counter() - start
    if as_json:
        report_data = {
            "files": rows,
            "summary": {
                **counts,
                "interrupted": interrupted is not None,
                "not_processed": len(jobs_list) - len(done),
                "seconds": round(seconds, 3),
            },
            "model": info.name,
            "providers": list(running),
        }
        echo_out(dump_json(report_data))
    if not quiet or interrupted:
        line = f"{counts['ok']} enhanced, {counts['skipped']} skipped, {counts['failed']} failed in {seconds:.1f} s"
        if counts["skipped"] and not verbose:
            line += " (--verbose lists the skipped files and why; --overwrite replaces existing outputs)"
        if interrupted:
            line = f"interrupted: {line}, {len(jobs_list) - len(done)} not processed"
        click.echo(f"skdce: {line}", err=True)
    if interrupted:
        sys.exit(EXIT_INTERRUPTED[interrupted])
    if counts["failed"]:
        sys.exit(1)
