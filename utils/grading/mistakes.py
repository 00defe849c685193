"""Naming the likely cause of a failure: does a failing output match one of the exercise's known mistakes?

An `Exercise.mistakes` entry is a wrong implementation written as notebook code (a `Mistake`). When a
case fails, the mistakes run on the same arguments, where the learner's function ran (in the notebook
for `check`, in a grading worker for the grader, with the same time limit). A mistake is named when its
own output also fails the case and the learner's output equals it (tensors within a small tolerance,
NaN equal to NaN). A mistake that raises, hangs or passes the case is never named; only its
description is shown, never its code or the case's arguments.
"""
from __future__ import annotations

import math
import signal
import threading
from typing import Any, Callable

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake
from utils.grading.worker import UNSUPPORTED

__all__ = ["PRELUDE", "define", "likely_cause", "run_limited", "same_output"]

#: The imports every notebook has: a mistake's source may use these names without importing them.
PRELUDE = "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"

#: Relative and absolute tolerance for "the same output" (looser than float noise, far tighter than a real bug).
RTOL, ATOL = 1e-4, 1e-6


def define(ex: Exercise, mistake: Mistake) -> Callable:
    """The function a mistake's source defines (run after `PRELUDE`, in a namespace of its own)."""
    namespace: dict[str, Any] = {"__name__": "__mistake__"}
    exec(compile(PRELUDE + mistake.source, f"<mistake of {ex.id}: {mistake.description}>", "exec"), namespace)
    return namespace[ex.func]


def same_output(a: Any, b: Any) -> bool:
    """True if two sanitized outputs are the same: same structure and types, tensors of one shape and dtype
    with close values, numbers close (an int and a float of equal value count as the same)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if not (a.is_floating_point() or a.is_complex()):
            return bool(torch.equal(a, b))
        return bool(torch.allclose(a.double(), b.double(), rtol=RTOL, atol=ATOL, equal_nan=True))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_output(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_output(a[k], b[k]) for k in a)
    return False


def _fails(case: Case, seed: int, value: Any) -> bool:
    """True if `value` fails the case (a malformed value counts as failing)."""
    if isinstance(value, dict) and set(value) == {UNSUPPORTED}:
        return True
    try:
        case.verify(case.make(seed), value)
    except CheckFailed:
        return True
    except Exception:  # noqa: BLE001 - verify choked on the value: it is wrong
        return True
    return False


def likely_cause(ex: Exercise, case: Case, seed: int, value: Any, mistake_outputs: list[Any]) -> str | None:
    """The description of the first mistake whose output fails this case and equals `value` (the learner's
    failing output), or None. `mistake_outputs[k]` is mistake k's sanitized output, or None if it raised
    or ran out of time (a mistake that returns None is matched through `(None,)`: see `run_limited`)."""
    for mistake, out in zip(ex.mistakes, mistake_outputs):
        if out is None:
            continue
        (got,) = out
        try:
            if _fails(case, seed, got) and same_output(value, got):
                return mistake.description
        except Exception:  # noqa: BLE001 - a hint must never break the feedback
            continue
    return None


class _TimedOut(BaseException):
    """Raised in a mistake that ran past its time limit (a BaseException, so `except Exception` lets it by)."""


def run_limited(call: Callable[[], Any], seconds: float) -> tuple[Any] | None:
    """`(call(),)`, or None if it raised or ran longer than `seconds`. The limit is a SIGALRM timer, which
    only the main thread can set: elsewhere (or without SIGALRM) nothing is called and None comes back."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return None

    def on_alarm(signum: int, frame: Any) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            return (call(),)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    except (Exception, SystemExit, _TimedOut):  # noqa: BLE001 - a mistake that raises or hangs is not named
        return None
