"""The Dockerfile of ``skdce serve``: what it copies exists and its command parses; its build runs only where a
container tool is installed (it needs the network for its base image)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from skdce.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_the_dockerfile_copies_what_exists_and_runs_a_real_command():
    text = DOCKERFILE.read_text()
    for line in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for name in line.split():
            assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which is missing"
    cmd = re.search(r'^CMD \[(.+)\]$', text, flags=re.M).group(1)
    args = [a.strip().strip('"') for a in cmd.split(",")]
    assert args[:2] == ["skdce", "serve"] and "--no-auth" not in args  # a token is needed, from SKDCE_TOKEN
    ctx = main.make_context("skdce", args[1:], resilient_parsing=True)
    sub = main.get_command(ctx, "serve")
    params = sub.make_context("serve", args[2:] + ["--token", "x"]).params
    assert params["host"] == "0.0.0.0" and params["port"] == 8000


def _container_tool():
    """docker or podman where one is installed and its daemon answers (a client alone cannot build)."""
    for name in ("docker", "podman"):
        tool = shutil.which(name)
        if tool and subprocess.run([tool, "info"], capture_output=True, timeout=60).returncode == 0:
            return tool
    return None


@pytest.mark.slow
def test_the_image_builds():
    tool = _container_tool()
    if tool is None:
        pytest.skip("no working docker or podman here (none installed, or its daemon does not answer)")
    base = re.search(r"^FROM (\S+)", DOCKERFILE.read_text(), flags=re.M).group(1)
    if subprocess.run([tool, "image", "inspect", base], capture_output=True).returncode != 0 and \
            subprocess.run([tool, "pull", "-q", base], capture_output=True, timeout=600).returncode != 0:
        pytest.skip(f"the base image {base} is neither here nor reachable")
    res = subprocess.run([tool, "build", "-q", "-t", "skdce-serve-test", str(ROOT)], capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
