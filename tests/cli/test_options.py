"""The options several commands share (skdce/cli/_options.py): one meaning, one parser each."""

import pytest

from skdce.cli import main

from ._helpers import invoke, run_cli


def test_short_flags_mean_one_thing_in_every_command():
    meaning: dict = {}
    for name, command in main.commands.items():
        for param in command.params:
            shorts = [o for o in param.opts + param.secondary_opts if len(o) == 2]
            longs = [o for o in param.opts if o.startswith("--")]
            for short in shorts:
                meaning.setdefault(short, set()).add(longs[0])
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}
    assert meaning["-o"] == {"--output"} and meaning["-q"] == {"--quality"}


@pytest.mark.parametrize("args,message", [
    (["--threads", "0"], "--threads"),
    (["--threads", "-1"], "--threads"),
    (["--threads", "1000"], "--threads"),
    (["--strength", "nan"], "'nan' is not a finite number"),
    (["--strength", "inf"], "'inf' is not a finite number"),
    (["--denoise", "nan"], "'nan' is not a finite number"),
])  # fmt: skip
def test_enhance_refuses_bad_numbers(photos, tmp_path, args, message):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()


def test_enhance_denoise_option_refuses_bad_values(tmp_path):
    result = run_cli("enhance", tmp_path, "-o", tmp_path / "out", "--denoise", "9")
    assert result.returncode == 2
    assert "--denoise" in result.stderr and "9" in result.stderr
