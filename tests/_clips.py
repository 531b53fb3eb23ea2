"""Tiny synthetic clips for the video tests: clean scenes, their noisy dark versions, and files written with PyAV."""

from fractions import Fraction

import numpy as np


def scene(h=48, w=64, seed=0):
    """A smooth, textured, well-exposed RGB scene in [0, 1] (float32), ``(h, w, 3)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.35 + 0.25 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
    tint = np.array([1.0, 0.85, 0.7], np.float32) + 0.05 * rng.standard_normal(3).astype(np.float32)
    return np.clip(base[..., None] * tint, 0, 1).astype(np.float32)


def dark_noisy(clean, gain=0.15, sigma=0.01, rng=None):
    """``clean * gain`` plus Gaussian noise of ``sigma`` (on the [0, 1] scale), clipped: a low-light frame."""
    rng = rng or np.random.default_rng()
    return np.clip(clean * gain + sigma * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)


def static_clip(n=12, h=48, w=64, sigma=0.01, seed=1):
    """``(clean, noisy)``: one still dark scene, fresh noise in every frame."""
    rng = np.random.default_rng(seed)
    clean = [scene(h, w)] * n
    return clean, [dark_noisy(c, sigma=sigma, rng=rng) for c in clean]


def moving_square_clip(n=12, h=48, w=64, size=12, step=4, sigma=0.005, seed=2):
    """``(clean, noisy, boxes)``: a bright square moving ``step`` pixels right per frame over a still scene."""
    rng = np.random.default_rng(seed)
    bg = scene(h, w)
    clean, boxes = [], []
    for i in range(n):
        frame = bg.copy()
        x0, y0 = 2 + step * i, (h - size) // 2
        frame[y0 : y0 + size, x0 : x0 + size] = 0.95
        clean.append(frame)
        boxes.append((y0, x0))
    return clean, [dark_noisy(c, sigma=sigma, rng=rng) for c in clean], boxes


def pan_clip(n=12, h=48, w=64, step=2, sigma=0.01, seed=3):
    """``(clean, noisy)``: a camera panning ``step`` pixels per frame across a larger scene."""
    rng = np.random.default_rng(seed)
    big = scene(h, w + step * n, seed=5)
    clean = [np.ascontiguousarray(big[:, step * i : step * i + w]) for i in range(n)]
    return clean, [dark_noisy(c, sigma=sigma, rng=rng) for c in clean]


def psnr(a, b):
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def write_clip(path, frames, *, fps=12, audio=True, codec="libx264", pix_fmt="yuv420p", container=None,
               pts=None, rotation=None, colorspace=None, sar=None):
    """Write uint8 RGB ``frames`` with PyAV (lossless H.264 by default), with an AAC tone if ``audio``.

    ``pts``: each frame's timestamp in ticks of 1/1000 s (variable frame rate); default one frame per 1/fps.
    ``sar``: the sample aspect ratio (a Fraction) of non-square pixels.
    """
    import av

    with av.open(str(path), "w", format=container) as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        if codec == "libx264":
            v.codec_context.options = {"crf": "0" if pix_fmt == "yuv420p" else "1", "preset": "ultrafast"}
        if pts is not None:
            v.time_base = v.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            v.set_display_rotation(rotation)
        if sar is not None:
            v.codec_context.sample_aspect_ratio = sar
        if colorspace is not None:
            for key, value in colorspace.items():
                setattr(v.codec_context, key, value)
        a = None
        if audio:
            a = out.add_stream("aac", rate=8000)
            a.layout = "mono"
        rgb = "rgb48le" if frames[0].dtype == np.uint16 else "rgb24"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=rgb).reformat(format=pix_fmt)
            frame.pts = i if pts is None else pts[i]
            if pts is not None:
                frame.time_base = Fraction(1, 1000)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            n = int(8000 * len(frames) / fps)
            t = np.arange(n) / 8000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = 8000, start
                for p in a.encode(frame):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


def size_change_clip(path, first=(48, 64), then=(64, 80), n=4):
    """An H.264 clip of ``n`` frames of size ``first`` (h, w), then ``n`` of size ``then``, in one video stream.

    The second part comes from an encoder of its own, which writes its parameter sets in the stream: the decoder
    changes size there, as at a camera's switch of resolution.
    """
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.height, v.width, v.pix_fmt = *first, "yuv420p"
        second = av.CodecContext.create("libx264", "w")
        second.height, second.width, second.pix_fmt, second.time_base = *then, "yuv420p", Fraction(1, 12)
        for enc, (h, w), start in ((v, first, 0), (second, then, n)):
            for i, f in enumerate(to_uint8(static_clip(n=n, h=h, w=w)[1])):
                frame = av.VideoFrame.from_ndarray(f, format="rgb24")
                frame.pts = start + i
                for p in enc.encode(frame):
                    p.stream = v
                    out.mux(p)
            for p in enc.encode(None):
                p.stream = v
                out.mux(p)
    return path


def two_video_clip(path, n=4):
    """A clip of two H.264 video streams (the same ``n`` frames, 64x48), as a camera's main and preview streams."""
    import av

    frames = to_uint8(static_clip(n=n)[1])
    with av.open(str(path), "w") as out:
        streams = [out.add_stream("libx264", rate=12) for _ in range(2)]
        for v in streams:
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i, f in enumerate(frames):
            for v in streams:
                frame = av.VideoFrame.from_ndarray(f, format="rgb24")
                frame.pts = i
                for p in v.encode(frame):
                    out.mux(p)
        for v in streams:
            for p in v.encode(None):
                out.mux(p)
    return path


def add_silence(out):
    """An AAC stream of one frame of silence (8 kHz, mono), muxed into the open PyAV container ``out``."""
    import av

    a = out.add_stream("aac", rate=8000)
    a.layout = "mono"
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate = 8000
    for p in [*a.encode(frame), *a.encode(None)]:
        out.mux(p)


def to_uint8(frames):
    return [np.round(np.clip(f, 0, 1) * 255).astype(np.uint8) for f in frames]


def read_clip(path):
    """``(rgb frames, video stream facts, [(stream index, packet bytes, pts)] of the other streams)``."""
    import av

    with av.open(str(path)) as inp:
        v = inp.streams.video[0]
        facts = dict(codec=v.codec_context.name, pix_fmt=v.codec_context.pix_fmt, time_base=v.time_base,
                     sar=v.sample_aspect_ratio,
                     rate=v.average_rate, width=v.codec_context.width, height=v.codec_context.height,
                     streams=[s.type for s in inp.streams])
        frames, pts, others = [], [], []
        for packet in inp.demux():
            if packet.stream.type == "video":
                for frame in packet.decode():
                    frames.append(frame.to_ndarray(format="rgb48le" if "10" in facts["pix_fmt"] else "rgb24"))
                    pts.append(frame.pts)
                    facts.setdefault("rotation", frame.rotation)
                    facts.setdefault("colour", (frame.color_range, frame.colorspace, frame.color_primaries,
                                                frame.color_trc))
            elif packet.dts is not None:
                others.append((packet.stream.type, bytes(packet), packet.pts))
        facts["pts"] = pts
    return frames, facts, others
