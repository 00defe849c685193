"""Serve MathJax with the book, so its formulas render without a network connection.

Sphinx loads MathJax 3 from a CDN by default: a book opened offline (a learner's laptop, a
classroom without internet) then shows raw ``\\(...\\)``. This extension points ``mathjax_path``
at a copy of MathJax 3 taken from the installed PyPI package ``sphinx-mathjax-offline`` (listed
in requirements.txt) and copies it to ``_build/html/mathjax/`` after a successful build. The
copy sits beside the pages rather than under ``_static/``.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"     # the distribution's importable folder has this (hyphenated) name
SCRIPT = "tex-mml-chtml.js"            # the same MathJax 3 component Sphinx loads from the CDN
TARGET = "mathjax"                     # folder in the built HTML


def mathjax_dir() -> Path:
    """The folder of MathJax 3 files in the installed package; a clear error if it is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(spec.origin).parent / "static" / "mathjax" if spec and spec.origin else None
    if folder is None or not (folder / SCRIPT).is_file():
        raise ExtensionError(f"offline_mathjax: MathJax 3 ({SCRIPT}) not found; the book takes it from the "
                             f"PyPI package {PACKAGE}: pip install -r requirements.txt")
    return folder


def _use_local_mathjax(app: Sphinx, config) -> None:
    mathjax_dir()
    # Sphinx prefixes a relative mathjax_path with _static/; step out of it to the copy beside the pages
    config.mathjax_path = f"../{TARGET}/{SCRIPT}"


def _copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is None and app.builder.format == "html":
        shutil.copytree(mathjax_dir(), Path(app.outdir) / TARGET, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
