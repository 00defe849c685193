"""check() in a notebook, the comparison helpers, and the source analysis (no worker processes)."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
import torch

from utils.grading import CheckFailed, expect_close, expect_equal, expect_tensor

from course_fixtures import CATALOG, MUTANTS

check = CATALOG.check
from utils.grading.source import extract, forbidden_used

DEMO_NS: dict = {}


def demo_solutions() -> dict:
    """The demo solution notebook's functions, run in a namespace of their own."""
    if not DEMO_NS:
        import nbformat

        nb = nbformat.read(CATALOG.solution_notebook(CATALOG.get("demo.ex1")), as_version=4)
        sub = extract(nb)
        exec("import torch\nfrom torch import nn\n" + "\n".join(src for _, src in sub.chunks), DEMO_NS)
    return DEMO_NS


def run_check(exercise_id: str, fn) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(exercise_id, fn)
    return out.getvalue()


def test_check_passes_solution_and_is_deterministic() -> None:
    fn = demo_solutions()["magnitude_mask"]
    first = run_check("demo.ex1", fn)
    assert first == run_check("demo.ex1", fn)
    ex = CATALOG.get("demo.ex1")
    visible = sum(len(c.seeds) for c in ex.cases if not c.hidden)
    assert first.count("  PASS  ") == visible and "FAIL" not in first
    assert f"{visible}/{visible} passed" in first and "hidden" in first and "0x" not in first


@pytest.mark.parametrize(
    "fn,expected",
    [
        (lambda w, s: (_ for _ in ()).throw(NotImplementedError("todo")), "not implemented yet"),
        (lambda w, s: "mask", "got a value of type str"),
        (lambda w, s: object(), "unsupported type (object)"),
        (lambda w, s: __import__("sys").exit(1), "sys.exit"),
        (lambda w, s: torch.ones(3, dtype=torch.bool), "expected a mask of shape"),
        (lambda: None, "TypeError"),
    ],
)
def test_check_reports_failures_without_raising(fn, expected) -> None:
    out = run_check("demo.ex1", fn)
    assert "FAIL" in out and expected in out and "PASS" not in out


def test_check_unknown_id_and_non_callable() -> None:
    assert "unknown exercise id 'nope'" in run_check("nope", print)
    assert "expected a function" in run_check("demo.ex3", 42)


def test_in_place_check_catches_rebinding() -> None:
    ex = CATALOG.get("demo.ex2")
    ns = dict(demo_solutions())
    exec(MUTANTS[ex.id]["rebinds the loop variable"], ns)
    out = run_check("demo.ex2", ns["apply_masks_"])
    assert "unchanged; modify the parameter in place" in out


def test_expect_tensor_messages() -> None:
    e = torch.tensor([1.0, 2.0, 3.0])
    expect_tensor(e + 1e-9, e)
    for got, fragment in [
        ([1.0, 2.0, 3.0], "expected a torch.Tensor"),
        (e[:2], "expected shape (3,)"),
        (e.double(), "expected dtype torch.float32"),
        (torch.tensor([1.0, math.nan, 3.0]), "contains NaN"),
        (torch.tensor([1.0, math.inf, 3.0]), "contains inf"),
        (torch.tensor([1.0, 2.5, 3.0]), "max abs diff 0.5 at index (1,)"),
    ]:
        with pytest.raises(CheckFailed, match=None) as info:
            expect_tensor(got, e, what="y")
        assert fragment in str(info.value) and str(info.value).startswith("y: ")
    with pytest.raises(CheckFailed, match="1 of 3 entries differ"):
        expect_tensor(torch.tensor([1, 2, 4]), torch.tensor([1, 2, 3]))


