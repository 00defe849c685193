"""Test-only additions to the course's catalog: the demo spec (tests/fixtures/demo) and the mutants.

The shipped catalog (`utils.exercises.COURSE`) knows no test folder; the grader's self-tests use
`CATALOG`, the course plus the demo exercises, and `MUTANTS`, the known wrong implementations
(exercise id -> {description: source}): each exercise's curated `mistakes` (in its spec module, shown
to learners as a likely cause) first, then the further ones kept under tests/mutants/.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from utils.exercises import COURSE

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _load(path: Path, name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


DEMO_SPEC = _load(TESTS / "fixtures" / "demo" / "demo_spec.py", "demo_spec")
CATALOG = COURSE.extended([DEMO_SPEC], TESTS / "fixtures")

MUTANTS: dict[str, dict[str, str]] = {ex.id: {m.description: m.source for m in ex.mistakes}
                                       for ex in CATALOG.all().values() if ex.mistakes}
for _path in sorted((TESTS / "mutants").glob("*.py")):
    for _id, _more in _load(_path, f"mutants_{_path.stem}").MUTANTS.items():
        assert not MUTANTS.get(_id, {}).keys() & _more.keys(), f"{_path.name}: {_id} repeats a mistake of its spec"
        MUTANTS[_id] = {**MUTANTS.get(_id, {}), **_more}
