"""The compiled kernel (skdce/native/_kernels.c): agreement with the NumPy kernel, and arguments it refuses.

Agreement tests compare the C kernel with the NumPy kernel: the compiled side
is watched by the ``kernel_calls`` spy (conftest.py), the NumPy side forced by
``curves._kernels = None``. Safety tests run in a subprocess, where a segfault
would kill only the child (and fail the test) rather than pytest.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skdce import apply_le_curves
from skdce import curves as curves_mod


def test_compiled_kernel_is_built():
    # CI builds with a C compiler: the fast path must not be missing silently
    import skdce.native._kernels  # noqa: F401


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["rgb", "rgba", "channels_first", "flipped", "gray"])
@pytest.mark.parametrize("alphas", ["shared_map", "per_iteration", "per_iteration_planar", "per_channel", "scalar",
                                    "row_broadcast"])
def test_kernels_agree(rng, monkeypatch, kernel_calls, dtype, layout, alphas):
    """The compiled and NumPy kernels give the same result on every dtype, layout and alpha form.

    float16 input has no C path (the kernel reads uint8, uint16, float32 and
    float64): its NumPy result is compared with the C kernel's on the same
    values in float32 (exact: both compute in float32).
    """
    h, w = 21, 37
    n_color = 1 if layout == "gray" else 3
    if np.dtype(dtype).kind == "u":
        img = rng.integers(0, np.iinfo(dtype).max, (h, w, 4), endpoint=True).astype(dtype)
    else:
        img = rng.random((h, w, 4)).astype(dtype)
    axis = -1
    if layout == "rgb":
        img = img[..., :3]
    elif layout == "channels_first":
        img, axis = np.moveaxis(img[..., :3], -1, 0), 0
    elif layout == "flipped":
        img = img[::-1, ::-2, :3]
    elif layout == "gray":
        img, axis = img[..., 0], None
    shape = img.shape if axis is None else np.moveaxis(img, axis, -1).shape[:2]
    a = {
        "shared_map": lambda: rng.uniform(-1, 1, shape[:2] + ((n_color,) if axis is not None else ())),
        "per_iteration": lambda: rng.uniform(-1, 1, shape[:2] + (8 * n_color,)),
        # a view of NCHW maps, as DCE-Net's output arrives
        "per_iteration_planar": lambda: np.moveaxis(rng.uniform(-1, 1, (8 * n_color,) + shape[:2]), 0, -1),
        "per_channel": lambda: rng.uniform(-1, 1, n_color),
        "scalar": lambda: np.float64(-0.7),
        "row_broadcast": lambda: rng.uniform(-1, 1, (1, shape[1], n_color)),
    }[alphas]()
    if axis == 0 and np.ndim(a) == 3:
        a = np.moveaxis(a, -1, 0)
    if axis is None and alphas == "row_broadcast":
        a = a[..., 0]
    if axis is None and alphas.startswith("per_iteration"):
        a = a[..., :8]
    c_img = img.astype(np.float32) if img.dtype == np.float16 else img
    compiled = apply_le_curves(c_img, a, channel_axis=axis)
    assert kernel_calls["le_curves"] > 0, "the compiled side fell back to NumPy"
    monkeypatch.setattr(curves_mod, "_kernels", None)
    calls = kernel_calls["le_curves"]
    numpy = apply_le_curves(img, a, channel_axis=axis)
    assert kernel_calls["le_curves"] == calls
    assert compiled.dtype == numpy.dtype
    # Integer input: the NumPy kernel rounds x / max to float32 before the curves, the
    # compiled one carries it in double; steep curves amplify that first rounding.
    atol = 1e-12 if compiled.dtype == np.float64 else 1e-5 if img.dtype.kind == "u" else 1e-6
    np.testing.assert_allclose(compiled, numpy, rtol=0, atol=atol)


def _isolated(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return its output, failing on a crash (a segfault)."""
    prelude = "import numpy as np\nfrom skdce import apply_le_curves, curves\nfrom skdce.native import _kernels\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"the child died with code {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


_REPORT = """
try:
    {call}
except (ValueError, TypeError) as exc:
    print(type(exc).__name__, exc)
else:
    print("no error")
"""

#: out= arrays apply_le_curves must refuse: setup (defining img, a, out), its message, the kernel's
_BAD_OUT = {
    "readonly_memmap": (
        "import tempfile, os\n"
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32); a = 0.5\n"
        "path = os.path.join(tempfile.mkdtemp(), 'out.f32')\n"
        "np.memmap(path, np.float32, 'w+', shape=img.shape).flush()\n"
        "out = np.memmap(path, np.float32, 'r', shape=img.shape)\n",
        "out is read-only",
        "le_curves: y is read-only",
    ),
    "bytes_backed": (
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32); a = 0.5\n"
        "out = np.frombuffer(bytes(img.nbytes), np.float32).reshape(img.shape)\n",
        "out is read-only",
        "le_curves: y is read-only",
    ),
    "broadcast_view": (
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32); a = 0.5\n"
        "out = np.broadcast_to(np.zeros(3, np.float32), img.shape)\n",
        "out is read-only",
        "le_curves: y is read-only",
    ),
    "writeable_false": (
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32); a = 0.5\n"
        "out = np.zeros(img.shape, np.float32); out.flags.writeable = False\n",
        "out is read-only",
        "le_curves: y is read-only",
    ),
    "writable_broadcast": (  # as_strided can make a writable view whose elements share memory
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32); a = 0.5\n"
        "out = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), img.shape, (0, 0, 4), writeable=True)\n",
        "out has elements that share memory",
        "le_curves: y has elements that share memory",
    ),
    "shifted_overlap": (  # out one row below image, in the same buffer
        "buf = np.random.default_rng(0).random((65, 80, 3)).astype(np.float32)\n"
        "img, out, a = buf[:-1], buf[1:], 0.5\n",
        "out overlaps image without being the same view of it",
        "le_curves: y overlaps x without being the same view of it",
    ),
    "transposed_overlap": (
        "buf = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)\n"
        "img, out, a = buf, buf.transpose(1, 0, 2), 0.5\n",
        "out overlaps image without being the same view of it",
        "le_curves: y overlaps x without being the same view of it",
    ),
    "out_is_alphas": (
        "img = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32)\n"
        "a = out = np.full(img.shape, 0.5, np.float32)\n",
        "out shares memory with alphas",
        "le_curves: y overlaps a without being the same view of it",
    ),
}


