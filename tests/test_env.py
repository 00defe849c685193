"""Unit tests for utils.env: every environment variable the course reads, parsed in one place."""
from pathlib import Path

import pytest

from utils import env


def test_folders_default_to_the_repository_and_follow_their_variables(monkeypatch, tmp_path):
    for var in ("COURSE_CACHE", "COURSE_RESULTS_DIR", "COURSE_RECORDED_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert env.results_dir() == env.REPO_ROOT / "results"
    assert env.recorded_dir() == env.REPO_ROOT / "results" / "recorded"
    assert env.cache_dir() == Path("~/.cache/nlp-compression-course").expanduser()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert env.cache_dir() == tmp_path / "xdg" / "nlp-compression-course"
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("COURSE_RECORDED_DIR", str(tmp_path / "rec"))
    assert (env.cache_dir(), env.results_dir(), env.recorded_dir()) == (tmp_path / "c", tmp_path / "r", tmp_path / "rec")


@pytest.mark.parametrize("value,expected", [("", False), ("0", False), ("1", True), ("ch02-a, ch03-b", frozenset({"ch02-a", "ch03-b"}))])
def test_long_run_setting(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_LONG_RUN", value)
    assert env.long_run_setting() == expected


@pytest.mark.parametrize("value", ["yes please", "../x", ","])
def test_long_run_setting_rejects_garbage(monkeypatch, value):
    monkeypatch.setenv("COURSE_LONG_RUN", value)
    with pytest.raises(ValueError, match="COURSE_LONG_RUN"):
        env.long_run_setting()


def test_smoke_and_device(monkeypatch):
    monkeypatch.setenv("COURSE_LONG_RUN_SMOKE", "1")
    assert env.long_run_smoke() is True
    monkeypatch.setenv("COURSE_LONG_RUN_SMOKE", "maybe")
    with pytest.raises(ValueError, match="COURSE_LONG_RUN_SMOKE"):
        env.long_run_smoke()
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert env.device_preference() is None
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert env.device_preference() == "cpu"
