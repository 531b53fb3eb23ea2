"""The tone stages after the curves: the black point and the exposure control.

Both are global per image and cheap: an affine map per channel and a few
uniform curve steps, applied in place to the enhanced image.

* **Black point.** The LE curve maps 0 to 0, but its slope there is
  ``(1 + a) ** 8``: the near-blacks of a dark photo (its noise floor, the
  shadows of a black cabinet) are lifted into a grey haze, and unequally per
  channel, so they turn olive. :func:`black_lift` measures how far the curves
  lifted each channel's black (the 1st percentile) on the small, box-averaged
  copy the network saw, where the noise is averaged away: the scene's black,
  not its noise. :func:`finish_tone` takes that lift back out,
  ``(y - d) / (1 - d)``, so the black stays where the scene had it and white
  stays white. A well-exposed photo, whose curves are near the identity, is
  left as it is. Models trained with it (``black_point`` in their manifest
  entry) saw the same step in training (:func:`skdce.engine.stages.tone.torch_black_lift`).
* **Exposure.** ``exposure="auto"`` decides it for the scene. A
  well-exposed photo's bright tones reach near white whatever it shows (a
  dark cabinet has bright edges, a white wall is bright), so a result whose
  highlights stay dull is under-exposed as a whole: :func:`auto_exposure`
  finds the fewest stops (at most 1.5) that bring the 90th percentile of its
  luminance, on the network's small copy after the curves and the black
  point, up to the level that three in four well-exposed photos reach
  (:data:`AUTO_EXPOSURE_TARGETS`, ``benchmarks/fit_exposure.py``: the 300
  photos of LOL's ``unpaired-normal/`` and 143 SICE photos; no reference
  image). A result with bright highlights (a lamp-lit room, a backlit
  scene) gets none. ``exposure="model"`` keeps the curves' own exposure;
  a number ``e`` asks for ``e`` stops more (or less) than ``"auto"`` at
  middle grey. The stops are applied as more LE steps with one uniform
  alpha each (:func:`exposure_alphas`), so the result stays monotonic, in
  [0, 1], with black at 0 and white at 1.
* **The noise limit.** Under ``exposure="auto"`` the curves also may not
  stretch the input's noise beyond :data:`NOISE_LIFT_LIMIT` (its standard
  deviation times their slope at a region's level, :func:`noise_limit`): a
  region whose signal sits in its noise, a night sky under a few lamps,
  stays dark instead of turning into a grey, coloured grain, while a clean
  dark photo is lifted as before.
"""

from __future__ import annotations

import numpy as np

from ._base.image import validate_values
from .engine.plan import check_exposure
from .engine.stages.tone import (
    AUTO_EXPOSURE_LIGHT,
    AUTO_EXPOSURE_MAX,
    AUTO_EXPOSURE_TARGETS,
    AUTO_EXPOSURE_WHITE,
    BLACK_QUANTILE,
    EXPOSURE_RANGE,
    MIDDLE_GREY,
    NOISE_LIFT_LIMIT,
    WHITE_AREA,
    WHITE_RAMP,
    auto_exposure,
    black_lift,
    curve_slope,
    exposure_alphas,
    noise_limit,
)
from .engine.stages.tone import finish_tone as _finish_tone

__all__ = ["BLACK_QUANTILE", "MIDDLE_GREY", "EXPOSURE_RANGE", "AUTO_EXPOSURE_TARGETS", "AUTO_EXPOSURE_MAX",
           "AUTO_EXPOSURE_LIGHT", "AUTO_EXPOSURE_WHITE", "WHITE_RAMP", "WHITE_AREA", "NOISE_LIFT_LIMIT", "black_lift",
           "model_black_lift", "auto_exposure", "noise_limit", "curve_slope", "exposure_alphas", "finish_tone",
           "check_exposure"]


def model_black_lift(image, *, model=None, strength=1.0, channel_axis=-1, providers="auto", num_threads=None):
    """``(C,)`` the lift :func:`skdce.enhance` takes out of ``image``'s blacks (zeros for models without it).

    For pipelines that apply the curves themselves (:mod:`skdce.video`):
    ``finish_tone(apply_le_curves(x, a)[None], model_black_lift(x)[None])``
    is what ``enhance(x, denoise=0, exposure="model")`` returns (the default
    ``exposure="auto"`` adds its stops after that). Costs one run of the network on
    the model's small copy of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.tone import model_black_lift
    >>> lift = model_black_lift(np.full((32, 48, 3), 0.05, np.float32))
    >>> lift.shape, bool(np.all(lift >= 0))
    ((3,), True)
    """
    from .engine.host import shared_maps
    from .engine.plan import make_plan
    from .engine.stages.network import small_copies

    plan = make_plan(image, model=model, strength=strength, channel_axis=channel_axis, providers=providers,
                     num_threads=num_threads, exposure="model")  # the lift comes before auto exposure
    src = plan.layout.to_nhwc(np.asarray(image))
    if src.shape[0] != 1:
        raise ValueError(f"image has shape {np.shape(image)}; model_black_lift takes one image, not a batch.")
    validate_values(src, "image")
    if not (plan.shared and plan.info.black_point):
        return np.zeros(plan.n_color)
    lifts = shared_maps(plan, small_copies(src, plan.n_color, plan.scale))[1]
    return lifts[0]


def finish_tone(image, lift=None, exposure=0.0, *, num_threads=None):
    """Take the black's lift out and apply the exposure steps, in place.

    Parameters
    ----------
    image : (N, H, W, C) ndarray
        Enhanced images in [0, 1], float32 or float64, writable: it is
        modified in place (pass ``x.copy()`` to keep ``x``). For one
        ``(H, W, C)`` image pass ``image[None]``.
    lift : (N, C) array_like, optional
        From :func:`black_lift` (or ``model_black_lift(x)[None]``), in
        [0, 1); None leaves the black point alone.
    exposure : float or (N,) array_like, optional
        Stops at middle grey (:func:`exposure_alphas`), in
        :data:`EXPOSURE_RANGE`, one for all images or one each; 0 changes
        nothing.
    num_threads : int, optional
        Worker threads (row bands run side by side).

    Returns
    -------
    ndarray
        ``image``, still in [0, 1].

    Notes
    -----
    Per image and channel ``y <- max((y - d) / (1 - d), 0)`` for the lift
    ``d``, then the uniform LE steps ``y <- y + a y (1 - y)`` of
    :func:`exposure_alphas`, clipped to [0, 1]. This checks its arguments,
    values included (NaN or a value outside [0, 1] is refused), then runs
    the engine's stage (:func:`skdce.engine.stages.tone.finish_tone`),
    which trusts them.

    Examples
    --------
    >>> import numpy as np
    >>> from skdce.tone import finish_tone
    >>> y = np.array([[[[0.1, 0.5, 1.0]]]])
    >>> finish_tone(y, [[0.1, 0.0, 0.0]]).round(3).tolist()
    [[[[0.0, 0.5, 1.0]]]]
    """
    if isinstance(image, np.ndarray) and image.dtype.kind == "f":
        validate_values(image, "image")  # the engine's stage does not look at the values
    return _finish_tone(image, lift, exposure, num_threads=num_threads)
