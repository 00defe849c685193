"""Self-tests of the grader: every registered exercise, hostile submissions, and the CLI.

Grading starts worker processes (each imports torch), so notebooks are built into folders
and graded in a few batches, two at a time; each test then reads its own result.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from utils import grade
from utils.generate import render, student_version
from utils.grading import Case, Mistake, NotGradable
from utils.grading.runner import grade_many, grade_notebook

from alternatives import ALTERNATIVES
from course_fixtures import CATALOG, MUTANTS as KNOWN_WRONG, REPO

EXERCISES = list(CATALOG.all().values())
DEMO = CATALOG.get("demo.ex1")
DEMO_NB = CATALOG.solution_notebook(DEMO)
STEM = DEMO_NB.stem


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `python -m utils.grade` in-process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = grade.main(list(args), catalog=CATALOG)
    return code, out.getvalue(), err.getvalue()


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def replace_def(nb: nbformat.NotebookNode, func: str, source: str) -> nbformat.NotebookNode:
    """A copy of `nb` whose cell defining `func` has `source` instead."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = [c for c in nb.cells if c.cell_type == "code" and f"def {func}(" in c.source]
    assert cells, f"no cell defines {func}"
    cells[0].source = source
    return nb


def add_cell(nb: nbformat.NotebookNode, source: str, at: int | None = None) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if at is None else at, cell)
    return nb


# --- every exercise in the registry -----------------------------------------------------------

#: Exercises whose hidden cases run a real model in the grader (they set their own, longer timeout): graded on
#: the solution, the student version and their own mutants; in the mutant notebooks of their neighbours they are
#: stubbed out, which costs those exercises nothing (each test reads only its own exercise's result).
COSTLY = [ex for ex in EXERCISES if ex.timeout is not None]


def without_costly(nb: nbformat.NotebookNode, notebook: str, keep: str) -> nbformat.NotebookNode:
    """`nb` with the function of every costly exercise of `notebook` other than `keep` raising NotImplementedError."""
    for ex in COSTLY:
        if ex.notebook == notebook and ex.id != keep:
            nb = replace_def(nb, ex.func, f"def {ex.func}(*args, **kwargs):\n    raise NotImplementedError\n")
    return nb


@pytest.fixture(scope="module")
def registry_batch(tmp_path_factory) -> tuple[dict, dict]:
    """Solution, student version and each mutant of every solution notebook, graded via the CLI."""
    folder = tmp_path_factory.mktemp("registry")
    mutants: dict[tuple[str, str], Path] = {}
    notebooks = sorted({CATALOG.solution_notebook(ex) for ex in EXERCISES})
    for i, path in enumerate(notebooks):
        nb = read_nb(path)
        (folder / f"solution{i}_{path.name}").write_text(render(nb))
        (folder / f"student{i}_{path.name}").write_text(render(student_version(nb, path, CATALOG)))
    for j, ex in enumerate(EXERCISES):
        nb = without_costly(read_nb(CATALOG.solution_notebook(ex)), ex.notebook, ex.id)
        for k, (name, source) in enumerate(KNOWN_WRONG.get(ex.id, {}).items()):
            target = folder / f"mutant{j}-{k}_{Path(ex.notebook).name}"
            target.write_text(render(replace_def(nb, ex.func, source)))
            mutants[(ex.id, name)] = target
        for k, (name, source) in enumerate(ALTERNATIVES.get(ex.id, {}).items()):
            target = folder / f"alternative{j}-{k}_{Path(ex.notebook).name}"
            target.write_text(render(replace_def(nb, ex.func, source)))
            mutants[(ex.id, name)] = target
    code, out, err = run_cli(str(folder), "--json", "--jobs", "2")
    assert code == 0, err
    results = json.loads(out)
    by_kind = {"notebooks": {p: i for i, p in enumerate(notebooks)}, "mutants": mutants, "folder": folder}
    return results, by_kind


def _result_for(results: dict, path: Path) -> dict:
    return results[str(path)]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.id)
def test_solution_scores_full_marks(registry_batch, ex) -> None:
    results, kinds = registry_batch
    path = CATALOG.solution_notebook(ex)
    i = kinds["notebooks"][path]
    got = _result_for(results, kinds["folder"] / f"solution{i}_{path.name}")["exercises"][ex.id]
    assert got["points"] == got["max"] == ex.points, got["feedback"]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.id)
