"""Discover every exercise spec (`utils/exercises/*.py` exposing `EXERCISES`) and look them up."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path

from utils.grading.spec import Exercise

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where `Exercise.notebook` paths are resolved, in order: the book, then test fixtures.
NOTEBOOK_ROOTS: tuple[Path, ...] = (REPO_ROOT / "solutions", REPO_ROOT / "tests" / "fixtures")


@lru_cache(maxsize=1)
def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, by id, in module then declaration order."""
    import utils.exercises as package

    found: dict[str, Exercise] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        exercises = getattr(module, "EXERCISES", None)
        if exercises is None:
            continue
        for ex in exercises:
            if not isinstance(ex, Exercise):
                raise TypeError(f"{module.__name__}.EXERCISES: expected Exercise objects, got {type(ex).__name__}")
            if ex.id in found:
                raise ValueError(f"duplicate exercise id {ex.id!r} (in {module.__name__} and elsewhere)")
            found[ex.id] = ex
    return found


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; KeyError listing the known ids otherwise."""
    exercises = all_exercises()
    if exercise_id not in exercises:
        raise KeyError(f"unknown exercise id {exercise_id!r}; known ids: {', '.join(exercises) or 'none'}")
    return exercises[exercise_id]


def notebook_matches(path: str | Path, exercise: Exercise) -> bool:
    """True if a submitted notebook's filename stem equals or ends with the exercise notebook's stem."""
    stem, target = Path(path).stem, Path(exercise.notebook).stem
    return stem == target or stem.endswith(target)


def for_notebook(path: str | Path) -> list[Exercise]:
    """The exercises that apply to a (submitted, solution or student) notebook, matched by filename."""
    return [ex for ex in all_exercises().values() if notebook_matches(path, ex)]


def by_func(func: str, notebook: str | Path | None = None) -> Exercise | None:
    """The exercise whose student function is `func` (preferring one of `notebook`), or None."""
    candidates = [ex for ex in all_exercises().values() if ex.func == func]
    if notebook is not None:
        own = [ex for ex in candidates if notebook_matches(notebook, ex)]
        candidates = own or candidates
    return candidates[0] if len(candidates) == 1 else None


def solution_notebook(exercise: Exercise, roots: tuple[Path, ...] = NOTEBOOK_ROOTS) -> Path:
    """The solution notebook of an exercise: `exercise.notebook` under the first root that has it."""
    for root in roots:
        candidate = Path(root) / exercise.notebook
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(Path(r) / exercise.notebook) for r in roots)
    raise FileNotFoundError(f"exercise {exercise.id}: solution notebook not found (tried {tried})")
