"""skdce.video: the temporal state of VideoEnhancer and the PyAV loop of enhance_video, on tiny synthetic clips."""

import numpy as np
import pytest

import skdce
from skdce.video import VIDEO_MODEL, VideoEnhancer, enhance_video

from ._clips import (
    add_silence,
    dark_noisy,
    moving_square_clip,
    pan_clip,
    psnr,
    read_clip,
    scene,
    size_change_clip,
    static_clip,
    to_uint8,
    two_video_clip,
    write_clip,
)

av = pytest.importorskip("av")


def target(clean, gain=0.15):
    """What a frame should become: the enhanced noiseless dark frame."""
    return [skdce.enhance(np.clip(c * gain, 0, 1).astype(np.float32), model=VIDEO_MODEL) for c in clean]


def run(frames, **kwargs):
    enhancer = VideoEnhancer(fps=12, **kwargs)
    return [enhancer.push(f) for f in frames], enhancer


def flicker(frames):
    """The std over time of the frame-to-frame change of the mean: 0 for a steady static clip."""
    return float(np.std(np.diff([f.mean() for f in frames])))


# --------------------------------------------------------------------------------------------
# VideoEnhancer
# --------------------------------------------------------------------------------------------


def test_temporal_zero_is_enhance_per_frame():
    _, noisy = static_clip(n=3)
    out, enhancer = run(noisy, temporal=0)
    for o, f in zip(out, noisy, strict=True):
        np.testing.assert_array_equal(o, skdce.enhance(f, model=VIDEO_MODEL))
    assert enhancer.frames == 3 and enhancer.cuts == 1


@pytest.mark.parametrize("strength", [0.6, 1.4])
def test_a_first_frame_is_exposed_as_a_still_at_any_strength(strength):
    """Auto exposure measured on the model's own result and scaled by strength, as skdce.enhance does (measured on
    the strength-scaled curves, the video path gave 0.365 where the still gives 0.314 at strength 0.6)."""
    for name in ("astronaut", "chelsea"):
        frame = skdce.data.low_light_sample(name)[::4, ::4]
        out, _ = run([frame], strength=strength)
        assert abs(out[0].mean() - skdce.enhance(frame, model=VIDEO_MODEL, strength=strength).mean()) < 0.002


def test_a_frame_reaches_white_as_a_still():
    from .test_tone import lamp_scene

    for spot in ("lamp", "glint"):
        frames = [lamp_scene(spot)] * 3  # a white lamp of 0.15% of the frame: held; a glint: brought up
        auto, _ = run(frames)
        model, _ = run(frames, exposure="model")
        if spot == "glint":
            assert auto[-1].mean() > model[-1].mean() + 0.02
        else:
            np.testing.assert_array_equal(auto[-1], model[-1])
    # an 18x18 lamp takes half the stops on the 512-pixel copy (none on the 64-pixel one): as a still, measured
    # 0.3915 against 0.3916 (read on the small copy: 0.4102)
    half = lamp_scene("half")
    auto, _ = run([half] * 3)
    assert abs(auto[-1].mean() - skdce.enhance(half, model=VIDEO_MODEL).mean()) < 0.005


def test_a_light_about_white_does_not_make_the_frame_flicker():
    from .test_tone import lamp_scene

    rng = np.random.default_rng(0)
    base = lamp_scene("glint")
    big = np.pad(lamp_scene("half"), ((0, 12), (0, 12), (0, 0)), mode="reflect")
    flickering, panning = [], []
    for i in range(12):
        f = base + 0.005 * rng.standard_normal(base.shape).astype(np.float32)
        f[300:320, 200:220] = 0.88 if i % 2 else 0.92  # a lamp flickering about AUTO_EXPOSURE_WHITE (mains)
        flickering.append(np.clip(f, 0, 1))
        panning.append(big[i : i + 512, i : i + 512])  # a pan over a clipped lamp of 0.12%, a pixel a frame
    # ramps in level and in area, on a copy whose boxes are about a pixel: measured 0.0005 and 0.0016 frame to
    # frame (a switch at 0.9: 0.0025; a switch in area on a 256-pixel copy, where the lamp's area reads 0.12% or
    # 0.10% by where it falls on the boxes: 0.036 on the pan)
    for frames, bound in ((flickering, 0.001), (panning, 0.005)):
        steady, _ = run(frames)
        means = np.array([o.mean() for o in steady[4:]])
        assert np.abs(np.diff(means)).max() < bound


