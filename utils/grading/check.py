"""Immediate feedback: run an exercise's visible cases on a learner's function, in this process."""

from __future__ import annotations

import inspect
import textwrap
import types
from typing import Any, Callable

from utils.grading.mistakes import define, likely_cause, run_limited
from utils.grading.source import extract, forbidden_used
from utils.grading.spec import CheckFailed, Exercise
from utils.grading.worker import UNSUPPORTED, clean_message, describe_error, guard_inputs, sanitize

#: Seconds a known mistake may run on one case before it is given up (it is then not named).
MISTAKE_TIMEOUT_S = 10.0


def _call(fn: Callable, case, seed: int, in_place: bool) -> Any:
    """`fn` on the case's arguments (through `case.run` where the case has one), its output sanitized."""
    fn = fn if in_place else guard_inputs(fn)
    args = case.make(seed)
    return sanitize(case.run(fn, args) if case.run is not None else fn(*args))


def _run_case(fn: Callable, case, seed: int, in_place: bool = False) -> tuple[str | None, tuple[Any] | None]:
    """(None, None) if the case passes, else (a one-line message, `(output,)` when the output was judged wrong)."""
    try:
        value = _call(fn, case, seed, in_place)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the learner's code may raise anything
        return describe_error(exc), None
    if isinstance(value, dict) and set(value) == {UNSUPPORTED}:
        return f"returned an unsupported type ({value[UNSUPPORTED]})", None
    try:
        case.verify(case.make(seed), value)
    except CheckFailed as exc:
        return clean_message(str(exc)), (value,)
    except Exception as exc:  # noqa: BLE001 - verify choked on a malformed output
        return f"your output could not be checked ({type(exc).__name__}: {clean_message(str(exc))})", None
    return None, None


def _cause(ex: Exercise, case, seed: int, value: Any, mistakes: dict[int, tuple[Callable] | None]) -> str | None:
    """The known mistake a failing output matches (see `utils.grading.mistakes`), or None; never raises."""
    outputs = []
    for k, mistake in enumerate(ex.mistakes):
        if k not in mistakes:
            mistakes[k] = run_limited(lambda: define(ex, mistake), MISTAKE_TIMEOUT_S)
        defined = mistakes[k]
        outputs.append(None if defined is None else
                       run_limited(lambda: _call(defined[0], case, seed, ex.in_place), MISTAKE_TIMEOUT_S))
    return likely_cause(ex, case, seed, value, outputs)


def forbidden_in(fn: Callable, forbidden: tuple[str, ...]) -> str | None:
    """The first forbidden name `fn` (or a notebook function it calls) uses, read from its source as the grader does."""
    if not forbidden:
        return None
    sources, todo, seen = [], [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen or not isinstance(f, types.FunctionType):
            continue
        seen.add(id(f))
        try:
            sources.append(textwrap.dedent(inspect.getsource(f)))
        except (OSError, TypeError):  # no source (built in a string, or a lambda in a shell): nothing to read
            continue
        todo += [v for k, v in f.__globals__.items() if k in f.__code__.co_names and isinstance(v, types.FunctionType)]
    if not sources:
        return None
    sub = extract({"cells": [{"cell_type": "code", "source": src} for src in sources]})
    sub.aliases.update({k: v.__name__ for k, v in getattr(fn, "__globals__", {}).items() if isinstance(v, types.ModuleType)})
    return forbidden_used(sub, fn.__name__, forbidden)


def run_visible(ex: Exercise, fn: Callable) -> None:
    """Run the visible cases of `ex` on `fn` and print one line per case; never raises."""
    title = f" · {ex.title}" if ex.title else ""
    print(f"{ex.id}{title}")
    if not callable(fn):
        print(f"  FAIL  expected a function, got a value of type {type(fn).__name__}")
        return
    visible = [(case, seed) for case in ex.cases if not case.hidden for seed in case.seeds]
    if bad := forbidden_in(fn, ex.forbidden):
        print(f"  FAIL  uses {bad}, which this exercise forbids; write it from scratch")
        print(f"Visible cases: not run, worth 0.00 of {float(ex.points):.2f} points (the grader gives 0 too).")
        return
    passed, mistakes, named = 0, {}, set()
    for case, seed in visible:
        message, wrong = _run_case(fn, case, seed, ex.in_place)
        if message is None:
            passed += 1
            print(f"  PASS  {case.name} (seed {seed})")
            continue
        print(f"  FAIL  {case.name} (seed {seed}): {message}")
        cause = _cause(ex, case, seed, wrong[0], mistakes) if wrong and ex.mistakes and case.name_mistakes else None
        if cause is not None and cause not in named:  # each cause once, under the first case it explains
            named.add(cause)
            print(f"        likely cause: {cause}")
    points = float(ex.points) * passed / len(visible) if visible else 0.0
    print(f"Visible cases: {passed}/{len(visible)} passed, worth {points:.2f} of {float(ex.points):.2f} points.")
    hidden = sum(len(c.seeds) for c in ex.cases if c.hidden)
    if hidden:
        print(f"The grader also runs {hidden} hidden case(s); passing here does not guarantee full marks.")
    else:
        print("The grader runs these cases again in a separate process.")
