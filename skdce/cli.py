"""The ``skdce`` command line: enhance image files, train, export, evaluate, inspect.

Every command imports onnxruntime, Pillow and torch only when it runs, so
``skdce --help`` and ``skdce --version`` start fast. Library modules never
print or exit; this module does both.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click

from . import __version__

__all__ = ["main"]

from .io import IMAGE_SUFFIXES  # noqa: E402  (pure Python, no heavy imports)
from .models import DEFAULT_MODEL, GPU_DEFAULT_MODEL  # noqa: E402

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A tqdm bar on stderr, drawn only when stderr is a terminal; :meth:`echo` prints lines above it."""

    def __init__(self, total: int, label: str, enabled: bool = True, initial: int = 0):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.on = enabled and total > 0 and _isatty(sys.stderr)
        try:
            sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
        except (OSError, ValueError, AttributeError):
            sized = False
        size = {"dynamic_ncols": True} if sized else {"ncols": 80, "nrows": 24}  # a terminal that reports 0 x 0
        self.bar = tqdm(total=total, desc=label, initial=initial, file=sys.stderr, disable=not self.on,
                        leave=True, **size, unit="file" if label != "training" else "step")
        self.done = initial

    def update(self, done: int, note: str = "") -> None:
        self.bar.update(done - self.done)
        self.done = done
        if note:
            self.bar.set_postfix_str(note, refresh=False)

    def advance(self, note: str = "") -> None:
        self.update(self.done + 1, note)

    def echo(self, message: str) -> None:
        """Print a line above the bar (or just print it)."""
        if self.on:
            self._tqdm.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def close(self) -> None:
        self.bar.close()
        self.on = False


@contextlib.contextmanager
def _interrupts():
    """Turn SIGTERM into KeyboardInterrupt (so cleanup runs); yields a dict with the signal received."""
    state = {"signal": signal.SIGINT}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_sigterm(signum, frame):
        state["signal"] = signal.SIGTERM
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


class _FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (nan compares false with both bounds)."""

    def convert(self, value, param, ctx):
        import math

        rv = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(rv, param, ctx)


#: The most ONNX Runtime / torch threads accepted (more only oversubscribes the cores).
_MAX_THREADS = 4 * (os.cpu_count() or 1)
_THREADS = click.IntRange(1, _MAX_THREADS)


def _os_reason(exc: OSError, path=None) -> str:
    """One line for an OSError: what happened to which path, and what to do."""
    import errno

    where = str(path if path is not None else (exc.filename or "?"))
    fixes = {
        errno.EACCES: "permission denied; check the folder's permissions or choose another output folder",
        errno.EPERM: "operation not permitted; check the folder's permissions or choose another output folder",
        errno.EROFS: "the file system is read-only; choose another output folder",
        errno.ENOSPC: "no space left on the device; free some space or choose another output folder",
        errno.EDQUOT: "disk quota exceeded; free some space or choose another output folder",
        errno.ENOTDIR: "a file is in the way of a folder on this path; remove it or choose another output folder",
        errno.EEXIST: "a file is in the way of a folder on this path; remove it or choose another output folder",
        errno.ENAMETOOLONG: "the file name is too long for the file system (most allow 255 bytes); "
                            "use a shorter --suffix or rename the input",
        errno.ENOENT: "no such file or folder",
    }
    reason = fixes.get(exc.errno, exc.strerror or str(exc))
    return f"{where}: {reason}"


def _check_output_folder(folder: Path, create: bool) -> None:
    """Make sure files can be written in ``folder`` before any work starts (a usage error otherwise)."""
    import tempfile

    from ._atomic import TEMP_SUFFIX

    try:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(folder))
        if not create:
            if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied", str(folder))
            return
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".skdce-write-check.", suffix=TEMP_SUFFIX)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise click.BadParameter(f"cannot write there: {_os_reason(exc, folder)}.", param_hint="'--output'") from None


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, say):
    """SIGINT/SIGTERM set ``stop`` (no exception: running files end cleanly); yields the signal received.

    A second signal only says that skdce is stopping: the files in progress
    are discarded when their current step ends, and the command exits with
    130 (143 for SIGTERM). Nothing is torn down under running threads, so no
    native library aborts the process.
    """
    state = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_signal(signum, frame):
        if state["signal"] is None:
            state["signal"] = signum
            stop.set()
            say("skdce: stopping: no new files start; files in progress are discarded (nothing partial is left)")
        else:
            say("skdce: already stopping; waiting for the files in progress to end (a moment)")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for sig, handler in previous.items():  # once stopping, later signals cannot cut the report short
            signal.signal(sig, handler if state["signal"] is None else signal.SIG_IGN)


def _providers(value: str):
    """``"auto"``, ``"cpu"``, ``"cuda"`` or a comma-separated list of ONNX Runtime provider names."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) == 1 and not parts[0].endswith("ExecutionProvider"):
        return parts[0]  # "auto", "cpu", "cuda" (anything else gets resolve_providers' message)
    return parts