def test_static_clip_less_noise_and_less_flicker():
    clean, noisy = static_clip(n=24, sigma=0.01)
    ref = target(clean)
    alone, _ = run(noisy, temporal=0)
    steady, enhancer = run(noisy)
    gain = np.mean([psnr(o, r) for o, r in zip(steady[8:], ref[8:], strict=True)]) - np.mean(
        [psnr(o, r) for o, r in zip(alone[8:], ref[8:], strict=True)])
    assert gain > 3.0  # measured 6.2 dB (8 frames averaged, then the spatial filter)
    # once the average is full (the first frames settle the level once); measured 0.14x
    assert flicker(steady[12:]) < 0.3 * flicker(alone[12:])
    assert enhancer.cuts == 1


def test_pan_beats_enhancing_each_frame():
    clean, noisy = pan_clip(n=12)
    ref = target(clean)
    alone, _ = run(noisy, temporal=0)
    steady, enhancer = run(noisy)
    gain = (np.mean([psnr(o, r) for o, r in zip(steady, ref, strict=True)])
            - np.mean([psnr(o, r) for o, r in zip(alone, ref, strict=True)]))
    assert gain > 1.5  # measured 3.1 dB: the pan is found and the average follows it
    assert enhancer.cuts == 1


def test_moving_square_leaves_no_ghost():
    clean, noisy, boxes = moving_square_clip(n=12)
    ref = target(clean)
    alone, _ = run(noisy, temporal=0)
    steady, _ = run(noisy)
    for i in range(4, 12):  # where the square was a frame ago is background again
        y0, x0 = boxes[i - 1]
        trail = (slice(y0, y0 + 12), slice(x0, x0 + 4))
        assert np.abs(steady[i][trail] - ref[i][trail]).mean() <= np.abs(alone[i][trail] - ref[i][trail]).mean() + 0.01
        y0, x0 = boxes[i]
        square = (slice(y0, y0 + 12), slice(x0, x0 + 12))
        assert np.abs(steady[i][square] - ref[i][square]).mean() < 0.03


def test_a_light_crossing_a_still_scene_does_not_make_it_flicker():
    rng = np.random.default_rng(0)
    background = scene(h=48, w=96) * 0.12
    frames = []
    for i in range(24):
        f = background.copy()
        x0 = -10 + 5 * i
        f[18:30, max(0, x0) : max(0, x0 + 10)] = 1.0  # a headlight
        frames.append(np.clip(f + 0.008 * rng.standard_normal(f.shape), 0, 1).astype(np.float32))
    untouched = (slice(0, 12), slice(None))  # rows the light never reaches
    f, last = {}, {}
    for exposure in ("model", "auto"):
        alone, _ = run(frames, temporal=0, exposure=exposure)
        steady, enhancer = run(frames, exposure=exposure)
        assert enhancer.cuts == 1
        f[exposure] = (flicker([o[untouched] for o in alone]), flicker([o[untouched] for o in steady]),
                       flicker([o[untouched] for o in steady[1:21]]))
        last[exposure] = steady[-1][untouched].mean(), alone[-1][untouched].mean()
    # the curves: measured 0.0057 against 0.031 frame by frame (the context of the whole frame moves every curve)
    assert f["model"][1] < 0.3 * f["model"][0]
    # auto exposure: the scene lit by the light keeps the curves' exposure while it is in view (frames 1-20), so
    # it adds no flicker there; once the light has left, the dark scene's own exposure is adopted at once
    # (measured 0.501 against each frame's own 0.490), not after the curves' slow time constant
    assert f["auto"][2] <= f["model"][2] * 1.05
    assert abs(last["auto"][0] - last["auto"][1]) < 0.03


