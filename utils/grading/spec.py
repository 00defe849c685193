"""Exercise specifications (Case, Exercise) and the comparison helpers used inside `verify`.

A spec module `utils/exercises/chNN_<name>.py` exposes `EXERCISES: tuple[Exercise, ...]`.
A `verify` function receives the arguments rebuilt from the same seed and the student's
output, and raises `CheckFailed("expected ..., got ...")` when the output is wrong. An exercise's
`mistakes` are the wrong implementations learners often write: when a case fails and the learner's
output is that of a mistake, the feedback names it (see `utils.grading.mistakes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = [
    "Case",
    "CheckFailed",
    "Exercise",
    "Mistake",
    "NotGradable",
    "describe",
    "expect_close",
    "expect_equal",
    "expect_tensor",
]


class CheckFailed(AssertionError):
    """Raised by a `verify` function: the student's output is wrong (message says how)."""


class NotGradable(Exception):
    """Raised by a `Case.make` that cannot build its arguments on this machine (e.g. a cached model is
    missing); the grader then reports the exercise as not graded here, with this message, instead of failing."""


@dataclass(frozen=True)
class Case:
    """One family of test inputs: `make(seed)` builds the args, `verify(args, output)` judges."""

    name: str
    make: Callable[[int], tuple]
    verify: Callable[[tuple, Any], None]
    seeds: tuple[int, ...] = (0,)
    hidden: bool = False
    run: Callable[[Callable, tuple], Any] | None = None
    #: False for a case too costly to run again for every known mistake (one that trains a model for minutes):
    #: a failure there is not matched to a mistake (the visible cases name the mistakes).
    name_mistakes: bool = True

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError(f"case {self.name!r}: expected at least one seed, got ()")


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation: `source` defines the exercise's function the way `description` says."""

    description: str
    source: str

    def __post_init__(self) -> None:
        if not self.description or "\n" in self.description:
            raise ValueError(f"mistake: expected a one-line description, got {self.description!r}")


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the function a student writes, its points, and its test cases."""

    id: str
    func: str
    points: float
    notebook: str
    cases: tuple[Case, ...]
    title: str = ""
    forbidden: tuple[str, ...] = ()
    #: True for exercises whose function is meant to change its inputs (a model pruned or quantized in place,
    #: an optimizer step); for every other exercise, changing an input is reported as a failure.
    in_place: bool = False
    #: Wrong implementations learners often write, most common first; feedback names the one a failing output matches.
    mistakes: tuple[Mistake, ...] = ()
    #: The course's own implementation, which a notebook falls back on when the learner's function does not
    #: work yet (`utils.exercises.solved_or_reference`); a spec module, so never importable while grading.
    reference: Callable | None = None
    #: Seconds the function may run on one job of cases, when more than the grader's per-exercise timeout
    #: (an exercise that runs a real model); None: the grader's timeout.
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not self.func.isidentifier():
            raise ValueError(f"exercise {self.id}: func must be a Python identifier, got {self.func!r}")
        if not self.cases:
            raise ValueError(f"exercise {self.id}: expected at least one Case, got none")
        if self.points <= 0:
            raise ValueError(f"exercise {self.id}: points must be positive, got {self.points}")
        if not self.notebook.endswith(".ipynb"):
            raise ValueError(f"exercise {self.id}: notebook must be an .ipynb path, got {self.notebook!r}")
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise ValueError(f"exercise {self.id}: timeout must be a positive number of seconds or None, got {self.timeout!r}")
        for mistake in self.mistakes:
            if not isinstance(mistake, Mistake) or f"def {self.func}(" not in mistake.source:
                raise ValueError(f"exercise {self.id}: each mistake must be a Mistake whose source defines {self.func}()")

    @property
    def n_runs(self) -> int:
        """Number of (case, seed) runs, visible and hidden."""
        return sum(len(c.seeds) for c in self.cases)


def describe(value: Any) -> str:
    """A short, deterministic description of a value's type (and shape/dtype for tensors)."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if value is None:
        return "None"
    return f"a value of type {type(value).__name__}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_tensor(
    got: Any,
    expected: torch.Tensor,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    what: str = "output",
) -> None:
    """Check that `got` is a finite tensor with `expected`'s shape, dtype and values (within tolerance)."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what}: expected a torch.Tensor, got {describe(got)}")
    if tuple(got.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{what}: expected dtype {expected.dtype}, got {got.dtype}")
    if got.is_floating_point() or got.is_complex():
        if torch.isnan(got).any() and not torch.isnan(expected).any():
            raise CheckFailed(f"{what}: contains NaN ({int(torch.isnan(got).sum())} of {got.numel()} entries)")
        if torch.isinf(got).any() and not torch.isinf(expected).any():
            raise CheckFailed(f"{what}: contains inf ({int(torch.isinf(got).sum())} of {got.numel()} entries)")
    if got.dtype == torch.bool or not (got.is_floating_point() or got.is_complex()):
        wrong = got != expected
        if wrong.any():
            idx = tuple(int(i) for i in wrong.nonzero()[0])
            raise CheckFailed(
                f"{what}: {int(wrong.sum())} of {got.numel()} entries differ; "
                f"first at index {idx}: expected {expected[idx].item()}, got {got[idx].item()}"
            )
        return
    g, e = got.double(), expected.double()
    if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
        diff = (g - e).abs().nan_to_num(nan=math.inf)
        idx = tuple(int(i) for i in (diff == diff.max()).nonzero()[0])
        raise CheckFailed(
            f"{what}: values differ; max abs diff {diff.max().item():.3g} at index {idx} "
            f"(expected {e[idx].item():.6g}, got {g[idx].item():.6g}; tolerance atol={atol:g}, rtol={rtol:g})"
        )


def expect_equal(got: Any, expected: Any, *, what: str = "output") -> None:
    """Check exact equality of plain values (int, str, bool, tuples/lists of them), type included."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            raise CheckFailed(f"{what}: expected a {type(expected).__name__} of {len(expected)} items, got {describe(got)}")
        if len(got) != len(expected):
            raise CheckFailed(f"{what}: expected {len(expected)} items, got {len(got)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            expect_equal(g, e, what=f"{what}[{i}]")
        return
    if isinstance(expected, bool) or isinstance(got, bool):
        ok = type(got) is type(expected) and got == expected
    elif isinstance(expected, int):
        ok = isinstance(got, int) and got == expected
    else:
        ok = type(got) is type(expected) and got == expected
    if not ok:
        raise CheckFailed(f"{what}: expected {_short(expected)}, got {_short(got)}")


def expect_close(got: Any, expected: float, *, atol: float = 1e-6, rtol: float = 1e-5, what: str = "output") -> None:
    """Check that `got` is a finite real number within tolerance of `expected`."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise CheckFailed(f"{what}: expected a number close to {expected:.6g}, got {describe(got)}")
    if not math.isfinite(got):
        raise CheckFailed(f"{what}: expected a finite number close to {expected:.6g}, got {got}")
    if abs(got - expected) > atol + rtol * abs(expected):
        raise CheckFailed(
            f"{what}: expected {expected:.6g}, got {got:.6g} "
            f"(abs diff {abs(got - expected):.3g}; tolerance atol={atol:g}, rtol={rtol:g})"
        )