def _check_model(model: str, providers: str, threads: int | None):
    """Load the model once up front: ``(ModelInfo, providers that run it)``; usage errors otherwise."""
    from .models import default_model, get_model, verify
    from ._runtime import get_session, resolve_providers

    providers = _providers(providers)
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


def _dump_json(data) -> str:
    return json.dumps(data, indent=2, allow_nan=False)


# --------------------------------------------------------------------------------------------
# The group
# --------------------------------------------------------------------------------------------


_EXIT_CODES = """
\b
Exit status (every command):
  0    done
  1    some files (or pairs) failed, or the command could not finish
  2    usage error: a bad option or argument; nothing was done
  130  interrupted by Ctrl-C (143: by SIGTERM); only complete files are left
"""


@click.group(context_settings=_CONTEXT, epilog=_EXIT_CODES)
@click.version_option(__version__, "-V", "--version", prog_name="skdce", message="%(prog)s %(version)s")
def main():
    """skdce: zero-reference low-light image enhancement (Zero-DCE).

    \b
    Examples:
      skdce demo -o demo/                     enhance the bundled sample image
      skdce enhance photos/ -o bright/        enhance every image in a folder
      skdce enhance "shots/**/*.jpg" -o out/ --format png --jobs 2
      skdce evaluate enhanced/ reference/     PSNR/SSIM against references
      skdce models                            the bundled models and their facts
      skdce info                              versions, providers, threads

    Run `skdce COMMAND --help` for the options of a command.
    """


# --------------------------------------------------------------------------------------------
# enhance
# --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    index: int
    src: Path
    dst: Path
    fmt: str


@dataclass
class _Settings:
    model: object
    strength: float
    denoise: float
    providers: object
    threads: int | None
    tile_size: int | None
    quality: int | None
    overwrite: bool
    max_pixels: int


def _row(src, dst, status: str, reason: str | None = None, seconds: float = 0.0) -> dict:
    return {
        "input": str(src),
        "output": None if dst is None else str(dst),
        "status": status,
        "reason": reason,
        "seconds": round(seconds, 3),
    }


def _scan_folder(folder: Path, recursive: bool, out_dir: Path) -> list[Path]:
    from .io import TEMP_SUFFIX

    found = []
    skip_out = out_dir != folder.resolve()  # outputs in a subfolder of an input folder are not inputs
    for path in folder.rglob("*") if recursive else folder.iterdir():
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.name.endswith(TEMP_SUFFIX):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        resolved = path.resolve()
        if skip_out and out_dir in resolved.parents:
            continue
        found.append(path)
    return sorted(found)


def _collect(inputs, recursive: bool, out_dir: Path):
    """``([(file, path relative to the output folder)], [failed rows])`` for the INPUT arguments."""
    files, problems, seen = [], [], set()

    def add(path: Path, rel: Path):
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append((path, rel))

    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            try:
                found = _scan_folder(path, recursive, out_dir)
            except OSError as exc:
                problems.append(_row(arg, None, "failed", f"cannot list the folder: {_os_reason(exc)}"))
                continue
            if not found:
                hint = "" if recursive else " (use --recursive to look in subfolders)"
                problems.append(
                    _row(arg, None, "failed", f"the folder holds no image files ({', '.join(IMAGE_SUFFIXES)}){hint}")
                )
            for f in found:
                add(f, f.relative_to(path))
        elif path.exists():
            add(path, Path(path.name))
        else:
            matches = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
            matches = [m for m in matches if m.is_file()]
            if not matches:
                problems.append(_row(arg, None, "failed", "no such file or folder, and no file matches it as a pattern"))
            for m in matches:
                add(m, Path(m.name))
    return files, problems


def _plan(files, out_dir: Path, fmt: str | None, suffix: str, overwrite: bool, out_file: Path | None = None):
    """Decide every output path: ``([jobs], [skipped/failed rows])``; ``out_file``: the one output of one input."""
    from .io import FORMATS, format_from_path

    inputs = {src.resolve() for src, _ in files}
    root = out_dir.resolve()
    claimed: dict = {}
    jobs, rows = [], []
    for src, rel in files:
        own = format_from_path(src)
        out_fmt = fmt or own or "PNG"
        if out_file is not None:
            dst = out_file
        else:
            ext = src.suffix if own == out_fmt else FORMATS[out_fmt][0]
            dst = out_dir / rel.parent / f"{rel.stem}{suffix}{ext}"
        key = dst.resolve()
        if out_file is None and root not in key.parents:  # ../ in a name, or a symbolic link out of -o
            rows.append(_row(src, dst, "failed", f"the output would land outside the output folder ({key}); "
                                                 f"rename the input or remove the link"))
        elif len(dst.name.encode("utf-8", "surrogateescape")) > 255:
            rows.append(_row(src, dst, "failed", "the output file name is longer than 255 bytes, which file systems "
                                                 "refuse; use a shorter --suffix or rename the input"))
        elif key in inputs:
            rows.append(_row(src, dst, "failed", "the output would overwrite an input file; choose another -o or a --suffix"))
        elif key in claimed:
            rows.append(_row(src, dst, "failed", f"{str(claimed[key])!r} has the same output file; use --suffix or --format"))
        elif dst.exists() and not overwrite:
            rows.append(_row(src, dst, "skipped", "the output exists (use --overwrite to replace it)"))
        else:
            claimed[key] = src
            jobs.append(_Job(len(jobs), src, dst, out_fmt))
    return jobs, rows