@pytest.mark.parametrize("guard", ["python", "kernel"])
@pytest.mark.parametrize("case", sorted(_BAD_OUT))
def test_bad_out_is_refused(case, guard):
    """Each bad ``out=`` gives a clear ValueError; with the Python checks switched off the C kernel still refuses it."""
    setup, match, kernel_match = _BAD_OUT[case]
    if guard == "kernel":
        setup += "curves._check_out = lambda *args: None\n"
        match = kernel_match
    report = _isolated(setup + _REPORT.format(call="apply_le_curves(img, a, out=out)"))
    assert report.startswith("ValueError") and match in report, report


def test_in_place_still_works():
    report = _isolated("""
        img = np.random.default_rng(0).random((64, 80, 4)).astype(np.float32)
        a = np.random.default_rng(1).uniform(-1, 1, (64, 80, 3)).astype(np.float32)
        expected = apply_le_curves(img, a)
        got = apply_le_curves(img, a, out=img)
        print(got is img, np.abs(img - expected).max())
    """)
    assert report.split()[0] == "True" and float(report.split()[1]) == 0, report


_f32 = "np.zeros((4, 5, 3), np.float32)"

#: direct calls into the kernel with arguments Python never passes: each must raise, not crash
_KERNEL_CALLS = {
    "raw_address": (f"_kernels.le_curves({_f32}.ctypes.data, {_f32}, np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, "
                    "False, False)", "TypeError", "x must be a strided buffer"),
    "readonly_y": (f"y = {_f32}; y.flags.writeable = False\n    "
                   f"_kernels.le_curves({_f32}, y, np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, False)",
                   "ValueError", "y is read-only"),
    "bytes_y": (f"_kernels.le_curves({_f32}, bytes(240), np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, False)",
                "ValueError", "y is read-only"),
    "shape_mismatch": (f"_kernels.le_curves({_f32}, np.zeros((4, 6, 3), np.float32), "
                       "np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, False)", "ValueError", "y has shape"),
    "alpha_too_small": (f"_kernels.le_curves({_f32}, {_f32}, np.zeros((2, 5, 1, 3), np.float32), 8, 1.0, False, "
                        "False)", "ValueError", "does not broadcast"),
    "alpha_iterations": (f"_kernels.le_curves({_f32}, {_f32}, np.zeros((4, 5, 3, 3), np.float32), 8, 1.0, False, "
                         "False)", "ValueError", "does not broadcast"),
    "alpha_dtype": (f"_kernels.le_curves({_f32}, {_f32}, np.zeros((1, 1, 1, 3)), 8, 1.0, False, False)",
                    "TypeError", "a has format 'd'"),
    "image_dtype": (f"_kernels.le_curves(np.zeros((4, 5, 3), np.int32), {_f32}, np.zeros((1, 1, 1, 3), np.float32), "
                    "8, 1.0, False, False)", "TypeError", "x has format"),
    "byteswapped": (f"_kernels.le_curves({_f32}.astype('>f4'), {_f32}, np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, "
                    "False, False)", "TypeError", "x has format '>f'"),
    "ndim": (f"_kernels.le_curves(np.zeros((4, 5)), {_f32}, np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, "
             "False)", "ValueError", "x has 2 dimensions, expected 3"),
    "misaligned": ("raw = np.zeros(4 * 5 * 3 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(4, 5, 3)\n    "
                   f"_kernels.le_curves(raw, {_f32}, np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, False)",
                   "ValueError", "x is not aligned"),
    "partial_overlap": ("buf = np.zeros((5, 5, 3), np.float32)\n    "
                        "_kernels.le_curves(buf[:-1], buf[1:], np.zeros((1, 1, 1, 3), np.float32), 8, 1.0, False, "
                        "False)", "ValueError", "y overlaps x"),
    "src_row_out_of_range": (f"_kernels.le_curves({_f32}, {_f32}, np.zeros((2, 5, 3), np.float32), 8, 1.0, False, "
                             "False, (np.zeros((2, 5, 3), np.float32), np.array([0, 1, 2, 0]), "
                             "np.zeros(4, np.float32)))", "ValueError", r"src_row\[2\] = 2 is outside \[0, 2\)"),
    "interp_lengths": (f"_kernels.le_curves({_f32}, {_f32}, np.zeros((2, 5, 3), np.float32), 8, 1.0, False, "
                       "False, (np.zeros((2, 5, 3), np.float32), np.zeros(3, np.int64), np.zeros(4, np.float32)))",
                       "ValueError", "one entry per block row"),
    "box_edges_beyond": ("_kernels.box_mean(np.zeros((10, 10, 3), np.float32), np.array([0, 5, 11]), "
                         "np.array([0, 10]), np.zeros((2, 1, 3), np.float32), 0, 2)", "ValueError",
                         "ey must increase from >= 0 to <= 10"),
    "box_rows_beyond": ("_kernels.box_mean(np.zeros((10, 10, 3), np.float32), np.array([0, 5, 10]), "
                        "np.array([0, 10]), np.zeros((2, 1, 3), np.float32), 0, 3)", "ValueError",
                        "rows 0:3 are not within 0:2"),
    "box_out_shape": ("_kernels.box_mean(np.zeros((10, 10, 3), np.float32), np.array([0, 5, 10]), "
                      "np.array([0, 10]), np.zeros((2, 2, 3), np.float32), 0, 2)", "ValueError",
                      r"out must be \(len\(ey\) - 1"),
    "box_readonly_out": ("_kernels.box_mean(np.zeros((10, 10, 3), np.float32), np.array([0, 5, 10]), "
                         "np.array([0, 10]), np.broadcast_to(np.zeros(3, np.float32), (2, 1, 3)), 0, 2)",
                         "ValueError", "out is read-only"),
    "in_range_ndim": ("_kernels.in_range(np.zeros((2, 2), np.float32), 0.0, 1.0)", "ValueError",
                      "x has 2 dimensions, expected 1"),
    "in_range_int": ("_kernels.in_range(np.zeros(4, np.uint8), 0.0, 1.0)", "TypeError", "x has format 'B'"),
}


def test_kernel_refuses_bad_buffers():
    """Every entry point checks its buffers in C: each bad call raises TypeError/ValueError, none crashes."""
    code = ""
    for name, (call, _, _) in sorted(_KERNEL_CALLS.items()):
        code += f"print({name!r}, end=' ')" + _REPORT.format(call=call)
    lines = dict(line.split(" ", 1) for line in _isolated(code).splitlines())
    for name, (_, exc, match) in _KERNEL_CALLS.items():
        got = lines[name]
        assert got.startswith(exc + " "), f"{name}: {got}"
        assert re.search(match, got), f"{name}: {got}"


def test_kernel_strided_range_check():
    """in_range reads a strided 1-D buffer element by element."""
    from skdce.native import _kernels

    x = np.zeros(20, np.float32)
    x[1::2] = 5
    assert _kernels.in_range(x[::2], 0.0, 1.0)
    assert not _kernels.in_range(x[1::2], 0.0, 1.0)
    assert not _kernels.in_range(x[::-1], 0.0, 1.0)
