"""Build the student edition of the book: the same pages and figures, exercises unsolved.

    python -m utils.student_book                  # source in _build/student-src, HTML in _build/student/_build/html
    python -m utils.student_book --source-only    # write the source tree only (no Sphinx build)

The published (worked) book is built from solutions/. The student edition is built from a separate
source tree: every page is the student notebook of `utils.generate` (solution blocks replaced by
`NotImplementedError`, so the page's download button serves the student notebook), with the stored
outputs of the solution notebook kept on every cell that is identical in both editions, so the
narrative's figures stay. Cells whose code differs (an exercise) and cells that call `check(...)`
(their PASS lines belong to the worked solution) show no output. The table of contents, the
configuration and the other pages are the worked book's, pointed at the student pages.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from utils.env import REPO_ROOT
from utils.generate import render, student_version

PAGES = ("intro.md", "glossary.md", "data-and-models.md", "instructor-guide.md")
_CHECK_CALL = re.compile(r"^\s*check\(", re.M)


def student_page(solution: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """The student notebook of `solution`, with the solution's outputs on every unchanged, non-check cell."""
    student = student_version(solution, path)
    kept = [c for c in solution.cells if "solution-only" not in c.get("metadata", {}).get("tags", [])]
    if len(kept) != len(student.cells):
        raise ValueError(f"{path}: the student notebook has {len(student.cells)} cells, expected {len(kept)}")
    for worked, cell in zip(kept, student.cells):
        if cell.cell_type != "code" or cell.source != worked.source or _CHECK_CALL.search(cell.source):
            continue
        cell.outputs = copy.deepcopy(worked.outputs)
        cell.execution_count = worked.get("execution_count")
    return student


def write_source(out: Path, repo: Path = REPO_ROOT) -> list[Path]:
    """Write the student edition's source tree into `out` (replacing it); returns the notebooks written."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for page in PAGES:
        shutil.copy2(repo / page, out / page)
    shutil.copytree(repo / "_ext", out / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((repo / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = f"{config['title']} (student edition)"
    config["exclude_patterns"] = [p for p in config.get("exclude_patterns", []) if p != "chapters/**"] + ["solutions/**"]
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    toc = (repo / "_toc.yml").read_text(encoding="utf-8")
    (out / "_toc.yml").write_text(re.sub(r"(file:\s*)solutions/", r"\1chapters/", toc), encoding="utf-8")
    written = []
    for src in sorted((repo / "solutions").glob("*/*.ipynb")):
        rel = src.relative_to(repo / "solutions")
        target = out / "chapters" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(student_page(nbformat.read(src, as_version=4), src)), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m utils.student_book", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "_build" / "student-src", help="source tree to write")
    parser.add_argument("--html", type=Path, default=REPO_ROOT / "_build" / "student", help="where the HTML goes")
    parser.add_argument("--source-only", action="store_true", help="write the source tree, do not build")
    args = parser.parse_args(argv)
    try:
        pages = write_source(args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"student edition: {len(pages)} notebooks in {args.out}")
    if args.source_only:
        return 0
    build = ["jupyter-book", "build", str(args.out), "--path-output", str(args.html), "-W", "--keep-going"]
    rc = subprocess.run(build, check=False).returncode
    if rc == 0:
        print(f"student edition built: {args.html / '_build' / 'html' / 'index.html'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
