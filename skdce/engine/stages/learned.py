"""Stage: learned denoising of the curve output by the bundled Neighbor2Neighbor network; its one home.

An alternative to the guided filter (:mod:`skdce.engine.stages.guided`)
with the same block contract (:func:`learned_denoise_block` takes what
:func:`~skdce.engine.stages.guided.denoise_bands` takes and returns what it returns): the
plain curve output and the per-pixel noise the curves added
(:func:`skdce.engine.stages.gain.added_noise`) go in, the denoised image comes out.

The network (``weights/denoiser-n2n.onnx``, 4 convolutions of 3x3, 16
channels, residual output; :mod:`skdce.train.denoiser`) was trained
self-supervised on the noisy curve outputs of low-light images alone, with no
clean image (Neighbor2Neighbor, Huang et al., CVPR 2021). Its facts (file,
sha256, recipe, training data, licence) are in ``weights/denoisers.json``;
``weights/README.md`` compares it with the guided filter. Its torch twin and
trainer are :mod:`skdce.train.denoiser`.

A pixel depends on pixels at most :data:`LEARNED_HALO` away (its receptive
radius, no more than :data:`~skdce.engine.stages.guided.DENOISE_HALO`), so tiles with that
much context join exactly, and the engine's tiles, which carry
``DENOISE_HALO`` of context, stay exact.

Side by side: the host code, :func:`learned_denoise_block` (ONNX Runtime,
in bands of rows on the worker threads). No ONNX builder: the fused graph
holds the guided filter, and ``denoiser="learned"`` runs on the host path.
The torch twin, which is also the float64 oracle
(``tests/engine/test_stages.py``), is the trained network,
:class:`skdce.train.denoiser.DenoiserNet`.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...models import sha256_file, weights_dir

__all__ = ["learned_denoise_block", "within_local_range", "denoiser_record", "LEARNED_HALO", "DENOISER"]

#: The bundled learned denoiser's name in ``weights/denoisers.json``.
DENOISER = "denoiser-n2n"
#: Receptive radius of the network (one pixel per 3x3 convolution); checked against the file on load.
LEARNED_HALO = 4
#: Pixels per band of rows the network sees at once (bounds the activations: 16 planes of float32 each).
_BAND_PIXELS = 1 << 18

_sessions: dict = {}
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _records(folder: str) -> dict:
    path = Path(folder) / "denoisers.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; the learned denoiser ships with skdce: reinstall skdce.")
    return json.loads(path.read_text())["denoisers"]


def denoiser_record(name: str = DENOISER) -> dict:
    """The facts of a bundled denoiser: ``file``, ``sha256``, ``recipe``, ``training_data``, ``license``, ...

    Examples
    --------
    >>> from skdce.denoise_net import denoiser_record
    >>> denoiser_record()["license"]
    'BSD-3-Clause'
    """
    records = _records(str(weights_dir()))
    if name not in records:
        raise ValueError(f"denoiser {name!r} is not bundled; the bundled denoisers are {sorted(records)}.")
    return dict(records[name])


def _session(providers):
    """The cached ONNX Runtime session of the bundled denoiser for ``providers`` (one intra-op thread)."""
    from ..runtime import providers_of, start_session

    record = denoiser_record()
    path = weights_dir() / record["file"]
    providers = providers_of(providers)
    key = (str(path.resolve()), providers)
    with _lock:
        session = _sessions.get(key)
        if session is not None:
            return session
        if not path.is_file():
            raise FileNotFoundError(f"the learned denoiser {str(path)!r} is missing; reinstall skdce.")
        got = sha256_file(path)
        if got != record["sha256"]:
            raise ValueError(
                f"denoiser file {str(path)!r} has sha256 {got}, but weights/denoisers.json expects "
                f"{record['sha256']}; the file is corrupt or was replaced. Reinstall skdce."
            )
        # one thread per run: the bands run side by side on skdce's worker threads
        session, _ = start_session(path, f"denoiser {str(path)!r}", providers, 1)
        halo = int(session.get_modelmeta().custom_metadata_map.get("skdce_halo", -1))
        if halo != LEARNED_HALO:
            raise ValueError(f"denoiser file {str(path)!r} has a receptive radius of {halo} pixels, but skdce "
                             f"tiles it with {LEARNED_HALO}; the file does not belong to this skdce. Reinstall skdce.")
        _sessions[key] = session
        return session


def within_local_range(result: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``result`` (``(H, W, C)``) kept, channel by channel, within ``y``'s minimum and maximum over the
    ``2 * LEARNED_HALO + 1`` square around each pixel (the network's receptive field; edges repeated).

    A denoiser averages what it sees, so its honest result lies in that range; a residual network trained without
    clean images does not know it, and drifts on flat input. scipy's rank filters do it (separable); they cost
    about as much as the network (the learned stage: 31 ms against the guided filter's 2.9 ms at 600x400 on two
    cores).
    """
    from scipy import ndimage

    size = (2 * LEARNED_HALO + 1, 2 * LEARNED_HALO + 1, 1)
    lo = ndimage.minimum_filter(y, size=size, mode="nearest")
    hi = ndimage.maximum_filter(y, size=size, mode="nearest")
    return np.minimum(np.maximum(result, lo, dtype=result.dtype), hi, dtype=result.dtype)