def test_a_slow_change_of_the_light_is_followed():
    rng = np.random.default_rng(0)
    a = scene()
    frames = [dark_noisy(a, gain=0.1 + 0.01 * i, rng=rng) for i in range(12)]  # brighter by 5-10% a frame
    steady, enhancer = run(frames)
    assert enhancer.cuts == 1
    # within 0.04 of each frame enhanced alone: a frame of 64x48 is its own network input (net_size 64), so
    # the black point of a single noisy frame sits lower than that of the running average (measured 0.033);
    # a curve that lagged the light (5-10% a frame) would be off by more
    for o, f in zip(steady[4:], frames[4:], strict=True):
        assert abs(o.mean() - skdce.enhance(f, model=VIDEO_MODEL).mean()) < 0.04


@pytest.mark.parametrize("change", ["cut", "light"])
def test_cut_or_light_is_adopted_at_once(change):
    rng = np.random.default_rng(0)
    a = scene(seed=0)
    b = np.clip(scene(seed=9)[::-1, ::-1] * 0.6 + 0.3, 0, 1) * 0.15 if change == "cut" else a * 0.5
    frames = [dark_noisy(a, rng=rng) for _ in range(6)] + [dark_noisy(b, gain=1.0, rng=rng) for _ in range(4)]
    out, enhancer = run(frames)
    assert enhancer.cuts == 2
    # the first frame after the change is exposed like that frame enhanced alone, not like the past
    assert abs(out[6].mean() - skdce.enhance(frames[6], model=VIDEO_MODEL).mean()) < 0.005
    assert abs(out[6].mean() - out[5].mean()) > 0.01


def test_size_change_restarts_and_reset():
    enhancer = VideoEnhancer()
    enhancer.push(np.full((16, 16, 3), 20, np.uint8))
    assert enhancer.push(np.full((12, 20, 3), 20, np.uint8)).shape == (12, 20, 3)
    enhancer.reset()
    enhancer.push(np.full((12, 20, 3), 20, np.uint8))
    assert enhancer.cuts == 3


def test_push_refuses_bad_frames():
    enhancer = VideoEnhancer()
    with pytest.raises(ValueError, match=r"frame has shape \(8, 8\); VideoEnhancer takes \(H, W, 3\) RGB"):
        enhancer.push(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="frame"):
        enhancer.push(np.full((8, 8, 3), 2.0, np.float32))
    with pytest.raises(TypeError, match="takes an image array, not a file"):
        enhancer.push("frame.png")
    with pytest.raises(ValueError, match="temporal=5"):
        VideoEnhancer(temporal=5)


# --------------------------------------------------------------------------------------------
# enhance_video
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mov", "h264"), (".mkv", "h264"), (".avi", "mpeg4")])
def test_enhance_video_keeps_frames_timestamps_and_audio(clip, tmp_path, suffix, codec):
    dst = tmp_path / f"out{suffix}"
    report = enhance_video(clip, dst)
    frames, facts, others = read_clip(dst)
    src_frames, src_facts, src_others = read_clip(clip)
    assert report.frames == len(frames) == 12 and report.copied == ("audio aac",) and report.warnings == ()
    assert (facts["codec"], facts["pix_fmt"], facts["width"], facts["height"]) == (codec, "yuv420p", 64, 48)
    assert facts["rate"] == 12
    # the audio packets, bit for bit
    assert [o[1] for o in others] == [o[1] for o in src_others]
    if suffix in (".mp4", ".mov"):  # edit lists: every timestamp as it was
        assert facts["time_base"] == src_facts["time_base"] and facts["pts"] == src_facts["pts"]
        assert [o[2] for o in others] == [o[2] for o in src_others]
    elif suffix == ".mkv":  # Matroska: milliseconds, all streams shifted alike past AAC's negative start
        step = [round(float(p * src_facts["time_base"]) * 1000) for p in src_facts["pts"]]
        assert np.ptp(np.array(facts["pts"]) - np.array(step)) <= 1
    # brighter than the input
    assert np.mean(frames[6]) > np.mean(src_frames[6]) + 20


