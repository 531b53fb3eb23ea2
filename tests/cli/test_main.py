"""The group ``skdce`` (skdce/cli/__init__.py): help, version, start-up time, exit statuses."""

import subprocess
import sys

import pytest

from .._helpers import invoke
from ._helpers import COMMANDS


def test_version_and_help_do_not_import_runtimes():
    code = (
        "import sys\n"
        "from skdce.cli import main\n"
        "for args in (['--version'], ['--help'], ['enhance', '--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(args, prog_name='skdce')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "print('LOADED', sorted(m for m in ('onnxruntime', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    assert "skdce 0.2.0.dev0" in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"skdce {command}" in result.output


def test_group_help_and_version():
    result = invoke("--help")
    assert result.exit_code == 0 and "Examples:" in result.output
    assert all(c in result.output for c in COMMANDS)
    assert invoke("--version").output == "skdce 0.2.0.dev0\n"


def test_exit_codes_are_documented():
    text = invoke("--help").output
    assert "Exit status" in text and all(code in text for code in ("0 ", "1 ", "2 ", "130"))