def _to_uint(image, bits: int):
    """Enhanced floats in [0, 1] -> uint8/uint16: the one conversion of skdce._image."""
    import numpy as np

    from ._image import to_uint

    return to_uint(image, np.uint8 if bits == 8 else np.uint16)


def _stream_output(inputs, output_dir: Path) -> bool:
    """Whether this is ``skdce enhance big.zarr -o out.zarr`` or ``big.tif -o out.zarr|out.tif`` (streamed)."""
    from ._stream import stream_kind

    if len(inputs) != 1:
        return False
    src = stream_kind(inputs[0])
    if src == "zarr":
        return True
    return src == "tiff" and Path(inputs[0]).is_file() and stream_kind(output_dir) is not None and not output_dir.is_dir()


def _enhance_stream(src: Path, dst: Path, info, strength, denoise, providers, threads, tile_size, overwrite, quiet):
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
                                      providers=providers, num_threads=threads,
                                      tile_size="auto" if tile_size is None else tile_size)
    except (ImportError, ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
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


def _enhance_file(job: _Job, s: _Settings, stop: threading.Event) -> dict | None:
    """Read, enhance and write one file; a row for the report (``None`` when stopped before writing)."""
    from . import io as skio
    from ._enhance import enhance

    t0 = time.perf_counter()
    try:
        if stop.is_set():
            return None
        image, meta = skio.read_image(job.src, max_pixels=s.max_pixels)
        result = enhance(
            image,
            model=s.model,
            strength=s.strength,
            denoise=s.denoise,
            channel_axis=None if image.ndim == 2 else -1,
            providers=s.providers,
            tile_size="auto" if s.tile_size is None else s.tile_size,
            num_threads=s.threads,
        )
        out = _to_uint(result, 8 if job.fmt in ("JPEG", "WEBP") else meta.bit_depth)
        if stop.is_set():
            return None  # interrupted: this file is discarded, not written
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        skio.write_image(job.dst, out, meta, format=job.fmt, quality=s.quality, overwrite=s.overwrite)
    except FileExistsError:  # another process wrote it meanwhile: never replaced without --overwrite
        return _row(job.src, job.dst, "skipped", "the output exists (use --overwrite to replace it)", time.perf_counter() - t0)
    except skio.ImageFileError as exc:
        return _row(job.src, job.dst, "failed", exc.reason, time.perf_counter() - t0)
    except OSError as exc:
        return _row(job.src, job.dst, "failed", _os_reason(exc), time.perf_counter() - t0)
    except Exception as exc:  # one bad file must not stop the batch
        reason = str(exc) if isinstance(exc, (ValueError, TypeError)) else f"{type(exc).__name__}: {exc}"
        return _row(job.src, job.dst, "failed", reason, time.perf_counter() - t0)
    return _row(job.src, job.dst, "ok", None, time.perf_counter() - t0)


def _run_jobs(jobs, settings: _Settings, n_jobs: int, on_row, stop: threading.Event) -> None:
    """Run ``jobs`` (in ``n_jobs`` threads) until done or ``stop`` is set (then no new file starts)."""
    if n_jobs == 1:
        for job in jobs:
            on_row(job, _enhance_file(job, settings, stop))
        return
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="skdce") as pool:  # waits for running files
        futures = {pool.submit(_enhance_file, job, settings, stop): job for job in jobs}
        for future in as_completed(futures):
            on_row(futures[future], future.result())


_ENHANCE_EXAMPLES = """
\b
Examples:
  skdce enhance dark.jpg -o out/
  skdce enhance dark.jpg -o bright.png                 one file in, one file out
  skdce enhance photos/ -o out/ --recursive --jobs 2
  skdce enhance photos/ -o out/ --dry-run              print the plan, write nothing
  skdce enhance "raw/*.tif" -o out/ --format png --suffix _dce
  skdce enhance photos/ -o out/ --format jpg --quality 92 --json > report.json
  skdce enhance big.tif -o big-enhanced.tif            streamed chunk by chunk (also .zarr)
  skdce enhance photos/ -o out/ --cluster local:4      4 worker processes (Dask)
  skdce enhance /shared/photos -o /shared/out --scheduler tcp://10.0.0.5:8786
"""


