"""Sample images, a synthetic low-light model, and synthetic camera RAW (DNG) files.

skdce ships no photographs of its own: its samples are scikit-image's bundled
images (public domain or freely licensed), darkened by :func:`darken`, a
documented camera-like low-light model. Nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

from ._base.image import check_unit_range, compute_dtype, image_layout, to_float, to_uint, unit_scale
from ._base.validate import check_image_arg, check_int, check_real

__all__ = ["darken", "low_light_sample", "write_dng", "SAMPLES"]

#: scikit-image sample images usable by :func:`low_light_sample`.
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


#: The most photo-electrons :func:`darken` simulates at full scale: a real sensor's full well holds about
#: 1e5, so beyond this the shot noise is nil (pass ``photons=None``); NumPy's Poisson sampler refuses
#: counts above about 9e18.
_MAX_PHOTONS = 1e12


def _check_seed(seed):
    """``seed`` as :func:`numpy.random.default_rng` takes it: None, an integer >= 0 or a Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_int("seed", seed, min=0, hint="or a numpy.random.Generator, or None for fresh noise each call.")


def darken(image, *, gain=0.12, gamma=2.2, photons=400.0, read_noise=0.004, channel_axis=-1, seed=0):
    """Simulate a low-light exposure of a well-exposed image.

    Parameters
    ----------
    image : (H, W, C), (N, H, W, C), (H, W) or (N, H, W) ndarray
        uint8/uint16 or float image in [0, 1]. ``C`` is 1, 2 (gray + alpha),
        3 or 4 (RGBA) along ``channel_axis``; an alpha channel is passed
        through untouched. ``(H, W)`` and ``(N, H, W)`` need
        ``channel_axis=None``.
    gain : float, optional
        Exposure scale applied in linear light (0.12: about 3 stops darker).
    gamma : float, optional
        Display gamma used to go to linear light and back.
    photons : float or None, optional
        Photo-electrons at full scale *after* the gain, at most 1e12 (beyond a
        real sensor's full well, about 1e5, shot noise is nil); Poisson shot
        noise with this count. ``None`` disables shot noise.
    read_noise : float, optional
        Standard deviation of additive Gaussian read noise in linear light.
    channel_axis : int or None, optional
        Axis of the channels; ``None`` for a grayscale image without one.
    seed : None, int or numpy.random.Generator, optional
        Seed of the noise, an integer >= 0 (deterministic by default), a
        Generator to draw from, or None for fresh noise each call.

    Returns
    -------
    dark : ndarray
        float32 image in [0, 1], same shape as ``image``.

    Notes
    -----
    ``lin = x**gamma * gain``; ``noisy = Poisson(lin * photons) / photons + N(0, read_noise**2)``;
    the result is ``clip(noisy, 0, 1)**(1 / gamma)``. This is the
    Poisson-Gaussian noise model of raw sensor data, applied per colour channel.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.data import darken
    >>> bright = np.full((8, 8, 3), 0.8)
    >>> bool(darken(bright).mean() < 0.5)
    True
    """
    check_image_arg(image, "image", "skdce.data.darken")
    arr = np.asarray(image)
    layout = image_layout(arr, channel_axis, "image")
    x = to_float(arr, "image").astype(np.float64)
    gain = check_real("gain", gain, lo=0, lo_open=True)
    gamma = check_real("gamma", gamma, lo=0, lo_open=True)
    if photons is not None:
        photons = check_real("photons", photons, lo=0, lo_open=True, hint="or None for no shot noise.")
        if photons > _MAX_PHOTONS:
            raise ValueError(f"photons={photons:g} is out of range: photons must be at most {_MAX_PHOTONS:g} (a real "
                             f"sensor's full well holds about 1e5; beyond it shot noise is nil); or None for no "
                             f"shot noise.")
        if gain * photons > _MAX_PHOTONS:
            raise ValueError(f"gain * photons = {gain * photons:g} photo-electrons at white (gain={gain:g}, "
                             f"photons={photons:g}) is more than {_MAX_PHOTONS:g}; lower gain or photons, or pass "
                             f"photons=None for no shot noise.")
    read_noise = check_real("read_noise", read_noise, lo=0)
    rng = np.random.default_rng(_check_seed(seed))

    def dark(x):
        lin = x**gamma * gain
        if photons is not None:
            lin = rng.poisson(lin * photons) / photons
        if read_noise:
            lin = lin + rng.normal(0.0, read_noise, lin.shape)
        return (np.clip(lin, 0.0, 1.0) ** (1.0 / gamma)).astype(np.float32)

    if not layout.has_alpha:
        return dark(x)
    colour = [slice(None)] * x.ndim
    colour[layout.channel_axis] = slice(0, layout.n_color)
    colour = tuple(colour)
    out = x.astype(np.float32)  # the alpha channel as it came, in float32
    out[colour] = dark(x[colour])  # the noise drawn as for the colour channels alone
    return out


