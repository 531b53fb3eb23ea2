"""skdce._base.validate, and the arguments the public functions refuse through it."""

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

import skdce
from skdce import apply_le_curves, curve_gain, enhance, estimate_curves, losses
from skdce._base import validate as _validate
from skdce._base.validate import check_bool, check_int, check_real


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: check_int("n", 1.5), TypeError, r"n=1.5 \(float\) must be an integer\."),
        (lambda: check_int("n", True), TypeError, r"n=True \(bool\) must be an integer"),
        (lambda: check_int("n", "3", min=1), TypeError, r"n='3' \(str\) must be an integer >= 1"),
        (lambda: check_int("n", 0, min=1, max=8), ValueError, r"n=0 is out of range: n must be an integer in \[1, 8\]"),
        (lambda: check_int("n", 9, max=8, hint="fewer, please."), ValueError,
         r"must be an integer <= 8; fewer, please\.$"),
        (lambda: check_real("x", "a"), TypeError, r"x='a' \(str\) must be a real number\."),
        (lambda: check_real("x", np.nan, lo=0), ValueError, "x=nan is not finite: x must be a real number >= 0"),
        (lambda: check_real("x", -np.inf), ValueError, "x=-inf is not finite"),
        (lambda: check_real("x", 0, lo=0, lo_open=True, hi=1), ValueError, r"must be a real number in \(0, 1\]"),
        (lambda: check_real("x", 1, hi=1, hi_open=True), ValueError, "must be a real number < 1"),
        (lambda: check_bool("b", 1), TypeError, r"b=1 \(int\) must be True or False"),
        (lambda: check_bool("b", "yes"), TypeError, "must be True or False"),
    ],
)
def test_validator_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_validator_values():
    assert check_int("n", np.int64(3), min=1) == 3 and type(check_int("n", np.uint8(3))) is int
    assert check_real("x", np.float32(0.5), lo=0, hi=1) == 0.5 and type(check_real("x", 1)) is float
    assert check_real("x", 1, lo=0, hi=1) == 1.0  # closed bounds by default
    assert check_bool("b", np.True_) is True and check_bool("b", False) is False


@pytest.fixture(scope="module")
def image():
    return np.full((20, 24, 3), 0.1, np.float32)


_cap = _validate.max_threads()


@pytest.mark.parametrize(
    "value, exc, match",
    [
        (0, ValueError, rf"num_threads=0 is out of range: num_threads must be an integer in \[1, {_cap}\]"),
        (-1, ValueError, "num_threads=-1 is out of range"),
        (1.5, TypeError, r"num_threads=1.5 \(float\) must be an integer"),
        (True, TypeError, r"num_threads=True \(bool\) must be an integer"),
        ("4", TypeError, r"num_threads='4' \(str\) must be an integer"),
        (1000, ValueError, rf"num_threads=1000 is out of range: .*\[1, {_cap}\]; None uses all \d+ cores"),
    ],
)
@pytest.mark.parametrize("function", ["enhance", "estimate_curves", "apply_le_curves"])
def test_bad_num_threads(image, function, value, exc, match):
    before = threading.active_count()
    call = {
        "enhance": lambda: enhance(image, num_threads=value),
        "estimate_curves": lambda: estimate_curves(image, num_threads=value),
        "apply_le_curves": lambda: apply_le_curves(image, 0.5, num_threads=value),
    }[function]
    with pytest.raises(exc, match=match):
        call()
    assert threading.active_count() <= before  # refused before any thread started


def test_num_threads_cap_is_generous():
    assert _cap == min(256, 4 * (os.cpu_count() or 1))
    assert _validate.check_num_threads(_cap) == _cap and _validate.check_num_threads(None) is None