#: One definition of --denoise for enhance, evaluate and demo.
_denoise_option = click.option(
    "--denoise", type=_FiniteFloatRange(0, 4), default=1.0, show_default=True,
    help="Noise removal after the curves, scaled to the noise they amplify: 0 = off, 1 = default, more = stronger.",
)


@main.command(epilog=_ENHANCE_EXAMPLES)
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("-o", "--output", "--output-dir", "output_dir", required=True, type=click.Path(path_type=Path), help="Folder for the enhanced files (created if needed); with one input file, a name ending in .png, .jpg, .tif or .webp is the output file itself; a .zarr store or .tif file for one streamed .zarr/.tif input.")
@click.option("-r", "--recursive", is_flag=True, help="Look for images in subfolders of folder inputs (their layout is kept).")
@click.option("-m", "--model", default=None, help=f"Bundled model name (see `skdce models`) or an .onnx file. Default: {DEFAULT_MODEL} on the CPU, {GPU_DEFAULT_MODEL} on CUDA.")
@click.option("-s", "--strength", type=_FiniteFloatRange(0, 2), default=1.0, show_default=True, help="Curve strength: 0 = unchanged, 1 = the model, up to 2 = stronger.")
@_denoise_option
@click.option("--providers", default="auto", show_default=True, help="ONNX Runtime providers: auto, cpu, cuda, or comma-separated provider names.")
@click.option("--suffix", default="", help="Text added to each output file name before its extension, e.g. _enhanced.")
@click.option("-f", "--format", "fmt", type=click.Choice(["png", "jpg", "jpeg", "tiff", "tif", "webp"], case_sensitive=False), help="Output format [default: the input's own; PNG for other formats].")
@click.option("-q", "--quality", type=click.IntRange(1, 100), help="JPEG/WebP quality 1-100 [default: 95 for JPEG, 90 for WebP].")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Files enhanced at the same time (threads).")
@click.option("--threads", type=_THREADS, help="ONNX Runtime threads per file [default: all cores, divided among --jobs].")
@click.option("--tile-size", type=click.IntRange(min=16), default=None, help="Tile size of the full model (bounds memory; exact results). Default: 512 on the CPU, 2048 on CUDA.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None, help="Refuse larger images (decompression-bomb guard) [default: 134217728].")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (inputs are never overwritten).")
@click.option("--dry-run", is_flag=True, help="Print the plan (each input -> output: write, overwrite or skip) and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report (per file: input, output, status, reason, seconds) on stdout.")
@click.option("--verbose", is_flag=True, help="One line per file with its time, and the model, providers and threads used.")
@click.option("--quiet", is_flag=True, help="No progress bar, no summary; failures are still printed.")
@click.option("--cluster", metavar="local:N", help="Spread the files over N Dask worker processes on this machine (one file and one ONNX Runtime thread each). Needs skdce[dask].")
@click.option("--scheduler", metavar="ADDRESS", help="Spread the files over the workers of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; inputs and the output folder must be on storage the workers see.")
def enhance(inputs, output_dir, recursive, model, strength, denoise, providers, suffix, fmt, quality, jobs, threads, tile_size, max_pixels, overwrite, dry_run, as_json, verbose, quiet, cluster, scheduler):
    """Enhance image files, folders or glob patterns into the folder -o (or, for one file, the file -o).

    EXIF orientation is applied; ICC profile and EXIF are carried over where
    the output format allows; 16-bit PNG/TIFF stay 16-bit, gray stays gray,
    alpha is kept. Each output is written to a temporary file and renamed into
    place, so an interruption leaves only complete files. Existing outputs are
    never replaced unless --overwrite (not even by another skdce running at
    the same time), and every output stays inside -o. One bad file is
    reported and does not stop the others. Ctrl-C stops: no new file starts
    and files in progress are discarded. Exit status: 0 done, 1 some file
    failed, 2 usage error, 130 interrupted (143 on SIGTERM).
    """
    from .io import DEFAULT_MAX_PIXELS, format_from_path, normalize_format

    if quality is not None and fmt is not None and normalize_format(fmt) not in ("JPEG", "WEBP"):
        raise click.BadParameter(f"--quality applies to jpg and webp, not {fmt}.", param_hint="'--quality'")
    if "/" in suffix or "\\" in suffix or ".." in suffix or "\0" in suffix:
        raise click.BadParameter(f"{suffix!r}: a suffix is added to file names; it may not hold '/', '\\' or '..'.",
                                 param_hint="'--suffix'")
    stream = _stream_output(inputs, output_dir)
    if cluster is not None or scheduler is not None:
        threads = _check_cluster(cluster, scheduler, jobs, stream, threads)
    out_file = None  # one input file and an -o that names an image file: -o is that file
    if not stream and len(inputs) == 1 and Path(inputs[0]).is_file() and format_from_path(output_dir) is not None \
            and not output_dir.is_dir():
        out_file = output_dir
        if fmt is not None and normalize_format(fmt) != format_from_path(out_file):
            raise click.BadParameter(f"--format {fmt} differs from the suffix of {str(out_file)!r}.", param_hint="'--format'")
        if suffix:
            raise click.BadParameter("--suffix applies to output folders, not to the output file -o.", param_hint="'--suffix'")
        fmt = format_from_path(out_file).lower()
    out_dir = out_file.parent if out_file is not None else output_dir
    if not stream:
        _check_output_folder(out_dir, create=not dry_run)  # before any work: a usage error, not one per file
    if threads is None and jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    info, running = _check_model(model, providers, threads)
    if stream:
        _enhance_stream(Path(inputs[0]), output_dir, info, strength, denoise, _providers(providers), threads,
                        tile_size, overwrite, quiet)
        return
    settings = _Settings(
        model=info,
        strength=strength,
        denoise=denoise,
        providers=_providers(providers),
        threads=threads,
        tile_size=tile_size,
        quality=quality,
        overwrite=overwrite,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
    )
    start = time.perf_counter()
    files, rows = _collect(inputs, recursive, out_dir.resolve())
    jobs_list, planned = _plan(files, out_dir, normalize_format(fmt) if fmt else None, suffix, overwrite, out_file)
    rows += planned
    if dry_run:
        _print_plan(jobs_list, rows, overwrite)
        sys.exit(1 if any(r["status"] == "failed" for r in rows) else 0)
    done: dict = {}
    progress = _Progress(len(jobs_list), "enhancing", enabled=not quiet)
    if verbose:
        progress.echo(f"skdce: {len(jobs_list)} files with {info.name} on {', '.join(running)}, "
                      f"{jobs} at a time, {threads or 'default'} threads each")

    def report(row):
        if row["status"] == "failed":
            progress.echo(f"skdce: failed: {row['input']}: {row['reason']}")
        elif row["status"] == "skipped" and not quiet:
            progress.echo(f"skdce: skipped: {row['input']}: {row['reason']}")
        elif row["status"] == "ok" and verbose:
            progress.echo(f"skdce: ok: {row['input']} -> {row['output']} ({row['seconds']:.2f} s)")

    def on_row(job, row):
        if row is not None:
            done[job.index] = row
            report(row)
        progress.advance(job.src.name)

    for row in rows:
        report(row)
    stop = threading.Event()
    with _stop_on_signals(stop, progress.echo) as state:
        if cluster is None and scheduler is None:
            _run_jobs(jobs_list, settings, jobs, on_row, stop)
        else:
            from ._distributed import ClusterError, run_batch

            try:
                run_batch(jobs_list, settings, _enhance_file, on_row, _row, cluster=cluster, scheduler=scheduler,
                          stop=stop)
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
            "summary": {**counts, "interrupted": interrupted is not None, "not_processed": len(jobs_list) - len(done), "seconds": round(seconds, 3)},
            "model": info.name,
            "providers": list(running),
        }
        click.echo(_dump_json(report_data))
    if not quiet or interrupted:
        line = f"{counts['ok']} enhanced, {counts['skipped']} skipped, {counts['failed']} failed in {seconds:.1f} s"
        if interrupted:
            line = f"interrupted: {line}, {len(jobs_list) - len(done)} not processed"
        click.echo(f"skdce: {line}", err=True)
    if interrupted:
        sys.exit(_EXIT_INTERRUPTED[interrupted])
    if counts["failed"]:
        sys.exit(1)


