"""The course's exercises: one spec module per notebook, and the catalog that finds them.

The contract (checked by ``tests/test_layout.py``): the notebook ``solutions/NN-topic/MM-name.ipynb``
has exactly one spec module here, ``chNN_<name>.py`` (``-`` written ``_``), whose ``NOTEBOOK`` is
``"NN-topic/MM-name.ipynb"`` and whose ``EXERCISES`` holds that notebook's exercises in the order the
notebook asks them, numbered ``chNN.ex1``, ``chNN.ex2``, ... across the chapter without gaps.
A new notebook adds its module to ``SPEC_MODULES`` below.

In a notebook: ``from utils.exercises import check`` then ``check("ch01.ex1", my_function)``; after the
check, ``my_function = solved_or_reference("ch01.ex1", my_function, reference)`` keeps the learner's
function if it works and otherwise the course's reference, with a notice, so the cells below still run.
The grading engine (``utils.grading``) knows nothing of this package: the instructor's command
(``utils.grade``) and ``check`` hand it the exercises. Keep spec modules light to import: build
models and data inside ``Case.make``, not at import time.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from utils.env import REPO_ROOT
from utils.exercises import (ch01_why_compress, ch02_structured, ch02_unstructured, ch03_low_bit_lm, ch03_ptq,
                             ch03_qat, ch04_distillation, ch05_search, ch05_supernet_and_latency, ch06_kv_cache,
                             ch06_software_levers, ch06_where_time_goes, ch07_capstone, ch07_evaluating,
                             ch07_results_at_a_glance)
from utils.grading.check import _run_case, run_visible
from utils.grading.spec import Exercise

__all__ = ["SPEC_MODULES", "Catalog", "COURSE", "check", "note_if_far", "solved_or_reference"]

SPEC_MODULES: tuple[ModuleType, ...] = (ch01_why_compress, ch02_unstructured, ch02_structured, ch03_ptq, ch03_qat,
                                        ch03_low_bit_lm, ch04_distillation, ch05_supernet_and_latency, ch05_search,
                                        ch06_where_time_goes, ch06_software_levers, ch06_kv_cache,
                                        ch07_evaluating, ch07_capstone, ch07_results_at_a_glance)


@dataclass(frozen=True)
class Catalog:
    """A set of spec modules and the folder their solution notebooks live in."""

    modules: tuple[ModuleType, ...]
    root: Path

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for module in self.modules:
            for ex in getattr(module, "EXERCISES", ()):
                if not isinstance(ex, Exercise):
                    raise TypeError(f"{module.__name__}.EXERCISES: expected Exercise objects, got {type(ex).__name__}")
                if ex.id in seen:
                    raise ValueError(f"duplicate exercise id {ex.id!r} (in {module.__name__} and {seen[ex.id]})")
                seen[ex.id] = module.__name__

    def all(self) -> dict[str, Exercise]:
        """Every exercise, by id, in module then declaration order."""
        return {ex.id: ex for module in self.modules for ex in module.EXERCISES}

    def get(self, exercise_id: str) -> Exercise:
        """The exercise with this id; KeyError listing the known ids otherwise."""
        exercises = self.all()
        if exercise_id not in exercises:
            raise KeyError(f"unknown exercise id {exercise_id!r}; known ids: {', '.join(exercises) or 'none'}")
        return exercises[exercise_id]

    def for_notebook(self, path: str | Path) -> list[Exercise]:
        """The exercises of a (submitted, solution or student) notebook, matched by filename."""
        return [ex for ex in self.all().values() if notebook_matches(path, ex)]

    def by_func(self, func: str, notebook: str | Path | None = None) -> Exercise | None:
        """The exercise whose student function is `func` (preferring one of `notebook`), or None."""
        candidates = [ex for ex in self.all().values() if ex.func == func]
        if notebook is not None:
            candidates = [ex for ex in candidates if notebook_matches(notebook, ex)] or candidates
        return candidates[0] if len(candidates) == 1 else None

    def solution_notebook(self, exercise: Exercise) -> Path:
        """The solution notebook of an exercise."""
        path = self.root / exercise.notebook
        if not path.is_file():
            raise FileNotFoundError(f"exercise {exercise.id}: solution notebook not found at {path}")
        return path

    def check(self, exercise_id: str, fn: Callable) -> None:
        """Run the visible cases of an exercise on `fn`, one printed line per case; never raises."""
        try:
            ex = self.get(exercise_id)
        except KeyError as exc:
            print(f"check: {exc.args[0]}")
            return
        run_visible(ex, fn)

    def extended(self, modules: Iterable[ModuleType], root: Path) -> "Catalog":
        """This catalog plus other spec modules whose notebooks live under `root` (the grader's self-tests)."""
        return _Merged(self.modules + tuple(modules), self.root, root)


@dataclass(frozen=True)
class _Merged(Catalog):
    """A catalog whose later modules' notebooks live under a second root."""

    extra_root: Path = Path()

    def solution_notebook(self, exercise: Exercise) -> Path:
        path = self.root / exercise.notebook
        return path if path.is_file() else Catalog(self.modules, self.extra_root).solution_notebook(exercise)


def notebook_matches(path: str | Path, exercise: Exercise) -> bool:
    """True if a submitted notebook's filename stem equals or ends with the exercise notebook's stem."""
    stem, target = Path(path).stem, Path(exercise.notebook).stem
    return stem == target or stem.endswith(target)


COURSE = Catalog(SPEC_MODULES, REPO_ROOT / "solutions")


def check(exercise_id: str, fn: Callable) -> None:
    """Immediate feedback in a notebook: run the visible cases of `exercise_id` on `fn` (see `Catalog.check`)."""
    COURSE.check(exercise_id, fn)


def _agree(a: Any, b: Any, tol: float) -> bool:
    if isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and a.shape == b.shape
                and bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=False)))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_agree(a[k], b[k], tol) for k in b)
    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(_agree(x, y, tol) for x, y in zip(a, b))
    if isinstance(b, bool) or isinstance(b, (str, type(None))):
        return a == b
    if isinstance(b, (int, float)):
        if isinstance(a, torch.Tensor) and a.numel() == 1:
            a = a.item()
        return (isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
                and abs(a - b) <= tol * (1 + abs(b)))
    return a == b


