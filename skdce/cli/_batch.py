"""The batch runner behind ``skdce enhance``: inputs, planned outputs, jobs, progress, signals, report rows.

:func:`collect` turns the INPUT arguments (files, folders, glob patterns)
into files, :func:`plan` gives each one output path (never an input, never
outside ``-o``, never an existing file without --overwrite), and
:func:`run_jobs` enhances them in threads with :func:`enhance_file`, one
report row each (:func:`row`). :class:`Progress` is the tqdm bar of every
command; :func:`stop_on_signals` and :func:`interrupts` are how Ctrl-C and
SIGTERM stop a command without leaving partial files.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click

from ..io import IMAGE_SUFFIXES  # pure Python, no heavy imports
from ._errors import echo_out, os_reason
from ._report import row, to_uint

# --------------------------------------------------------------------------------------------
# Progress and signals
# --------------------------------------------------------------------------------------------


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A tqdm bar on stderr, drawn only when stderr is a terminal; :meth:`echo` prints lines above it."""

    def __init__(self, total: int, label: str, enabled: bool = True, initial: int = 0):
        self.on = enabled and total > 0 and _isatty(sys.stderr)
        self.done = initial
        self.bar = None
        if not self.on:  # no bar: tqdm is not imported (40 ms of the start of every run, --quiet or piped)
            return
        from tqdm import tqdm

        self._tqdm = tqdm
        try:
            sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
        except (OSError, ValueError, AttributeError):
            sized = False
        size = {"dynamic_ncols": True} if sized else {"ncols": 80, "nrows": 24}  # a terminal that reports 0 x 0
        self.bar = tqdm(total=total, desc=label, initial=initial, file=sys.stderr, leave=True, **size,
                        unit="file" if label != "training" else "step")

    def update(self, done: int, note: str = "") -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
        self.done = done

    def advance(self, note: str = "") -> None:
        self.update(self.done + 1, note)

    def echo(self, message: str) -> None:
        """Print a line above the bar (or just print it)."""
        if self.on:
            self._tqdm.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.on = False


@contextlib.contextmanager
def interrupts():
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


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, say):
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


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


@dataclass
class Job:
    index: int
    src: Path
    dst: Path
    fmt: str


@dataclass
class Settings:
    model: object
    strength: float
    denoise: float
    providers: object
    threads: int | None
    tile_size: int | str | None
    quality: int | None
    overwrite: bool
    max_pixels: int
    exposure: object = "auto"  # "auto" or stops (skdce.tone)
    denoiser: str = "guided"  # skdce.engine.plan.DENOISERS
    white_balance: str = "camera"  # camera RAW inputs only (skdce.io.read_raw)
    highlights: str = "clip"
    temporal: float = 1.0  # videos and --sequence (skdce.cli._video)
    crf: int | None = None
    video_model: object = None  # --model for videos; None: skdce.video's own default (zero-dce++)
    on_frames: object = None  # called with a line of a video's progress (frames, fps, ETA)
    root: Path | None = None  # the output folder: no output is written through a link below it


def check_output_folder(folder: Path, create: bool) -> None:
    """Make sure files can be written in ``folder`` before any work starts (a usage error otherwise)."""
    import tempfile

    from ..io._atomic import TEMP_SUFFIX

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
        raise click.BadParameter(f"cannot write there: {os_reason(exc, folder)}.", param_hint="'--output'") from None


def has_subfolders(folder: Path, out_dir: Path) -> bool:
    """Whether ``folder`` holds a folder (not hidden, not the output folder) that --recursive would look in."""
    try:
        return any(p.is_dir() and not p.name.startswith(".") and p.resolve() != out_dir for p in folder.iterdir())
    except OSError:
        return False


def scan_folder(folder: Path, recursive: bool, out_dir: Path) -> list[Path]:
    """The image and video files in ``folder``: not hidden, not temporaries, not inside the output ``out_dir``."""
    from ..io import TEMP_SUFFIX
    from ._video import VIDEO_SUFFIXES

    found = []
    skip_out = folder.resolve() in out_dir.parents  # outputs in a subfolder of an input folder are not inputs
    for path in folder.rglob("*") if recursive else folder.iterdir():
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.name.endswith(TEMP_SUFFIX):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES and path.suffix.lower() not in VIDEO_SUFFIXES \
                or not path.is_file():
            continue
        resolved = path.resolve()
        if skip_out and out_dir in resolved.parents:
            continue
        found.append(path)
    return sorted(found)


