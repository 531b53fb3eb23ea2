import collections
import threading

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def image():
    """A dark (45, 67, 3) float32 image, values in [0, 0.3): the input of the enhance, runtime and model tests."""
    rng = np.random.default_rng(7)
    return (rng.random((45, 67, 3)) * 0.3).astype(np.float32)


@pytest.fixture
def kernel_calls(monkeypatch):
    """Count the calls into the compiled kernel (``skdce.native._kernels``), by entry point.

    Wraps the binding of the curve stage and of the box stage (``_kernels`` in
    :mod:`skdce.engine.stages.curve` and :mod:`skdce.engine.stages.boxes`), so a test
    can assert that its "compiled" side really ran the C code rather than
    falling back to NumPy. Skips where the kernel is not built
    (``test_compiled_kernel_is_built`` fails there instead).
    """
    from skdce.engine.stages import boxes, curve

    real = curve._kernels
    if real is None:
        pytest.skip("skdce.native._kernels is not built")
    calls = collections.Counter()
    lock = threading.Lock()

    class Spy:
        def __getattr__(self, name):
            fn = getattr(real, name)

            def counted(*args):
                with lock:
                    calls[name] += 1
                return fn(*args)

            return counted

    monkeypatch.setattr(curve, "_kernels", Spy())
    monkeypatch.setattr(boxes, "_kernels", Spy())
    return calls


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """``clip.mp4``: a 64x48, 12-frame, 12 fps H.264 clip (lossless) of a moving square, with an AAC audio stream."""
    pytest.importorskip("av")
    from ._clips import moving_square_clip, to_uint8, write_clip

    _, noisy, _ = moving_square_clip(n=12)
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", to_uint8(noisy))