def test_student_version_scores_zero(registry_batch, ex) -> None:
    results, kinds = registry_batch
    path = CATALOG.solution_notebook(ex)
    i = kinds["notebooks"][path]
    got = _result_for(results, kinds["folder"] / f"student{i}_{path.name}")["exercises"][ex.id]
    assert got["points"] == 0 and got["max"] == ex.points
    assert "not implemented yet" in got["feedback"]


MUTANTS = [(ex, name) for ex in EXERCISES for name in KNOWN_WRONG.get(ex.id, {})]
RIGHT = [(ex, name) for ex in EXERCISES for name in ALTERNATIVES.get(ex.id, {})]


@pytest.mark.parametrize("ex,name", RIGHT, ids=[f"{e.id}:{n}" for e, n in RIGHT])
def test_correct_alternative_scores_full_marks(registry_batch, ex, name) -> None:
    results, kinds = registry_batch
    got = _result_for(results, kinds["mutants"][(ex.id, name)])["exercises"][ex.id]
    assert got["points"] == ex.points, f"a correct implementation ({name}) lost points: {got['feedback']}"
    assert "likely cause" not in got["feedback"]


@pytest.mark.parametrize("ex_id,name,share", [("ch04.ex2", "no T^2 factor", 0.25),
                                               ("ch02.ex3", "the articles' code: sort each row, keep the first N entries", 0.0)])
def test_the_central_mistake_costs_most_of_the_exercise(registry_batch, ex_id, name, share) -> None:
    results, kinds = registry_batch
    got = _result_for(results, kinds["mutants"][(ex_id, name)])["exercises"][ex_id]
    assert got["points"] <= share * got["max"], f"{name!r} keeps {got['points']} of {got['max']} points"


@pytest.mark.parametrize("ex,name", MUTANTS, ids=[f"{e.id}:{n}" for e, n in MUTANTS])
def test_mutant_scores_below_full(registry_batch, ex, name) -> None:
    results, kinds = registry_batch
    got = _result_for(results, kinds["mutants"][(ex.id, name)])["exercises"][ex.id]
    assert got["points"] < ex.points, f"mutant {name!r} of {ex.id} got full marks"
    assert "first failure" in got["feedback"] or "forbids" in got["feedback"]


CURATED = [(ex, m.description) for ex in EXERCISES for m in ex.mistakes]


@pytest.mark.parametrize("ex,name", CURATED, ids=[f"{e.id}:{n}" for e, n in CURATED])
def test_grader_names_each_curated_mistake(registry_batch, ex, name) -> None:
    """Submitted, a curated mistake (also a mutant: tests/course_fixtures.py) is named in the feedback's first failure."""
    results, kinds = registry_batch
    got = _result_for(results, kinds["mutants"][(ex.id, name)])["exercises"][ex.id]
    assert f"; likely cause: {name}" in got["feedback"], got["feedback"]
    assert "def " not in got["feedback"]


BIAS_IN_MACS = "def linear_params_and_macs(i, o, t, bias=True):\n    p = i * o + (o if bias else 0)\n    return p, t * p\n"


def test_a_known_mistake_that_raises_or_hangs_does_not_break_grading(tmp_path) -> None:
    raises = Mistake("raises", "def linear_params_and_macs(i, o, t, bias=True):\n    raise RuntimeError('x')\n")
    hangs = Mistake("hangs", "def linear_params_and_macs(i, o, t, bias=True):\n    while True:\n        pass\n")
    ex = dataclasses.replace(CATALOG.get("demo.ex3"), mistakes=(raises, hangs, Mistake("counts the bias in the MACs", BIAS_IN_MACS)))
    nb = tmp_path / f"wrong_{STEM}.ipynb"
    nb.write_text(render(replace_def(read_nb(DEMO_NB), ex.func, BIAS_IN_MACS)))
    result = grade_notebook(nb, exercises=[ex], timeout=HOSTILE_TIMEOUT).exercises[0]
    assert 0 < len(result.case_messages) < ex.n_runs  # wrong only with a bias
    assert all(m.endswith("; likely cause: counts the bias in the MACs") for m in result.case_messages), result.case_messages
    right = tmp_path / f"right_{STEM}.ipynb"
    right.write_text(render(read_nb(DEMO_NB)))
    assert grade_notebook(right, exercises=[ex], timeout=HOSTILE_TIMEOUT).exercises[0].feedback == f"all {ex.n_runs} cases passed"


