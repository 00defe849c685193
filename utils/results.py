"""The course's two stores of figures: chapter results and recorded long runs.

**Chapter results.** Every chapter ends by saving one entry per model variant it built (the
fine-tuned baseline, the 50 %-sparse model, the int8 model, the distilled student, ...):

    save_results("03-pruning", {"magnitude-50%": {"accuracy": 0.81, "params": 22_713_216,
                                                  "size_bytes": 58_500_000, "latency_ms": 41.2}})

The file ``results/<chapter>.json`` is plain, sorted, rounded JSON, so re-running a notebook on
another machine gives a small, readable diff. ``load_results()`` reads every chapter back.

**Recorded long runs.** Some targets need more training than a notebook can afford on a 2-core
CPU. Such a notebook has a "longer configuration" cell, written once with :func:`recorded_run`:

    record = recorded_run("ch04-distillation-long", run_long, LONG, smoke={"steps": 2, "seeds": [0]})

Executed with ``COURSE_LONG_RUN=1`` (or a list of record names) it times ``run_long(LONG)`` and
saves the figures in ``results/recorded/<name>.json`` (committed); executed normally it reads
them back. Either way it prints one line saying where the figures come from and returns the
record. With ``COURSE_LONG_RUN_SMOKE=1`` (set by the test suite) it also runs
``run_long({**LONG, **smoke})`` silently, checks that it returns figures the record has, and
discards them: the long-run code is executed in CI at the cost of a few steps. ``smoke`` may also
set knobs the configuration lacks (a shorter evaluation, fewer variants), which ``run_long`` reads
with ``config.get(knob, default)``. Reproduce a record:

    COURSE_LONG_RUN=1 jupyter nbconvert --to notebook --execute --output /tmp/long.ipynb \
        solutions/04-distillation/01-distillation.ipynb

Folders and switches come from :mod:`utils.env`.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import math
import numbers
import os
import platform
import random
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from utils import env

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "results_dir",
    "validate_entry",
    "save_results",
    "load_results",
    "recorded_dir",
    "long_run_requested",
    "save_recorded",
    "load_recorded",
    "describe_recorded",
    "recorded_run",
    "verdict",
]

REQUIRED_KEYS = ("accuracy", "params", "size_bytes")
OPTIONAL_KEYS = ("latency_ms", "notes")
SIGNIFICANT_DIGITS = 4
_CHAPTER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def results_dir() -> Path:
    """The folder results are kept in: ``$COURSE_RESULTS_DIR`` or ``<repo>/results``."""
    return env.results_dir()


def _check_chapter(chapter: Any) -> str:
    """A chapter id safe to use as a file name, e.g. ``'03-pruning'``."""
    if not isinstance(chapter, str) or not _CHAPTER_RE.fullmatch(chapter) or chapter.endswith(".json"):
        raise ValueError(
            "chapter must be a name like '03-pruning' (letters, digits, '-', '_', '.'; "
            f"no slashes), got {chapter!r}"
        )
    return chapter


def _as_number(value: Any) -> Any:
    """Unwrap numpy/torch scalars (anything with ``.item()``) into Python numbers."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 0) == 0:
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _round(value: float) -> float:
    """Round a float to ``SIGNIFICANT_DIGITS`` significant digits."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def validate_entry(name: str, entry: Any) -> dict[str, Any]:
    """Check one entry against the schema; return a cleaned copy (Python scalars, rounded floats).

    Required: ``accuracy`` (a number in [0, 1]), ``params`` and ``size_bytes``
    (non-negative integers).  Optional: ``latency_ms`` (a non-negative number) and
    ``notes`` (a string).  Other keys are kept if their values are numbers, strings,
    booleans or ``None``.  Floats are rounded to 4 significant digits.
    """
    where = f"entry {name!r}"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"entry names must be non-empty strings, got {name!r}")
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a dict, got {type(entry).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise ValueError(f"{where} is missing required key(s) {missing}; required: {list(REQUIRED_KEYS)}")

    clean: dict[str, Any] = {}
    for key, raw in entry.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: keys must be strings, got {key!r}")
        value = _as_number(raw)
        if key == "accuracy":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{where}: accuracy must be a fraction between 0 and 1, got {raw!r}")
            value = _round(float(value))
        elif key in ("params", "size_bytes"):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{where}: {key} must be a non-negative integer, got {raw!r}")
            value = int(value)
        elif key == "latency_ms":
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(float(value))
                or value < 0
            ):
                raise ValueError(f"{where}: latency_ms must be a non-negative number, got {raw!r}")
            value = _round(float(value))
        elif key == "notes":
            if not isinstance(value, str):
                raise ValueError(f"{where}: notes must be a string, got {type(raw).__name__}")
        elif value is None or isinstance(value, (bool, str)):
            pass
        elif isinstance(value, numbers.Integral):
            value = int(value)
        elif isinstance(value, numbers.Real):
            if not math.isfinite(float(value)):
                raise ValueError(f"{where}: {key} must be finite, got {raw!r}")
            value = _round(float(value))
        else:
            raise ValueError(
                f"{where}: {key} must be a number, string, bool or None, got {type(raw).__name__}"
            )
        clean[key] = value
    return clean


def _validate_entries(entries: Any, source: str) -> dict[str, dict[str, Any]]:
    """Validate a whole chapter's entries; errors say which chapter or file."""
    if not isinstance(entries, Mapping) or not entries:
        raise ValueError(f"{source}: expected a non-empty dict of entries, got {entries!r:.80}")
    try:
        return {name: validate_entry(name, entry) for name, entry in entries.items()}
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


def save_results(chapter: str, entries: dict[str, dict[str, Any]], *, merge: bool = False) -> Path:
    """Validate ``entries`` and write them to ``<results dir>/<chapter>.json``; return the path.

    The file is replaced, unless ``merge=True``, which keeps the entries already saved
    for this chapter and adds or overwrites the ones given.
    """
    _check_chapter(chapter)
    clean = _validate_entries(entries, f"results for chapter {chapter!r}")
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.json"
    if merge and path.exists():
        old = _read_chapter(path)
        old.update(clean)
        clean = old
    text = json.dumps(clean, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _read_chapter(path: Path) -> dict[str, dict[str, Any]]:
    """Read and validate one chapter file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    return _validate_entries(data, str(path))


def load_results(chapters: list[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Every saved chapter's entries, ``{chapter: {entry: {...}}}``, in chapter order.

    ``chapters`` limits the result to those chapters (a missing one is an error);
    a missing results folder gives an empty dict.
    """
    folder = results_dir()
    if chapters is not None:
        out = {}
        for chapter in chapters:
            path = folder / f"{_check_chapter(chapter)}.json"
            if not path.exists():
                raise FileNotFoundError(
                    f"no results saved for chapter {chapter!r} (looked for {path}); run its notebook first"
                )
            out[chapter] = _read_chapter(path)
        return out
    if not folder.is_dir():
        return {}
    return {path.stem: _read_chapter(path) for path in sorted(folder.glob("*.json"))}


# --------------------------------------------------------------------------- recorded long runs
def recorded_dir() -> Path:
    """``$COURSE_RECORDED_DIR`` when set (tests), else ``results/recorded`` in the repository."""
    return env.recorded_dir()


def _record_path(name: str) -> Path:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"a recorded run's name must be lower-case letters, digits, '-', '_' or '.', got {name!r}")
    return recorded_dir() / f"{name}.json"


def long_run_requested(name: str) -> bool:
    """Whether ``COURSE_LONG_RUN`` asks to run the long configuration recorded as `name`.

    ``1`` runs every long configuration; a comma-separated list of record names runs only
    those; unset or ``0`` runs none.
    """
    _record_path(name)  # validates the name
    setting = env.long_run_setting()
    return setting if isinstance(setting, bool) else name in setting


def _clean(value: Any, where: str) -> Any:
    """JSON-safe copy: numbers (finite, floats to 4 significant digits), strings, bools, lists, dicts."""
    value = _as_number(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        return _round(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _clean(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"{where}: cannot record a {type(value).__name__}; use numbers, strings, lists or dicts")


def save_recorded(name: str, figures: dict, config: dict, wall_seconds: float) -> Path:
    """Write the figures of a long run, with its configuration and where/when it ran."""
    import torch

    if not isinstance(figures, dict) or not figures:
        raise ValueError("figures must be a non-empty dict of the run's measured values")
    record = {
        "name": name,
        "figures": _clean(figures, "figures"),
        "config": _clean(config, "config"),
        "wall_seconds": round(float(wall_seconds)),
        "recorded_on": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
    }
    path = _record_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_recorded(name: str) -> dict:
    """The record saved by :func:`save_recorded`; a clear error if the long run was never recorded."""
    path = _record_path(name)
    if not path.is_file():
        shown = path.relative_to(env.REPO_ROOT) if path.is_relative_to(env.REPO_ROOT) else path
        raise FileNotFoundError(
            f"no recorded long run {name!r} ({shown}); execute the notebook with COURSE_LONG_RUN=1 to produce it")
    record = json.loads(path.read_text(encoding="utf-8"))
    for key in ("figures", "config", "wall_seconds", "recorded_on", "machine", "torch"):
        if key not in record:
            raise ValueError(f"recorded run {name!r} is missing the field {key!r}: re-record it")
    return record


def describe_recorded(record: dict) -> str:
    """One line saying where the figures come from."""
    return (f"[recorded run of {record['recorded_on']}: {record['wall_seconds'] / 60:.0f} min on "
            f"{record['machine']}, torch {record['torch']}]")


@contextlib.contextmanager
def _quiet_and_reproducible():
    """Swallow stdout/stderr and restore every RNG afterwards, so a smoke run leaves no trace."""
    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def recorded_run(name: str, run: Callable[[dict], dict], config: dict, *, smoke: dict | None = None) -> dict:
    """Run or load the longer configuration `name` (see the module docstring); print its origin, return it.

    `run(config)` returns the figures (a dict). When ``COURSE_LONG_RUN`` asks for `name`, it runs,
    is timed and saved. The committed record must have been produced by `config`: a record whose
    configuration differs is stale, and loading it is an error that says how to re-record it.
    """
    if not callable(run):
        raise TypeError(f"run must be a function run(config) -> figures, got {type(run).__name__}")
    if not isinstance(config, dict) or not config:
        raise ValueError("config must be a non-empty dict describing the longer configuration")
    if long_run_requested(name):
        start = time.perf_counter()
        figures = run(dict(config))
        save_recorded(name, figures, config, time.perf_counter() - start)
    record = load_recorded(name)
    if record["config"] != _clean(config, "config"):
        raise ValueError(f"recorded run {name!r} was made with another configuration ({record['config']}) than the "
                         f"notebook's ({_clean(config, 'config')}); re-record it with COURSE_LONG_RUN={name}")
    if env.long_run_smoke() and not long_run_requested(name):
        with _quiet_and_reproducible():
            figures = run({**config, **(smoke or {})})
        if not isinstance(figures, dict) or not figures or not set(figures) <= set(record["figures"]):
            got = sorted(figures) if isinstance(figures, dict) else type(figures).__name__
            raise ValueError(f"smoke run of {name!r} returned figures {got}, the record has {sorted(record['figures'])}")
    print(describe_recorded(record))
    return record


def verdict(value: float, *, at_least: float | None = None, at_most: float | None = None,
            above: float | None = None, below: float | None = None) -> str:
    """'met' or 'missed': whether `value` reaches a target given as exactly one bound.

    `at_least` / `at_most` include the bound, `above` / `below` exclude it.
    """
    bounds = {"at_least": at_least, "at_most": at_most, "above": above, "below": below}
    given = {k: v for k, v in bounds.items() if v is not None}
    if len(given) != 1:
        raise ValueError(f"give exactly one bound (at_least, at_most, above or below), got {sorted(given) or 'none'}")
    (kind, bound), = given.items()
    value, bound = _as_number(value), _as_number(bound)
    for what, x in (("value", value), (kind, bound)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
            raise ValueError(f"{what}: expected a finite number, got {x!r}")
    ok = {"at_least": value >= bound, "at_most": value <= bound, "above": value > bound, "below": value < bound}[kind]
    return "met" if ok else "missed"