def expand_pattern(pattern: str) -> list[Path]:
    """The files a glob pattern matches, sorted; ``**`` matches folders at any depth but never enters a link.

    :func:`glob.glob` follows links to folders inside ``**``, so two links
    that point up the tree make it walk an exponentially long chain of names:
    it never ends. :meth:`pathlib.Path.glob` (3.11+) does not follow them.
    As with the shell, names starting with a dot match only a pattern part
    that starts with one.
    """
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) and not glob.has_magic(parts[fixed]):
        fixed += 1
    if fixed == len(parts):
        return []
    anchor = Path(*parts[:fixed]) if fixed else Path()
    rest = parts[fixed:]
    dotted = any(part.startswith(".") for part in rest)
    found = []
    try:
        for match in anchor.glob(str(Path(*rest))):
            rel = match.relative_to(anchor) if fixed else match
            if not dotted and any(part.startswith(".") for part in rel.parts):
                continue
            if match.is_file():
                found.append(match)
    except (OSError, ValueError):
        pass
    return sorted(found)


def _inside_output(match: Path, pattern: str, out_dir: Path) -> bool:
    """Whether a file a pattern matched lies in the output folder below the pattern's fixed folder (an output)."""
    from ..io import TEMP_SUFFIX

    if match.name.endswith(TEMP_SUFFIX):
        return True
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    anchor = Path(*parts[:fixed]).resolve() if fixed else Path.cwd().resolve()
    return out_dir != anchor and out_dir in match.resolve().parents


def collect(inputs, recursive: bool, out_dir: Path):
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
                found = scan_folder(path, recursive, out_dir)
            except OSError as exc:
                problems.append(row(arg, None, "failed", f"cannot list the folder: {os_reason(exc)}"))
                continue
            if not found:
                hint = "" if recursive else " (use --recursive to look in subfolders)"
                problems.append(
                    row(arg, None, "failed", f"the folder holds no image or video files ({', '.join(IMAGE_SUFFIXES)}, "
                                             f".mp4, .mov, .mkv, .webm, .avi){hint}")
                )
            for f in found:
                add(f, f.relative_to(path))
        elif path.exists():
            add(path, Path(path.name))
        else:
            matches = [m for m in expand_pattern(arg) if not _inside_output(m, arg, out_dir)]
            if not matches:
                problems.append(row(arg, None, "failed", "no such file or folder, and no file matches it as a pattern"))
            for m in matches:
                add(m, Path(m.name))
    return files, problems


def plan(files, out_dir: Path, fmt: str | None, suffix: str, overwrite: bool, out_file: Path | None = None):
    """Decide every output path: ``([jobs], [skipped/failed rows])``; ``out_file``: the one output of one input."""
    from ..io import FORMATS, format_from_path, is_raw_path
    from ..io._paths import file_id
    from ._video import is_video

    def output_of(src, rel):
        own = format_from_path(src)
        # a video keeps its container; RAW: 16 bits, sRGB profile, camera tags
        out_fmt = "VIDEO" if is_video(src) else fmt or own or ("TIFF" if is_raw_path(src) else "PNG")
        if out_file is not None:
            return out_file, out_fmt
        ext = src.suffix if own == out_fmt or out_fmt == "VIDEO" else FORMATS[out_fmt][0]
        return out_dir / rel.parent / f"{rel.stem}{suffix}{ext}", out_fmt

    planned = [(src, rel, *output_of(src, rel)) for src, rel in files]
    # an input that is another input's output (a rerun with -o at the inputs and a --suffix) is not enhanced again
    made_by = {dst.resolve(): src for src, _, dst, _ in planned if dst.resolve() != src.resolve()} if suffix else {}
    inputs = {src.resolve() for src, _ in files} - made_by.keys()
    # the same file under another name (hard link, case)
    input_ids = {file_id(src) for src, _ in files if src.resolve() not in made_by} - {None}
    root = out_dir.resolve()
    claimed: dict = {}
    jobs, rows = [], []
    for src, _rel, dst, out_fmt in planned:
        key = dst.resolve()
        if src.resolve() in made_by:
            rows.append(row(src, None, "skipped", f"it is the output of {str(made_by[src.resolve()])!r} (from an "
                                                  f"earlier run); not enhanced again"))
            continue
        if out_file is not None and (out_fmt == "VIDEO") != is_video(out_file):
            rows.append(row(src, dst, "failed", "a video is enhanced into a video file and an image into an image "
                                                "file; name -o accordingly (or a folder)"))
        elif out_file is None and root not in key.parents:  # ../ in a name, or a symbolic link out of -o
            rows.append(row(src, dst, "failed", f"the output would land outside the output folder ({key}); "
                                                f"rename the input or remove the link"))
        elif len(dst.name.encode("utf-8", "surrogateescape")) > 255:
            rows.append(row(src, dst, "failed", "the output file name is longer than 255 bytes, which file systems "
                                                "refuse; use a shorter --suffix or rename the input"))
        elif key in inputs or file_id(dst) in input_ids:
            rows.append(row(src, dst, "failed",
                            "the output would overwrite an input file; choose another -o or a --suffix"))
        elif key in claimed:
            rows.append(row(src, dst, "failed",
                            f"{str(claimed[key])!r} has the same output file; use --suffix or --format"))
        elif dst.exists() and not overwrite:
            rows.append(row(src, dst, "skipped", "the output exists (use --overwrite to replace it)"))
        else:
            claimed[key] = src
            jobs.append(Job(len(jobs), src, dst, out_fmt))
    return jobs, rows


