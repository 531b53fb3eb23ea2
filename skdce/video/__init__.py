"""Low-light video: frames enhanced steadily over time, with temporal denoising; files through PyAV.

:class:`VideoEnhancer` takes the frames of one shot in order (:meth:`~VideoEnhancer.push`)
and keeps what a frame-by-frame loop over :func:`skdce.enhance` throws away:

1. **Temporal denoising.** Each pixel keeps a running average of the frames
   (a recursive filter). Before a frame is added, the average is moved by the
   frame's global translation (a pan, found by cross-correlation), and each
   pixel keeps only as much of its past as the difference to the new frame
   allows: where it is within the noise level the past stays (up to
   ``8 * temporal`` frames of it), where something moved or changed it goes,
   so moving things do not ghost. The curves are estimated on that average,
   and the spatial denoiser (the guided filter of :func:`skdce.denoise.guided_denoise`, its coefficients
   computed at half resolution on frames of even size: :func:`skdce.video._temporal.guided_half`) removes
   what noise is left: per pixel, ``sigma * sqrt(v)`` of input noise (``v``
   the variance left by the average) times what the curves add,
   ``sqrt(curve_gain**2 - 1)``, as in :func:`skdce.enhance`.
2. **Steady curves.** The per-pixel curve parameters (alpha maps) are a
   moving average over time where the scene and the camera are still (time
   constant ``temporal`` seconds); the new estimate is taken where the scene
   moved, while the camera moves and when the level of the still part changed
   by 3%. A frame in which most pixels changed (a cut, a light switched on)
   restarts the whole state, so a new exposure is adopted at once: the
   smoothing never lags behind a real change.

Videos default to the ``zero-dce++`` model (:data:`VIDEO_MODEL`).

:func:`enhance_video` runs the demux, decode, enhance, encode, mux loop of a
video file with PyAV (``pip install 'skdce[video]'``): frames are streamed
(memory stays flat for any length), audio and subtitle packets are copied
untouched, timestamps (variable frame rate included), time base, rotation and
colour metadata are kept, and the output is written to a temporary file and
renamed into place.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._base.image import to_float, unit_scale
from .._base.validate import check_image_arg, check_int, check_num_threads, check_real
from ..engine.stages.noise import filter_noise_level, rounding_noise

__all__ = ["VideoEnhancer", "enhance_video", "VideoReport"]

#: File suffixes read as videos, and the container each is written as.
VIDEO_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
#: The encoder tried first for each container, then the fallbacks (the first the bundled FFmpeg has).
_CODECS = {
    "mp4": ("libx264", "h264", "mpeg4"),
    "mov": ("libx264", "h264", "mpeg4"),
    "matroska": ("libx264", "h264", "libvpx-vp9", "mpeg4"),
    "webm": ("libvpx-vp9", "libvpx", "libaom-av1"),
    # AVI holds no timestamps (one frame per tick) and handles B-frames badly: MPEG-4 part 2, I and P frames
    "avi": ("mpeg4", "libx264"),
}
#: Default constant rate factor (x264 and VP9 scales: lower is better, 0 lossless for x264).
DEFAULT_CRF = 18
#: Containers that store no rotation (display matrix): AVI.
_NO_ROTATION = ("avi",)
#: Encoders whose bitstream holds no sample aspect ratio: in .webm it is lost (Matroska stores it in the
#: stream, which PyAV cannot set).
_NO_SAR = ("libvpx-vp9", "libvpx", "libaom-av1")
#: Encoders that refuse 4:2:0 at an odd width or height (:func:`_pick_codec` gives them 4:4:4 there).
_NO_ODD_420 = ("libx264", "libx265")
#: The speed presets of x264 and x265, fastest first, and the default of videos (the encoder's own
#: default, "medium", took about as long as the enhancement of a 720p frame).
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEFAULT_PRESET = "veryfast"
#: The model of a video when none is named. Zero-DCE++ estimates its curves on a 12x smaller copy of
#: the frame (about 10x faster than the full zero-dce-int8 at 720p, LOL 18.81 against 18.87 dB), and its
#: curve is nearly global within a frame, which the smoothing over time holds steady.
VIDEO_MODEL = "zero-dce++"
#: Frames of past a still pixel keeps at most, per unit of ``temporal``.
_MAX_FRAMES = 8
#: Time constant of the curve smoothing where the scene is still, in seconds per unit of ``temporal``
#: (a light crossing a still scene changes the estimate of the whole frame: the still part keeps its curves).
_CURVE_SECONDS = 1.0
#: A change of the mean level of the still pixels by more than this share rescales the running average
#: and adopts the new curves at once.
_LEVEL_CHANGE = 0.03
#: The noise level is measured on every this many frames (and at every restart).
_NOISE_EVERY = 8
#: The noise a uint8 frame has at least: its rounding (1/sqrt(12) of a step; skdce.enhance's floor too).
_NOISE_FLOOR = rounding_noise(np.uint8)


def require_av():
    """Import PyAV, or raise ImportError saying what to install."""
    try:
        import av
    except ImportError as exc:
        raise ImportError("video needs PyAV (FFmpeg's libraries for Python): pip install 'skdce[video]' "
                          "(or pip install av)") from exc
    return av


class VideoEnhancer:
    """Enhance the frames of a video one by one, in order, steadily over time.

    Parameters
    ----------
    model : str, os.PathLike or ModelInfo, optional
        As for :func:`skdce.enhance`; default ``"zero-dce++"`` (fast on large frames; ``skdce.video.VIDEO_MODEL``).
    strength : float, optional
        Curve strength, 0 to 2 (see :func:`skdce.enhance`).
    denoise : float, optional
        Strength of the spatial noise removal after the curves, 0 to 4 (see
        :func:`skdce.enhance`); the temporal average runs whenever ``temporal > 0``.
    temporal : float, optional
        0 to 4. 0 enhances every frame alone (exactly ``skdce.enhance(frame, model=...)``);
        1 (the default) averages a still pixel over up to 8 frames and smooths
        the curves of still regions with a time constant of 1 s; larger
        values average and smooth longer.
    fps : float, optional
        Frames per second of the stream, which sets the curve smoothing per frame (default 30).
    providers, num_threads, tile_size
        As for :func:`skdce.enhance`.
    exposure : "auto" or float, optional
        As for :func:`skdce.enhance`: the model's exposure, or stops more or less.

    Attributes
    ----------
    frames : int
        Frames pushed so far.
    cuts : int
        Frames at which the state restarted (the first frame, cuts, a light switched on, a size change).

    Notes
    -----
    Frames are ``(H, W, 3)`` RGB arrays, uint8, uint16 or float in [0, 1]
    (OpenCV's BGR frames: ``frame[..., ::-1]``). :meth:`push` returns the
    enhanced frame as float32 in [0, 1] (``np.round(out * 255).astype(np.uint8)``
    for 8-bit frames).

    Examples
    --------
    >>> import numpy as np, skdce.video
    >>> enhancer = skdce.video.VideoEnhancer()
    >>> frames = [np.full((24, 32, 3), 20, np.uint8) for _ in range(3)]
    >>> out = [enhancer.push(f) for f in frames]
    >>> out[0].dtype, out[0].shape, enhancer.frames, enhancer.cuts
    (dtype('float32'), (24, 32, 3), 3, 1)
    """

    def __init__(self, *, model=None, strength=1.0, denoise=1.0, temporal=1.0, fps=30.0, providers="auto",
                 num_threads=None, tile_size="auto", exposure="auto"):
        from ..engine.plan import check_denoise, check_strength
        from ..models import default_model, get_model, list_models

        self.temporal = check_real("temporal", temporal, lo=0, hi=4, hint="0 enhances each frame alone, 1 is the "
                                   "default smoothing and temporal denoising.")
        self.strength = check_strength(strength)
        self.denoise = check_denoise(denoise)
        fps = check_real("fps", fps, lo=0, lo_open=True, hint="the stream's frame rate, e.g. 30.")
        from ..tone import check_exposure

        self.exposure = check_exposure(exposure)  # stops after the curves, as skdce.enhance (skdce.tone)
        self._exposure_arg = exposure  # as given, for skdce.enhance (temporal=0)
        if model is None:
            model = VIDEO_MODEL if VIDEO_MODEL in list_models() else default_model(providers)
        self.model = get_model(model)
        from ..engine.plan import auto_exposure_of

        self._auto_exposure = auto_exposure_of(exposure, self.model)  # on the running average's small copy
        num_threads = check_num_threads(num_threads)
        self._options = dict(providers=providers, num_threads=num_threads, tile_size=tile_size)
        self._pass_threads = num_threads  # of the per-pixel passes (the file loop gives each of its stages some)
        self._scratch = [None]  # the working memory of the spatial filter, kept from frame to frame
        self.max_frames = 1 + _MAX_FRAMES * self.temporal
        # per-frame weight of a new curve estimate where the scene is still
        self.curve_rate = 1.0 if self.temporal == 0 else min(1.0, 1.0 / (fps * _CURVE_SECONDS * self.temporal))
        self.frames = 0
        self.cuts = 0
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts the state afresh (e.g. after a seek)."""
        self._average = None  # (H, W, 3) float32: the running average of the input frames
        self._variance = None  # (H, W) float32: its noise variance, in units of one frame's
        self._alphas = None  # the smoothed curve parameters (small maps for a shared-curve model)
        self._sigma = None  # one frame's noise standard deviation, smoothed over time
        self._luma = None  # (H, W) float32: the luminance of the running average
        self._small = None  # (h, w, 3) float32: the running average as the network of a shared-curve model sees it
        self._whites = None  # (1,): the running average's white area (auto exposure's white_areas)
        self._stops = None  # auto exposure's stops, smoothed like the curves
        self._lit = None  # whether the running average holds a light of its own (auto exposure then adds none)
        self._spare = None  # the arrays of the state before the last, which the next frame's state is written into

    def push(self, frame) -> np.ndarray:
        """Enhance the next frame; returns an ``(H, W, 3)`` float32 array in [0, 1]."""
        return self._push_as(frame, None)

    def _push_as(self, frame, dtype, deferred: bool = False, yuv=None):
        """:meth:`push`, the result rounded to the unsigned ``dtype`` (:func:`skdce._base.image.to_uint`) unless None
        (the file loop: the black point and the rounding in one pass), or with ``yuv`` (a matrix of
        :func:`skdce.video._temporal.yuv_matrix`) converted to 8-bit YUV 4:2:0 in that pass: a ``(3 H / 2, W)``
        uint8 array (:func:`skdce.video._temporal.yuv420`; ``dtype`` is then ignored).

        With ``deferred`` the temporal state is updated and the curves applied, and a function is returned
        that computes the rest (the spatial filter, the tone stage) and returns the frame: the file loop
        calls it on its encoding thread, beside the next frame's temporal steps.
        """
        from .. import enhance
        from .._base.image import to_uint

        check_image_arg(frame, "frame", "VideoEnhancer.push")
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise ValueError(f"frame has shape {frame.shape}; VideoEnhancer takes (H, W, 3) RGB frames "
                             f"(convert gray with np.repeat(frame[..., None], 3, axis=-1), "
                             f"OpenCV BGR with frame[..., ::-1]).")
        self.frames += 1
        if self.temporal == 0:
            self.cuts += self.frames == 1
            out = enhance(frame, model=self.model, strength=self.strength, denoise=self.denoise,
                          exposure=self._exposure_arg, **self._options)
            if yuv is not None:
                from . import _temporal as T

                out = T.yuv420(out, np.zeros(3), 0.0, yuv, self._pass_threads)
            elif dtype is not None:
                out = to_uint(out, dtype, consume=True)
            return (lambda: out) if deferred else out
        if frame.dtype in (np.uint8, np.uint16):  # read as they are by the temporal passes, scaled on the fly
            x, scale = np.ascontiguousarray(frame), float(unit_scale(frame.dtype))
        else:
            x, scale = np.ascontiguousarray(to_float(frame, "frame"), np.float32), 1.0
        finish = self._push(x, scale, dtype, yuv)
        return finish if deferred else finish()

    # ----------------------------------------------------------------------------------------

    def _noise(self, x: np.ndarray) -> float:
        if self._sigma is not None and self.frames % _NOISE_EVERY:
            return self._sigma  # the noise of a stream changes slowly: measured every few frames
        # skdce.enhance's level (noise_level, or more where a JPEG's 8x8 blocks show: H.264's deblocked frames
        # rarely show them), and at least a uint8 frame's rounding whatever the frame's type
        sigma = max(filter_noise_level(x[..., :3]), _NOISE_FLOOR)
        if self._sigma is not None:
            sigma = 0.8 * self._sigma + 0.2 * sigma  # the estimate of one frame wobbles; the noise rarely does
        self._sigma = sigma
        return sigma

    def _push(self, x: np.ndarray, scale: float, dtype=None, yuv=None):
        """Update the state with the frame ``x * scale``; the function that finishes the frame (:meth:`_finisher`)."""
        from . import _temporal as T

        threads = self._pass_threads
        luma = T.luma(x, scale, threads)
        h, w = luma.shape
        restart = self._average is None or self._average.shape != x.shape
        if restart:
            self.reset()
        sigma = self._noise(x)
        stop_rate = 1.0  # how far this frame's auto exposure moves toward its own (1: all the way)
        if not restart:
            dy, dx = T.global_shift(self._luma, luma)
            keep, (moving, still, sum_luma, sum_past) = T.weigh(luma, self._luma, self._variance, sigma, dy, dx,
                                                                num_threads=threads)
            restart = moving > T.CUT_SHARE * h * w
            # a moving camera brings new content into view, which the curves must follow (they are
            # estimated on the running average, steady already); a still one keeps them
            curve_rate = self.curve_rate if (dy, dx) == (0, 0) else 1.0
            # How much brighter the still part is than its running average. A light dimmed slowly or a
            # camera's exposure ramp changes each frame by no more than the noise, yet it is a real
            # change: the running average is rescaled to it and the curves follow it at once.
            level = sum_luma / sum_past if sum_past > 0.002 * still > 0 else 1.0
            if not restart and abs(level - 1) > _LEVEL_CHANGE:
                keep, _ = T.weigh(luma, self._luma, self._variance, sigma, dy, dx, level, threads)
                curve_rate = 1.0
            else:
                level = 1.0
        if restart:
            self.cuts += 1
            self._average = T.as_float(x, scale)
            self._variance = np.ones((h, w), np.float32)
            self._luma = luma
            self._alphas = self._estimate()
        else:
            # the state before this one is written over: no new memory (whose pages the kernel zeroes) a frame
            spare, self._spare = self._spare, (self._average, self._variance, self._luma)
            self._average, self._variance, self._luma = T.accumulate(x, scale, self._average, self._variance, keep,
                                                                     dy, dx, level, self.max_frames, threads,
                                                                     out=spare)
            new = self._estimate()
            if curve_rate < 1:  # blended in place where the scene is still: new <- old + (new - old) * rate
                rate = np.maximum(1 - self._at_maps(keep, new.shape[:2]), np.float32(curve_rate))
                stop_rate = float(rate.mean())  # the exposure, one for the frame, at the maps' mean rate
                new -= self._alphas
                new *= rate.reshape(rate.shape + (1,) * (new.ndim - 2))
                new += self._alphas
            self._alphas = new  # (where the camera moved, the past curves are not used: no need to shift them)
        return self._finisher(sigma, dtype, yuv, stop_rate)

    def _shared(self) -> bool:
        """Whether the model's curve is estimated on a small copy (Zero-DCE++): the state keeps small maps."""
        return bool(self.model.shared_curve)

    def _estimate(self) -> np.ndarray:
        """The curves of the running average: ``(h, w, 3)`` small maps of a shared-curve model (its network
        sees the frame box-downscaled to its ``net_size``, as :func:`skdce.estimate_curves`), else full-size."""
        from .. import estimate_curves
        from ..engine.stages.boxes import box_downscale, small_size
        from ..engine.stages.network import image_whites

        if not self._shared():
            return np.asarray(estimate_curves(self._average, model=self.model, **self._options), np.float32)
        h, w = self._average.shape[:2]
        info = self.model
        factor = max(1.0, max(h, w) / info.net_size) if info.net_size else float(info.scale_factor)
        size = small_size(h, w, factor)
        self._small = box_downscale(self._average[None], size)[0] if size != (h, w) else self._average
        if self._auto_exposure:  # how near white the frame gets, as skdce.enhance reads it
            self._whites = image_whites(self._average[None], 3)
        # one thread of ONNX Runtime: the network of a 64-pixel copy takes about a millisecond, and the
        # idle threads of a larger pool spin after each run, taking the cores from the passes around it
        options = dict(self._options, num_threads=1)
        return np.array(estimate_curves(self._small, model=self.model, scale_factor=1.0, **options), np.float32)

    @staticmethod
    def _at_maps(keep: np.ndarray, size) -> np.ndarray:
        """``keep`` at the resolution of the curve maps (box means over their pixels)."""
        from ..engine.stages.boxes import box_downscale

        return keep if keep.shape == tuple(size) else box_downscale(keep[None, ..., None], tuple(size))[0, ..., 0]

    def _finisher(self, sigma: float, dtype=None, yuv=None, stop_rate: float = 1.0):
        """The curves applied to the running average and the strength map of the spatial filter; returns the
        function that finishes the frame: the spatial filter and the tone stage of :func:`skdce.enhance` (it
        reads no state: a later frame may change it)."""
        from .. import apply_le_curves
        from ..engine.stages.network import finish_maps, limit_maps, own_result
        from ..engine.stages.tone import auto_exposure, lit_by_a_light, noise_limit, noise_stretch, total_exposure
        from ..engine.stages.tone import finish_tone as finish_small
        from ..tone import black_lift
        from . import _temporal as T

        threads = self._pass_threads
        n_iter = self.model.iterations
        a = finish_maps(self._alphas, 3, self.strength)  # the maps' strength and bounds, as skdce.enhance
        if self._shared() and self._auto_exposure:  # auto exposure's noise limit, from a frame's noise as a still's
            a = limit_maps(a, noise_limit(a, self._small, sigma, n_iter))
        h, w = self._average.shape[:2]
        lift, stops = np.zeros(3), 0.0
        if self._shared():
            from ..engine.stages.boxes import BilinearUpsampler
            from ..engine.stages.curve import run_blocks_upsampled

            y = np.empty((h, w, 3), np.float32)
            # the curve kernel upsamples the small maps block by block: no full-size map is stored
            if not run_blocks_upsampled(self._average[None], y[None], 3, BilinearUpsampler(a[None], (h, w)),
                                        n_iter=n_iter, int_scale=None, num_threads=threads):
                from ..engine.stages.boxes import bilinear_upsample

                y = apply_le_curves(self._average, bilinear_upsample(a[None], (h, w))[0], n_iter=n_iter)
            if self.model.black_point or self._auto_exposure:  # the tone of the running average, as skdce.enhance's
                after = apply_le_curves(self._small, a, n_iter=n_iter)
                if self.model.black_point:
                    lift = black_lift(self._small[None], after[None])[0] * self.model.black_point
                if self._auto_exposure:  # on the model's own result (strength 1), then scaled, as skdce.enhance
                    own, own_lift = after[None], lift[None]
                    if self.strength != 1.0:
                        own, found = own_result(self._alphas, self._small, self._small[None], n_iter, sigma,
                                                self.model.black_point)
                        own_lift = own_lift if found is None else found
                    stops = self.strength * float(auto_exposure(finish_small(own, own_lift),
                                                                small_input=self._small[None], whites=self._whites)[0])
                    # smoothed like the curves (the white point's ramp with them), except where a light entering
                    # or leaving the frame turns the rule for lit scenes on or off: then at once (tests/test_video.py)
                    lit = bool(lit_by_a_light(self._small[None])[0])
                    if self._stops is not None and lit == self._lit:
                        stops = self._stops + (stops - self._stops) * stop_rate
                    self._stops, self._lit = stops, lit
        else:
            y = apply_le_curves(self._average, a, n_iter=n_iter)
        # the strength of the spatial filter: as strong, per pixel, as the noise the average left times what
        # the curves add, and what the black point stretches (skdce.enhance's filter, steered by the state)
        # the denoiser removes what the tone steps applied stretch (skdce.engine.host.tone_stretch)
        exposure = total_exposure(self.exposure, stops if stops else None)
        stretch = noise_stretch(lift, exposure)
        noise = self._noise_map(a, self.denoise * sigma * stretch, threads) if self.denoise else None

        scratch = self._scratch

        def finish():
            from ..engine.stages.guided import denoise_bands

            if noise is None:
                out = y
            elif h % 2 == 0 and w % 2 == 0:  # the fast guided filter (T.guided_half); y is this frame's own
                out, scratch[0] = T.guided_half(y, noise, scratch[0], in_place=True)
            else:
                out = denoise_bands(y, noise, threads)
            if yuv is not None:
                return T.yuv420(out, lift, exposure, yuv, threads)
            return T.finish_tone(out, lift, exposure, threads, out_dtype=dtype)

        return finish

    def _noise_map(self, a, amount, threads) -> np.ndarray:
        from .. import curve_gain
        from . import _temporal as T

        n_iter = self.model.iterations
        if self._shared():
            return T.noise_map(self._luma, self._variance, a.mean(axis=-1), n_iter, amount, threads)
        h, w = self._luma.shape  # the slope of the channel-mean curve at the channel-mean level, as skdce.enhance
        gain = curve_gain(self._luma, a.reshape(h, w, a.shape[-1] // 3, 3).mean(axis=-1), n_iter=n_iter,
                          channel_axis=None)
        return np.float32(amount) * np.sqrt(self._variance) * np.sqrt(np.maximum(gain * gain - 1, 0))


# --------------------------------------------------------------------------------------------
# Files: the PyAV loop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoReport:
    """What :func:`enhance_video` wrote."""

    frames: int
    width: int
    height: int
    codec: str
    pix_fmt: str
    copied: tuple = ()  # the streams copied untouched, e.g. ("audio aac",)
    dropped: tuple = ()  # streams not in the output (the container cannot hold them, a second video), each with why
    warnings: tuple = ()  # e.g. a file that ends before the duration its header announces (truncated)
    seconds: float = 0.0


@dataclass
class _Probe:
    """The first frame of the video stream, and what the output copies from it."""

    fps: object  # a Fraction, or None where the container does not say
    width: int
    height: int
    bits: int
    rotation: float
    colour: dict = field(default_factory=dict)
    total: int | None = None
    sar: object = None  # the sample (pixel) aspect ratio, a Fraction; None where unknown


def _probe(av, src: Path) -> _Probe:
    """Open ``src`` and decode its first video frame (a clear ValueError for everything that is not a video)."""
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                kinds = ", ".join(sorted({s.type for s in inp.streams})) or "no streams"
                raise ValueError(f"{src}: the file has no video stream ({kinds}); skdce enhances video streams.")
            stream = inp.streams.video[0]
            for frame in _frames(av, inp, stream):
                bits = max((c.bits for c in frame.format.components), default=8)
                colour = {k: getattr(frame, k, None) for k in ("color_range", "colorspace", "color_primaries",
                                                               "color_trc")}
                fps = stream.average_rate or stream.guessed_rate or stream.base_rate
                sar = stream.sample_aspect_ratio  # the container's, else the codec's; 0 (None here) where unknown
                return _Probe(fps, frame.width, frame.height, bits, float(getattr(frame, "rotation", 0) or 0),
                              colour, stream.frames or None, sar or None)
    except av.error.FFmpegError as exc:
        raise ValueError(f"{src}: cannot read the video ({_reason(exc)}); the file may be truncated, corrupt or "
                         f"not a video.") from None
    raise ValueError(f"{src}: the video stream holds no frames; nothing to enhance.")


def _frames(av, container, stream):
    """The decoded frames of ``stream``; the end of the file ends them (some demuxers raise EOFError there)."""
    try:
        yield from container.decode(stream)
    except av.error.EOFError:
        return


def _yuv_tags(colorspace, color_range) -> tuple[int, int]:
    """The ``(colorspace, color_range)`` tags PyAV's ``reformat(format="yuv420p", dst_colorspace=colorspace,
    dst_color_range=color_range)`` gives an RGB frame's result (it reads ``colorspace`` as one of swscale's
    matrices and tags the frame with the AVColorSpace of that, unspecified (2) where there is none)."""
    tags = {1: 1, 4: 4, 5: 6, 7: 7, 9: 9}
    return tags.get(int(colorspace) if colorspace is not None else None, 2), int(color_range or 0)


def _reason(exc) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '")[0] if text else type(exc).__name__


def _pick_codec(av, container: str, codec: str | None, bits: int, width: int, height: int) -> tuple[str, str]:
    """``(encoder, pixel format)``: H.264 yuv420p where the container takes it, 10-bit where the input and codec are.

    4:2:0 holds one chroma sample per 2x2 pixels: at an odd width or height x264 refuses it (MPEG-4 part 2 and
    VP9 pad it), so H.264 and H.265 get 4:4:4 there, the frame size unchanged (High 4:4:4 profile, which some
    hardware players cannot play).
    """
    names = (codec,) if codec is not None else _CODECS[container]
    for name in names:
        try:
            enc = av.codec.Codec(name, "w")
        except av.codec.codec.UnknownCodecError:  # not in this FFmpeg build
            continue
        formats = [f.name for f in (enc.video_formats or ())]
        chroma = "yuv420p"
        if (width % 2 or height % 2) and enc.name in _NO_ODD_420:
            chroma = "yuv444p"
            if chroma not in formats:
                raise ValueError(f"the video is {width}x{height}, an odd size, which {enc.name} encodes in 4:4:4 "
                                 f"only, and this build's {enc.name} has no 4:4:4; write .webm or .avi instead "
                                 f"(they take odd sizes).")
        if bits > 8 and f"{chroma}10le" in formats:
            return name, f"{chroma}10le"
        return name, chroma
    if codec is not None:
        raise ValueError(f"codec={codec!r}: this FFmpeg build (PyAV {av.__version__}) has no such encoder; "
                         f"try 'libx264', 'libvpx-vp9' or 'mpeg4'.")
    raise ValueError(f"no encoder for {container} in this FFmpeg build (tried {', '.join(names)}); "
                     f"write an .mp4 or .mkv instead.")


def _encoder_options(name: str, crf: int, preset: str) -> dict:
    if name in ("libx264", "h264", "libx265"):
        return {"crf": str(crf), "preset": preset}
    if name in ("libvpx-vp9", "libvpx"):
        return {"crf": str(crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
    if name == "libaom-av1":
        return {"crf": str(crf), "b": "0", "cpu-used": "6"}
    # MPEG-4 part 2: a fixed quantiser, 2 (best) to 31, from the CRF scale
    return {"qscale": str(max(2, min(31, round(crf / 6))))}


class _Pipeline:
    """The threads of :func:`enhance_video` beside the caller's, and the bounded queues between them.

    A stage that fails sets :attr:`stop` and keeps its exception; every
    :meth:`put` and :meth:`get` then raises it in the other stages, so an
    error in any stage ends the run (and the caller's exception, Ctrl-C
    included, stops the threads on leaving the ``with`` block).
    """

    def __init__(self, depth: int = 3):
        import queue
        import threading

        self.stop = threading.Event()
        self.inbox, self.outbox = queue.Queue(depth), queue.Queue(depth)
        self.errors: list[BaseException] = []
        self.threads = []
        self.end = -math.inf  # the end of the last packet read, in seconds

    def _raise(self):
        raise self.errors[0] if self.errors else _Abandoned()

    def put(self, q, item) -> None:
        import queue

        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        self._raise()

    def get(self, q):
        import queue

        while True:
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                if self.stop.is_set():
                    self._raise()

    def start(self, work) -> None:
        import threading

        def run():
            try:
                work()
            except _Abandoned:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self.errors.append(exc)
                self.stop.set()

        thread = threading.Thread(target=run, name=f"skdce-video-{work.__name__}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def finish(self) -> None:
        """Wait for the stages to end; raise the first error of any."""
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()
        return False


class _Abandoned(Exception):
    """A stage of :class:`_Pipeline` stopped because another one ended the run."""


def enhance_video(src, dst, *, model=None, strength=1.0, denoise=1.0, temporal=1.0, crf=None, codec=None,
                  overwrite=False, providers="auto", num_threads=None, tile_size="auto", progress=None,
                  exposure="auto", preset=None):
    """Enhance a video file into a new video file, frame by frame, steadily over time.

    Parameters
    ----------
    src : str or os.PathLike
        The input video (anything the FFmpeg in PyAV's wheel reads: .mp4, .mov, .mkv, .webm, .avi, ...).
    dst : str or os.PathLike
        The output: ``.mp4``, ``.m4v``, ``.mov``, ``.mkv``, ``.webm`` or ``.avi``. Never the input.
    model, strength, denoise, temporal, providers, num_threads, tile_size, exposure
        As for :class:`VideoEnhancer`.
    crf : int, optional
        Constant rate factor of the encoder, 0 to 51 (lower is better and larger; default 18, visually
        lossless for H.264). For MPEG-4 (.avi) it sets the quantiser ``round(crf / 6)``.
    codec : str, optional
        The encoder; default H.264 (``libx264``) for .mp4, .mov and .mkv, VP9 for .webm, MPEG-4 for .avi.
    preset : str, optional
        The H.264/H.265 encoder's speed preset, ``"ultrafast"`` to ``"veryslow"`` (default ``"veryfast"``:
        at CRF 18 it keeps the quality, and encodes about twice as fast as x264's own default, ``"medium"``,
        for a somewhat larger file). Other encoders ignore it.
    overwrite : bool, optional
        Replace an existing ``dst`` (never the input).
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each frame (``frames_total`` is None where the
        container does not say). An exception it raises stops the run; nothing is written then.

    Returns
    -------
    VideoReport
        Frames written, size, codec, pixel format, the streams copied and dropped, warnings (a file
        that ends before the duration its header announces), seconds.

    Notes
    -----
    The frames are decoded, enhanced and encoded as a stream: memory does
    not grow with the length. Audio, subtitle and data packets are copied
    as they are (no re-encoding); a stream the output container cannot hold
    is dropped and listed in :attr:`VideoReport.dropped`, as is a video stream
    after the first (the one enhanced). The video keeps
    its time base and every frame its timestamp (variable frame rate
    included; AVI, which has no timestamps, gets one frame per tick),
    its rotation (not in .avi: a warning says so), sample aspect ratio (not
    in .webm: a warning says so) and colour metadata (primaries, transfer,
    matrix, range). Input
    with more than 8 bits stays 10-bit (yuv420p10le) where the encoder
    has it (H.264 here). At an odd width or height H.264 is 4:4:4 (yuv444p; x264
    has no 4:2:0 there), the frame size kept. A frame size that changes midway
    is refused (ValueError). The output is written to a temporary file beside
    ``dst`` and renamed into place at the end: an error or Ctrl-C leaves nothing.
    """
    import time

    from ..engine.workers import threads as worker_threads
    from ..io._atomic import atomic_path

    av = require_av()
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    container = VIDEO_SUFFIXES.get(dst.suffix.lower())
    if container is None:
        raise ValueError(f"dst={str(dst)!r}: the output of a video is a video file; name it with one of "
                         f"{', '.join(VIDEO_SUFFIXES)}.")
    crf = DEFAULT_CRF if crf is None else check_int("crf", crf, min=0, max=51, hint=f"0 is the best quality, 51 the "
                                                     f"smallest file; None for the default, {DEFAULT_CRF}.")
    preset = DEFAULT_PRESET if preset is None else preset
    if preset not in X264_PRESETS:
        raise ValueError(f"preset={preset!r}: the encoder presets are {', '.join(X264_PRESETS)} (faster ones "
                         f"make larger files at the same crf); None for the default, {DEFAULT_PRESET!r}.")
    if not src.is_file():
        raise FileNotFoundError(f"{str(src)!r}: no such video file.")
    if dst.exists() and os.path.samefile(src, dst):
        raise ValueError(f"dst={str(dst)!r} is the input video; skdce never overwrites its input. Choose another name.")
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{str(dst)!r} exists; pass overwrite=True to replace it.")
    probe = _probe(av, src)
    name, pix_fmt = _pick_codec(av, container, codec, probe.bits, probe.width, probe.height)
    enhancer = VideoEnhancer(model=model, strength=strength, denoise=denoise, temporal=temporal,
                             fps=float(probe.fps) if probe.fps else 30.0, providers=providers,
                             num_threads=num_threads, tile_size=tile_size, exposure=exposure)
    # the spatial filter and the tone stage of each frame run on the encoding thread, beside the next frame's
    # temporal steps on this one: each stage's passes take half the threads
    enhancer._pass_threads = max(1, worker_threads(check_num_threads(num_threads)) // 2)
    deep = pix_fmt.endswith("10le")
    rgb_fmt, dtype = ("rgb48le", np.uint16) if deep else ("rgb24", np.uint8)
    # 8-bit 4:2:0 of an even size: the black point, the rounding and the conversion to the encoder's YUV in one
    # compiled pass (rounding to RGB24, then FFmpeg's swscale took 8 ms of a 720p frame, this 3)
    yuv = None
    if pix_fmt == "yuv420p" and probe.width % 2 == 0 and probe.height % 2 == 0:
        from . import _temporal as T

        if T.compiled():
            yuv = T.yuv_matrix(probe.colour.get("colorspace"), probe.colour.get("color_range"))
            yuv_tags = _yuv_tags(probe.colour.get("colorspace"), probe.colour.get("color_range"))
    copied, dropped, warnings = [], [], []
    frames, end, announced = 0, -math.inf, None
    with atomic_path(dst, overwrite=overwrite) as tmp:
        try:
            with av.open(str(src)) as inp, av.open(str(tmp), mode="w", format=container) as out:
                vin = inp.streams.video[0]
                vin.thread_type = "AUTO"
                if inp.duration is not None:  # in microseconds
                    announced = (inp.duration + (inp.start_time or 0)) / 1e6
                vout = out.add_stream(name, rate=probe.fps or 30)
                vout.width, vout.height, vout.pix_fmt = probe.width, probe.height, pix_fmt
                cfr = container == "avi"  # AVI: one frame per tick of 1/fps
                vout.time_base = (1 / probe.fps) if cfr and probe.fps else vin.time_base
                vout.codec_context.time_base = vout.time_base
                vout.codec_context.options = _encoder_options(name, crf, preset)
                if name == "mpeg4":
                    vout.codec_context.qscale = True
                for key, value in probe.colour.items():
                    if value is not None:
                        setattr(vout.codec_context, key, value)
                if probe.rotation and container in _NO_ROTATION:
                    warnings.append(f"the rotation ({probe.rotation:g} degrees) is not kept: {dst.suffix} cannot "
                                    f"store it, players show the frames unrotated (write .mp4, .mov or .mkv to "
                                    f"keep it)")
                elif probe.rotation:
                    vout.set_display_rotation(probe.rotation)
                if probe.sar is not None and probe.sar != 1:  # non-square pixels (anamorphic video)
                    vout.codec_context.sample_aspect_ratio = probe.sar
                    if name in _NO_SAR:
                        warnings.append(f"the sample aspect ratio {probe.sar.numerator}:{probe.sar.denominator} "
                                        f"(non-square pixels) is not kept: {name} has no field for it and PyAV "
                                        f"cannot set the container's (write .mp4, .mov or .mkv to keep it)")
                others = {}
                keep_all = " (write .mkv to keep it)" if container != "matroska" else ""
                for s in inp.streams:
                    codec_name = s.codec_context.name if s.codec_context else "?"
                    if s is vin:
                        continue
                    if s.type == "video":  # one video stream is enhanced; a second one would need a second run
                        dropped.append(f"video stream {s.index} ({codec_name}): only the first video stream is "
                                       f"enhanced (ffmpeg -i {src.name} -map 0:{s.index} -c copy "
                                       f"{src.stem}-{s.index}{src.suffix} makes a file of it to enhance alone)")
                    elif s.type in ("audio", "subtitle", "data"):
                        try:
                            others[s.index] = out.add_stream_from_template(s)
                            copied.append(f"{s.type} {codec_name}")
                        except (ValueError, av.error.FFmpegError) as exc:  # the container cannot hold it
                            dropped.append(f"{s.type} stream {s.index}: {_reason(exc)}{keep_all}")
                    else:  # attachments (fonts of subtitles) and streams of no known type
                        dropped.append(f"{s.type} stream {s.index} ({codec_name}): skdce copies audio, subtitle and "
                                       f"data streams only")

                # three stages on three threads, joined by small bounded queues: decoding (and the
                # conversion to RGB), the enhancement (this thread, which also reports progress) and
                # the conversion back and encoding. PyAV's codecs and swscale and most NumPy passes
                # release the GIL, so the codecs run beside the enhancement instead of after it.
                pipe = _Pipeline()

                def read():
                    index = 0
                    for packet in inp.demux():
                        if pipe.stop.is_set():
                            return
                        if packet.pts is not None and packet.time_base is not None:
                            pipe.end = max(pipe.end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                        if packet.stream.index in others:
                            if packet.dts is not None:
                                pipe.put(pipe.inbox, ("packet", packet))
                            continue
                        if packet.stream is not vin:
                            continue
                        for frame in packet.decode():
                            if (frame.width, frame.height) != (probe.width, probe.height):  # the encoder would scale it
                                raise ValueError(f"{src}: frame {index} (counting from 0) is {frame.width}x"
                                                 f"{frame.height}, the frames before it {probe.width}x{probe.height}; "
                                                 f"a video file keeps one frame size. Cut the video where the size "
                                                 f"changes, or scale it to one size first (ffmpeg -vf scale=W:H). "
                                                 f"Nothing was written.")
                            index += 1
                            pipe.put(pipe.inbox, ("frame", frame.to_ndarray(format=rgb_fmt), frame.pts,
                                                  frame.time_base))
                    pipe.put(pipe.inbox, ("end",))

                def write():
                    while True:
                        item = pipe.get(pipe.outbox)
                        if item[0] == "end":
                            break
                        if item[0] == "packet":
                            packet = item[1]
                            packet.stream = others[packet.stream.index]
                            out.mux(packet)
                            continue
                        _, finish, pts, time_base, index = item
                        if yuv is not None:
                            new = av.VideoFrame.from_ndarray(finish(), format="yuv420p")
                            new.colorspace, new.color_range = yuv_tags
                        else:
                            new = av.VideoFrame.from_ndarray(finish(), format=rgb_fmt)
                            new = new.reformat(format=pix_fmt, dst_colorspace=probe.colour.get("colorspace"),
                                               dst_color_range=probe.colour.get("color_range"))
                        if cfr:
                            new.pts, new.time_base = index, vout.codec_context.time_base
                        else:
                            new.pts = pts if pts is not None else index
                            new.time_base = time_base or vin.time_base
                        for packet in vout.encode(new):
                            out.mux(packet)
                    for packet in vout.encode(None):
                        out.mux(packet)

                with pipe:
                    pipe.start(read)
                    pipe.start(write)
                    while True:
                        item = pipe.get(pipe.inbox)
                        if item[0] == "end":
                            break
                        if item[0] == "frame":
                            _, rgb, pts, time_base = item
                            item = ("frame", enhancer._push_as(rgb, dtype, deferred=True, yuv=yuv), pts, time_base,
                                    frames)
                            frames += 1
                        pipe.put(pipe.outbox, item)
                        if item[0] == "frame" and progress is not None:
                            progress(frames, probe.total)
                    pipe.put(pipe.outbox, ("end",))
                    pipe.finish()
                end = pipe.end
        except av.error.FFmpegError as exc:
            raise ValueError(f"{src}: the video could not be enhanced ({_reason(exc)}); the file may be truncated "
                             f"or corrupt. Nothing was written.") from None
        if frames == 0:
            raise ValueError(f"{src}: the video stream holds no frames; nothing to enhance.")
        if announced is not None and end < announced - max(0.5, 0.05 * announced):
            warnings.append(f"the file ends at {end:.2f} s, before the {announced:.2f} s its header announces: "
                            f"it is probably truncated; the {frames} frames it holds were enhanced")
    return VideoReport(frames, probe.width, probe.height, name, pix_fmt, tuple(copied), tuple(dropped),
                       tuple(warnings), time.perf_counter() - t0)
