"""Videos and frame sequences in ``skdce enhance``: their options, one video file as a job, frames as one sequence.

A video input (``.mp4``, ``.mov``, ``.mkv``, ``.webm``, ``.avi``, ``.m4v``) is
one job of the batch runner like an image: its output keeps its container
(or is the file ``-o`` names), :func:`enhance_video_file` runs
:func:`skdce.video.enhance_video` on it and reports one row. ``--sequence``
makes the image inputs one sequence of frames in name order, enhanced by one
:class:`skdce.video.VideoEnhancer` (:func:`run_sequence`).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import click

from ..video import VIDEO_SUFFIXES  # NumPy only: PyAV is imported when a video runs
from ._errors import os_reason
from ._options import FiniteFloatRange

__all__ = ["VIDEO_SUFFIXES", "is_video", "video_options", "enhance_video_file", "run_sequence"]


def is_video(path) -> bool:
    """Whether ``path`` is named like a video file."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_options(command):
    """``--temporal``, ``--crf`` and ``--sequence``: the options of videos and frame sequences."""
    options = [
        click.option("--temporal", type=FiniteFloatRange(0, 4), default=1.0, show_default=True,
                     help="Videos and --sequence: temporal denoising and curve smoothing over the frames: "
                          "0 = each frame alone, 1 = default, more = longer."),
        click.option("--crf", type=click.IntRange(0, 51), default=None,
                     help="Video encoder quality (constant rate factor): 0 best, 51 smallest [default: 18]."),
        click.option("--sequence", is_flag=True,
                     help="The image inputs are the frames of one video (in name order, e.g. frame_0001.png ...): "
                          "enhanced with temporal denoising and steady curves, written as images."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class _Stopped(Exception):
    """Ctrl-C or SIGTERM during a video: its output is discarded."""


def _eta(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def enhance_video_file(job, s, stop: threading.Event) -> dict | None:
    """Enhance one video file; a report row (``None`` when stopped: nothing is written)."""
    from ..video import enhance_video
    from ._report import row

    t0 = time.perf_counter()

    def progress(done, total):
        if stop.is_set():
            raise _Stopped
        if s.on_frames is not None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            eta = f", ETA {_eta((total - done) / rate)}" if total else ""
            s.on_frames(f"{job.src.name}: frame {done}/{total or '?'} ({rate:.1f} fps{eta})")

    try:
        if stop.is_set():
            return None
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        report = enhance_video(job.src, job.dst, model=s.video_model, strength=s.strength, denoise=s.denoise,
                               temporal=s.temporal, crf=s.crf, overwrite=s.overwrite, providers=s.providers,
                               num_threads=s.threads, tile_size=s.tile_size,
                               exposure=s.exposure, progress=progress)
    except _Stopped:
        return None
    except FileExistsError:
        return row(job.src, job.dst, "skipped", "the output exists (use --overwrite to replace it)",
                   time.perf_counter() - t0)
    except ImportError as exc:
        return row(job.src, job.dst, "failed", str(exc), time.perf_counter() - t0)
    except OSError as exc:
        return row(job.src, job.dst, "failed", os_reason(exc), time.perf_counter() - t0)
    except Exception as exc:  # one bad file must not stop the batch
        reason = str(exc) if isinstance(exc, (ValueError, TypeError)) else f"{type(exc).__name__}: {exc}"
        # enhance_video's messages begin with the input, which the report line names already
        reason = reason.removeprefix(f"{job.src}: ")
        return row(job.src, job.dst, "failed", reason, time.perf_counter() - t0)
    done = row(job.src, job.dst, "ok", None, time.perf_counter() - t0)
    warnings = list(report.warnings)
    if s.denoiser != "guided":  # skdce.video has the guided filter only
        warnings.append(f"--denoiser {s.denoiser} applies to still images; the video was denoised with the guided "
                        f"filter")
    if report.dropped:  # e.g. AAC audio in .webm, a second video stream: each says why and the way out
        warnings.append("streams not copied: " + "; ".join(report.dropped))
    if warnings:
        done["warning"] = "; ".join(warnings)
    return done


def run_sequence(jobs, s, on_row, stop: threading.Event) -> None:
    """Enhance the frames of ``jobs``, in order, as one sequence (one :class:`~skdce.video.VideoEnhancer`)."""
    import numpy as np

    from .. import io as skio
    from ..video import VideoEnhancer
    from ._report import row, to_uint

    enhancer = VideoEnhancer(model=s.video_model, strength=s.strength, denoise=s.denoise, temporal=s.temporal,
                             providers=s.providers, num_threads=s.threads,
                             tile_size=s.tile_size, exposure=s.exposure)
    for job in sorted(jobs, key=lambda j: str(j.src)):
        if stop.is_set():
            return
        t0 = time.perf_counter()
        try:
            image, meta = skio.read_image(job.src, max_pixels=s.max_pixels, white_balance=s.white_balance,
                                          highlights=s.highlights)
            gray = image.ndim == 2 or image.shape[-1] < 3
            rgb = np.repeat(image[..., :1] if image.ndim == 3 else image[..., None], 3, axis=-1) if gray \
                else image[..., :3]
            result = enhancer.push(rgb)
            if gray:
                result = result.mean(axis=-1)
            if image.ndim == 3 and image.shape[-1] in (2, 4):  # alpha passes through
                alpha = image[..., -1:].astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
                result = np.concatenate([result[..., None] if gray else result, alpha], axis=-1)
            out = to_uint(result, 8 if job.fmt in ("JPEG", "WEBP") else meta.bit_depth)
            job.dst.parent.mkdir(parents=True, exist_ok=True)
            skio.write_image(job.dst, out, meta, format=job.fmt, quality=s.quality, overwrite=s.overwrite)
            result_row = row(job.src, job.dst, "ok", None, time.perf_counter() - t0)
        except FileExistsError:
            result_row = row(job.src, job.dst, "skipped", "the output exists (use --overwrite to replace it)")
        except skio.ImageFileError as exc:
            result_row = row(job.src, job.dst, "failed", exc.reason, time.perf_counter() - t0)
        except OSError as exc:
            result_row = row(job.src, job.dst, "failed", os_reason(exc), time.perf_counter() - t0)
        except (ValueError, TypeError) as exc:
            result_row = row(job.src, job.dst, "failed", str(exc), time.perf_counter() - t0)
        on_row(job, result_row)