def test_a_case_with_name_mistakes_false_runs_no_mistake_and_names_none(tmp_path, monkeypatch) -> None:
    """A costly case (one that trains a model) is not run again for each known mistake; its failures name none."""
    from utils.grading import runner

    base = CATALOG.get("demo.ex3")
    ex = dataclasses.replace(base, cases=tuple(dataclasses.replace(c, name_mistakes=False) for c in base.cases),
                             mistakes=(Mistake("counts the bias in the MACs", BIAS_IN_MACS),))
    tasks = []
    real_tasks = runner._mistake_tasks
    monkeypatch.setattr(runner, "_mistake_tasks", lambda e, v: tasks.extend(real_tasks(e, v)) or real_tasks(e, v))
    nb = tmp_path / f"wrong_{STEM}.ipynb"
    nb.write_text(render(replace_def(read_nb(DEMO_NB), ex.func, BIAS_IN_MACS)))
    result = grade_notebook(nb, exercises=[ex], timeout=HOSTILE_TIMEOUT).exercises[0]
    assert 0 < len(result.case_messages) < ex.n_runs and tasks == []
    assert not any("likely cause" in m for m in result.case_messages), result.case_messages


def test_every_exercise_has_hidden_cases_and_a_mutant() -> None:
    for ex in EXERCISES:
        assert any(c.hidden for c in ex.cases), f"{ex.id}: no hidden case"
        assert any(not c.hidden for c in ex.cases), f"{ex.id}: no visible case for check()"
        assert KNOWN_WRONG.get(ex.id), f"{ex.id}: no mutant (a known wrong implementation) to prove the checks bite"


# --- hostile and broken submissions (demo notebook) ---------------------------------------------

WRONG_MASK = "def magnitude_mask(weight, sparsity):\n    k = round(sparsity * weight.numel())\n    mask = torch.ones(weight.numel(), dtype=torch.bool)\n    mask[weight.abs().flatten().argsort()[:k]] = False\n    return ~mask.view(weight.shape)\n"
NOOP_APPLY = "def apply_masks_(model, masks):\n    return None\n"
WRONG_COUNT = "def linear_params_and_macs(in_features, out_features, tokens, bias=True):\n    return -1, -1\n"
PATCHES = """
import builtins, numpy, numpy.testing, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__ne__ = lambda *a, **k: torch.tensor(False)
numpy.testing.assert_allclose = lambda *a, **k: None
builtins.print = lambda *a, **k: None
for name in ("utils.grading.spec", "utils.grading", "utils.exercises", "demo_spec"):
    try:
        module = __import__(name, fromlist=["x"])
        module.expect_tensor = module.expect_equal = lambda *a, **k: None
        module.EXERCISES = ()
        module.CheckFailed = type("Never", (Exception,), {})
    except ImportError:
        pass
"""


def _indent(text: str) -> str:
    return "".join("    " + line + "\n" for line in text.strip().splitlines())


