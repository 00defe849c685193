"""The student edition of the book: the worked book's pages and figures, no solutions (utils.student_book)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from utils.generate import BEGIN, student_version
from utils.student_book import student_page, write_source

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("student") / "src"
    write_source(out, REPO)
    return out


def test_every_page_is_a_student_notebook_with_the_worked_figures(tree: Path) -> None:
    for src in SOLUTIONS:
        page = tree / "chapters" / src.relative_to(REPO / "solutions")
        nb = nbformat.read(page, as_version=4)
        worked = nbformat.read(src, as_version=4)
        bare = student_version(worked, src)
        assert [c.source for c in nb.cells] == [c.source for c in bare.cells], f"{page.name}: not the student notebook"
        assert not any(BEGIN in c.source for c in nb.cells), f"{page.name}: a solution block survived"
        exercises = [c for c in nb.cells if "raise NotImplementedError" in c.source]
        assert exercises, f"{page.name}: no exercise stub"
        assert all(not c.get("outputs") for c in exercises), f"{page.name}: an exercise cell shows the solution's output"
        shown = sum(bool(c.get("outputs")) for c in nb.cells if c.cell_type == "code")
        assert shown >= sum(bool(c.get("outputs")) for c in worked.cells if c.cell_type == "code") - 2 * len(exercises) - 8, \
            f"{page.name}: most of the worked notebook's outputs are missing"


def test_check_cells_show_no_pass_lines(tree: Path) -> None:
    for page in sorted((tree / "chapters").glob("*/*.ipynb")):
        for cell in nbformat.read(page, as_version=4).cells:
            if cell.cell_type == "code" and cell.source.lstrip().startswith("check("):
                assert not cell.outputs, f"{page.name}: a check() cell keeps the worked solution's PASS lines"


def test_toc_and_config_point_at_the_student_pages(tree: Path) -> None:
    toc = yaml.safe_load((tree / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert not any(f.startswith("solutions/") for f in files)
    for f in files:
        assert (tree / f"{f}.ipynb").exists() or (tree / f"{f}.md").exists(), f"toc entry {f} has no page"
    config = yaml.safe_load((tree / "_config.yml").read_text(encoding="utf-8"))
    assert config["title"].endswith("(student edition)")
    assert "solutions/**" in config["exclude_patterns"] and "chapters/**" not in config["exclude_patterns"]
    assert not (tree / "solutions").exists()


def test_solution_only_cells_are_dropped_in_step() -> None:
    worked = nbformat.read(SOLUTIONS[0], as_version=4)
    broken = nbformat.from_dict(worked)
    broken.cells[1].metadata.setdefault("tags", []).append("solution-only")
    page = student_page(broken, SOLUTIONS[0])  # dropping a cell keeps the two in step
    assert len(page.cells) == len(worked.cells) - 1


@pytest.mark.skipif(shutil.which("jupyter-book") is None, reason="jupyter-book is not installed")
def test_the_student_edition_builds_with_warnings_as_errors(tree: Path, tmp_path: Path) -> None:
    html = tmp_path / "html"
    run = subprocess.run(["jupyter-book", "build", str(tree), "--path-output", str(html), "-W", "--keep-going"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    page = html / "_build" / "html" / "chapters" / "07-evaluating-and-combining" / "02-capstone.html"
    text = page.read_text(encoding="utf-8")
    assert "NotImplementedError" in text and "(student edition)" in text
    assert (html / "_build" / "html" / "_sources" / "chapters" / "07-evaluating-and-combining" / "02-capstone.ipynb").exists()
