"""Keep the published pages clean: no grading markers in code, no machine paths, no stderr noise.

- The solution notebooks carry nbgrader-style markers (``### BEGIN SOLUTION``, ``### END SOLUTION``,
  ``### HINT: ...``) that generate the student notebooks; a reader of the book does not need them,
  so their lines are dropped from every code block before the page is written.
- After a build, every HTML page is scanned: a page that shows a path of the machine that executed
  the notebooks (``/root/``, ``/home/<user>/``, ``site-packages``) or a stderr output box fails the
  build, naming the page and what it shows.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

MARKER = re.compile(r"^\s*### (BEGIN SOLUTION|END SOLUTION|HINT:.*)\s*$")
NOISE = {
    "a machine path": re.compile(r"(/root/|/home/[\w.-]+/|/work/[\w.-]+/|site-packages/|[A-Z]:\\\\Users\\\\)"),
    "a stderr output box": re.compile(r'class="[^"]*\boutput\b[^"]*\bstderr\b'),
    "a grading marker": re.compile(r"### (BEGIN|END) SOLUTION"),
}


def strip_markers(text: str) -> str:
    """`text` without the lines that are grading markers."""
    return "\n".join(line for line in text.split("\n") if not MARKER.match(line))


def _strip_code_blocks(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext()
        if any(MARKER.match(line) for line in text.split("\n")):
            clean = strip_markers(text)
            block.children = [nodes.Text(clean)]
            block.rawsource = clean


def find_noise(html_dir: Path) -> list[str]:
    """'page: what it shows' for every built page that shows a machine path, stderr or a grading marker."""
    found = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        if "_static" in page.parts or "mathjax" in page.parts:
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        for what, pattern in NOISE.items():
            if m := pattern.search(text):
                found.append(f"{page.relative_to(html_dir)}: {what} ({text[max(0, m.start() - 40):m.end() + 40]!r})")
    return found


def _check_pages(app: Sphinx, exc: Exception | None) -> None:
    if exc is None and app.builder.format == "html":
        noise = find_noise(Path(app.outdir))
        if noise:
            raise ExtensionError("clean_pages: published pages must not show these:\n  " + "\n  ".join(noise))


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", _strip_code_blocks)
    app.connect("build-finished", _check_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
