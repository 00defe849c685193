"""The repository's one pattern, checked: every chapter plugs in the same way.

The contract a chapter follows (utils/exercises/__init__.py says it for the specs):
- `solutions/NN-topic/MM-name.ipynb` <-> exactly one spec module `utils/exercises/chNN_<name>.py`
  (`-` as `_`) whose NOTEBOOK points back at it, listed in `SPEC_MODULES`;
- exercise ids `chNN.exK` numbered in notebook order, without gaps, across the chapter; every
  `check("...")` id exists and every exercise is checked in its own notebook;
- every notebook has the skeleton sections, in order, and at least one displayed formula directly
  above the code that computes it;
- every `utils/<module>.py` has `tests/test_<module>.py`; no module of the grading engine imports
  the exercise content; every notebook is in `_toc.yml` and starts with `start_notebook()`.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from utils.exercises import COURSE, SPEC_MODULES

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))
#: The skeleton: second-level headings every notebook has, in this order (matched at the start of the heading).
SKELETON = ("What you will learn", "Background", "Concepts", "Results", "Applications", "FAQ", "Takeaways",
            "References")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](ch\d\d\.ex\d+)["']""")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def spec_name(notebook: Path) -> str:
    """`solutions/03-quantization/01-ptq.ipynb` -> `ch03_ptq`."""
    chapter = notebook.parent.name.split("-", 1)[0]
    name = notebook.stem.split("-", 1)[1].replace("-", "_")
    return f"ch{chapter}_{name}"


def headings(path: Path) -> list[str]:
    return [line[3:].strip() for c in cells(path) if c["cell_type"] == "markdown"
            for line in text(c).splitlines() if line.startswith("## ")]


def check_ids(path: Path) -> list[str]:
    return [i for c in cells(path) if c["cell_type"] == "code" for i in CHECK_CALL.findall(text(c))]


def test_every_notebook_has_one_spec_module_and_back() -> None:
    modules = {m.__name__.rsplit(".", 1)[1]: m for m in SPEC_MODULES}
    files = {p.stem for p in (REPO / "utils" / "exercises").glob("ch*.py")}
    assert files == set(modules), f"spec files not in SPEC_MODULES (or the reverse): {sorted(files ^ set(modules))}"
    wanted = {spec_name(nb): nb for nb in NOTEBOOKS}
    assert set(wanted) == set(modules), (f"notebooks without a spec: {sorted(set(wanted) - set(modules))}; "
                                         f"specs without a notebook: {sorted(set(modules) - set(wanted))}")
    for name, nb in wanted.items():
        module = modules[name]
        rel = nb.relative_to(REPO / "solutions").as_posix()
        assert module.NOTEBOOK == rel, f"{name}.NOTEBOOK is {module.NOTEBOOK!r}, expected {rel!r}"
        assert all(ex.notebook == rel for ex in module.EXERCISES), f"{name}: an exercise names another notebook"


def test_exercise_ids_follow_notebook_order_without_gaps() -> None:
    known = COURSE.all()
    by_chapter: dict[str, list[str]] = {}
    for nb in NOTEBOOKS:
        ids = check_ids(nb)
        unknown = [i for i in ids if i not in known]
        assert not unknown, f"{nb.name} checks unknown ids {unknown}"
        own = [ex.id for ex in COURSE.for_notebook(nb)]
        assert sorted(set(ids)) == sorted(own), f"{nb.name}: checked {sorted(set(ids))}, its spec has {sorted(own)}"
        first_seen = list(dict.fromkeys(ids))
        assert first_seen == own, f"{nb.name}: EXERCISES order {own} differs from the notebook's order {first_seen}"
        by_chapter.setdefault(nb.parent.name[:2], []).extend(first_seen)
    for chapter, ids in by_chapter.items():
        expected = [f"ch{chapter}.ex{k}" for k in range(1, len(ids) + 1)]
        assert ids == expected, f"chapter {chapter}: ids {ids}, expected {expected} (notebook order, no gaps)"


