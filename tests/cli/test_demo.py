"""``skdce demo`` (skdce/cli/demo.py)."""

import numpy as np

from skdce.io import read_image

from ._helpers import invoke


def test_demo(tmp_path):
    result = invoke("demo", "-o", tmp_path / "demo", "--sample", "chelsea")
    assert result.exit_code == 0, result.output
    low, meta = read_image(tmp_path / "demo" / "chelsea_low.png")
    enhanced, _ = read_image(tmp_path / "demo" / "chelsea_enhanced.png")
    pair, _ = read_image(tmp_path / "demo" / "chelsea_before_after.png")
    assert low.shape == enhanced.shape == (300, 451, 3) and meta.bit_depth == 8
    assert pair.shape == (300, 2 * 451 + 8, 3)
    np.testing.assert_array_equal(pair[:, :451], low)
    assert invoke("demo", "-o", tmp_path / "demo", "--sample", "chelsea").exit_code == 0  # rerunnable
