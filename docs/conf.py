"""Sphinx configuration of chiptwin's documentation (``sphinx-build -W --keep-going docs docs/_build``).

Sphinx because its autodoc reads the docstrings as they are written (Sphinx roles, Google-style
sections through napoleon), so the Python API reference is generated from the code; MyST lets the
guides be Markdown like the README; ``_ext/chiptwin_reference.py`` generates the CLI, chip-file and trace
references from the parser, the spec and the schema at build time.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from chiptwin.versions import VERSION  # noqa: E402  (after the path of the extension)

project = "chiptwin"
author = "the chiptwin authors"
copyright = "2026, the chiptwin authors"
release = version = VERSION

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "chiptwin_reference",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
smartquotes = False  # "--list" stays two hyphens
myst_enable_extensions = ["dollarmath", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # a class's "Attributes:" as fields, not a second entry per attribute

html_theme = "alabaster"
html_title = f"chiptwin {VERSION}"
html_static_path: list[str] = []
html_theme_options = {"description": "a digital twin of an analog in-memory-computing PCM chip"}