def test_exercise_headings_name_their_ids_and_points() -> None:
    for nb in NOTEBOOKS:
        for ex in COURSE.for_notebook(nb):
            pattern = rf"### Exercise {re.escape(ex.id)} \({ex.points:g} points?\)"
            assert any(re.search(pattern, text(c)) for c in cells(nb) if c["cell_type"] == "markdown"), \
                f"{nb.name}: no heading '### Exercise {ex.id} ({ex.points:g} point(s)): ...'"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_skeleton_in_order(nb: Path) -> None:
    found = headings(nb)
    positions = []
    for section in SKELETON:
        hits = [i for i, h in enumerate(found) if h.startswith(section)]
        assert hits, f"{nb.name}: no '## {section}...' section (skeleton: {', '.join(SKELETON)})"
        positions.append(hits[0])
    assert positions == sorted(positions), f"{nb.name}: skeleton sections out of order: {found}"
    intro = next(text(c) for c in cells(nb) if c["cell_type"] == "markdown" and "## What you will learn" in text(c))
    for label in ("Prerequisites", "Run time"):
        assert f"**{label}" in intro, f"{nb.name}: 'What you will learn' does not state **{label}**"
    refs = next(text(c) for c in cells(nb) if c["cell_type"] == "markdown" and "## References" in text(c))
    assert len(re.findall(r"^\s*[-*\d.]+\s", refs, re.MULTILINE)) >= 2, f"{nb.name}: References lists fewer than 2 works"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_formula_stands_right_above_its_code(nb: Path) -> None:
    cs = cells(nb)
    assert any(c["cell_type"] == "markdown" and "$$" in text(c) and nxt["cell_type"] == "code"
               for c, nxt in zip(cs, cs[1:])), f"{nb.name}: no displayed formula directly above a code cell"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_start_notebook_and_is_in_the_toc(nb: Path) -> None:
    first = next(text(c) for c in cells(nb) if c["cell_type"] == "code")
    assert "start_notebook()" in first, f"{nb.name}: the first code cell must call utils.notebook.start_notebook()"
    toc = (REPO / "_toc.yml").read_text()
    assert f"file: {nb.relative_to(REPO).with_suffix('').as_posix()}\n" in toc, f"{nb.name} is not in _toc.yml"


def test_every_utils_module_has_its_tests() -> None:
    missing = [p.name for p in (REPO / "utils").glob("*.py")
               if p.stem not in ("__init__", "__main__") and not (REPO / "tests" / f"test_{p.stem}.py").is_file()]
    assert not missing, f"utils modules without tests/test_<module>.py: {missing}"


def _imports(path: Path) -> set[str]:
    """Modules a file imports: statically, or dynamically by a literal name; '<discovery>' for pkgutil scans."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    if "pkgutil" in names:
        names.add("<discovery>")
    return names


def test_the_grading_engine_does_not_reach_up_into_the_exercises() -> None:
    for path in sorted((REPO / "utils" / "grading").glob("*.py")):
        bad = {n for n in _imports(path) if n.startswith("utils.exercises") or n == "<discovery>"}
        assert not bad, f"{path.name} imports {sorted(bad)}: the engine must be handed its exercises"
    for path in sorted((REPO / "utils").glob("*.py")):
        if path.stem not in ("grade", "generate"):
            bad = {n for n in _imports(path) if n.startswith(("utils.exercises", "utils.grading"))}
            assert not bad, f"utils/{path.name} imports {sorted(bad)}: only utils.grade and utils.generate use grading"


def test_exercise_content_is_specs_not_test_data() -> None:
    for path in sorted((REPO / "utils" / "exercises").glob("ch*.py")):
        assert "mutants" not in path.read_text(), f"{path.name}: known wrong implementations belong in tests/mutants/"
    mutant_files = {p.stem for p in (REPO / "tests" / "mutants").glob("ch*.py")}
    assert mutant_files == {m.__name__.rsplit(".", 1)[1] for m in SPEC_MODULES}, "one tests/mutants file per spec"


def test_only_utils_env_reads_the_environment() -> None:
    allowed = {"env.py", "plots.py", "grading/worker.py", "grading/runner.py"}  # see utils/env.py's docstring
    for path in sorted((REPO / "utils").rglob("*.py")):
        rel = path.relative_to(REPO / "utils").as_posix()
        reads = re.findall(r"os\.environ(?:\.get)?\(\s*\"(\w+)\"|os\.environ\[\s*\"(\w+)\"\s*\](?!\s*=)|os\.getenv", path.read_text())
        if rel not in allowed:
            assert not reads, f"utils/{rel} reads the environment; add the variable to utils/env.py instead"
    runner = (REPO / "utils" / "grading" / "runner.py").read_text()
    assert "GRADER_NO_FORK" not in runner, "the grader's settings are read in utils/env.py"
