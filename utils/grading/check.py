"""Immediate feedback: run an exercise's visible cases on a learner's function, in this process."""

from __future__ import annotations

from typing import Callable

from utils.grading.spec import CheckFailed, Exercise
from utils.grading.worker import UNSUPPORTED, clean_message, describe_error, sanitize


def _run_case(fn: Callable, case, seed: int) -> str | None:
    """None if the case passes, else a one-line message."""
    try:
        args = case.make(seed)
        value = case.run(fn, args) if case.run is not None else fn(*args)
        value = sanitize(value)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the learner's code may raise anything
        return describe_error(exc)
    if isinstance(value, dict) and set(value) == {UNSUPPORTED}:
        return f"returned an unsupported type ({value[UNSUPPORTED]})"
    try:
        case.verify(case.make(seed), value)
    except CheckFailed as exc:
        return clean_message(str(exc))
    except Exception as exc:  # noqa: BLE001 - verify choked on a malformed output
        return f"your output could not be checked ({type(exc).__name__}: {clean_message(str(exc))})"
    return None


def run_visible(ex: Exercise, fn: Callable) -> None:
    """Run the visible cases of `ex` on `fn` and print one line per case; never raises."""
    title = f" · {ex.title}" if ex.title else ""
    print(f"{ex.id}{title}")
    if not callable(fn):
        print(f"  FAIL  expected a function, got a value of type {type(fn).__name__}")
        return
    visible = [(case, seed) for case in ex.cases if not case.hidden for seed in case.seeds]
    passed = 0
    for case, seed in visible:
        message = _run_case(fn, case, seed)
        if message is None:
            passed += 1
            print(f"  PASS  {case.name} (seed {seed})")
        else:
            print(f"  FAIL  {case.name} (seed {seed}): {message}")
    points = float(ex.points) * passed / len(visible) if visible else 0.0
    print(f"Visible cases: {passed}/{len(visible)} passed, worth {points:.2f} of {float(ex.points):.2f} points.")
    hidden = sum(len(c.seeds) for c in ex.cases if c.hidden)
    if hidden:
        print(f"The grader also runs {hidden} hidden case(s); passing here does not guarantee full marks.")
    else:
        print("The grader runs these cases again in a separate process.")
