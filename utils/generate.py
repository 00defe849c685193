"""Generate the student notebooks (chapters/) from the solution notebooks (solutions/).

    python -m utils.generate          # rewrite chapters/ from solutions/
    python -m utils.generate --check  # exit 1 listing out-of-sync files, write nothing

In a code cell, everything between `### BEGIN SOLUTION` and `### END SOLUTION` (markers
included) becomes, at the marker's indentation, the `### HINT: text` lines as `# Hint: text`
followed by `raise NotImplementedError("Exercise <id>: write this function (see the task above)")`.
Outputs and execution counts are cleared, cells tagged `solution-only` are dropped, and
everything else is kept as is. Other files under solutions/ (figures) are copied.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from utils.env import REPO_ROOT
from utils.exercises import COURSE, Catalog

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "### HINT:"
SOLUTION_ONLY = "solution-only"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")
SKIP_PARTS = {".ipynb_checkpoints", "__pycache__"}


def _enclosing_function(lines: list[str], index: int, indent: str) -> str | None:
    for line in reversed(lines[:index]):
        m = _DEF.match(line)
        if m and len(m.group(1)) < len(indent):
            return m.group(2)
    return None


def strip_solutions(source: str, notebook: str | Path | None = None, where: str = "cell",
                    catalog: Catalog = COURSE) -> str:
    """Replace each marked solution block of a code cell's source by hints + NotImplementedError."""
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != BEGIN:
            if line.strip() == END:
                raise ValueError(f"{where}: '{END}' without a matching '{BEGIN}' (line {i + 1})")
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        hints: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != END:
            if lines[j].strip() == BEGIN:
                raise ValueError(f"{where}: nested '{BEGIN}' (line {j + 1})")
            if lines[j].strip().startswith(HINT):
                hints.append(lines[j].strip()[len(HINT):].strip())
            j += 1
        if j == len(lines):
            raise ValueError(f"{where}: '{BEGIN}' on line {i + 1} has no matching '{END}'")
        func = _enclosing_function(lines, i, indent)
        ex = catalog.by_func(func, notebook) if func else None
        message = f"Exercise {ex.id}: write this function (see the task above)" if ex else "Write this function (see the task above)"
        out.extend(f"{indent}# Hint: {h}" for h in hints)
        out.append(f"{indent}raise NotImplementedError({message!r})")
        i = j + 1
    return "\n".join(out)


def student_version(nb: nbformat.NotebookNode, notebook: str | Path | None = None,
                    catalog: Catalog = COURSE) -> nbformat.NotebookNode:
    """The student notebook: solutions stripped, outputs and run timestamps cleared, `solution-only` cells dropped."""
    student = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(student.cells):
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, notebook, where=f"{notebook or 'notebook'}, cell {index}", catalog=catalog)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # timestamps of the solution's run
        cells.append(cell)
    student.cells = cells
    return student


def render(nb: nbformat.NotebookNode) -> str:
    """Deterministic notebook text: nbformat's JSON (indent 1, sorted keys) and a trailing newline."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def plan(solutions: Path, chapters: Path) -> dict[Path, bytes | None]:
    """What chapters/ should hold: target path -> content (None: a stale notebook to delete)."""
    wanted: dict[Path, bytes | None] = {}
    for src in sorted(solutions.rglob("*")):
        rel = src.relative_to(solutions)
        if src.is_dir() or SKIP_PARTS & set(rel.parts):
            continue
        if src.suffix == ".ipynb":
            nb = nbformat.read(src, as_version=4)
            wanted[chapters / rel] = render(student_version(nb, src)).encode()
        else:
            wanted[chapters / rel] = src.read_bytes()
    if chapters.is_dir():
        for old in chapters.rglob("*.ipynb"):
            if old not in wanted and not SKIP_PARTS & set(old.relative_to(chapters).parts):
                wanted[old] = None
    return wanted


def out_of_sync(wanted: dict[Path, bytes | None]) -> list[Path]:
    """Targets whose bytes on disk differ from the plan (or that should be deleted)."""
    stale = []
    for path, content in wanted.items():
        if content is None or not path.is_file() or path.read_bytes() != content:
            stale.append(path)
    return stale


def generate(solutions: Path, chapters: Path, check: bool = False) -> list[Path]:
    """Regenerate chapters/ (or, with check=True, only report); returns the out-of-sync paths."""
    if not solutions.is_dir():
        raise FileNotFoundError(f"solutions folder not found: {solutions}")
    wanted = plan(solutions, chapters)
    stale = out_of_sync(wanted)
    if not check:
        for path in stale:
            content = wanted[path]
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m utils.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report out-of-sync files and exit 1; write nothing")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions")
    parser.add_argument("--chapters", type=Path, default=REPO_ROOT / "chapters")
    args = parser.parse_args(argv)
    try:
        stale = generate(args.solutions, args.chapters, check=args.check)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if stale:
            print("out of sync with solutions/ (run `python -m utils.generate`):", file=sys.stderr)
            for path in stale:
                print(f"  {path}", file=sys.stderr)
            return 1
        print("chapters/ is in sync with solutions/")
        return 0
    print(f"wrote {len(stale)} file(s)" + "".join(f"\n  {p}" for p in stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
