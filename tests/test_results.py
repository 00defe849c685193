"""Unit tests for utils.results: the per-chapter results store and the recorded long runs."""

import json

import numpy as np
import pytest
import torch

from utils.results import (describe_recorded, load_recorded, load_results, long_run_requested, recorded_dir,
                           recorded_run, results_dir, save_recorded, save_results, validate_entry, verdict)

GOOD = {"accuracy": 0.8123456, "params": 22_713_216, "size_bytes": 90_852_864}


@pytest.fixture
def store(tmp_path, monkeypatch):
    folder = tmp_path / "nested" / "results"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(folder))
    return folder


def test_results_dir_default_is_repo_root(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    assert results_dir().name == "results"
    assert (results_dir().parent / "utils" / "results.py").exists()


def test_save_creates_folder_and_writes_sorted_rounded_json(store):
    path = save_results("03-pruning", {"dense": dict(GOOD, latency_ms=41.23456, notes="fp32")})
    assert path == store / "03-pruning.json"
    text = path.read_text()
    data = json.loads(text)
    assert data == {
        "dense": {
            "accuracy": 0.8123,
            "latency_ms": 41.23,
            "notes": "fp32",
            "params": 22_713_216,
            "size_bytes": 90_852_864,
        }
    }
    assert text.index('"accuracy"') < text.index('"latency_ms"') < text.index('"params"')
    assert text.endswith("\n")
    assert not list(store.glob("*.tmp"))


def test_save_is_deterministic(store):
    a = {"b": dict(GOOD), "a": dict(GOOD, accuracy=0.5)}
    first = save_results("x", a).read_text()
    second = save_results("x", dict(reversed(list(a.items())))).read_text()
    assert first == second


def test_round_trip_and_numpy_torch_scalars(store):
    save_results("04-quant", {"int8": {"accuracy": np.float64(0.79999), "params": np.int64(10),
                                       "size_bytes": torch.tensor(7), "bits": 8, "sparsity": 0.333333}})
    save_results("02-baseline", {"fp32": GOOD})
    loaded = load_results()
    assert list(loaded) == ["02-baseline", "04-quant"]
    assert loaded["04-quant"]["int8"] == {"accuracy": 0.8, "params": 10, "size_bytes": 7, "bits": 8,
                                          "sparsity": 0.3333}
    assert load_results(["04-quant"]) == {"04-quant": loaded["04-quant"]}


def test_replace_and_merge(store):
    save_results("c", {"a": GOOD, "b": GOOD})
    save_results("c", {"c": GOOD})
    assert list(load_results()["c"]) == ["c"]
    save_results("c", {"d": GOOD}, merge=True)
    assert sorted(load_results()["c"]) == ["c", "d"]


def test_load_missing_folder_and_chapter(store):
    assert load_results() == {}
    with pytest.raises(FileNotFoundError, match="run its notebook first"):
        load_results(["07-distillation"])


@pytest.mark.parametrize(
    "entry,match",
    [
        ({"params": 1, "size_bytes": 1}, r"missing required key\(s\) \['accuracy'\]"),
        (dict(GOOD, accuracy=81.2), "accuracy must be a fraction between 0 and 1"),
        (dict(GOOD, accuracy=True), "accuracy must be a fraction"),
        (dict(GOOD, params=-1), "params must be a non-negative integer"),
        (dict(GOOD, size_bytes=1.5), "size_bytes must be a non-negative integer"),
        (dict(GOOD, latency_ms=-2.0), "latency_ms must be a non-negative number"),
        (dict(GOOD, latency_ms=float("nan")), "latency_ms must be a non-negative number"),
        (dict(GOOD, notes=3), "notes must be a string"),
        (dict(GOOD, curve=[1, 2]), "curve must be a number, string, bool or None"),
        ("oops", "must be a dict"),
    ],
)
def test_schema_errors(entry, match):
    with pytest.raises(ValueError, match=match):
        validate_entry("e", entry)


def test_save_errors_name_chapter_and_entry(store):
    with pytest.raises(ValueError, match=r"chapter '03-pruning'.*entry 'bad'.*accuracy"):
        save_results("03-pruning", {"bad": dict(GOOD, accuracy=2)})
    for bad in ["../evil", "", "a/b", 3, "x.json"]:
        with pytest.raises(ValueError, match="chapter must be a name"):
            save_results(bad, {"a": GOOD})
    with pytest.raises(ValueError, match="non-empty dict"):
        save_results("a", {})
    assert not store.exists() or not list(store.iterdir())


def test_load_reports_broken_file(store):
    store.mkdir(parents=True)
    (store / "05-x.json").write_text('{"m": {"accuracy": 0.5}}')
    with pytest.raises(ValueError, match=r"05-x.json: entry 'm' is missing required key"):
        load_results()
    (store / "05-x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results()


# --- recorded long runs ----------------------------------------------------------------------



@pytest.fixture
def rec_store(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RECORDED_DIR", str(tmp_path / "rec"))
    return tmp_path / "rec"


def test_round_trip_rounds_floats_and_keeps_provenance(rec_store):
    path = save_recorded("ch09-demo", {"acc": torch.tensor(0.812345678), "runs": [0.5, 0.25], "n": 3},
                         {"steps": 300, "layers": (0, 2, 4)}, wall_seconds=1234.4)
    assert path == rec_store / "ch09-demo.json"
    record = load_recorded("ch09-demo")
    assert record["figures"] == {"acc": 0.8123, "runs": [0.5, 0.25], "n": 3}
    assert record["config"] == {"steps": 300, "layers": [0, 2, 4]}
    assert record["wall_seconds"] == 1234
    assert record["torch"] == torch.__version__
    assert "21 min" in describe_recorded(record) and record["recorded_on"] in describe_recorded(record)


def test_missing_record_says_how_to_produce_it(rec_store):
    with pytest.raises(FileNotFoundError, match="COURSE_LONG_RUN=1"):
        load_recorded("ch09-never-run")


def test_incomplete_record_is_rejected(rec_store):
    rec_store.mkdir(parents=True)
    (rec_store / "ch09-bad.json").write_text(json.dumps({"figures": {"a": 1}}))
    with pytest.raises(ValueError, match="missing the field"):
        load_recorded("ch09-bad")


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": float("inf")}, {}, {"x": object()}])
def test_bad_figures_are_rejected(rec_store, bad):
    with pytest.raises((ValueError, TypeError)):
        save_recorded("ch09-demo", bad, {}, 1.0)


@pytest.mark.parametrize("name", ["../escape", "Upper", "a/b", "", 3])
def test_bad_names_are_rejected(rec_store, name):
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
                used |= set(re.findall(r"recorded_run\(\s*\"([a-z0-9_.-]+)\"", "".join(cell["source"])))
    committed = {p.stem for p in recorded_dir().glob("*.json")}
    assert used, "no notebook loads a recorded run"
    assert used == committed, f"loaded but not committed: {sorted(used - committed)}; committed but unused: {sorted(committed - used)}"


def test_recorded_run_loads_checks_config_and_prints_origin(rec_store, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_LONG_RUN", raising=False)
    monkeypatch.delenv("COURSE_LONG_RUN_SMOKE", raising=False)
    calls = []

    def run(config):
        calls.append(dict(config))
        return {"acc": 0.5 + config["steps"] / 1000}

    monkeypatch.setenv("COURSE_LONG_RUN", "ch09-frame")
    record = recorded_run("ch09-frame", run, {"steps": 300}, smoke={"steps": 2})
    assert calls == [{"steps": 300}] and record["figures"] == {"acc": 0.8}
    monkeypatch.delenv("COURSE_LONG_RUN")
    capsys.readouterr()
    assert recorded_run("ch09-frame", run, {"steps": 300})["figures"] == {"acc": 0.8}
    assert len(calls) == 1, "a normal execution must not run the long configuration"
    assert capsys.readouterr().out.startswith("[recorded run of ")
    with pytest.raises(ValueError, match="another configuration"):
        recorded_run("ch09-frame", run, {"steps": 301})


def test_smoke_mode_runs_quietly_restores_rng_and_checks_figure_names(rec_store, monkeypatch, capsys):
    import random

    monkeypatch.setenv("COURSE_LONG_RUN", "ch09-smoke")
    recorded_run("ch09-smoke", lambda c: {"acc": 0.25, "n": c["steps"]}, {"steps": 300})
    monkeypatch.delenv("COURSE_LONG_RUN")
    monkeypatch.setenv("COURSE_LONG_RUN_SMOKE", "1")
    seen = []

    def noisy(config):
        print("progress that must not reach the notebook")
        seen.append(config["steps"])
        torch.rand(3), random.random()
        return {"acc": 0.0, "n": config["steps"]}

    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    capsys.readouterr()
    record = recorded_run("ch09-smoke", noisy, {"steps": 300}, smoke={"steps": 2})
    assert seen == [2] and record["figures"] == {"acc": 0.25, "n": 300}
    assert "progress" not in capsys.readouterr().out
    assert torch.equal(torch.rand(2), expected), "a smoke run must leave the random state as it found it"
    with pytest.raises(ValueError, match="smoke run"):
        recorded_run("ch09-smoke", lambda c: {"accuracy": 0.0}, {"steps": 300}, smoke={"steps": 2})
    assert recorded_run("ch09-smoke", lambda c: {"acc": 0.0}, {"steps": 300})["figures"]["n"] == 300  # a subset is fine


@pytest.mark.parametrize("value,kw,expected", [(0.5, {"at_least": 0.5}, "met"), (0.49, {"at_least": 0.5}, "missed"),
                                               (1.0, {"at_most": 1.0}, "met"), (torch.tensor(1.1), {"at_most": 1.0}, "missed"),
                                               (0.5, {"above": 0.5}, "missed"), (0.4, {"below": 0.5}, "met")])
def test_verdict(value, kw, expected):
    assert verdict(value, **kw) == expected


@pytest.mark.parametrize("value,kw", [(0.5, {}), (0.5, {"at_least": 0, "at_most": 1}), (float("nan"), {"at_most": 1}),
                                      ("0.5", {"at_most": 1}), (0.5, {"above": float("inf")})])
def test_verdict_rejects_bad_input(value, kw):
    with pytest.raises(ValueError):
        verdict(value, **kw)