def _print_plan(jobs, rows, overwrite: bool) -> None:
    """--dry-run: one line per input on stdout."""
    for job in jobs:
        action = "overwrite" if overwrite and job.dst.exists() else "write"
        click.echo(f"{action}: {job.src} -> {job.dst}")
    for row in rows:
        if row["status"] == "skipped":
            click.echo(f"skip: {row['input']} -> {row['output']} ({row['reason']})")
        else:
            click.echo(f"fail: {row['input']}: {row['reason']}")
    counts = {"write": sum(not (overwrite and j.dst.exists()) for j in jobs)}
    counts["overwrite"] = len(jobs) - counts["write"]
    counts["skip"] = sum(r["status"] == "skipped" for r in rows)
    counts["fail"] = len(rows) - counts["skip"]
    click.echo("dry run, nothing written: " + ", ".join(f"{n} {k}" for k, n in counts.items()), err=True)


# --------------------------------------------------------------------------------------------
# train / export
# --------------------------------------------------------------------------------------------


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


@main.command(epilog=_TRAIN_EXAMPLES)
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for checkpoint.pt and logs [default: runs/<config name>].")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the config's epochs.")
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="The dataset folder: the config's relative paths (data_dir, split files, extra_dirs) resolve against it [default: the config's folder].")
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False), help="Override the config's data_dir (relative to the working folder).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the config's batch_size.")
@click.option("--threads", type=_THREADS, help="Override the config's torch threads.")
@click.option("--no-resume", is_flag=True, help="Refuse to continue an existing checkpoint in the run folder.")
@click.option("--quiet", is_flag=True, help="No progress bar and no per-epoch lines.")
def train(config, run_dir, epochs, data, data_dir, batch_size, threads, no_resume, quiet):
    """Train DCE-Net weights as the TOML file CONFIG says.

    A checkpoint is written to the run folder after every epoch; running the
    same command again resumes from it (with the same configuration; only
    --epochs may change, to train longer). Export the result with `skdce export`.
    """
    train_module = _import_train()
    run_dir = run_dir or Path("runs") / config.stem
    try:
        cfg = train_module.load_config(config, data=data, epochs=epochs, data_dir=data_dir, batch_size=batch_size, threads=threads)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists() and not no_resume and not quiet:
        click.echo(f"skdce: resuming from {checkpoint}", err=True)
    state = {"progress": None}

    def on_step(epoch, step, nsteps, loss):
        if state["progress"] is None:  # a resumed run starts where its checkpoint left off
            done = (epoch - 1) * nsteps + step - 1
            state["progress"] = _Progress(cfg.epochs * nsteps, "training", enabled=not quiet, initial=done)
        state["progress"].update((epoch - 1) * nsteps + step, f"epoch {epoch}/{cfg.epochs} loss {loss:.4f}")

    def on_epoch(row):
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
    with _interrupts() as signals:
        try:
            train_module.train(cfg, run_dir, resume=not no_resume, on_step=on_step, on_epoch=on_epoch)
        except KeyboardInterrupt:
            if state["progress"] is not None:
                state["progress"].close()
            click.echo(f"skdce: interrupted; run the same command to resume from {checkpoint}", err=True)
            sys.exit(_EXIT_INTERRUPTED[signals["signal"]])
        except (ValueError, FileNotFoundError, FileExistsError) as exc:
            if state["progress"] is not None:
                state["progress"].close()
            raise click.ClickException(str(exc)) from None
    if state["progress"] is not None:
        state["progress"].close()
    if not quiet:
        click.echo(f"skdce: trained {cfg.epochs} epochs in {time.perf_counter() - t0:.1f} s; checkpoint {checkpoint}", err=True)
        click.echo(f"skdce: export it with: skdce export {checkpoint} -o model.onnx", err=True)