def test_the_file_loop_writes_the_frames_push_gives(clip, tmp_path):
    """enhance_video (its stages on three threads, the spatial filter deferred to the encoding one) writes what
    VideoEnhancer.push returns for the decoded frames (through the same yuv420p conversion, lossless H.264):
    the compiled one of skdce.video._temporal.yuv420 where it was built, else swscale's from RGB24."""
    from skdce.video import _temporal as T

    src_frames, facts, _ = read_clip(clip)
    enhancer = VideoEnhancer(fps=float(facts["rate"]))
    want = []
    for f in src_frames:  # the same conversion to yuv420p and back as the file loop and the reader make
        out = enhancer.push(f)
        if T.compiled():
            yuv = av.VideoFrame.from_ndarray(T.yuv420(out, np.zeros(3), 0.0, T.yuv_matrix(None, None)),
                                             format="yuv420p")
        else:
            rgb = np.round(out * 255).astype(np.uint8)
            yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        want.append(yuv.to_ndarray(format="rgb24"))
    enhance_video(clip, tmp_path / "out.mkv", crf=0)
    got, _, _ = read_clip(tmp_path / "out.mkv")
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.abs(g.astype(int) - w).max() <= 1


def test_webm_is_vp9_and_names_the_audio_it_cannot_hold(clip, tmp_path):
    report = enhance_video(clip, tmp_path / "out.webm", crf=30)
    _, facts, others = read_clip(tmp_path / "out.webm")
    assert facts["codec"] == "vp9" and others == []
    assert report.copied == () and "aac" in report.dropped[0]


def test_variable_frame_rate_rotation_and_colour_are_kept(tmp_path):
    _, noisy, _ = moving_square_clip(n=8)
    pts = [0, 40, 90, 100, 180, 250, 260, 300]
    colour = dict(color_primaries=1, color_trc=1, colorspace=1, color_range=1)  # BT.709, limited range
    src = write_clip(tmp_path / "vfr.mp4", to_uint8(noisy), pts=pts, rotation=90, colorspace=colour, audio=False)
    enhance_video(src, tmp_path / "out.mp4")
    _, facts, _ = read_clip(tmp_path / "out.mp4")
    _, src_facts, _ = read_clip(src)
    assert facts["pts"] == src_facts["pts"] and facts["time_base"] == src_facts["time_base"]
    assert facts["rotation"] == 90
    assert facts["colour"] == (1, 1, 1, 1)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".avi", ".webm"])
def test_the_sample_aspect_ratio_is_kept_or_said(tmp_path, suffix):
    """Non-square pixels (anamorphic video) came out square: the picture squeezed. VP9 (.webm) cannot hold them."""
    from fractions import Fraction

    src = write_clip(tmp_path / "sar.mp4", to_uint8(static_clip(n=3)[1]), sar=Fraction(4, 3), audio=False)
    report = enhance_video(src, tmp_path / f"out{suffix}")
    sar = read_clip(tmp_path / f"out{suffix}")[1]["sar"]
    if suffix == ".webm":
        assert sar != Fraction(4, 3) and report.warnings == (
            "the sample aspect ratio 4:3 (non-square pixels) is not kept: libvpx-vp9 has no field for it and PyAV "
            "cannot set the container's (write .mp4, .mov or .mkv to keep it)",)
    else:
        assert sar == Fraction(4, 3) and report.warnings == ()


@pytest.mark.parametrize("suffix", [".mov", ".mkv", ".webm", ".avi"])
def test_rotation_is_kept_or_said(tmp_path, suffix):
    """AVI stores no rotation: it was lost without a word."""
    src = write_clip(tmp_path / "rot.mp4", to_uint8(static_clip(n=3)[1]), rotation=90, audio=False)
    report = enhance_video(src, tmp_path / f"out{suffix}")
    rotation = read_clip(tmp_path / f"out{suffix}")[1]["rotation"]
    if suffix == ".avi":
        assert rotation == 0 and report.warnings == ("the rotation (90 degrees) is not kept: .avi cannot store it, "
                                                     "players show the frames unrotated (write .mp4, .mov or .mkv "
                                                     "to keep it)",)
    else:
        assert rotation == 90 and report.warnings == ()