def hostile_notebooks() -> dict[str, nbformat.NotebookNode]:
    """name -> a broken or hostile variant of the demo solution notebook."""
    sol = read_nb(DEMO_NB)
    nbs: dict[str, nbformat.NotebookNode] = {}
    nbs["raises"] = replace_def(sol, "magnitude_mask", "def magnitude_mask(weight, sparsity):\n    raise ValueError('boom')\n")
    nbs["syntax"] = replace_def(sol, "apply_masks_", "def apply_masks_(model, masks)\n    pass\n")
    nbs["loop"] = replace_def(sol, "apply_masks_", "def apply_masks_(model, masks):\n    while True:\n        pass\n")
    bad = replace_def(sol, "magnitude_mask", "def magnitude_mask(weight, sparsity):\n    return torch.ones(weight.numel(), dtype=torch.bool)\n")
    bad = replace_def(bad, "apply_masks_", "def apply_masks_(model, masks):\n    with torch.no_grad():\n        for p in model.parameters():\n            p.mul_(float('nan'))\n")
    nbs["wrong_shape_nan_type"] = replace_def(bad, "linear_params_and_macs", "def linear_params_and_macs(i, o, t, bias=True):\n    return '42'\n")
    bad = replace_def(sol, "magnitude_mask", "def magnitude_mask(weight, sparsity):\n    return (weight.abs() > weight.abs().flatten().kthvalue(max(1, round(sparsity * weight.numel()))).values).int()\n")
    nbs["wrong_dtype_object"] = replace_def(bad, "linear_params_and_macs", "def linear_params_and_macs(i, o, t, bias=True):\n    return object()\n")
    wrong = replace_def(replace_def(replace_def(sol, "magnitude_mask", WRONG_MASK), "apply_masks_", NOOP_APPLY), "linear_params_and_macs", WRONG_COUNT)
    top = PATCHES + "def check(*args, **kwargs):\n    print('PASS')\nprint('PASS: all cases passed, 4/4 points')\n"
    nbs["patch_top_level"] = add_cell(wrong, top, at=1)
    body = PATCHES + "import sys\nsys.modules.pop('utils.grading', None)\nprint('PASS all cases')\n"
    inside = replace_def(sol, "magnitude_mask", WRONG_MASK.replace("    k =", _indent(body) + "    k =", 1))
    inside = replace_def(inside, "apply_masks_", NOOP_APPLY.replace("    return", _indent(body) + "    return"))
    nbs["patch_inside_function"] = replace_def(inside, "linear_params_and_macs", WRONG_COUNT.replace("    return", _indent(body) + "    return"))
    nbs["fake_pass"] = replace_def(sol, "linear_params_and_macs", "def linear_params_and_macs(i, o, t, bias=True):\n    print('demo.ex3  PASS  all 6 cases passed  1.00/1')\n    return 0, 0\n")
    kept = [c for c in sol.cells if c.cell_type == "markdown" or "import torch" in c.source or "def linear_params" in c.source]
    nbs["deleted_cells"] = nbformat.from_dict({**sol, "cells": kept})
    code = [c for c in sol.cells if c.cell_type == "code"]
    code[-1].source = "%time x = 1\n" + code[-1].source  # magics must not hide the cell's definitions
    nbs["reordered_with_magic"] = nbformat.from_dict({**sol, "cells": list(reversed(code))})
    nbs["later_wrong_definition"] = add_cell(sol, WRONG_COUNT)
    exits = replace_def(sol, "magnitude_mask", "import sys\ndef magnitude_mask(weight, sparsity):\n    sys.exit(0)\n")
    nbs["exit"] = replace_def(exits, "apply_masks_", "import os\ndef apply_masks_(model, masks):\n    os._exit(0)\n")
    nbs["exit_while_loading"] = add_cell(sol, "import os\nclass Evil:\n    os._exit(3)\n")
    nbs["import_grading"] = replace_def(sol, "linear_params_and_macs", "def linear_params_and_macs(i, o, t, bias=True):\n    from demo_spec import COUNT\n    return COUNT.cases[0].make(0)\n")
    nbs["forbidden"] = replace_def(sol, "magnitude_mask", "from torch.nn.utils import prune as p\ndef magnitude_mask(weight, sparsity):\n    k = round(sparsity * weight.numel())\n    return p.L1Unstructured(amount=k).compute_mask(weight, torch.ones_like(weight)).bool()\n")
    nbs["partial"] = replace_def(sol, "linear_params_and_macs", "def linear_params_and_macs(i, o, t, bias=True):\n    return i * o + o, t * i * o\n")
    in_place = "def magnitude_mask(weight, sparsity):\n    weight.abs_()\n" + WRONG_MASK.split("\n", 1)[1].replace("~mask", "mask")
    nbs["modifies_input"] = replace_def(sol, "magnitude_mask", in_place)
    stray = ("import os, sys\ndef linear_params_and_macs(i, o, t, bias=True):\n"
             "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
             f"            os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(120)  # {STRAY_MARK}'])\n"
             "        os._exit(0)\n"
             "    return i * o + (o if bias else 0), t * i * o\n")
    nbs["leaves_processes"] = replace_def(sol, "linear_params_and_macs", stray)
    spec_file, solution = REPO / "tests" / "fixtures" / "demo" / "demo_spec.py", DEMO_NB
    cheats = {
        "reads_solution": ("import json\ndef linear_params_and_macs(i, o, t, bias=True):\n"
                           f"    cells = json.load(open({str(solution)!r}))['cells']\n"
                           "    ns = {}\n    exec([''.join(c['source']) for c in cells if 'def linear_params' in ''.join(c['source'])][0], ns)\n"
                           "    return ns['linear_params_and_macs'](i, o, t, bias)\n"),
        "loads_spec_by_path": ("import importlib.util\ndef linear_params_and_macs(i, o, t, bias=True):\n"
                               f"    spec = importlib.util.spec_from_file_location('s', {str(spec_file)!r})\n"
                               "    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
                               "    return m._verify_linear.__code__ and (0, 0)\n"),
        "unblocks_imports": ("import sys\ndef linear_params_and_macs(i, o, t, bias=True):\n"
                             "    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_BlockGrading']\n"
                             "    import utils.exercises\n    return 0, 0\n"),
        "writes_course_file": ("def linear_params_and_macs(i, o, t, bias=True):\n"
                               f"    open({str(PROBE)!r}, 'a').write('edited by a submission\\n')\n"
                               "    return i * o + (o if bias else 0), t * i * o\n"),
    }
    if SANDBOX_PROBLEM is not None:  # without a sandbox these would really read and write the checkout
        cheats = {}
    for name, source in cheats.items():
        nbs[name] = replace_def(sol, "linear_params_and_macs", source)
    return nbs


