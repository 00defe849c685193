"""What every notebook does first, in one call: ``device = start_notebook()``; and how a notebook
goes on after an exercise the learner has not solved: ``solved_or_reference``.

It seeds every random generator (``utils.train.set_seed``), applies the course's plot style,
picks the device (CUDA when present, else CPU; ``COURSE_DEVICE`` overrides) and prints one
line naming it, so a reader knows where the figures below were computed.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from utils.plots import use_course_style
from utils.train import pick_device, set_seed

__all__ = ["start_notebook", "solved_or_reference"]


def start_notebook(seed: int = 0) -> torch.device:
    """Seed, style and device for a notebook; prints the device line and returns the device."""
    set_seed(seed)
    use_course_style()
    device = pick_device()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"Running on {device.type} ({where}), torch {torch.__version__.split('+')[0]}, seed {seed}.")
    return device


def _agree(a: Any, b: Any, tol: float) -> bool:
    if isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and a.shape == b.shape
                and bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=False)))
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


def solved_or_reference(exercise_id: str, fn: Callable, reference: Callable, probes: Sequence[tuple],
                        tol: float = 1e-6) -> Callable:
    """The learner's `fn` if it agrees with the course's `reference` on every probe (a tuple of arguments),
    else `reference`, with a one-line notice naming the exercise, so the cells below still run."""
    if not probes:
        raise ValueError("expected at least one probe (a tuple of arguments)")
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
