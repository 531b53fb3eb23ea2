"""Sample images and a synthetic low-light model.

skdce ships no photographs of its own: its samples are scikit-image's bundled
images (public domain or freely licensed), darkened by :func:`darken`, a
documented camera-like low-light model. Nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

from ._image import image_layout, to_float, to_uint
from ._validate import check_real

__all__ = ["darken", "low_light_sample", "SAMPLES"]

#: scikit-image sample images usable by :func:`low_light_sample`.
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


def darken(image, *, gain=0.12, gamma=2.2, photons=400.0, read_noise=0.004, channel_axis=-1, seed=0):
    """Simulate a low-light exposure of a well-exposed image.

    Parameters
    ----------
    image : ndarray
        uint8/uint16 or float image in [0, 1] (any shape; ``channel_axis`` is
        only used to check it).
    gain : float, optional
        Exposure scale applied in linear light (0.12: about 3 stops darker).
    gamma : float, optional
        Display gamma used to go to linear light and back.
    photons : float or None, optional
        Photo-electrons at full scale *after* the gain; Poisson shot noise with
        this count. ``None`` disables shot noise.
    read_noise : float, optional
        Standard deviation of additive Gaussian read noise in linear light.
    channel_axis : int or None, optional
        Axis of the channels.
    seed : int or numpy.random.Generator, optional
        Seed of the noise (deterministic by default).

    Returns
    -------
    dark : ndarray
        float32 image in [0, 1], same shape as ``image``.

    Notes
    -----
    ``lin = x**gamma * gain``; ``noisy = Poisson(lin * photons) / photons + N(0, read_noise**2)``;
    the result is ``clip(noisy, 0, 1)**(1 / gamma)``. This is the
    Poisson-Gaussian noise model of raw sensor data, applied per channel.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.data import darken
    >>> bright = np.full((8, 8, 3), 0.8)
    >>> bool(darken(bright).mean() < 0.5)
    True
    """
    arr = np.asarray(image)
    image_layout(arr, channel_axis, "image")
    x = to_float(arr, "image").astype(np.float64)
    gain = check_real("gain", gain, lo=0, lo_open=True)
    gamma = check_real("gamma", gamma, lo=0, lo_open=True)
    if photons is not None:
        photons = check_real("photons", photons, lo=0, lo_open=True, hint="or None for no shot noise.")
    read_noise = check_real("read_noise", read_noise, lo=0)
    rng = np.random.default_rng(seed)
    lin = x**gamma * gain
    if photons is not None:
        lin = rng.poisson(lin * photons) / photons
    if read_noise:
        lin = lin + rng.normal(0.0, read_noise, lin.shape)
    return (np.clip(lin, 0.0, 1.0) ** (1.0 / gamma)).astype(np.float32)


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
