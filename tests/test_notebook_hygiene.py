"""Static checks of the solution notebooks that catch nbval mismatches before a 20-minute run."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


def _output_text(out) -> str:
    """The text a stored output shows: a stream's text or a result's text/plain."""
    return out.get("text", "") if out.output_type == "stream" else str(out.get("data", {}).get("text/plain", ""))


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
            text = _output_text(out)
            assert "/root/" not in text and "/home/" not in text, f"{path.name}, cell {i}: an absolute path is printed"


# A compared output may print only digits that every x86-64 CPU reproduces (README, "Outputs that
# reproduce on any x86-64 CPU"). Float32 results hold about 7 significant digits and their last ones
# change with the code path, so a compared number with more than 5 decimals is almost always a raw
# float printed unrounded. Exceptions, each with its reason:
_LONG_DECIMALS_ALLOWED = {
    ("03-quantization/01-ptq.ipynb", "2.9999999999999996"):
        "the lesson itself: float64 arithmetic (3 * 0.1 / 0.1), exact in IEEE 754 on every CPU",
}
_LONG_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{6,}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_compared_outputs_print_no_unrounded_floats(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    rel = str(path.relative_to(ROOT / "solutions"))
    bad = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code" or "nbval-ignore-output" in c.metadata.get("tags", []):
            continue
        for out in c.get("outputs", []):
            text = _output_text(out)
            bad += [(i, m) for m in _LONG_DECIMAL.findall(text) if (rel, m) not in _LONG_DECIMALS_ALLOWED]
    assert not bad, (f"{rel}: compared cells print unrounded floats {bad[:5]}; round them to the digits every CPU "
                     "reproduces, or tag the cell nbval-ignore-output and say so on the page")
