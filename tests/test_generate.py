"""Student-notebook generation: solution blocks, hints, outputs, solution-only cells, byte stability."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from utils.generate import generate, main, render, strip_solutions, student_version
from course_fixtures import CATALOG, REPO


def test_chapters_in_sync_with_solutions() -> None:
    stale = generate(REPO / "solutions", REPO / "chapters", check=True)
    assert not stale, "chapters/ is out of sync; run `python -m utils.generate`:\n" + "\n".join(map(str, stale))


def test_strip_solutions_keeps_indentation_hints_and_uses_the_exercise_id() -> None:
    source = (
        "def magnitude_mask(w, s):\n    '''doc'''\n    ### BEGIN SOLUTION\n    ### HINT: sort once\n"
        "    return w\n    ### END SOLUTION\n\nx = 1"
    )
    out = strip_solutions(source, "demo-grading.ipynb", catalog=CATALOG)
    assert out == (
        "def magnitude_mask(w, s):\n    '''doc'''\n    # Hint: sort once\n"
        "    raise NotImplementedError('Exercise demo.ex1: write this function (see the task above)')\n\nx = 1"
    )
    generic = strip_solutions("def other():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION")
    assert "NotImplementedError('Write this function" in generic


@pytest.mark.parametrize("bad", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(bad) -> None:
    with pytest.raises(ValueError, match="SOLUTION"):
        strip_solutions(bad, where="nb, cell 3")


def test_student_version_of_demo(tmp_path) -> None:
    src = CATALOG.solution_notebook(CATALOG.get("demo.ex1"))
    sol = nbformat.read(src, as_version=4)
    student = student_version(sol, src, CATALOG)
    kept = [c for c in sol.cells if "solution-only" not in c.metadata.get("tags", [])]
    assert len(kept) < len(sol.cells) and len(student.cells) == len(kept)
    for before, after in zip(kept, student.cells):
        kept_metadata = {k: v for k, v in before.metadata.items() if k != "execution"}
        assert before.get("id") == after.get("id") and after.metadata == kept_metadata
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None and "execution" not in after.metadata
            assert "BEGIN SOLUTION" not in after.source
        else:
            assert after.source == before.source
    assert student.metadata == sol.metadata
    assert render(student) == render(student_version(nbformat.reads(render(student_version(sol, src, CATALOG)), as_version=4), src, CATALOG))


def test_generate_cli_writes_then_check_passes(tmp_path) -> None:
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    (solutions / "00-demo").mkdir(parents=True)
    demo = CATALOG.solution_notebook(CATALOG.get("demo.ex1"))
    (solutions / "00-demo" / demo.name).write_bytes(demo.read_bytes())
    (solutions / "00-demo" / "figure.svg").write_text("<svg/>")
    (chapters / "99-old").mkdir(parents=True)
    (chapters / "99-old" / "gone.ipynb").write_text("{}")
    cli = [sys.executable, "-m", "utils.generate", "--solutions", str(solutions), "--chapters", str(chapters)]
    stale = subprocess.run(cli + ["--check"], capture_output=True, text=True, cwd=REPO)
    assert stale.returncode == 1 and "gone.ipynb" in stale.stderr and demo.name in stale.stderr
    assert subprocess.run(cli, capture_output=True, cwd=REPO).returncode == 0
    written = (chapters / "00-demo" / demo.name).read_bytes()
    assert not (chapters / "99-old" / "gone.ipynb").exists() and (chapters / "00-demo" / "figure.svg").exists()
    args = ["--solutions", str(solutions), "--chapters", str(chapters)]
    assert main(args + ["--check"]) == 0  # in-process from here on: each CLI start costs seconds
    assert main(args) == 0
    assert (chapters / "00-demo" / demo.name).read_bytes() == written  # byte-stable
