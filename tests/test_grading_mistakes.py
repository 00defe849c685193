"""Known mistakes named as the likely cause of a failure: matching, time limits, and check() in a notebook."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import time

import pytest
import torch

from utils.grading import Mistake
from utils.grading import check as check_module
from utils.grading.check import run_visible
from utils.grading.mistakes import define, run_limited, same_output

from alternatives import ALTERNATIVES
from course_fixtures import CATALOG

CURATED = [(ex, m) for ex in CATALOG.all().values() for m in ex.mistakes]
RIGHT_COUNT = "def linear_params_and_macs(in_features, out_features, tokens, bias=True):\n" \
              "    return in_features * out_features + (out_features if bias else 0), tokens * in_features * out_features\n"
BIAS_IN_MACS = Mistake("counts the bias in the MACs", "def linear_params_and_macs(i, o, t, bias=True):\n"
                       "    p = i * o + (o if bias else 0)\n    return p, t * p\n")
RAISES = Mistake("a mistake that raises", "def linear_params_and_macs(i, o, t, bias=True):\n    raise RuntimeError('x')\n")
HANGS = Mistake("a mistake that hangs", "def linear_params_and_macs(i, o, t, bias=True):\n    while True:\n        pass\n")


def printed(ex, fn) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_visible(ex, fn)
    return out.getvalue()


def test_same_output() -> None:
    x = torch.tensor([1.0, math.nan, 3.0])
    assert same_output(x, x.clone() + 1e-7) and same_output((x, 2), (x.clone(), 2.0))
    assert not same_output(x, x.double()) and not same_output(x, x[:2]) and not same_output(x, x + 0.01)
    assert same_output(torch.tensor([True, False]), torch.tensor([True, False]))
    assert not same_output(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert same_output({"a": [1, "b", None]}, {"a": [1, "b", None]}) and not same_output({"a": 1}, {"b": 1})
    assert not same_output(True, 1) and not same_output((1, 2), [1, 2]) and not same_output(x, 1.0)
    assert same_output(math.nan, math.nan) and not same_output(1.0, math.nan)


def test_run_limited_ignores_what_raises_or_hangs() -> None:
    assert run_limited(lambda: 3, 1.0) == (3,) and run_limited(lambda: None, 1.0) == (None,)
    assert run_limited(lambda: 1 / 0, 1.0) is None
    start = time.monotonic()
    assert run_limited(lambda: [None for _ in iter(int, 1)], 0.2) is None
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("ex,mistake", CURATED, ids=[f"{e.id}:{m.description}" for e, m in CURATED])
def test_check_names_each_curated_mistake(ex, mistake) -> None:
    """Submitted as the learner's function, a curated mistake is named under the first case it fails
    (one that passes every visible case is named by the grader, on the hidden ones: tests/test_grade.py)."""
    out = printed(ex, define(ex, mistake))
    assert "FAIL" not in out or f"likely cause: {mistake.description}\n" in out, out
    assert out.count(f"likely cause: {mistake.description}") <= 1 and "def " not in out  # once; never its code


@pytest.mark.parametrize("ex_id,name", [(i, n) for i, alts in ALTERNATIVES.items() for n in alts])
def test_correct_alternatives_get_no_likely_cause(ex_id, name) -> None:
    ex = CATALOG.get(ex_id)
    out = printed(ex, define(ex, Mistake(name, ALTERNATIVES[ex_id][name])))
    assert "FAIL" not in out and "likely cause" not in out, out


def test_a_mistake_that_raises_or_hangs_does_not_break_check(monkeypatch) -> None:
    monkeypatch.setattr(check_module, "MISTAKE_TIMEOUT_S", 0.3)
    ex = dataclasses.replace(CATALOG.get("demo.ex3"), mistakes=(RAISES, HANGS, BIAS_IN_MACS))
    wrong = define(ex, BIAS_IN_MACS)
    start = time.monotonic()
    out = printed(ex, wrong)
    assert time.monotonic() - start < 10
    assert "FAIL" in out and out.count("likely cause: counts the bias in the MACs") == 1, out
    assert "raises" not in out and "hangs" not in out
    out = printed(ex, define(ex, Mistake("right", RIGHT_COUNT)))
    assert "FAIL" not in out and "likely cause" not in out
    out = printed(ex, lambda i, o, t, bias=True: (-1, -1))  # wrong, but no known mistake
    assert "FAIL" in out and "likely cause" not in out
