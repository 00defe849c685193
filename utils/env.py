"""Every environment variable the course reads, in one place.

| variable | meaning | default |
|---|---|---|
| ``COURSE_CACHE`` | where the fine-tuned teacher and its cached logits live | ``$XDG_CACHE_HOME/nlp-compression-course`` or ``~/.cache/nlp-compression-course`` |
| ``COURSE_RESULTS_DIR`` | where chapters save their headline figures (``save_results``) | ``<repo>/results`` |
| ``COURSE_RECORDED_DIR`` | where recorded long runs are read and written (tests point it elsewhere) | ``<repo>/results/recorded`` |
| ``COURSE_LONG_RUN`` | ``1``: run every longer configuration; ``name,name``: only those; ``0`` or unset: none | unset |
| ``COURSE_LONG_RUN_SMOKE`` | ``1``: run each longer configuration with a tiny step count and discard its figures (the test suite sets it, so the long-run code runs in CI) | unset |
| ``COURSE_DEVICE`` | force a device (``cpu``, ``cuda``, ``cuda:1``) | CUDA when present, else CPU |
| ``GRADER_NO_FORK`` | ``1``: the grader starts each worker with a fresh interpreter instead of forking one (slower; for platforms where fork misbehaves) | unset |

Nothing else in ``utils`` reads the environment, with two exceptions that are not settings of the
course: ``utils.plots`` looks at the display (``DISPLAY``, ``MPLBACKEND``) to pick a matplotlib
backend, and the grader hands its worker processes their thread count (``GRADER_THREADS``).
``tests/test_layout.py`` checks this.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["REPO_ROOT", "cache_dir", "results_dir", "recorded_dir", "long_run_setting", "long_run_smoke",
           "device_preference", "grader_fork_disabled"]

REPO_ROOT = Path(__file__).resolve().parents[1]
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else default


def cache_dir() -> Path:
    """The teacher cache folder (``COURSE_CACHE``), not created here."""
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return _path("COURSE_CACHE", Path(xdg) / "nlp-compression-course")


def results_dir() -> Path:
    """The folder of saved chapter results (``COURSE_RESULTS_DIR``)."""
    return _path("COURSE_RESULTS_DIR", REPO_ROOT / "results")


def recorded_dir() -> Path:
    """The folder of recorded long runs (``COURSE_RECORDED_DIR``)."""
    return _path("COURSE_RECORDED_DIR", REPO_ROOT / "results" / "recorded")


def long_run_setting() -> bool | frozenset[str]:
    """``COURSE_LONG_RUN`` parsed: False (none), True (all), or the set of record names to run."""
    value = os.environ.get("COURSE_LONG_RUN", "0").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    names = frozenset(v.strip() for v in value.split(",") if v.strip())
    if not names or not all(_NAME_RE.fullmatch(v) for v in names):
        raise ValueError(f"COURSE_LONG_RUN must be 0, 1 or a comma-separated list of record names, got {value!r}")
    return names


def long_run_smoke() -> bool:
    """Whether ``COURSE_LONG_RUN_SMOKE=1`` asks for tiny smoke runs of the longer configurations."""
    value = os.environ.get("COURSE_LONG_RUN_SMOKE", "0").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"COURSE_LONG_RUN_SMOKE must be 0 or 1, got {value!r}")
    return value == "1"


def device_preference() -> str | None:
    """``COURSE_DEVICE`` if set, else None."""
    return os.environ.get("COURSE_DEVICE") or None


def grader_fork_disabled() -> bool:
    """Whether ``GRADER_NO_FORK=1`` asks the grader not to fork its workers."""
    return os.environ.get("GRADER_NO_FORK") == "1"