@main.command("export", epilog="\b\nExamples:\n  skdce export runs/zero-dce/checkpoint.pt -o my-model.onnx\n  skdce enhance photos/ -o out/ --model my-model.onnx")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .onnx file to write.")
@click.option("--scale-factor", type=_FiniteFloatRange(min=1), help="Downscaling recorded for shared-curve (zero-dce++) models [default: 12; 1 for zero-dce].")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def export_command(checkpoint, output, scale_factor, overwrite):
    """Export a training CHECKPOINT to an ONNX model usable with --model."""
    if output.exists() and not overwrite:
        raise click.ClickException(f"{str(output)!r} exists; pass --overwrite to replace it.")
    _import_train()
    try:
        from .train.export import export_checkpoint

        export_checkpoint(checkpoint, output, scale_factor=scale_factor, overwrite=overwrite)
    except ImportError as exc:
        raise click.ClickException(f"{exc} (export needs the 'train' extra: pip install 'skdce[train]')") from None
    except FileExistsError:
        raise click.ClickException(f"{str(output)!r} exists; pass --overwrite to replace it.") from None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    from .models import get_model, sha256_file

    info = get_model(output)
    click.echo(f"wrote {output}")
    click.echo(f"  architecture  {'zero-dce++' if info.shared_curve else 'zero-dce'}")
    click.echo(f"  iterations    {info.iterations}")
    click.echo(f"  scale factor  {info.scale_factor:g}")
    click.echo(f"  sha256        {sha256_file(output)}")
    click.echo(f"use it: skdce enhance IMAGES -o OUT --model {output}")


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


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


def _rgb8(image):
    """uint8/uint16 gray/RGB(A) -> (H, W, 3) uint8."""
    import numpy as np

    from ._image import to_uint

    image = to_uint(image, np.uint8)
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


_EVALUATE_EXAMPLES = """
\b
Examples:
  skdce evaluate out/ data/high/                      score enhanced files
  skdce evaluate data/low/ data/high/ --enhance       enhance and score in one go
  skdce evaluate out/ ref/ --suffix _dce -o scores.csv
  skdce evaluate data/low/ data/high/ --enhance --model my.onnx --json
"""