def test_ten_bit_stays_ten_bit(tmp_path):
    _, noisy, _ = moving_square_clip(n=4)
    frames = [np.round(np.clip(f, 0, 1) * 65535).astype(np.uint16) for f in noisy]
    src = write_clip(tmp_path / "ten.mkv", frames, pix_fmt="yuv420p10le", audio=False)
    report = enhance_video(src, tmp_path / "out.mkv")
    out, facts, _ = read_clip(tmp_path / "out.mkv")
    assert report.pix_fmt == facts["pix_fmt"] == "yuv420p10le"
    assert out[0].dtype == np.uint16 and len(np.unique(out[2] % 64)) > 1  # finer than 8 bits


@pytest.mark.parametrize("suffix, size, pix_fmt", [(".mp4", (47, 63), "yuv444p"), (".mov", (47, 63), "yuv444p"),
                                                  (".mkv", (48, 63), "yuv444p"), (".mp4", (47, 64), "yuv444p"),
                                                  (".webm", (47, 63), "yuv420p"), (".avi", (47, 63), "yuv420p")])
def test_an_odd_frame_size_is_kept(tmp_path, suffix, size, pix_fmt):
    """x264 refuses 4:2:0 at an odd width or height (the run failed with "Generic error in an external library"):
    H.264 gets 4:4:4 there; VP9 and MPEG-4 pad 4:2:0 themselves. The frame size is never changed."""
    _, noisy = static_clip(n=4, h=size[0], w=size[1])
    src = write_clip(tmp_path / "odd.mkv", to_uint8(noisy), pix_fmt="yuv444p", audio=False)
    report = enhance_video(src, tmp_path / f"out{suffix}")
    frames, facts, _ = read_clip(tmp_path / f"out{suffix}")
    assert len(frames) == report.frames == 4 and frames[0].shape == (*size, 3)
    assert (facts["width"], facts["height"], facts["pix_fmt"]) == (size[1], size[0], report.pix_fmt) == \
        (size[1], size[0], pix_fmt)
    assert np.mean(frames[-1]) > np.mean(read_clip(src)[0][-1]) + 20