def low_light_sample(name="astronaut", *, seed=0):
    """A scikit-image sample image darkened by :func:`darken` (uint8 RGB).

    Parameters
    ----------
    name : str, optional
        One of :data:`SAMPLES`.
    seed : int, optional
        Noise seed.

    Returns
    -------
    (H, W, 3) uint8 ndarray

    Examples
    --------
    >>> from skdce.data import low_light_sample
    >>> img = low_light_sample("chelsea")
    >>> img.shape, img.dtype
    ((300, 451, 3), dtype('uint8'))
    """
    if name not in SAMPLES:
        raise ValueError(f"sample {name!r} is unknown; choose one of {', '.join(SAMPLES)}.")
    import skimage.data

    bright = getattr(skimage.data, name)()
    if bright.ndim == 2:
        bright = np.repeat(bright[..., None], 3, axis=-1)
    dark = darken(bright[..., :3], seed=seed)
    return to_uint(dark, np.uint8)


# XYZ (D65) -> linear sRGB (IEC 61966-2-1): a DNG ColorMatrix maps XYZ to the camera's RGB, so a camera whose
# RGB is linear sRGB times its channel gains has ColorMatrix1 = diag(gains) @ this.
_XYZ_TO_SRGB = np.array([
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
])
_CFA_COLOURS = {"R": 0, "G": 1, "B": 2}


def _rational(value: float, signed: bool = False) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(float(value)).limit_denominator(100_000)
    if not signed and f < 0:
        raise ValueError(f"{value} must not be negative")
    return f.numerator, f.denominator


def _check_scene(image: np.ndarray) -> None:
    """Refuse NaN, inf and negative light in a float scene; above 1 (past the sensor's white) is allowed."""
    lo, hi = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        check_unit_range(image, "image")  # raises, naming NaN or inf
    if lo < 0:
        raise ValueError(f"image has values down to {lo:.6g}; write_dng takes scene-linear light >= 0 (1 is the "
                         f"sensor's white level; above it the sensor clips). Rescale it, or clip it with "
                         f"np.clip(image, 0, None).")


