"""Static checks of the solution notebooks that catch nbval mismatches before a 20-minute run."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cell_relies_on_a_trailing_semicolon(path: Path) -> None:
    # nbval re-executes code without IPython's ';' output suppression, so a cell ending in
    # `expr;` shows an extra text result under nbval: assign the value instead (`_ = expr`).
    nb = nbformat.read(path, as_version=4)
    bad = [i for i, c in enumerate(nb.cells)
           if c.cell_type == "code" and c.source.rstrip().endswith(";")]
    assert not bad, f"{path.name}: cells {bad} end with ';' (write `_ = ...` instead)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_stored_outputs_have_no_machine_paths(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code" or "nbval-ignore-output" in c.metadata.get("tags", []):
            continue
        for out in c.get("outputs", []):
            text = out.get("text", "") if out.output_type == "stream" else str(out.get("data", {}).get("text/plain", ""))
            assert "/root/" not in text and "/home/" not in text, f"{path.name}, cell {i}: an absolute path is printed"
