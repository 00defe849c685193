"""Grade submitted notebooks from the command line.

    python -m utils.grade SUBMISSIONS/ --csv grades.csv --by-student totals.csv --feedback feedback/
    python -m utils.grade alice_01-why-compress.ipynb --json

PATH is a notebook or a folder (searched recursively, .ipynb_checkpoints skipped). A notebook
is graded on the exercises of the solution notebook whose filename its own filename equals or
ends with (`alice_01-why-compress.ipynb` -> exercises of `01-why-compress.ipynb`); a notebook whose
name matches none (`01-distillation (1).ipynb`, an LMS prefix or suffix) is matched by its content:
the exercise ids of its `check(...)` calls and the exercise functions it defines. Every notebook
found gets a row in the CSV; one that matches nothing by name or content gets a row with a note,
and the exit status is then 2. Exit status: 0 when every notebook was graded, whatever the
scores; 2 when a path or a notebook cannot be graded (message on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

from utils.exercises import COURSE, Catalog, notebook_matches
from utils.grading.runner import SANDBOX_PROBLEMS, GradingError, NotebookResult, find_notebooks, grade_many
from utils.grading.source import NotebookError, _cell_source, extract, read_notebook
from utils.grading.spec import Exercise

_CHECK_ID = re.compile(r"""\bcheck\(\s*["']([A-Za-z0-9_]+\.ex\d+)["']""")


def match_by_content(path: Path, catalog: Catalog = COURSE) -> list[Exercise]:
    """The exercises of the course notebook whose exercise ids (check calls) and functions this notebook shares most."""
    try:
        notebook = read_notebook(path)
    except NotebookError:
        return []
    sub = extract(notebook)
    sources = "\n".join(_cell_source(c) for c in notebook["cells"] if isinstance(c, dict) and c.get("cell_type") == "code")
    ids = set(_CHECK_ID.findall(sources))
    votes: Counter[str] = Counter()
    for ex in catalog.all().values():
        if ex.id in ids or ex.func in sub.defs:
            votes[ex.notebook] += 1
    if not votes:
        return []
    (best, n), *rest = votes.most_common()
    if rest and rest[0][1] == n:  # a tie: do not guess
        return []
    return [ex for ex in catalog.all().values() if ex.notebook == best]


def exercises_for(path: Path, catalog: Catalog = COURSE) -> tuple[list[Exercise], str]:
    """The exercises to grade `path` on, and how they were found ('name', 'content' or '' for none)."""
    by_name = catalog.for_notebook(path)
    if by_name:
        return by_name, "name"
    by_content = match_by_content(path, catalog)
    return by_content, "content" if by_content else ""


def student_name(path: str | Path, exercises: list[Exercise] | None = None, root: Path | None = None,
                 catalog: Catalog = COURSE) -> str:
    """Who submitted `path`: the part of its filename before the exercise notebook's name (e.g. 'alice'),
    else the folder it sits in below the graded folder `root`, else its filename."""
    path = Path(path)
    exercises = catalog.for_notebook(path) if exercises is None else exercises
    stem = path.stem
    for ex in exercises:
        target = Path(ex.notebook).stem
        if notebook_matches(path, ex) and stem != target:
            return stem[: len(stem) - len(target)].strip("_- .")
    if root is not None and path.parent != root and path.parent.is_relative_to(root):
        return path.parent.relative_to(root).parts[0]
    return "" if any(stem == Path(ex.notebook).stem for ex in exercises) else stem


def _chapter(exercise_id: str) -> str:
    return exercise_id.split(".", 1)[0]


def write_csv(rows: list[dict], out: Path) -> None:
    """One row per notebook: notebook, student, one column per exercise id, total, max_total, note."""
    ids: list[str] = []
    for row in rows:
        ids.extend(i for i in row["points"] if i not in ids)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "student", *ids, "total", "max_total", "note"])
        for row in rows:
            writer.writerow([row["notebook"], row["student"], *(row["points"].get(i, "") for i in ids),
                             row["total"], row["max_total"], row["note"]])


def write_by_student(rows: list[dict], out: Path) -> None:
    """One row per student: points per chapter (summed over that chapter's notebooks), total, max_total."""
    chapters = sorted({_chapter(i) for row in rows for i in row["max_points"]})
    students: dict[str, dict] = {}
    for row in rows:
        s = students.setdefault(row["student"], {"points": Counter(), "max": Counter(), "notebooks": 0})
        s["notebooks"] += 1
        for i, p in row["points"].items():
            s["points"][_chapter(i)] += p
        for i, m in row["max_points"].items():
            s["max"][_chapter(i)] += m
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebooks", *chapters, "total", "max_total"])
        for name in sorted(students):
            s = students[name]
            writer.writerow([name, s["notebooks"], *(round(s["points"][c], 2) if s["max"][c] else "" for c in chapters),
                             round(sum(s["points"].values()), 2), round(sum(s["max"].values()), 2)])