HOSTILE_TIMEOUT = 3.0
PROBE = REPO / "utils" / "exercises" / "__init__.py"


def _sandbox_problem() -> str | None:
    """Why this machine cannot sandbox a grading worker (utils.grading.sandbox), or None if it can."""
    code = ("import tempfile, pathlib; from utils.grading.sandbox import restrict_filesystem; "
            "from utils.env import REPO_ROOT; print(restrict_filesystem(REPO_ROOT, [pathlib.Path(tempfile.mkdtemp())]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout.strip()
    return None if out == "None" else out or "the probe failed"


SANDBOX_PROBLEM = _sandbox_problem()
STRAY_MARK = f"grader-stray-{os.getpid()}-{time.time_ns()}"


def _strays() -> list[int]:
    """Live processes whose command line carries STRAY_MARK (started by the hostile notebook)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if STRAY_MARK.encode() in (entry / "cmdline").read_bytes() and "Z" not in (entry / "stat").read_text().split()[2]:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, dict]:
    """Grade every hostile notebook; name -> {"result": {id: ExerciseResult}, "seconds": ..., "before": bytes}."""
    folder = tmp_path_factory.mktemp("hostile")
    paths, before = {}, {}
    for name, nb in hostile_notebooks().items():
        path = folder / f"{name}_{STEM}.ipynb"
        path.write_text(render(nb))
        paths[name], before[name] = path, (path.read_bytes(), path.stat().st_mtime_ns)
    start = time.monotonic()
    outcomes = grade_many(list(paths.values()), CATALOG.for_notebook, timeout=HOSTILE_TIMEOUT, jobs=2)
    seconds = time.monotonic() - start
    out = {}
    for (name, path), result in zip(paths.items(), outcomes):
        assert not isinstance(result, Exception), result
        out[name] = {"result": {e.id: e for e in result.exercises}, "path": path, "before": before[name], "seconds": seconds}
    return out


def points(hostile: dict, name: str) -> dict[str, float]:
    return {k: e.points for k, e in hostile[name]["result"].items()}


FULL = {ex.id: float(ex.points) for ex in EXERCISES if ex.notebook == DEMO.notebook}


def test_function_that_raises(hostile) -> None:
    r = hostile["raises"]["result"]
    assert r["demo.ex1"].points == 0 and "ValueError: boom" in r["demo.ex1"].feedback
    assert r["demo.ex2"].points == FULL["demo.ex2"] and r["demo.ex3"].points == FULL["demo.ex3"]


def test_syntax_error_only_costs_that_exercise(hostile) -> None:
    r = hostile["syntax"]["result"]
    assert r["demo.ex2"].points == 0 and "syntax error" in r["demo.ex2"].feedback
    assert r["demo.ex1"].points == FULL["demo.ex1"] and r["demo.ex3"].points == FULL["demo.ex3"]


def test_infinite_loop_times_out_and_later_exercises_are_graded(hostile) -> None:
    r = hostile["loop"]["result"]
    assert r["demo.ex2"].points == 0 and "timed out" in r["demo.ex2"].feedback
    assert r["demo.ex1"].points == FULL["demo.ex1"] and r["demo.ex3"].points == FULL["demo.ex3"]


def test_wrong_shape_nan_and_wrong_type(hostile) -> None:
    r = hostile["wrong_shape_nan_type"]["result"]
    assert all(e.points == 0 for e in r.values())
    assert "shape" in r["demo.ex1"].feedback
    assert "NaN" in r["demo.ex2"].feedback
    assert "expected a tuple" in r["demo.ex3"].feedback and "str" in r["demo.ex3"].feedback


def test_wrong_dtype_and_unsupported_object(hostile) -> None:
    r = hostile["wrong_dtype_object"]["result"]
    assert r["demo.ex1"].points == 0 and "torch.bool" in r["demo.ex1"].feedback and "torch.int32" in r["demo.ex1"].feedback
    assert r["demo.ex3"].points == 0 and "unsupported type (object)" in r["demo.ex3"].feedback


@pytest.mark.parametrize("name", ["patch_top_level", "patch_inside_function", "fake_pass"])
def test_monkey_patching_and_fake_output_change_nothing(hostile, name) -> None:
    r = hostile[name]["result"]
    wrong = {"demo.ex3"} if name == "fake_pass" else set(FULL)
    for ex_id, e in r.items():
        assert e.points == (0 if ex_id in wrong else FULL[ex_id]), (ex_id, e.feedback)


def test_deleted_cells(hostile) -> None:
    r = hostile["deleted_cells"]["result"]
    assert r["demo.ex1"].points == r["demo.ex2"].points == 0
    assert "no function named magnitude_mask" in r["demo.ex1"].feedback
    assert r["demo.ex3"].points == FULL["demo.ex3"]


def test_reordered_cells_and_magics(hostile) -> None:
    assert points(hostile, "reordered_with_magic") == FULL


def test_later_definition_overrides_earlier(hostile) -> None:
    r = points(hostile, "later_wrong_definition")
    assert r == {**FULL, "demo.ex3": 0}


def test_sys_exit_and_os_exit(hostile) -> None:
    r = hostile["exit"]["result"]
    assert r["demo.ex1"].points == 0 and "sys.exit" in r["demo.ex1"].feedback
    assert r["demo.ex2"].points == 0 and "stopped while running your function" in r["demo.ex2"].feedback
    assert r["demo.ex3"].points == FULL["demo.ex3"]


def test_exit_while_loading_definitions(hostile) -> None:
    r = hostile["exit_while_loading"]["result"]
    assert all(e.points == 0 and "while loading" in e.feedback for e in r.values())


def test_importing_the_checking_code_is_blocked(hostile) -> None:
    r = hostile["import_grading"]["result"]["demo.ex3"]
    assert r.points == 0 and "ImportError" in r.feedback and "not allowed" in r.feedback


def test_forbidden_library_call(hostile) -> None:
    r = hostile["forbidden"]["result"]["demo.ex1"]
    assert r.points == 0 and "torch.nn.utils.prune" in r.feedback


def test_partial_credit_is_proportional(hostile) -> None:
    e = hostile["partial"]["result"]["demo.ex3"]
    runs = DEMO_RUNS = CATALOG.get("demo.ex3").n_runs
    passed = int(e.feedback.split("/")[0])
    assert 0 < passed < runs
    assert e.points == round(FULL["demo.ex3"] * passed / DEMO_RUNS, 2)


def test_submissions_are_never_modified(hostile) -> None:
    for name, h in hostile.items():
        assert (h["path"].read_bytes(), h["path"].stat().st_mtime_ns) == h["before"], name


# --- command line -----------------------------------------------------------------------------

def test_cli_errors_exit_nonzero(tmp_path) -> None:
    code, _, err = run_cli(str(tmp_path / "missing"))
    assert code != 0 and "no such file" in err
    bad = tmp_path / f"x_{STEM}.ipynb"
    bad.write_text("{not json")
    code, _, err = run_cli(str(bad))
    assert code != 0 and "invalid JSON" in err
    unknown = tmp_path / "unrelated.ipynb"
    unknown.write_text(render(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])))
    code, _, err = run_cli(str(unknown))
    assert code != 0 and "no known exercises" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(str(empty))
    assert code != 0 and "no notebooks in this folder" in err


def test_cli_folder_of_ten_to_csv_and_json(tmp_path) -> None:
    folder = tmp_path / "submissions"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    sol = read_nb(DEMO_NB)
    students = [f"student{i:02d}" for i in range(10)]
    for i, name in enumerate(students):
        nb = sol if i % 2 == 0 else student_version(sol, DEMO_NB, CATALOG)
        (folder / f"{name}_{DEMO_NB.name}").write_text(render(nb))
    (folder / ".ipynb_checkpoints" / f"x_{DEMO_NB.name}").write_text("{broken")
    out_csv = tmp_path / "grades.csv"
    start = time.monotonic()
    script = ("import sys; from course_fixtures import CATALOG; from utils import grade; "
              "sys.exit(grade.main(sys.argv[1:], catalog=CATALOG))")
    proc = subprocess.run(
        [sys.executable, "-c", script, str(folder), "--json", "--csv", str(out_csv), "--jobs", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])},
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data) == 10
    for path, record in data.items():
        assert set(record) == {"exercises", "total", "max_total"}
        assert set(record["exercises"]) == set(FULL)
        for e in record["exercises"].values():
            assert set(e) == {"points", "max", "feedback"} and isinstance(e["feedback"], str)
        full = int(Path(path).name[7:9]) % 2 == 0
        assert record["total"] == (record["max_total"] if full else 0)
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["student"] for r in rows] == students
    assert list(rows[0]) == ["notebook", "student", *FULL, "total", "max_total", "note"]
    assert float(rows[0]["total"]) == sum(FULL.values()) and float(rows[1]["total"]) == 0
    print(f"graded 10 notebooks in {seconds:.1f} s ({seconds / 10:.2f} s per notebook, 2 jobs)")


def test_modifying_an_input_in_place_is_a_failure(hostile) -> None:
    r = hostile["modifies_input"]["result"]["demo.ex1"]
    assert r.points == 0 and "modified its input in place" in r.feedback, r.feedback


def test_processes_a_submission_starts_do_not_outlive_it(hostile) -> None:
    assert hostile["leaves_processes"]["result"]["demo.ex3"].points == FULL["demo.ex3"]
    deadline = time.monotonic() + 10
    while (alive := _strays()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes started by a submission still run after grading: {alive}"


def test_the_stray_probe_sees_a_live_stray() -> None:
    """The probe above would see a process that escaped (so its passing means something)."""
    proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(30)  # {STRAY_MARK}"])
    try:
        deadline = time.monotonic() + 5
        while proc.pid not in _strays() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid in _strays()
    finally:
        proc.kill()
        proc.wait()


def test_changing_the_course_files_stops_grading(tmp_path, monkeypatch) -> None:
    """The fingerprint guard, on its own: a change made while a notebook is graded (here by a stand-in for
    a worker that escaped the sandbox) discards that notebook's grades and every later one."""
    from utils.grading import runner

    fake = tmp_path / "course"
    (fake / "utils").mkdir(parents=True)
    (fake / "solutions").mkdir()
    (fake / "utils" / "spec.py").write_text("GOOD = 1\n")
    monkeypatch.setattr(runner, "REPO_ROOT", fake)
    real = runner.grade_notebook

    def escaping(path, **kwargs):
        if path.name.startswith("a_"):
            with open(fake / "utils" / "spec.py", "a") as f:
                f.write("EVIL = 1\n")
        return real(path, **kwargs)

    monkeypatch.setattr(runner, "grade_notebook", escaping)
    paths = [tmp_path / f"{k}_{STEM}.ipynb" for k in "ab"]
    for path in paths:
        path.write_text(render(read_nb(DEMO_NB)))
    outcomes = grade_many(paths, CATALOG.for_notebook, timeout=HOSTILE_TIMEOUT, jobs=1)
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    assert "course files changed" in str(outcomes[0]) and "utils/spec.py" in str(outcomes[0])
    assert "not graded" in str(outcomes[1])


def test_folder_mode_grades_misnamed_notebooks_by_content_and_reports_strangers(tmp_path) -> None:
    folder = tmp_path / "lms"
    (folder / "carol").mkdir(parents=True)
    sol = render(read_nb(DEMO_NB))
    (folder / f"alice_{DEMO_NB.name}").write_text(sol)
    (folder / f"{STEM} (1).ipynb").write_text(sol)                     # a browser's duplicate name
    (folder / "carol" / "submission.ipynb").write_text(render(student_version(read_nb(DEMO_NB), DEMO_NB, CATALOG)))
    (folder / "notes.ipynb").write_text(render(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])))
    out_csv, totals, feedback = tmp_path / "g.csv", tmp_path / "s.csv", tmp_path / "fb"
    code, out, err = run_cli(str(folder), "--csv", str(out_csv), "--by-student", str(totals), "--feedback", str(feedback),
                             "--jobs", "2")
    assert code == 2 and "notes.ipynb" in err
    rows = {Path(r["notebook"]).name: r for r in csv.DictReader(out_csv.open())}
    assert set(rows) == {f"alice_{DEMO_NB.name}", f"{STEM} (1).ipynb", "submission.ipynb", "notes.ipynb"}
    assert float(rows[f"{STEM} (1).ipynb"]["total"]) == sum(FULL.values())
    assert "matched by content" in rows[f"{STEM} (1).ipynb"]["note"]
    assert rows["submission.ipynb"]["student"] == "carol" and float(rows["submission.ipynb"]["total"]) == 0
    assert rows["notes.ipynb"]["note"].startswith("not graded")
    students = {r["student"]: r for r in csv.DictReader(totals.open())}
    assert float(students["alice"]["total"]) == sum(FULL.values()) and float(students["carol"]["total"]) == 0
    assert (feedback / "carol.md").read_text().count("not implemented yet") == len(FULL)


