"""The options several commands share (skdce/cli/_options.py): one meaning, one parser each."""

import click
import pytest

from skdce.cli import main
from skdce.cli._options import FiniteFloatRange, parse_providers

from .._helpers import invoke, run_cli


def test_short_flags_mean_one_thing_in_every_command():
    meaning: dict = {}
    for command in main.commands.values():
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


#: The options defined once in skdce/cli/_options.py, by parameter name, and the commands that take each.
SHARED = {
    "model": ["demo", "enhance", "evaluate", "serve"],
    "strength": ["demo", "enhance", "evaluate"],
    "denoise": ["demo", "enhance", "evaluate"],
    "providers": ["demo", "enhance", "evaluate", "info", "serve"],
    "threads": ["enhance", "serve", "train"],
    "overwrite": ["enhance", "export"],
    "as_json": ["enhance", "evaluate", "info", "models"],
    "quiet": ["enhance", "evaluate", "train"],
}


def test_shared_options_parse_alike_in_every_command():
    found: dict = {}
    for name, command in main.commands.items():
        for param in command.params:
            if param.name in SHARED:
                spec = (tuple(param.opts), repr(param.type), param.default, param.show_default, param.is_flag)
                found.setdefault(param.name, {})[name] = spec
    assert {option: sorted(by_command) for option, by_command in found.items()} == SHARED
    differ = {option: by_command for option, by_command in found.items() if len(set(by_command.values())) > 1}
    assert differ == {}


@pytest.mark.parametrize("value,expected", [
    ("auto", "auto"),
    (" cuda ", "cuda"),
    ("CPUExecutionProvider", ["CPUExecutionProvider"]),
    ("CUDAExecutionProvider, CPUExecutionProvider", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
])  # fmt: skip
def test_parse_providers(value, expected):
    assert parse_providers(value) == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_finite_float_range_refuses_nan_and_inf(value):
    with pytest.raises(click.BadParameter, match=rf"'{value}' is not a finite number"):
        FiniteFloatRange(0, 2).convert(value, None, None)


@pytest.mark.parametrize("option", [("--format", "png"), ("--quality", "50"), ("--suffix", "_x")])
def test_image_options_with_a_video_output_file_are_usage_errors(tmp_path, option):
    """A video named by -o would ignore them: said, not silently dropped (as for an image output file)."""
    pytest.importorskip("av")
    from .._clips import static_clip, to_uint8, write_clip

    clip = tmp_path / "clip.mp4"
    write_clip(clip, to_uint8(static_clip(n=2)[1]))
    result = invoke("enhance", clip, "-o", tmp_path / "out.mp4", *option)
    assert result.exit_code == 2, result.output
    assert f"{option[0]} applies to images" in result.output and "is a video" in result.output
    assert not (tmp_path / "out.mp4").exists()
