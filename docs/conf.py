"""Sphinx configuration of the skdce documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Needs the ``docs`` extra (sphinx, numpydoc, sphinx-gallery,
pydata-sphinx-theme, matplotlib) and the ``train`` extra (torch), because the
API reference documents :mod:`skdce.train` and one gallery example trains a
network. Nothing is downloaded during the build.
"""

import os
import sys
from pathlib import Path

import skdce

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))

# The gallery examples use a few threads of ONNX Runtime and torch; keep
# matplotlib off any display.
os.environ.setdefault("MPLBACKEND", "agg")

# -- Project -----------------------------------------------------------------

project = "skdce"
author = "skdce developers"
copyright = "skdce developers"
release = skdce.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "click_help",  # docs/sphinxext: the --help text of each skdce command
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "sphinxext", "examples"]
default_role = "py:obj"

# -- autodoc / autosummary / numpydoc ------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc Parameters sections say it all
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- plot directive (figures in the user guide) -------------------------------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.autolayout": True}

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    # "Examples using skdce.enhance" on each API page
    "doc_module": ("skdce",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "plot_gallery": "True",
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 60,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skdce {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"changelog": [], "install": [], "quickstart": []}
html_show_sourcelink = True
