"""Grade submitted notebooks from the command line.

    python -m utils.grade SUBMISSIONS/ --csv grades.csv
    python -m utils.grade alice_01-why-compress.ipynb --json

PATH is a notebook or a folder (searched recursively, .ipynb_checkpoints skipped). A notebook
is graded on the exercises whose solution notebook's filename its own filename equals or ends
with (`alice_01-why-compress.ipynb` -> exercises of `01-why-compress.ipynb`). Exit status: 0
when grading completed, whatever the scores; 2 when a path cannot be graded (message on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from utils.exercises import COURSE, Catalog
from utils.grading.runner import GradingError, NotebookResult, find_notebooks, grade_many


def student_name(path: str, catalog: Catalog = COURSE) -> str:
    """The part of a submission's filename before the exercise notebook's name (e.g. 'alice')."""
    stem = Path(path).stem
    for ex in catalog.for_notebook(path):
        target = Path(ex.notebook).stem
        if stem.endswith(target):
            return stem[: len(stem) - len(target)].strip("_- .")
    return ""


def write_csv(results: list[NotebookResult], out: Path, catalog: Catalog = COURSE) -> None:
    """One row per notebook: notebook, student, one column per exercise id, total, max_total."""
    ids: list[str] = []
    for r in results:
        ids.extend(e.id for e in r.exercises if e.id not in ids)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "student", *ids, "total", "max_total"])
        for r in results:
            points = {e.id: e.points for e in r.exercises}
            writer.writerow([r.path, student_name(r.path, catalog), *(points.get(i, "") for i in ids), r.total, r.max_total])


def _print_text(result: NotebookResult) -> None:
    print(f"{result.path}: {result.total:g}/{result.max_total:g}")
    for e in result.exercises:
        print(f"  {e.id:<12} {e.points:>6.2f}/{e.max_points:<5g} {e.feedback}")


def main(argv: list[str] | None = None, catalog: Catalog = COURSE) -> int:
    """Command line entry point; returns the exit status. `catalog`: the exercises known (the course's)."""
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="submitted notebook(s) or folder(s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by notebook path")
    parser.add_argument("--csv", type=Path, metavar="OUT", help="write one row per notebook to this CSV file")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per exercise (default 60)")
    parser.add_argument("--notebook-timeout", type=float, default=600.0, help="seconds per notebook (default 600)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="notebooks graded in parallel")
    args = parser.parse_args(argv)

    notebooks: list[Path] = []
    errors: list[str] = []
    for path in args.paths:
        try:
            found = find_notebooks(path)
        except GradingError as exc:
            errors.append(str(exc))
            continue
        if path.is_dir():
            matched = [nb for nb in found if catalog.for_notebook(nb)]
            for nb in sorted(set(found) - set(matched)):
                print(f"note: skipping {nb} (no known exercises for this notebook name)", file=sys.stderr)
            if not matched:
                errors.append(f"{path}: no notebooks with known exercises in this folder")
            found = matched
        notebooks.extend(found)

    results: list[NotebookResult] = []
    outcomes = grade_many(notebooks, catalog.for_notebook, timeout=args.timeout, notebook_timeout=args.notebook_timeout, jobs=args.jobs)
    for outcome in outcomes:
        if isinstance(outcome, GradingError):
            errors.append(str(outcome))
        else:
            results.append(outcome)

    if args.json:
        print(json.dumps({r.path: r.to_json() for r in results}, indent=2))
    else:
        for r in results:
            _print_text(r)
    if args.csv:
        write_csv(results, args.csv, catalog)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