def test_expect_equal_and_close() -> None:
    expect_equal((3, 4), (3, 4))
    with pytest.raises(CheckFailed, match=r"output\[1\]: expected 4, got 5"):
        expect_equal((3, 5), (3, 4))
    with pytest.raises(CheckFailed, match="expected 4, got 4.0"):
        expect_equal(4.0, 4)
    with pytest.raises(CheckFailed, match="expected a tuple"):
        expect_equal("34", (3, 4))
    expect_close(torch.tensor(0.5 + 1e-9), 0.5)
    with pytest.raises(CheckFailed, match="finite"):
        expect_close(math.nan, 0.5)
    with pytest.raises(CheckFailed, match="abs diff"):
        expect_close(0.6, 0.5)


def test_forbidden_names_are_resolved_through_aliases_and_helpers() -> None:
    def nb(*sources: str) -> dict:
        return {"cells": [{"cell_type": "code", "source": s} for s in sources]}

    forbidden = ("torch.nn.utils.prune",)
    cases = {
        "import torch\ndef f(w):\n    return torch.nn.utils.prune.l1_unstructured(w)": True,
        "import torch.nn.utils.prune as p\ndef f(w):\n    return p.identity(w)": True,
        "from torch.nn.utils import prune\ndef h(w):\n    return prune.x(w)\ndef f(w):\n    return h(w)": True,
        "def f(w):\n    import importlib\n    return importlib.import_module('torch.nn.utils.prune')": True,
        "import torch.nn.utils.prune as p\nx = p.identity(1)\ndef f(w):\n    return w.abs()": False,
    }
    for source, bad in cases.items():
        assert (forbidden_used(extract(nb(source)), "f", forbidden) is not None) == bad, source


def test_extract_keeps_only_definitions_and_imports() -> None:
    sub = extract({"cells": [
        {"cell_type": "code", "source": "import os\nos.system('rm -rf /')\nprint('x')\n@staticmethod\ndef f():\n    return 1\nclass A:\n    pass\n"},
        {"cell_type": "code", "source": "def broken(:\n"},
        {"cell_type": "markdown", "source": "def g(): pass"},
        {"cell_type": "code", "source": "%%time\ndef g():\n    return 2\n"},
    ]})
    code = "\n".join(src for _, src in sub.chunks)
    assert "os.system" not in code and "print" not in code and "@staticmethod" in code
    assert set(sub.defs) == {"f", "A"} and len(sub.broken_cells) == 1


def _prune_based_mask(weight, sparsity):
    import torch.nn.utils.prune as p
    return p.L1Unstructured(amount=round(sparsity * weight.numel())).compute_mask(weight, torch.ones_like(weight)).bool()


def _abs_in_place_mask(weight, sparsity):
    weight.abs_()
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.flatten().argsort()[:k]] = False
    return mask.view(weight.shape)


def test_check_applies_the_graders_rules_forbidden_calls_and_in_place_changes() -> None:
    out = run_check("demo.ex1", _prune_based_mask)
    assert "uses torch.nn.utils.prune, which this exercise forbids" in out and "worth 0.00" in out
    out = run_check("demo.ex1", _abs_in_place_mask)
    assert "modified its input in place" in out and "PASS" not in out


def test_forbidden_names_match_whatever_the_module_is_imported_as() -> None:
    sources = {
        "import torch.nn.functional as F\ndef f(x):\n    return F.softmax(x, -1)": "F.softmax",
        "import torch.nn.functional as fun\ndef f(x):\n    return fun.softmax(x, -1)": "F.softmax",
        "def f(x):\n    return x.softmax(-1)": ".softmax(",
        "import torch\ndef f(x):\n    return torch.log_softmax(x, -1)": "log_softmax",
        "import torch\ndef f(x):\n    z = x - x.max()\n    return z.exp() / z.exp().sum()": None,
    }
    for source, expected in sources.items():
        sub = extract({"cells": [{"cell_type": "code", "source": source}]})
        got = forbidden_used(sub, "f", ("torch.softmax", "F.softmax", "nn.functional.softmax", ".softmax(", "log_softmax"))
        assert (got is not None) == (expected is not None), (source, got)