def print_plan(jobs, rows, overwrite: bool, as_json: bool = False) -> None:
    """--dry-run: one line per input on stdout (with --json, the report's form: files, summary)."""
    if as_json:
        from ._options import dump_json

        files = [{**row(j.src, j.dst, "overwrite" if overwrite and j.dst.exists() else "write"), "seconds": None}
                 for j in jobs]
        files += [{**r, "status": "skip" if r["status"] == "skipped" else "fail", "seconds": None} for r in rows]
        summary = {k: sum(f["status"] == k for f in files) for k in ("write", "overwrite", "skip", "fail")}
        echo_out(dump_json({"dry_run": True, "files": files, "summary": summary}))
        return
    for job in jobs:
        action = "overwrite" if overwrite and job.dst.exists() else "write"
        echo_out(f"{action}: {job.src} -> {job.dst}")
    for r in rows:
        if r["status"] == "skipped":
            echo_out(f"skip: {r['input']} -> {r['output']} ({r['reason']})")
        else:
            echo_out(f"fail: {r['input']}: {r['reason']}")
    counts = {"write": sum(not (overwrite and j.dst.exists()) for j in jobs)}
    counts["overwrite"] = len(jobs) - counts["write"]
    counts["skip"] = sum(r["status"] == "skipped" for r in rows)
    counts["fail"] = len(rows) - counts["skip"]
    click.echo("dry run, nothing written: " + ", ".join(f"{n} {k}" for k, n in counts.items()), err=True)


# --------------------------------------------------------------------------------------------
# Running the jobs
# --------------------------------------------------------------------------------------------


#: skdce.engine.runtime.MEMORY_HINT as options of ``skdce enhance``.
CLI_MEMORY_HINT = ("pass a smaller --tile-size (e.g. --tile-size 256), or use --model zero-dce++, which estimates "
                   "its curves on a downscaled copy")


