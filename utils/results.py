"""A small results store: each chapter saves its headline numbers, the book compares them.

Every chapter ends by saving one entry per model variant it built (the fine-tuned
baseline, the 50 %-sparse model, the int8 model, the distilled student, ...):

    save_results("03-pruning", {"magnitude-50%": {"accuracy": 0.81, "params": 22_713_216,
                                                  "size_bytes": 58_500_000, "latency_ms": 41.2}})

The file ``results/<chapter>.json`` is plain, sorted, rounded JSON, so re-running a
notebook on another machine gives a small, readable diff.  ``load_results()`` reads
every chapter back for the cross-chapter "results at a glance" chart.

The folder is ``$COURSE_RESULTS_DIR`` when that variable is set, else ``results/`` at
the repository root; it is created when missing.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "results_dir",
    "validate_entry",
    "save_results",
    "load_results",
]

REQUIRED_KEYS = ("accuracy", "params", "size_bytes")
OPTIONAL_KEYS = ("latency_ms", "notes")
SIGNIFICANT_DIGITS = 4
_CHAPTER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_REPO_ROOT = Path(__file__).resolve().parents[1]


def results_dir() -> Path:
    """The folder results are kept in: ``$COURSE_RESULTS_DIR`` or ``<repo>/results``."""
    env = os.environ.get("COURSE_RESULTS_DIR")
    return Path(env).expanduser() if env else _REPO_ROOT / "results"


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