def write_feedback(rows: list[dict], folder: Path) -> list[Path]:
    """One Markdown file per student with every notebook's points and feedback, to hand back."""
    folder.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[dict]] = {}
    for row in rows:
        by_student.setdefault(row["student"] or "unknown", []).append(row)
    written = []
    for name, own in sorted(by_student.items()):
        lines = [f"# Feedback for {name}", ""]
        for row in own:
            lines += [f"## {Path(row['notebook']).name}: {row['total']:g} / {row['max_total']:g}", ""]
            if row["note"]:
                lines += [f"*{row['note']}*", ""]
            for i, text in row["feedback"].items():
                lines.append(f"- **{i}** ({row['points'][i]:g} / {row['max_points'][i]:g}): {text}")
            lines.append("")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "unknown"
        path = folder / f"{safe}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written


def _row(path: Path, student: str, result: NotebookResult | None, note: str) -> dict:
    exercises = result.exercises if result is not None else []
    return {
        "notebook": str(path), "student": student, "note": note,
        "points": {e.id: e.points for e in exercises}, "max_points": {e.id: e.max_points for e in exercises},
        "feedback": {e.id: e.feedback for e in exercises},
        "total": result.total if result is not None else 0.0, "max_total": result.max_total if result is not None else 0.0,
    }


def _print_text(result: NotebookResult, note: str = "") -> None:
    print(f"{result.path}: {result.total:g}/{result.max_total:g}" + (f" ({note})" if note else ""))
    for e in result.exercises:
        print(f"  {e.id:<12} {e.points:>6.2f}/{e.max_points:<5g} {e.feedback}")


def main(argv: list[str] | None = None, catalog: Catalog = COURSE) -> int:
    """Command line entry point; returns the exit status. `catalog`: the exercises known (the course's)."""
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="submitted notebook(s) or folder(s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by notebook path")
    parser.add_argument("--csv", type=Path, metavar="OUT", help="write one row per notebook to this CSV file")
    parser.add_argument("--by-student", type=Path, metavar="OUT", help="write one row per student (totals per chapter)")
    parser.add_argument("--feedback", type=Path, metavar="DIR", help="write one Markdown feedback file per student")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per exercise (default 60)")
    parser.add_argument("--notebook-timeout", type=float, default=600.0, help="seconds per notebook (default 600)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="notebooks graded in parallel")
    args = parser.parse_args(argv)

    plan: list[tuple[Path, list[Exercise], str, str]] = []   # (notebook, exercises, how matched, student)
    unmatched: list[tuple[Path, str]] = []
    errors: list[str] = []
    for path in args.paths:
        try:
            found = find_notebooks(path)
        except GradingError as exc:
            errors.append(str(exc))
            continue
        if path.is_dir() and not found:
            errors.append(f"{path}: no notebooks in this folder")
        root = path if path.is_dir() else None
        for nb in found:
            exercises, how = exercises_for(nb, catalog)
            if not exercises:
                unmatched.append((nb, student_name(nb, [], root, catalog)))
                errors.append(f"{nb}: no known exercises for this notebook name, and none found in its content "
                              "(no check(...) call or exercise function of a course notebook)")
                continue
            plan.append((nb, exercises, how, student_name(nb, exercises, root, catalog)))
    if args.paths and all(p.is_dir() for p in args.paths) and not plan and not errors:
        errors.append("no notebooks with known exercises")

    exercises_of = {nb: exercises for nb, exercises, _, _ in plan}
    outcomes = grade_many([nb for nb, *_ in plan], lambda nb: exercises_of[nb], timeout=args.timeout,
                          notebook_timeout=args.notebook_timeout, jobs=args.jobs)
    rows: list[dict] = []
    results: list[NotebookResult] = []
    for (nb, exercises, how, student), outcome in zip(plan, outcomes):
        note = f"matched by content to {Path(exercises[0].notebook).name}" if how == "content" else ""
        if isinstance(outcome, GradingError):
            errors.append(str(outcome))
            rows.append(_row(nb, student, None, f"not graded: {outcome}"))
            continue
        results.append(outcome)
        rows.append(_row(nb, student, outcome, note))
        if not args.json:
            _print_text(outcome, note)
    for nb, student in unmatched:
        rows.append(_row(nb, student, None, "not graded: no known exercises (by name or content)"))

    if args.json:
        print(json.dumps({r.path: r.to_json() for r in results}, indent=2))
    if args.csv:
        write_csv(rows, args.csv)
    if args.by_student:
        write_by_student(rows, args.by_student)
    if args.feedback:
        write_feedback(rows, args.feedback)
    for problem in sorted(SANDBOX_PROBLEMS):
        print(f"warning: graded without the filesystem sandbox ({problem}): submissions could read the solutions "
              "and write files; grade untrusted work in a container", file=sys.stderr)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