@main.command(epilog=_EVALUATE_EXAMPLES)
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("references", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--enhance", "enhance_first", is_flag=True, help="IMAGES are low-light inputs: enhance each with --model, then score.")
@click.option("-m", "--model", default=None, help=f"Model for --enhance. Default: {DEFAULT_MODEL} on the CPU, {GPU_DEFAULT_MODEL} on CUDA.")
@click.option("-s", "--strength", type=_FiniteFloatRange(0, 2), default=1.0, show_default=True, help="Strength for --enhance.")
@_denoise_option
@click.option("--providers", default="auto", show_default=True, help="ONNX Runtime providers for --enhance.")
@click.option("--suffix", default="", help="Suffix to strip from IMAGES names before matching (e.g. _enhanced).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table to FILE: JSON for .json, else CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of CSV.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(images, references, enhance_first, model, strength, denoise, providers, suffix, output, as_json, quiet):
    """PSNR and SSIM of IMAGES against REFERENCES, matched by file name.

    Files are matched by name without extension (`1.png` with `1.jpg`) and
    compared as 8-bit RGB with skimage.metrics: PSNR with data_range=255, SSIM
    with channel_axis=-1 and data_range=255. Prints CSV (name, psnr, ssim, then
    the mean) or JSON; the exit status is 1 when a pair could not be scored.
    """
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from . import io as skio

    info = None
    if enhance_first:
        info, _ = _check_model(model, providers, None)
    found = _index_folder(images, suffix)
    refs = _index_folder(references)
    names = [n for n in found if n in refs]
    unmatched = [str(found[n]) for n in found if n not in refs]
    if not names:
        raise click.ClickException(
            f"no file in {str(images)!r} has a reference of the same name in {str(references)!r}"
            + (f" (after stripping {suffix!r})" if suffix else "")
        )
    for path in unmatched:
        click.echo(f"skdce: no reference for {path}", err=True)
    results, failed = [], []
    progress = _Progress(len(names), "evaluating", enabled=not quiet)
    for name in names:
        try:
            image, _ = skio.read_image(found[name])
            reference, _ = skio.read_image(refs[name])
            if info is not None:
                from ._enhance import enhance

                out = enhance(image, model=info, strength=strength, denoise=denoise, channel_axis=None if image.ndim == 2 else -1, providers=_providers(providers))
                image = _to_uint(out, 8)
            image, reference = _rgb8(image), _rgb8(reference)
            if image.shape != reference.shape:
                raise ValueError(f"sizes differ: {image.shape[1]}x{image.shape[0]} vs reference {reference.shape[1]}x{reference.shape[0]}")
            with np.errstate(divide="ignore"):  # identical images: PSNR is inf
                psnr = float(peak_signal_noise_ratio(reference, image, data_range=255))
            ssim = float(structural_similarity(reference, image, channel_axis=-1, data_range=255))
            results.append({"name": name, "image": str(found[name]), "reference": str(refs[name]), "psnr": psnr, "ssim": ssim})
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            failed.append({"name": name, "image": str(found[name]), "reason": reason})
            progress.echo(f"skdce: failed: {found[name]}: {reason}")
        progress.advance(name)
    progress.close()
    mean = {
        "psnr": float(np.mean([r["psnr"] for r in results])) if results else None,
        "ssim": float(np.mean([r["ssim"] for r in results])) if results else None,
    }

    def finite(v):
        return v if v is None or np.isfinite(v) else None  # identical images: PSNR inf -> null

    report = {
        "images": [{**r, "psnr": finite(r["psnr"])} for r in results],
        "mean": {k: finite(v) for k, v in mean.items()},
        "count": len(results),
        "failed": failed,
        "unmatched": unmatched,
        "model": None if info is None else info.name,
    }
    csv_text = _csv_table(results, mean)
    click.echo(_dump_json(report) if as_json else csv_text, nl=as_json)
    if output is not None:
        from ._atomic import atomic_path

        try:
            with atomic_path(output, overwrite=True) as tmp:
                tmp.write_text(_dump_json(report) + "\n" if output.suffix.lower() == ".json" else csv_text)
        except OSError as exc:
            raise click.ClickException(f"cannot write the table: {_os_reason(exc, output)}") from None
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------------------------
# models / info / demo
# --------------------------------------------------------------------------------------------


def _model_facts(info) -> dict:
    recipe = info.recipe or {}
    return {
        "name": info.name,
        "bundled": info.bundled,
        "file": str(info.path),
        "architecture": recipe.get("architecture") or recipe.get("skdce_architecture") or ("zero-dce++" if info.shared_curve else "zero-dce"),
        "iterations": info.iterations,
        "curve": "shared" if info.shared_curve else "one per iteration",
        "maps": info.n_maps,
        "scale_factor": info.scale_factor,
        "precision": info.precision,
        "sha256": info.sha256,
        "license": recipe.get("license") or recipe.get("skdce_license"),
        "validation": recipe.get("validation") or recipe.get("skdce_validation") or None,
    }


@main.command(epilog="\b\nExamples:\n  skdce models\n  skdce models my-model.onnx --json")
@click.argument("files", metavar="[MODEL.onnx]...", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(files, as_json):
    """The bundled models (and any given .onnx files) with their facts."""
    from .models import get_model, list_models

    facts = []
    try:
        for name in list(list_models()) + list(files):
            facts.append(_model_facts(get_model(name)))
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(_dump_json(facts))
        return
    if not facts:
        click.echo("no bundled models are installed")
    for f in facts:
        click.echo(f"{f['name']}  ({'bundled' if f['bundled'] else 'user model'})")
        for key in ("architecture", "iterations", "curve", "scale_factor", "precision", "file", "sha256", "license", "validation"):
            if f[key] not in (None, "", {}):
                value = json.dumps(f[key]) if isinstance(f[key], dict) else f[key]
                click.echo(f"  {key:<13} {value}")
    click.echo("Any .onnx file written by `skdce export` works too: skdce enhance ... --model FILE.onnx")


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@main.command(epilog="\b\nExamples:\n  skdce info\n  skdce info --providers cuda --json")
@click.option("--providers", default="auto", show_default=True, help="Providers to resolve and load the default model with.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(providers, as_json):
    """Versions, ONNX Runtime providers (available, chosen, running) and thread counts."""
    import onnxruntime

    from ._runtime import get_session, resolve_providers
    from .models import default_model, get_model, list_models

    data = {
        "skdce": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {d: _version(d) for d in ("numpy", "onnxruntime", "onnxruntime-gpu", "pillow", "scikit-image", "tifffile", "click", "torch")},
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
        chosen = resolve_providers(_providers(providers))
        data["providers_chosen"] = [name for name, _ in chosen]
        data["provider_options"] = {name: dict(options) for name, options in chosen if options}
        name = default_model(_providers(providers))
        if name in list_models():
            model = get_model(name)
            data["model"] = model.name
            data["providers_running"] = list(get_session(model.path, _providers(providers), None).providers)
    except (ValueError, FileNotFoundError) as exc:
        data["error"] = str(exc)
    if as_json:
        click.echo(_dump_json(data))
    else:
        click.echo(f"skdce {data['skdce']} (python {data['python']}, {data['platform']})")
        for dist, version in data["versions"].items():
            if version is not None:
                click.echo(f"  {dist:<14} {version}")
        click.echo(f"providers available  {', '.join(data['providers_available'])}")
        click.echo(f"providers chosen     {', '.join(data['providers_chosen'] or []) or '-'}  (--providers {providers})")
        if data["providers_running"]:
            click.echo(f"providers running    {', '.join(data['providers_running'])}  ({data['model']})")
        click.echo(f"cpu cores            {data['cpu_count']} ({data['cpus_usable']} usable by this process)")
        click.echo(f"onnxruntime threads  {data['onnxruntime_threads']}")
        for key, value in data["env"].items():
            click.echo(f"  {key}={value}")
        if data["error"]:
            click.echo(f"error                {data['error']}")
    if data["error"]:
        sys.exit(1)


@main.command(epilog="\b\nExamples:\n  skdce demo\n  skdce demo -o demo/ --sample chelsea --strength 1.5")
@click.option("-o", "--output", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("skdce-demo"), show_default=True, help="Folder for the three PNG files (rewritten on each run).")
@click.option("--sample", type=click.Choice(["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry"]), default="astronaut", show_default=True, help="Which bundled scikit-image sample to darken.")
@click.option("-m", "--model", default=None, help=f"Bundled model name or .onnx file. Default: {DEFAULT_MODEL} on the CPU, {GPU_DEFAULT_MODEL} on CUDA.")
@click.option("-s", "--strength", type=_FiniteFloatRange(0, 2), default=1.0, show_default=True, help="Curve strength.")
@_denoise_option
@click.option("--providers", default="auto", show_default=True, help="ONNX Runtime providers.")
def demo(output_dir, sample, model, strength, denoise, providers):
    """Enhance the bundled low-light sample; write input, output and a before/after PNG."""
    import numpy as np

    from . import io as skio
    from .data import low_light_sample
    from ._enhance import enhance as enhance_array

    info, running = _check_model(model, providers, None)
    t0 = time.perf_counter()
    low = low_light_sample(sample)
    out = _to_uint(enhance_array(low, model=info, strength=strength, denoise=denoise, providers=_providers(providers)), 8)
    seconds = time.perf_counter() - t0
    gap = np.full((low.shape[0], 8, 3), 255, np.uint8)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in (("low", low), ("enhanced", out), ("before_after", np.concatenate([low, gap, out], axis=1))):
        paths.append(skio.write_image(output_dir / f"{sample}_{name}.png", image, overwrite=True))
    click.echo(
        f"enhanced the darkened {sample!r} sample ({low.shape[1]}x{low.shape[0]}) with {info.name} "
        f"on {running[0]} in {seconds:.2f} s; mean brightness {low.mean() / 255:.3f} -> {out.mean() / 255:.3f}"
    )
    for path in paths:
        click.echo(f"  {path}")


if __name__ == "__main__":
    main(prog_name="skdce")
