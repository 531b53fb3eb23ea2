"""``skdce enhance`` on videos and frame sequences (skdce/cli/_video.py): the real command on tiny clips."""

import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from skdce.io import read_image

from .._clips import (
    moving_square_clip,
    read_clip,
    size_change_clip,
    static_clip,
    to_uint8,
    two_video_clip,
    write_clip,
)
from .._helpers import GatedRun, digest, invoke, leftovers, names, run_cli

pytest.importorskip("av")


def test_folder_of_videos_and_images_subprocess(clip, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(clip.read_bytes())
    Image.fromarray(to_uint8(static_clip(n=1)[1])[0]).save(folder / "photo.png")
    (folder / "broken.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + os.urandom(2000))
    before = {p.name: digest(p) for p in folder.iterdir()}
    result = run_cli("enhance", folder, "-o", tmp_path / "out", "--json")
    assert result.returncode == 1, result.stderr
    assert "skdce: 2 enhanced, 0 skipped, 1 failed" in result.stderr
    failed = [line for line in result.stderr.splitlines() if "failed:" in line]
    assert len(failed) == 1 and "broken.mov: cannot read the video" in failed[0]
    status = {os.path.basename(r["input"]): r["status"] for r in json.loads(result.stdout)["files"]}
    assert status == {"clip.mp4": "ok", "photo.png": "ok", "broken.mov": "failed"}

    frames, facts, audio = read_clip(tmp_path / "out" / "clip.mp4")
    src_frames, src_facts, src_audio = read_clip(clip)
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)
    assert (facts["rate"], facts["time_base"], facts["pts"]) == (src_facts["rate"], src_facts["time_base"],
                                                                 src_facts["pts"])
    assert audio == src_audio  # packets, bit for bit, and their timestamps
    assert read_image(tmp_path / "out" / "photo.png")[0].shape == (48, 64, 3)
    assert {p.name: digest(p) for p in folder.iterdir()} == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix, codec", [(".mov", "h264"), (".mkv", "h264"), (".webm", "vp9"), (".avi", "mpeg4")])
def test_one_video_to_a_named_file(clip, tmp_path, suffix, codec):
    dst = tmp_path / f"night{suffix}"
    result = invoke("enhance", clip, "-o", dst, "--crf", 23, "--strength", 0.8, "--denoise", 0.5, "--temporal", 2)
    assert result.exit_code == 0, result.output
    frames, facts, _ = read_clip(dst)
    assert len(frames) == 12 and facts["codec"] == codec and (facts["width"], facts["height"]) == (64, 48)
    if suffix == ".webm":  # AAC cannot go into WebM: said, not silently lost
        assert "warning" in result.output and "aac" in result.output and ".mkv" in result.output
    again = invoke("enhance", clip, "-o", dst)  # an existing output is kept
    assert again.exit_code == 0 and "0 enhanced, 1 skipped" in again.output  # the output exists: kept
    assert read_clip(dst)[1]["codec"] == codec


def test_video_output_names_and_dry_run(clip, tmp_path):
    result = invoke("enhance", clip, "-o", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0 and f"write: {clip} -> {tmp_path / 'out' / 'clip.mp4'}" in result.output
    before = digest(clip)
    result = invoke("enhance", clip, "-o", clip.parent, "--overwrite")  # the output would be the input
    assert result.exit_code == 1 and "the output would overwrite an input file" in result.output
    assert not (tmp_path / "out").exists() and digest(clip) == before
    result = invoke("enhance", clip, "-o", tmp_path / "x.mp4", "--sequence", "--jobs", "2")
    assert result.exit_code == 2 and "--sequence enhances frames one after the other" in result.output


def test_ctrl_c_during_a_video_leaves_nothing(tmp_path):
    """Ctrl-C while frames are being written (the fourth frame is held until the signal is handled)."""
    _, noisy, _ = moving_square_clip(n=12, step=0)
    src = write_clip(tmp_path / "long.mp4", to_uint8(noisy), fps=30)
    out = tmp_path / "out"
    run = GatedRun(tmp_path / "gate", "skdce.video:VideoEnhancer._push_as", "enhance", src, "-o", out / "long.mp4",
                   free=3)
    run.wait_held()
    assert len(leftovers(out)) == 1  # three frames enhanced and sent to the encoder, under a temporary name
    run.send(signal.SIGINT)
    assert run.finish() == 130, run.stderr
    assert "interrupted" in run.stderr
    assert names(out) == [] and leftovers(tmp_path) == []


def test_sequence_of_frames(tmp_path):
    clean, noisy = static_clip(n=8, sigma=0.015)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(to_uint8(noisy)):
        Image.fromarray(f).save(frames / f"frame_{i + 1:04d}.png")
    assert invoke("enhance", frames, "-o", tmp_path / "seq", "--sequence").exit_code == 0
    assert invoke("enhance", frames, "-o", tmp_path / "alone").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "seq").iterdir())
    assert names == [f"frame_{i:04d}.png" for i in range(1, 9)]
    seq = np.stack([read_image(tmp_path / "seq" / n)[0] for n in names]).astype(np.float64)
    alone = np.stack([read_image(tmp_path / "alone" / n)[0] for n in names]).astype(np.float64)
    # the same still scene: what changes from frame to frame is noise, and the sequence has much less of it
    assert seq[4:].std(axis=0).mean() < 0.5 * alone[4:].std(axis=0).mean()


def test_exposure_reaches_a_video(clip, tmp_path):
    """--exposure on a video file: the frames come out darker (it was dropped before enhance_video)."""
    base = invoke("enhance", clip, "-o", tmp_path / "base.mkv", "--denoise", 0, "--temporal", 0)
    dim = invoke("enhance", clip, "-o", tmp_path / "dim.mkv", "--denoise", 0, "--temporal", 0, "--exposure", -3)
    assert base.exit_code == 0 and dim.exit_code == 0, base.output + dim.output
    lo, hi = read_clip(tmp_path / "dim.mkv")[0], read_clip(tmp_path / "base.mkv")[0]
    assert np.mean(lo) < np.mean(hi) - 20


def test_learned_denoiser_on_videos_is_said(clip, tmp_path):
    """skdce.video denoises with the guided filter only: --denoiser learned was silently not used."""
    result = invoke("enhance", clip, "-o", tmp_path / "out.mkv", "--denoiser", "learned")
    assert result.exit_code == 0 and "--denoiser learned applies to still images" in result.output, result.output
    frame = tmp_path / "f.png"
    Image.fromarray(to_uint8(static_clip(n=1)[1])[0]).save(frame)
    result = invoke("enhance", frame, "-o", tmp_path / "seq", "--sequence", "--denoiser", "learned")
    assert result.exit_code == 2 and "--denoiser learned applies to still images" in result.output


def test_a_second_video_stream_is_warned_about(tmp_path):
    src = two_video_clip(tmp_path / "two.mp4")
    result = invoke("enhance", src, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "streams not copied: video stream 1 (h264): only the first" in result.output
    assert read_clip(tmp_path / "out.mp4")[1]["streams"] == ["video"]


def test_a_failed_video_is_named_once(tmp_path):
    """The report line named the file, then enhance_video's message named it again ("sizes.mkv: sizes.mkv: ...")."""
    src = size_change_clip(tmp_path / "sizes.mkv")
    result = invoke("enhance", src, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 1
    assert f"failed: {src}: frame 4 (counting from 0) is 80x64, the frames before it 64x48;" in result.output
    assert result.output.count("sizes.mkv") == 1 and not (tmp_path / "out.mp4").exists()