def write_dng(path, image, *, pattern="RGGB", bits=14, black_level=0, gains=(1.0, 1.0, 1.0), as_shot_neutral=None,
              orientation=1, make="skdce", model="synthetic", exposure_time=None, iso=None, datetime=None,
              overwrite=False):
    """Write a linear RGB image as the Bayer mosaic of a synthetic camera, in a DNG file.

    For tests, examples and checks of RAW pipelines: the image is what the
    sensor saw, so a RAW developer (LibRaw, through :func:`skdce.io.read_raw`)
    should give it back, up to demosaicing, as sRGB.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.dng`` file to write (atomically).
    image : (H, W, 3) ndarray
        Scene-linear RGB with sRGB primaries, unsigned integers (scaled by
        their dtype's maximum, as everywhere in skdce) or float >= 0: 1 is
        the sensor's white level, and brighter light clips there, as on a
        sensor (clipped highlights); NaN and inf are refused. ``H`` and ``W``
        even, at least 22 (LibRaw's smallest image).
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}, optional
        The colour filter of the 2 x 2 tile, row by row.
    bits : int, optional
        Sensor bit depth, 8-16: the white level is ``2**bits - 1``.
    black_level : int, optional
        Sensor value of black, added to every pixel.
    gains : (3,) sequence of float, optional
        Channel sensitivities of the camera (at most 1): its raw R, G, B are
        ``image * gains``; the DNG records them in its colour matrix.
    as_shot_neutral : (3,) sequence of float, optional
        The camera RGB of white under the scene's light, as the camera
        recorded it (its white balance); default ``gains`` (a daylight scene).
        For a scene lit by a light of linear sRGB colour ``c``, pass
        ``gains * c``.
    orientation : int, optional
        EXIF/TIFF orientation (1-8) of the stored mosaic: the image is stored
        as is, and a reader that applies the flag turns it.
    make, model : str, optional
        Camera maker and model.
    exposure_time : float, optional
        Seconds (> 0). ``iso`` : float, optional, 1-65535; ``datetime`` : datetime.datetime, optional.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    path : pathlib.Path

    Notes
    -----
    The mosaic is ``round(black_level + clip(image * gains, 0, 1) * (white - black_level))``
    as 16-bit samples, uncompressed, in one image directory with the DNG
    tags LibRaw needs: ``DNGVersion`` 1.4, ``CFARepeatPatternDim``,
    ``CFAPattern``, ``BlackLevel``, ``WhiteLevel``, ``ColorMatrix1`` (D65),
    ``AsShotNeutral``, ``Orientation``, and the capture facts (Make, Model,
    TIFF/EP ExposureTime, ISOSpeedRatings, DateTimeOriginal). tifffile writes
    the TIFF; the DNG tags are set here because no maintained library writes
    a DNG from an array.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skdce.data import write_dng
    >>> path = write_dng(os.path.join(tempfile.mkdtemp(), "grey.dng"), np.full((24, 32, 3), 0.18), bits=12)
    >>> path.suffix
    '.dng'
    """
    import datetime as _datetime

    import tifffile

    from .io._atomic import atomic_path

    check_image_arg(image, "image", "skdce.data.write_dng")
    image = np.asarray(image)
    compute_dtype(image.dtype, "image")  # refuses signed integers, bool, complex
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] % 2 or image.shape[1] % 2 or min(image.shape[:2]) < 22:
        raise ValueError(f"image has shape {image.shape}; write_dng takes (H, W, 3) RGB with H and W even and at "
                         f"least 22 (LibRaw reads no smaller image).")
    if image.dtype.kind == "u":  # scaled by the dtype's maximum, as everywhere in skdce
        image = image.astype(np.float64) * unit_scale(image.dtype)
    else:
        _check_scene(image)
        image = image.astype(np.float64)
    pattern = str(pattern).upper()
    if pattern not in ("RGGB", "BGGR", "GRBG", "GBRG"):
        raise ValueError(f"pattern={pattern!r} is not a Bayer pattern; use RGGB, BGGR, GRBG or GBRG.")
    bits = check_int("bits", bits, min=8, max=16, hint="the sensor's bit depth (the white level is 2**bits - 1).")
    white = 2**bits - 1
    black_level = check_int("black_level", black_level, min=0, max=white // 2 - 1,
                            hint=f"below half the white level {white} of bits={bits}.")
    gains = np.asarray(gains, dtype=np.float64)
    if gains.shape != (3,) or not np.all((gains > 0) & (gains <= 1)):
        raise ValueError(f"gains={gains.tolist()} must be three numbers in (0, 1].")
    neutral = gains if as_shot_neutral is None else np.asarray(as_shot_neutral, dtype=np.float64)
    if neutral.shape != (3,) or not np.all((neutral > 0) & np.isfinite(neutral)):
        raise ValueError(f"as_shot_neutral={as_shot_neutral!r} must be three positive numbers.")
    orientation = check_int("orientation", orientation, min=1, max=8, hint="the EXIF/TIFF orientation (1: as stored).")
    if exposure_time is not None:
        exposure_time = check_real("exposure_time", exposure_time, lo=0, lo_open=True, hint="seconds, or None.")
    if iso is not None:
        iso = check_real("iso", iso, lo=1, hi=65535, hint="ISOSpeedRatings is a 16-bit field; or None.")
    if datetime is not None and not isinstance(datetime, _datetime.datetime):
        raise TypeError(f"datetime={datetime!r} ({type(datetime).__name__}) must be a datetime.datetime or None.")
    cfa = [_CFA_COLOURS[c] for c in pattern]
    mosaic = np.empty(image.shape[:2])
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        mosaic[dy::2, dx::2] = image[dy::2, dx::2, cfa[k]] * gains[cfa[k]]
    raw = np.round(black_level + np.clip(mosaic, 0.0, 1.0) * (white - black_level)).astype(np.uint16)
    matrix = np.diag(gains) @ _XYZ_TO_SRGB
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, f"{make} {model}", True),  # UniqueCameraModel
        (271, "s", 0, make, True),
        (272, "s", 0, model, True),
        (274, "H", 1, orientation, True),
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, tuple(cfa), True),  # CFAPattern
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout: rectangular
        (50713, "H", 2, (1, 1), True),  # BlackLevelRepeatDim
        (50714, "I", 1, black_level, True),  # BlackLevel
        (50717, "I", 1, white, True),  # WhiteLevel
        (50721, "2i", 9, [v for x in matrix.ravel() for v in _rational(x, signed=True)], True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, [v for n in neutral for v in _rational(n)], True),  # AsShotNeutral
    ]
    if exposure_time is not None:
        tags.append((33434, "2I", 1, _rational(exposure_time), True))
    if iso is not None:
        tags.append((34855, "H", 1, int(round(iso)), True))
    if datetime is not None:
        tags.append((36867, "s", 0, datetime.strftime("%Y:%m:%d %H:%M:%S"), True))
    from pathlib import Path

    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tifffile.imwrite(tmp, raw, photometric=32803, subfiletype=0, metadata=None, software=False, extratags=tags)
    return path
