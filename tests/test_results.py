"""Unit tests for utils.results: the per-chapter JSON results store."""

import json

import numpy as np
import pytest
import torch

from utils.results import load_results, results_dir, save_results, validate_entry

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