def enhance_file(job: Job, s: Settings, stop: threading.Event) -> dict | None:
    """Read, enhance and write one file; a row for the report (``None`` when stopped before writing)."""
    from .. import io as skio
    from ..engine.workers import Stopped, stop_when
    from ..pipeline import enhance

    if job.fmt == "VIDEO":
        from ._video import enhance_video_file

        return enhance_video_file(job, s, stop)
    t0 = time.perf_counter()
    where = job.src
    try:
        if stop.is_set():
            return None
        if skio.is_raw_path(job.src):
            image, meta = skio.read_raw(job.src, white_balance=s.white_balance, highlights=s.highlights,
                                        max_pixels=s.max_pixels)
        else:
            image, meta = skio.read_image(job.src, max_pixels=s.max_pixels, white_balance=s.white_balance,
                                          highlights=s.highlights)  # a DNG under another name is RAW too
        skio.check_fits(job.fmt, image.shape, meta.exif if job.fmt == "JPEG" else None)  # before the work
        # checked between tiles: a large image stops within a tile of Ctrl-C (locally: a cluster's stop flag
        # costs a round trip to the scheduler per check, so there the file stops before it is written)
        local = isinstance(stop, threading.Event)
        with stop_when(stop) if local else contextlib.nullcontext():
            result = enhance(
                image,
                model=s.model,
                strength=s.strength,
                denoise=s.denoise,
                exposure=s.exposure,
                denoiser=s.denoiser,
                channel_axis=None if image.ndim == 2 else -1,
                providers=s.providers,
                tile_size=s.tile_size,
                num_threads=s.threads,
            )
        del image  # only the result is needed from here: a 24 MP input is 72-144 MB
        out = to_uint(result, 8 if job.fmt in ("JPEG", "WEBP") else meta.bit_depth, consume=True)
        del result  # the encoder runs with the 8/16-bit output alone (the float result of 24 MP is 288 MB)
        if stop.is_set():
            return None  # interrupted: this file is discarded, not written
        root = _output_root(job, s)
        where = job.dst  # an error without a file name is the output's from here (the input's before)
        skio.write_image(job.dst, out, meta, format=job.fmt, quality=s.quality, overwrite=s.overwrite, root=root)
    except Stopped:
        return None  # interrupted inside the image: discarded, not written
    except FileExistsError:  # another process wrote it meanwhile: never replaced without --overwrite
        return row(job.src, job.dst, "skipped", "the output exists (use --overwrite to replace it)",
                   time.perf_counter() - t0)
    except skio.ImageFileError as exc:
        return row(job.src, job.dst, "failed", exc.reason, time.perf_counter() - t0)
    except OSError as exc:
        return row(job.src, job.dst, "failed", os_reason(exc, exc.filename or where), time.perf_counter() - t0)
    except ImportError as exc:  # a missing extra (rawpy for RAW files): its message says what to install
        return row(job.src, job.dst, "failed", str(exc), time.perf_counter() - t0)
    except MemoryError as exc:  # the library's hint, in the command line's words
        from ..engine.runtime import MEMORY_HINT

        reason = str(exc).replace(MEMORY_HINT, CLI_MEMORY_HINT) or "out of memory"
        return row(job.src, job.dst, "failed", reason, time.perf_counter() - t0)
    except Exception as exc:  # one bad file must not stop the batch
        reason = str(exc) if isinstance(exc, (ValueError, TypeError)) else f"{type(exc).__name__}: {exc}"
        return row(job.src, job.dst, "failed", reason, time.perf_counter() - t0)
    return row(job.src, job.dst, "ok", None, time.perf_counter() - t0)


def _output_root(job: Job, settings: Settings) -> Path:
    """The folder ``job`` writes in: the batch's output folder, else the output file's own."""
    return settings.root if settings.root is not None else job.dst.parent


def run_jobs(jobs, settings: Settings, n_jobs: int, on_row, stop: threading.Event) -> None:
    """Run ``jobs`` (in ``n_jobs`` threads) until done or ``stop`` is set (then no new file starts).

    A file that fails with the output folder gone (deleted while the batch runs) stops the batch: that is said
    once, for that file, with the number of files not attempted (they have no row: not processed), instead of
    enhancing every other file only to fail writing it.
    """
    gone: dict = {}  # the job and row of the file that found the output folder gone; how many files not done since

    def deliver(job, result):
        if not gone and result is not None and result["status"] == "failed" \
                and not os.path.isdir(_output_root(job, settings)):
            stop.set()  # no new file starts; files in progress are discarded
            gone.update(job=job, row=result, not_done=0)
            return  # reported at the end, once the number of files not done is known
        if gone and (result is None or result["status"] == "failed"):
            gone["not_done"] += 1
            result = None
        on_row(job, result)

    if n_jobs == 1:
        for job in jobs:
            deliver(job, enhance_file(job, settings, stop))  # None at once when stopped
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="skdce") as pool:  # waits for running files
            futures = {pool.submit(enhance_file, job, settings, stop): job for job in jobs}
            for future in as_completed(futures):
                deliver(futures[future], future.result())
    if gone:
        n = gone["not_done"]
        gone["row"]["reason"] = (f"{_output_root(gone['job'], settings)}: the output folder was deleted while skdce "
                                 f"ran; the batch stopped ({n} file{'s' if n != 1 else ''} not attempted); run "
                                 f"again to create it anew, or choose another -o")
        on_row(gone["job"], gone["row"])