def learned_denoise_block(y: np.ndarray, noise: np.ndarray, num_threads=None, *, providers="cpu") -> np.ndarray:
    """Denoise a curve output with the bundled Neighbor2Neighbor network.

    The same contract as :func:`skdce.engine.stages.guided.denoise_bands`, whose guided
    filter it can replace.

    Parameters
    ----------
    y : (H, W, C) ndarray, float32 or float64
        The plain curve output in [0, 1]; C is 3 (RGB) or 1 (gray, run as
        three equal channels and averaged).
    noise : (H, W) ndarray
        The noise the curves added, a standard deviation on the [0, 1] scale
        (:func:`skdce.engine.stages.gain.added_noise`); 0 where nothing was added.
    num_threads : int, optional
        Worker threads; bands of rows run side by side (None: all cores, at most 8).
    providers : {"cpu", "auto", "cuda"}, list or Providers, optional
        ONNX Runtime execution providers (as :func:`skdce.enhance`'s, or a call's resolved ones).

    Returns
    -------
    (H, W, C) ndarray
        The denoised image, of ``y``'s dtype, in [0, 1]. The network
        computes in float32 (float64 input is rounded to it).

    Notes
    -----
    The network's result is kept within the range of ``y`` over its
    receptive field (:func:`within_local_range`): black stays black, white
    white and a flat region flat (the network alone lifted a black frame to
    22/255, where the curves stretch its noise most), and where ``noise`` is 0
    (the curves added none) ``y`` comes back as it is, as from the guided
    filter. Each band of rows is run
    with :data:`LEARNED_HALO` rows of context on either side, so the bands
    (and any tiles with that much context) join as the whole image would.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.denoise_net import learned_denoise_block
    >>> rng = np.random.default_rng(0)
    >>> y = np.clip(0.5 + 0.05 * rng.standard_normal((64, 64, 3)), 0, 1).astype(np.float32)
    >>> out = learned_denoise_block(y, np.full((64, 64), 0.05, np.float32))
    >>> out.shape, out.dtype, bool(out.std() < y.std())
    ((64, 64, 3), dtype('float32'), True)
    """
    from ..workers import run_tasks, threads

    if not isinstance(y, np.ndarray) or y.ndim != 3 or y.shape[-1] not in (1, 3) or y.dtype not in (np.float32,
                                                                                                      np.float64):
        raise ValueError(f"y must be an (H, W, 3) or (H, W, 1) float32/float64 array, got "
                         f"{getattr(y, 'shape', None)} {getattr(y, 'dtype', type(y).__name__)}.")
    h, w, c = y.shape
    if np.shape(noise) != (h, w):
        raise ValueError(f"noise has shape {np.shape(noise)}; pass a map of y's spatial shape {(h, w)}.")
    noise = np.asarray(noise)
    if not (np.all(np.isfinite(noise)) and np.all(noise >= 0)):
        raise ValueError("noise must be finite and >= 0 (a standard deviation on the [0, 1] scale).")
    if y.size and not (np.isfinite(y.min()) and np.isfinite(y.max()) and 0 <= y.min() and y.max() <= 1):
        raise ValueError(f"y has values in [{y.min():g}, {y.max():g}]; pass a curve output in [0, 1].")
    session = _session(providers)
    out = np.empty_like(y)
    if out.size == 0:
        return out
    rows = max(4 * LEARNED_HALO, min(-(-_BAND_PIXELS // w), -(-h // threads(num_threads))))

    def band(r0):
        r1 = min(h, r0 + rows)
        e0, e1 = max(0, r0 - LEARNED_HALO), min(h, r1 + LEARNED_HALO)
        x = np.empty((1, 4, e1 - e0, w), np.float32)
        x[0, :3] = np.moveaxis(y[e0:e1], -1, 0)  # a gray channel broadcasts to the three
        x[0, 3] = noise[e0:e1]
        res = session.run(None, {"x": x})[0][0]
        if c == 1:
            res = res.mean(axis=0, keepdims=True)
        res = within_local_range(np.moveaxis(res, 0, -1), y[e0:e1])[r0 - e0 : r1 - e0]
        np.clip(res, 0, 1, out=out[r0:r1], casting="unsafe")
        kept = noise[r0:r1] <= 0  # where the curves added no noise, nothing is filtered, as with the guided filter
        out[r0:r1][kept] = y[r0:r1][kept]

    run_tasks(band, list(range(0, h, rows)), num_threads)
    return out
