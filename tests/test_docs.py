"""The documentation: every public name is documented and shown, and the site builds.

The build test runs the whole Sphinx build (with every gallery example) in a
copy of ``docs/`` under a temporary folder, with warnings as errors, exactly as

    python -m sphinx -W --keep-going -b html docs docs/_build/html

It is marked slow and needs the ``docs`` and ``train`` extras.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("plot_*.py"))

#: Public modules whose ``__all__`` must appear in the API reference and in a gallery example.
PUBLIC_MODULES = ["skdce", "skdce.context", "skdce.losses", "skdce.denoise", "skdce.data", "skdce.tone", "skdce.train",
                  "skdce.video"]


def _public_names(module_name):
    if module_name == "skdce.train":
        pytest.importorskip("torch")
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if name.startswith("__") or type(obj).__name__ == "module":
            continue
        yield name


def _mentions(text, name):
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_are_documented_and_shown(module_name):
    api = (DOCS / "api.rst").read_text()
    examples = "\n".join(p.read_text() for p in EXAMPLES)
    names = list(_public_names(module_name))
    assert names
    not_in_api = [n for n in names if not _mentions(api, n)]
    not_in_examples = [n for n in names if not _mentions(examples, n)]
    assert not not_in_api, f"{module_name}: add {not_in_api} to docs/api.rst"
    assert not not_in_examples, f"{module_name}: use {not_in_examples} in a docs/examples/plot_*.py example"


def test_io_is_in_the_api_reference():
    """skdce.io is the CLI's file layer: in the API reference (its examples are its doctests)."""
    api = (DOCS / "api.rst").read_text()
    section = api[api.index("``skdce.io``") :]
    missing = [n for n in _public_names("skdce.io") if not _mentions(section, n)]
    assert not missing, f"add {missing} to the skdce.io section of docs/api.rst"


def test_io_constants_have_doc_comments():
    """autodata reads a constant's ``#:`` comment from skdce/io/__init__.py (the module it documents), not from
    the submodule that defines it: each public constant of skdce.io is bound there under its comment."""
    import skdce.io

    source = Path(skdce.io.__file__).read_text()
    constants = [n for n in skdce.io.__all__ if not callable(getattr(skdce.io, n))]
    missing = [n for n in constants if not re.search(rf"^#: .+\n{n} = ", source, re.M)]
    assert constants and not missing, f"bind {missing} in skdce/io/__init__.py under a '#:' comment"


def test_readme_figure_is_small():
    figure = DOCS / "_static" / "before_after.png"
    assert figure.is_file(), "run python docs/make_readme_figure.py"
    assert figure.stat().st_size < 300_000


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    for module in ("numpydoc", "sphinx_gallery", "pydata_sphinx_theme", "matplotlib", "torch"):
        pytest.importorskip(module)
    src = tmp_path / "docs"
    # A fresh copy: no cached gallery output, nothing written into the checkout.
    shutil.copytree(
        DOCS,
        src,
        ignore=shutil.ignore_patterns("_build", "auto_examples", "generated", "sg_execution_times.rst", "__pycache__"),
    )
    out = tmp_path / "html"
    env = dict(os.environ, MPLBACKEND="agg")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"

    assert EXAMPLES
    for example in EXAMPLES:
        image = f"sphx_glr_{example.stem}_001.png"
        assert (src / "auto_examples" / "images" / image).is_file(), f"{example.name} made no figure"
        assert (out / "auto_examples" / f"{example.stem}.html").is_file()
        assert (out / "_images" / image).is_file()
    for page in ("index", "install", "quickstart", "api", "changelog", "user_guide/curves", "user_guide/training",
                 "user_guide/cli"):
        assert (out / f"{page}.html").is_file(), page
    assert (out / "generated" / "skdce.enhance.html").is_file()
    assert (out / "_images" / "before_after.png").is_file() or (out / "_static" / "before_after.png").is_file()


def test_docs_config_uses_no_deprecated_sphinx_gallery_option():
    """sphinx-gallery ignores reference_url and says so in every build (links come from the build itself)."""
    assert "reference_url" not in (DOCS / "conf.py").read_text()


def test_quickstart_model_comment_matches_its_code():
    """The quickstart said 'the faster model' above a call that picked none."""
    text = (DOCS / "quickstart.rst").read_text()
    assert "the faster model" not in text and 'model="zero-dce++"' in text


def test_readme_first_snippet_runs_as_written():
    """A newcomer pastes it first; it used an undefined ``dark``."""
    readme = (DOCS.parent / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["bright"].shape == namespace["dark"].shape
