"""``skdce demo`` (skdce/cli/demo.py)."""

import numpy as np

from skdce.io import read_image

from .._helpers import invoke


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


def test_demo_write_faults_are_messages(tmp_path):
    """A file in the way of the folder, a file-size limit: one line naming the file, no traceback, no temporary."""
    import resource

    from .._helpers import leftovers, run_cli

    (tmp_path / "file").write_text("in the way")
    result = run_cli("demo", "-o", tmp_path / "file" / "demo", "--sample", "chelsea")
    assert result.returncode == 2 and "Traceback" not in result.stderr  # a usage error, as for enhance (it was 1)
    assert "a file is in the way of a folder on this path" in result.stderr

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = run_cli("demo", "-o", tmp_path / "demo", "--sample", "chelsea", preexec_fn=small_files)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{tmp_path / 'demo' / 'chelsea_low.png'}: the file is larger than" in result.stderr
    assert not leftovers(tmp_path)


def test_demo_folder_named_like_an_output_is_a_usage_error(tmp_path):
    """demo/astronaut_enhanced.png/ a folder: exit 2 naming it, before any file is written (it failed with
    '...: Is a directory' and no fix, after astronaut_low.png was written)."""
    (tmp_path / "demo" / "astronaut_enhanced.png").mkdir(parents=True)
    result = invoke("demo", "-o", tmp_path / "demo")
    assert result.exit_code == 2 and result.stdout == ""
    assert (f"'{tmp_path / 'demo' / 'astronaut_enhanced.png'}' is a folder, in the way of the demo image of that "
            f"name; remove it or choose another -o.") in " ".join(result.stderr.split())
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut_enhanced.png"]
