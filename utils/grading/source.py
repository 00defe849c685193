"""Read a submitted notebook's code without running it: what to keep, syntax errors, forbidden names."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class NotebookError(ValueError):
    """The file is not a readable Jupyter notebook."""


@dataclass
class Submission:
    """The kept code of a notebook: (cell index, source) chunks, definitions and syntax errors."""

    chunks: list[tuple[int, str]] = field(default_factory=list)
    defs: dict[str, ast.AST] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    broken_cells: list[tuple[int, str, str]] = field(default_factory=list)  # (cell, error, source)


def read_notebook(path: str | Path) -> dict:
    """Load a notebook's JSON (read-only) and check it has a list of cells."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path}: not a readable notebook (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{path}: not a Jupyter notebook (no list of 'cells')")
    return data


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _strip_magics(source: str) -> str | None:
    """Comment out IPython line magics / shell escapes; None for a cell magic (%%...) cell."""
    if source.lstrip().startswith("%%"):
        return None
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        lines.append(line)
    return "\n".join(lines)


def _record_import(node: ast.AST, aliases: dict[str, str]) -> None:
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.asname:
                aliases[a.asname] = a.name
            else:
                aliases[a.name.split(".")[0]] = a.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for a in node.names:
            aliases[a.asname or a.name] = f"{node.module}.{a.name}"


def extract(notebook: dict) -> Submission:
    """Keep top-level imports, function and class definitions of all code cells, in order."""
    sub = Submission()
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        raw = _cell_source(cell)
        source = _strip_magics(raw)
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            where = f"line {line}: " if line else ""
            sub.broken_cells.append((index, f"{where}{getattr(exc, 'msg', exc)}", raw))
            continue
        for node in tree.body:
            if not isinstance(node, KEPT):
                continue
            segment = ast.get_source_segment(source, node, padded=True) or ""
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # decorators belong to the definition
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                segment = "\n".join(source.splitlines()[start - 1 : node.end_lineno])
                sub.defs[node.name] = node
            else:
                _record_import(node, sub.aliases)
            sub.chunks.append((index, segment))
    return sub


def syntax_error_for(sub: Submission, func: str) -> str | None:
    """If a cell that fails to parse seems to define `func`, a message saying so; else None."""
    pattern = re.compile(rf"^\s*(async\s+)?def\s+{re.escape(func)}\s*\(", re.MULTILINE)
    for index, error, source in sub.broken_cells:
        if pattern.search(source):
            return f"the cell defining {func} (cell {index}) has a syntax error ({error}); fix it and re-run"
    return None


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _uses(node: ast.AST, aliases: dict[str, str]) -> tuple[set[str], set[str]]:
    """Dotted names a definition uses (aliases resolved) and the bare names it mentions."""
    local = dict(aliases)
    for sub in ast.walk(node):
        _record_import(sub, local)
    used: set[str] = set()
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Attribute, ast.Name)):
            dotted = _dotted(sub)
            if dotted:
                head, _, rest = dotted.partition(".")
                names.add(head)
                base = local.get(head, head)
                used.add(f"{base}.{rest}" if rest else base)
        elif isinstance(sub, ast.Import):
            used.update(a.name for a in sub.names)
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            used.update(f"{sub.module}.{a.name}" for a in sub.names)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            used.add(sub.value.strip())
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            used.add(f".{sub.func.attr}(")  # a method call such as x.softmax(-1)
    return used, names


def forbidden_used(sub: Submission, func: str, forbidden: tuple[str, ...]) -> str | None:
    """The first forbidden dotted name used by `func` or the notebook functions it calls, else None."""
    if not forbidden or func not in sub.defs:
        return None
    seen, todo = set(), [func]
    while todo:
        name = todo.pop()
        if name in seen or name not in sub.defs:
            continue
        seen.add(name)
        used, names = _uses(sub.defs[name], sub.aliases)
        for item in sorted(used):
            for bad in forbidden:
                # "torch.softmax" matches torch.softmax and torch.softmax.x; "F.softmax" or "nn.functional.softmax"
                # (no package root) also match torch.nn.functional.softmax whatever the module was imported as
                if item == bad or item.startswith(bad + ".") or (not bad.startswith(".") and item.endswith("." + bad)):
                    return bad
        todo.extend(names & set(sub.defs))
    return None