def test_a_frame_size_change_is_refused_and_leaves_nothing(tmp_path):
    """The encoder scaled the frames of a new size to the first one's, silently distorting them."""
    src = size_change_clip(tmp_path / "sizes.mkv")
    with pytest.raises(ValueError, match=r"sizes.mkv: frame 4 \(counting from 0\) is 80x64, the frames before it "
                                         r"64x48; a video file keeps one frame size. Cut .*Nothing was written"):
        enhance_video(src, tmp_path / "out.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["sizes.mkv"]


def test_never_overwrites_input_or_an_existing_output(clip, tmp_path):
    before = clip.read_bytes()
    with pytest.raises(ValueError, match="is the input video; skdce never overwrites its input"):
        enhance_video(clip, clip, overwrite=True)
    (tmp_path / "out.mp4").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        enhance_video(clip, tmp_path / "out.mp4")
    assert (tmp_path / "out.mp4").read_bytes() == b"keep me" and clip.read_bytes() == before
    enhance_video(clip, tmp_path / "out.mp4", overwrite=True)
    assert len(read_clip(tmp_path / "out.mp4")[0]) == 12


def test_an_encoder_error_ends_the_run_and_leaves_nothing(clip, tmp_path, monkeypatch):
    """An error in the encoding thread reaches the caller (and stops the decoding thread); nothing is written."""
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise av.error.InvalidDataError(1094995529, "broken encoder")  # an FFmpegError, as a codec raises them

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", broken)  # called by the encoding thread alone
    with pytest.raises(ValueError, match=r"the video could not be enhanced \(broken encoder\).*Nothing was written"):
        enhance_video(clip, tmp_path / "out.mp4")
    assert calls == [1] and list(tmp_path.iterdir()) == []


def test_an_interruption_leaves_nothing(clip, tmp_path):
    def stop(done, total):
        assert total == 12
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        enhance_video(clip, tmp_path / "out.mp4", progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_get_one_clear_message(clip, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ValueError, match=r"corrupt.mp4: cannot read the video \(.*\); the file may be truncated"):
        enhance_video(corrupt, tmp_path / "o1.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: len(clip.read_bytes()) // 3])
    with pytest.raises(ValueError, match="truncated.mp4"):
        enhance_video(truncated, tmp_path / "o2.mp4")
    _, noisy, _ = moving_square_clip(n=24)
    cut_short = write_clip(tmp_path / "cut.mkv", to_uint8(noisy))  # Matroska: readable up to where it stops
    cut_short.write_bytes(cut_short.read_bytes()[: cut_short.stat().st_size * 2 // 3])
    report = enhance_video(cut_short, tmp_path / "o0.mkv")
    assert 0 < report.frames < 24 and "before the 2.1" in report.warnings[0] and "truncated" in report.warnings[0]
    assert enhance_video(clip, tmp_path / "o00.mkv").warnings == ()
    (tmp_path / "o0.mkv").unlink()
    (tmp_path / "o00.mkv").unlink()
    audio_only = tmp_path / "audio.mkv"
    with av.open(str(audio_only), "w") as out:
        add_silence(out)
    with pytest.raises(ValueError, match=r"audio.mkv: the file has no video stream \(audio\)"):
        enhance_video(audio_only, tmp_path / "o3.mp4")
    no_frames = tmp_path / "empty.mkv"  # a video stream without frames, beside an audio stream
    with av.open(str(no_frames), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        add_silence(out)
    with pytest.raises(ValueError, match="empty.mkv: the video stream holds no frames; nothing to enhance"):
        enhance_video(no_frames, tmp_path / "o6.mp4")
    with pytest.raises(ValueError, match=r"the output of a video is a video file; name it with one of \.mp4"):
        enhance_video(clip, tmp_path / "o4.png")
    with pytest.raises(ValueError, match=r"crf=60 is out of range: crf must be an integer in \[0, 51\]"):
        enhance_video(clip, tmp_path / "o5.mp4", crf=60)
    with pytest.raises(ValueError, match="preset='quick': the encoder presets are ultrafast, superfast, veryfast"):
        enhance_video(clip, tmp_path / "o7.mp4", preset="quick")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.mkv", "corrupt.mp4", "cut.mkv", "empty.mkv",
                                                          "truncated.mp4"]


def test_subtitles_are_copied_where_the_container_holds_them(tmp_path):
    from fractions import Fraction

    _, noisy, _ = moving_square_clip(n=6)
    src = tmp_path / "sub.mkv"
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        s = out.add_mux_stream("subrip")  # SubRip text packets, muxed as they are
        s.time_base = Fraction(1, 1000)
        for i, f in enumerate(to_uint8(noisy)):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        for k, text in enumerate([b"a car", b"a light"]):
            packet = av.Packet(text)
            packet.stream, packet.pts, packet.dts, packet.duration = s, 200 * k, 200 * k, 150
            packet.time_base = Fraction(1, 1000)
            out.mux(packet)
    report = enhance_video(src, tmp_path / "out.mkv")
    assert report.copied == ("subtitle srt",)
    assert read_clip(tmp_path / "out.mkv")[2] == [("subtitle", b"a car", 0), ("subtitle", b"a light", 200)]
    report = enhance_video(src, tmp_path / "out.mp4")  # MP4 holds no SubRip: dropped, and said so
    assert report.copied == () and "'mp4' format does not support 'srt'" in report.dropped[0]


def test_a_second_video_stream_is_listed_as_dropped(tmp_path):
    """Only the first video stream is enhanced; the second was left out of the output without a word."""
    src = two_video_clip(tmp_path / "two.mp4")
    report = enhance_video(src, tmp_path / "out.mkv")
    assert report.frames == 4 and report.copied == ()
    assert report.dropped == ("video stream 1 (h264): only the first video stream is enhanced (ffmpeg -i two.mp4 "
                              "-map 0:1 -c copy two-1.mp4 makes a file of it to enhance alone)",)
    assert read_clip(tmp_path / "out.mkv")[1]["streams"] == ["video"]


def test_without_pyav_the_error_says_what_to_install(clip, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "av", None)  # import av raises ImportError
    with pytest.raises(ImportError, match=r"video needs PyAV .*pip install 'skdce\[video\]'"):
        enhance_video(clip, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []
