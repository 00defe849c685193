"""Recorded long runs: figures from configurations too slow to run on every notebook execution.

Some targets need more training than a notebook can afford on a 2-core CPU. Such a notebook has
a "longer configuration" section. Executed with the environment variable ``COURSE_LONG_RUN=1``,
that section really runs the longer configuration and saves its figures with
:func:`save_recorded`; executed normally, it reads them back with :func:`load_recorded` and
prints them marked as recorded, with when and how they were produced. The files live in
``results/recorded/<name>.json`` and are committed, so a reader sees the real figure of the
longer run without paying for it, and anyone can reproduce it:

    COURSE_LONG_RUN=1 jupyter nbconvert --to notebook --execute --output /tmp/long.ipynb \
        solutions/04-distillation/01-distillation.ipynb
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

from utils.results import _as_number, _round

__all__ = ["long_run_requested", "recorded_dir", "save_recorded", "load_recorded", "describe_recorded"]

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_REPO_ROOT = Path(__file__).resolve().parents[1]


def long_run_requested(name: str) -> bool:
    """Whether to run the long configuration recorded as `name`.

    ``COURSE_LONG_RUN=1`` runs every long configuration of the notebook; a comma-separated list of
    record names (``COURSE_LONG_RUN=ch02-unstructured-long-kd``) runs only those; unset or ``0``
    runs none.
    """
    _path(name)                                   # validates the name
    value = os.environ.get("COURSE_LONG_RUN", "0").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    names = [v.strip() for v in value.split(",") if v.strip()]
    for v in names:
        if not _NAME_RE.fullmatch(v):
            raise ValueError(f"COURSE_LONG_RUN must be 0, 1 or a comma-separated list of record names, got {value!r}")
    return name in names


def recorded_dir() -> Path:
    """``$COURSE_RECORDED_DIR`` when set (tests), else ``results/recorded`` in the repository."""
    env = os.environ.get("COURSE_RECORDED_DIR")
    return Path(env).expanduser() if env else _REPO_ROOT / "results" / "recorded"


def _path(name: str) -> Path:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"a recorded run's name must be lower-case letters, digits, '-', '_' or '.', got {name!r}")
    return recorded_dir() / f"{name}.json"


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
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_recorded(name: str) -> dict:
    """The record saved by :func:`save_recorded`; a clear error if the long run was never recorded."""
    path = _path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"no recorded long run {name!r} ({path.relative_to(_REPO_ROOT) if path.is_relative_to(_REPO_ROOT) else path}); "
            "execute the notebook with COURSE_LONG_RUN=1 to produce it")
    record = json.loads(path.read_text(encoding="utf-8"))
    for key in ("figures", "config", "wall_seconds", "recorded_on", "machine", "torch"):
        if key not in record:
            raise ValueError(f"recorded run {name!r} is missing the field {key!r}: re-record it")
    return record


def describe_recorded(record: dict) -> str:
    """One line saying where the figures come from."""
    return (f"[recorded run of {record['recorded_on']}: {record['wall_seconds'] / 60:.0f} min on "
            f"{record['machine']}, torch {record['torch']}]")