def _visible_cases_pass(exercise_id: str, fn: Callable) -> tuple[bool, str]:
    """(True, "") if `fn` passes every visible case of the exercise, else (False, the first failure's message).

    The random generators' states are restored afterwards, so that the cells below draw the same numbers
    whether or not this ran."""
    ex = COURSE.get(exercise_id)
    states = (random.getstate(), torch.get_rng_state(), np.random.get_state())
    try:
        for case in (c for c in ex.cases if not c.hidden):
            for seed in case.seeds:
                message, _ = _run_case(fn, case, seed, ex.in_place)
                if message is not None:
                    return False, message
        return True, ""
    finally:
        random.setstate(states[0])
        torch.set_rng_state(states[1])
        np.random.set_state(states[2])


def solved_or_reference(exercise_id: str, fn: Callable, reference: Callable | None = None,
                        probes: Sequence[tuple] | None = None, tol: float = 1e-6) -> Callable:
    """The learner's `fn` if it works, else the course's reference (`reference`, or the exercise's own from its
    spec), with a one-line notice naming the exercise, so the cells below still run. "Works" means: agrees with
    the reference on every probe (a tuple of arguments), or, without probes, passes the exercise's visible cases
    (as `check` runs them)."""
    if reference is None:
        reference = COURSE.get(exercise_id).reference
        if reference is None:
            raise ValueError(f"exercise {exercise_id} has no reference implementation in its spec; pass one")
    if probes is not None and not probes:
        raise ValueError("expected at least one probe (a tuple of arguments), or probes=None for the visible cases")
    if probes is None:
        ok, why = _visible_cases_pass(exercise_id, fn)
        why = "not implemented yet" if why.startswith("not implemented") else f"a visible case fails: {why}"[:160]
    else:
        try:
            ok = all(_agree(fn(*args), reference(*args), tol) for args in probes)
        except Exception as exc:                          # an unsolved exercise raises NotImplementedError
            ok, why = False, f"{type(exc).__name__}"
        else:
            why = "it disagrees with the reference on a small example"
    if ok:
        return fn
    print(f"{exercise_id} is not solved yet ({why}): the cells below use the course's reference implementation.")
    return reference


def note_if_far(what: str, got: float, expected: float, tol: float, exercises: Sequence[str]) -> None:
    """Print one note when a figure computed with the learner's functions is far from the course's run.

    `expected` is the figure the worked notebook printed at this place, `tol` how far a correct run on another
    machine can land from it, `exercises` the ids whose functions the figure went through. A function that
    passes its checks can still be wrong on inputs the checks do not try: the note says where to look, so the
    text around the figure (written for the course's run) is not read against a different number in silence.
    Returns None (so that a notebook cell ending with the call displays nothing more)."""
    if not exercises or not all(isinstance(e, str) for e in exercises):
        raise ValueError(f"expected the ids of the exercises the figure depends on, got {exercises!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"expected a finite tolerance >= 0, got {tol!r}")
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        print(f"note: {what} should be a number, got {type(got).__name__}; it is computed with "
              f"{', '.join(exercises)}: check them.")
        return
    if math.isfinite(got) and abs(got - expected) <= tol:
        return
    print(f"note: {what} is {got:.4g} here; the course's run gave {expected:.4g} (a correct run lands within "
          f"{tol:g}). It is computed with your {', '.join(exercises)}: a function can pass its checks and still be "
          f"wrong elsewhere, so the text below (written for the course's run) may not fit this figure.")