@pytest.mark.parametrize("name", ["reads_solution", "loads_spec_by_path", "unblocks_imports"])
def test_submissions_cannot_read_solutions_or_specs(hostile, name) -> None:
    if SANDBOX_PROBLEM is not None:
        pytest.skip(f"no filesystem sandbox on this machine: {SANDBOX_PROBLEM}")
    r = hostile[name]["result"]["demo.ex3"]
    assert r.points == 0 and ("PermissionError" in r.feedback or "ImportError" in r.feedback), r.feedback


def test_submissions_cannot_change_the_course(hostile) -> None:
    if SANDBOX_PROBLEM is not None:
        pytest.skip(f"no filesystem sandbox on this machine: {SANDBOX_PROBLEM}")
    r = hostile["writes_course_file"]["result"]["demo.ex3"]
    assert r.points == 0 and "PermissionError" in r.feedback, r.feedback
    assert "edited by a submission" not in PROBE.read_text()


# --- cases that need this machine's cached models, and exercises that need more time -------------

SLOW_COUNT = ("import time\n\ndef linear_params_and_macs(in_features, out_features, tokens, bias=True):\n"
              "    time.sleep(1.0)\n"
              "    return in_features * out_features + (out_features if bias else 0), tokens * in_features * out_features\n")


def test_a_case_that_cannot_be_built_here_is_reported_not_graded(tmp_path) -> None:
    def needs_cache(seed: int) -> tuple:
        raise NotGradable("the cached model is missing on this machine")

    count = CATALOG.get("demo.ex3")
    missing = dataclasses.replace(count, id="demo.cache", cases=(Case("needs a cached model", needs_cache, lambda a, o: None),))
    nb = tmp_path / f"sub_{STEM}.ipynb"
    nb.write_text(render(read_nb(DEMO_NB)))
    before = nb.read_bytes()
    first, second = grade_notebook(nb, exercises=[missing, count], timeout=HOSTILE_TIMEOUT).exercises
    assert (first.points, first.feedback) == (0.0, "not graded here: the cached model is missing on this machine")
    assert second.points == count.points, second.feedback   # the others are graded as usual
    assert nb.read_bytes() == before


def test_an_exercise_may_allow_more_time_than_the_graders_timeout(tmp_path) -> None:
    count = CATALOG.get("demo.ex3")
    nb = tmp_path / f"slow_{STEM}.ipynb"
    nb.write_text(render(replace_def(read_nb(DEMO_NB), count.func, SLOW_COUNT)))
    quick = grade_notebook(nb, exercises=[count], timeout=2.0).exercises[0]
    assert quick.points == 0 and "timed out: your function ran longer than 2 s" in quick.feedback
    patient = dataclasses.replace(count, timeout=count.n_runs * 1.0 + 20)
    assert grade_notebook(nb, exercises=[patient], timeout=2.0).exercises[0].points == count.points
