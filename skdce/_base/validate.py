"""The one place where skdce checks scalar arguments: type, then range.

A wrong type (a string for a number, ``True`` for a count) raises ``TypeError``;
a value of the right type that is not allowed (out of range, NaN, inf) raises
``ValueError``. Both name the argument and its value, say what is allowed and,
through ``hint``, what to do.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = ["check_int", "check_real", "check_bool", "check_num_threads", "check_image_arg", "max_threads"]


def _interval(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    """``"in [0, 2]"``, ``">= 16"``, ``"<= 1"`` or ``""``."""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def _type_error(name: str, value, what: str, hint: str) -> TypeError:
    return TypeError(f"{name}={value!r} ({type(value).__name__}) must be {what}" + (f"; {hint}" if hint else "."))


def _value_error(name: str, value, why: str, what: str, hint: str) -> ValueError:
    return ValueError(f"{name}={value!r} is {why}: {name} must be {what}" + (f"; {hint}" if hint else "."))


def check_int(name: str, value, *, min: int | None = None, max: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int`` in ``[min, max]`` (a bound of None is open); bool is not an integer here."""
    what = " ".join(filter(None, ("an integer", _interval(min, max))))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _type_error(name, value, what, hint)
    if (min is not None and value < min) or (max is not None and value > max):
        raise _value_error(name, value, "out of range", what, hint)
    return int(value)


def check_real(name: str, value, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
               hi_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite ``float`` in the interval from ``lo`` to ``hi`` (closed unless ``*_open``)."""
    what = " ".join(filter(None, ("a real number", _interval(lo, hi, lo_open, hi_open))))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_error(name, value, what, hint)
    v = float(value)
    if not math.isfinite(v):
        raise _value_error(name, value, "not finite", what, hint)
    if lo is not None and (v <= lo if lo_open else v < lo) or hi is not None and (v >= hi if hi_open else v > hi):
        raise _value_error(name, value, "out of range", what, hint)
    return v


def check_bool(name: str, value, *, hint: str = "") -> bool:
    """``value`` as a ``bool``: only ``True`` and ``False`` (and NumPy's), not 0/1 or strings."""
    if not isinstance(value, (bool, np.bool_)):
        raise _type_error(name, value, "True or False", hint)
    return bool(value)


def max_threads() -> int:
    """The most threads a ``num_threads`` may ask for: 4 per core, at most 256."""
    return min(256, 4 * (os.cpu_count() or 1))


def check_num_threads(num_threads) -> int | None:
    """None (the default: the library's own choice) or an integer in ``[1, max_threads()]``."""
    if num_threads is None:
        return None
    cap = max_threads()
    return check_int("num_threads", num_threads, min=1, max=cap,
                     hint=f"None uses all {os.cpu_count() or 1} cores; more than 4 threads per core "
                          f"(at most {cap} here) only adds overhead.")


def check_image_arg(image, name: str = "image", function: str = "this function") -> None:
    """Refuse a file name where an image array belongs, saying how to read the file."""
    if isinstance(image, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{name} is a {type(image).__name__} ({image!r}); {function} takes an image array, not a file. "
            f"Read the file first, e.g. skdce.io.read_image(path) or skimage.io.imread(path)."
        )