def test_session_refuses_bad_threads():
    # the CLI reaches ONNX Runtime through get_session: it checks too
    from skdce.engine.runtime import get_session

    with pytest.raises(ValueError, match="num_threads=1000 is out of range"):
        get_session(skdce.get_model("zero-dce").path, "cpu", 1000)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"providers": 3}, TypeError, r"providers=3 must be 'auto', 'cpu', 'cuda' or a list .*; got int"),
        ({"providers": {"CPUExecutionProvider": {}}}, TypeError, "providers=.* must be 'auto'.*; got dict"),
        ({"providers": None}, TypeError, "got NoneType"),
        ({"model": ""}, ValueError, r"model='' is empty; pass a bundled model name \(.*zero-dce.*\), the path"),
        ({"model": "   "}, ValueError, "is empty"),
        ({"model": "."}, ValueError, r"model='\.' is a folder; pass the path of an \.onnx file"),
        ({"strength": np.nan}, ValueError, "strength=nan is not finite"),
        ({"denoise": np.nan}, ValueError, "denoise=nan is not finite"),
        ({"denoise": -0.5}, ValueError, r"denoise=-0.5 is out of range: denoise must be a real number in \[0, 4\]"),
        ({"scale_factor": "2"}, TypeError, r"scale_factor='2' \(str\) must be a real number >= 1"),
        ({"scale_factor": 0.5}, ValueError, "scale_factor=0.5 is out of range"),
    ],
)
def test_bad_enhance_arguments(image, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        enhance(image, **kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"gain": 0}, ValueError, r"gain=0 is out of range: gain must be a real number > 0\."),
        ({"gain": np.nan}, ValueError, "gain=nan is not finite"),
        ({"gain": "0.1"}, TypeError, r"gain='0.1' \(str\) must be a real number > 0"),
        ({"gamma": -2.2}, ValueError, "gamma=-2.2 is out of range: gamma must be a real number > 0"),
        ({"gamma": True}, TypeError, r"gamma=True \(bool\) must be a real number > 0"),
        ({"photons": 0}, ValueError, r"photons=0 is out of range: photons must be a real number > 0; or None"),
        ({"photons": np.inf}, ValueError, "photons=inf is not finite"),
        ({"read_noise": -0.1}, ValueError, r"read_noise=-0.1 is out of range: read_noise must be a real number >= 0\."),
        ({"read_noise": np.nan}, ValueError, "read_noise=nan is not finite"),
    ],
)
def test_bad_darken_arguments(image, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        skdce.data.darken(image, **kwargs)


def test_darken_accepts_numpy_scalars_and_no_shot_noise(image):
    dark = skdce.data.darken(image, gain=np.float32(0.5), gamma=np.int64(2), photons=None, read_noise=0)
    np.testing.assert_allclose(dark, (0.1**2 * 0.5) ** 0.5, rtol=1e-6)


@pytest.mark.parametrize("path", ["photo.png", Path("photo.png"), b"photo.png"])
@pytest.mark.parametrize("function", [enhance, estimate_curves])
def test_file_name_instead_of_image(function, path):
    with pytest.raises(TypeError, match=r"image is a .*photo\.png.*takes an image array, not a file\. Read the file "
                                         r"first, e.g\. skdce\.io\.read_image\(path\) or skimage\.io\.imread\(path\)"):
        function(path)


@pytest.mark.parametrize(
    "call",
    [
        lambda: apply_le_curves("photo.png", 0.5),
        lambda: curve_gain(Path("photo.png"), 0.5),
        lambda: losses.color_constancy_loss("photo.png"),
        lambda: skdce.denoise.estimate_noise("photo.png"),
    ],
)
def test_file_name_refused_by_array_functions(call):
    with pytest.raises(TypeError, match=r"takes an image array, not a file.*skdce\.io\.read_image"):
        call()


#: The hand-rolled forms of the test: ``isinstance(x, bool)``, ``numbers.Integral``/``Real``,
#: ``(int, np.integer)``, ``x in (None, True, False)``.
_TYPE_TEST = re.compile(r"isinstance\([^)]*\bbool\b|\bnumbers\.(Integral|Real|Number)\b|\(int, np\.integer\)"
                        r"|\bin \((None, )?True, False\)")


def test_no_copies_of_the_type_test_left():
    """The bool/number test lives in skdce/_base/validate.py only."""
    root = Path(skdce.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).as_posix() == "_base/validate.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if _TYPE_TEST.search(line):
                offenders.append(f"{path.relative_to(root)}:{n}")
    assert not offenders, offenders


def test_the_float_range_fix_names_the_argument():
    """The hint names the caller's argument, and the library in it stays skimage (it read 'skframe' for frames)."""
    from skdce._base.image import validate_values

    with pytest.raises(ValueError, match=r"e\.g\. with skimage\.exposure\.rescale_intensity\(frame, out_range"):
        validate_values(np.full((4, 4, 3), 2.0, np.float32), "frame")
