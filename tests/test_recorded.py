"""Unit tests for utils.recorded: figures of long runs, saved by a real run and read back."""

import json

import pytest
import torch

from utils.recorded import describe_recorded, load_recorded, long_run_requested, recorded_dir, save_recorded


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RECORDED_DIR", str(tmp_path / "rec"))
    return tmp_path / "rec"


def test_round_trip_rounds_floats_and_keeps_provenance(store):
    path = save_recorded("ch09-demo", {"acc": torch.tensor(0.812345678), "runs": [0.5, 0.25], "n": 3},
                         {"steps": 300, "layers": (0, 2, 4)}, wall_seconds=1234.4)
    assert path == store / "ch09-demo.json"
    record = load_recorded("ch09-demo")
    assert record["figures"] == {"acc": 0.8123, "runs": [0.5, 0.25], "n": 3}
    assert record["config"] == {"steps": 300, "layers": [0, 2, 4]}
    assert record["wall_seconds"] == 1234
    assert record["torch"] == torch.__version__
    assert "21 min" in describe_recorded(record) and record["recorded_on"] in describe_recorded(record)


def test_missing_record_says_how_to_produce_it(store):
    with pytest.raises(FileNotFoundError, match="COURSE_LONG_RUN=1"):
        load_recorded("ch09-never-run")


def test_incomplete_record_is_rejected(store):
    store.mkdir(parents=True)
    (store / "ch09-bad.json").write_text(json.dumps({"figures": {"a": 1}}))
    with pytest.raises(ValueError, match="missing the field"):
        load_recorded("ch09-bad")


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": float("inf")}, {}, {"x": object()}])
def test_bad_figures_are_rejected(store, bad):
    with pytest.raises((ValueError, TypeError)):
        save_recorded("ch09-demo", bad, {}, 1.0)


@pytest.mark.parametrize("name", ["../escape", "Upper", "a/b", "", 3])
def test_bad_names_are_rejected(store, name):
    with pytest.raises(ValueError, match="name"):
        save_recorded(name, {"x": 1}, {}, 1.0)


def test_long_run_flag(monkeypatch):
    monkeypatch.delenv("COURSE_LONG_RUN", raising=False)
    assert long_run_requested("ch09-a") is False
    monkeypatch.setenv("COURSE_LONG_RUN", "0")
    assert long_run_requested("ch09-a") is False
    monkeypatch.setenv("COURSE_LONG_RUN", "1")
    assert long_run_requested("ch09-a") is True
    monkeypatch.setenv("COURSE_LONG_RUN", "ch09-b, ch09-c")
    assert long_run_requested("ch09-a") is False
    assert long_run_requested("ch09-c") is True
    monkeypatch.setenv("COURSE_LONG_RUN", "yes please")
    with pytest.raises(ValueError, match="comma-separated"):
        long_run_requested("ch09-a")
    with pytest.raises(ValueError, match="name"):
        long_run_requested("../x")


def test_committed_records_are_complete(monkeypatch):
    """Every recorded run shipped with the course loads and names its configuration."""
    monkeypatch.delenv("COURSE_RECORDED_DIR", raising=False)
    for path in sorted(recorded_dir().glob("*.json")):
        record = load_recorded(path.stem)
        assert record["figures"] and record["config"], path


def test_every_record_is_used_by_a_notebook_and_every_used_record_is_committed(monkeypatch):
    """No orphan records, and no notebook asking for a record that is not shipped."""
    import json
    import re
    from pathlib import Path

    monkeypatch.delenv("COURSE_RECORDED_DIR", raising=False)
    root = Path(__file__).resolve().parents[1]
    used = set()
    for nb in sorted((root / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                used |= set(re.findall(r"load_recorded\(\"([a-z0-9_.-]+)\"\)", "".join(cell["source"])))
    committed = {p.stem for p in recorded_dir().glob("*.json")}
    assert used, "no notebook loads a recorded run"
    assert used == committed, f"loaded but not committed: {sorted(used - committed)}; committed but unused: {sorted(committed - used)}"
