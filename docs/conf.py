"""Sphinx configuration for the flask-linkback documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``scripts/build-docs`` does this in the project's virtualenv).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# Document the code in this checkout, and find the local extension.
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

from flask_linkback import __version__  # noqa: E402

project = "flask-linkback"
author = "flask-linkback developers"
copyright = "flask-linkback developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "linkback_config",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}


html_theme = "furo"
html_title = f"flask-linkback {release}"
html_static_path: list[str] = []
