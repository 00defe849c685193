"""Unit tests for utils.notebook: the one set-up call at the top of every notebook."""

import random

import matplotlib.pyplot as plt
import pytest
import torch

from utils.notebook import start_notebook
from utils.plots import COURSE_RC


def test_start_notebook_seeds_styles_and_names_the_device(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    plt.rcParams["lines.linewidth"] = 7.0
    device = start_notebook(3)
    first = (torch.rand(2), random.random())
    start_notebook(3)
    again = (torch.rand(2), random.random())
    assert device == torch.device("cpu")
    assert torch.equal(first[0], again[0]) and first[1] == again[1]
    assert plt.rcParams["lines.linewidth"] == COURSE_RC["lines.linewidth"]
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("Running on cpu (CPU), torch ") and line.endswith("seed 3.")


def test_solved_or_reference_keeps_a_working_function_silently(capsys):
    from utils.exercises import solved_or_reference

    def good(x, y):
        return (x + y, torch.tensor([x * 1.0]))

    def ref(x, y):
        return (x + y, torch.tensor([float(x)]))

    assert solved_or_reference("ch99.ex1", good, ref, [(1, 2), (3, 4)]) is good
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("student", [
    lambda x, y: (_ for _ in ()).throw(NotImplementedError()),     # the unsolved stub
    lambda x, y: (x - y, torch.tensor([float(x)])),                # wrong value
    lambda x, y: (x + y, torch.tensor([float(x), 0.0])),           # wrong shape
    lambda x, y: None,                                             # wrong type
])
def test_solved_or_reference_falls_back_with_a_notice(capsys, student):
    from utils.exercises import solved_or_reference

    def ref(x, y):
        return (x + y, torch.tensor([float(x)]))

    assert solved_or_reference("ch99.ex1", student, ref, [(1, 2)]) is ref
    out = capsys.readouterr().out
    assert out.startswith("ch99.ex1 is not solved yet") and "reference implementation" in out
    with pytest.raises(ValueError, match="at least one probe"):
        solved_or_reference("ch99.ex1", student, ref, [])


def test_solved_or_reference_compares_dicts_of_tensors(capsys):
    from utils.exercises import solved_or_reference

    def ref(w):
        return {"a": w > 0, "b": w.abs()}

    def good(w):
        return {"b": w.abs(), "a": w > 0}          # same keys, another order

    def wrong_key(w):
        return {"a": w > 0, "c": w.abs()}

    def wrong_value(w):
        return {"a": w >= 0, "b": w.abs()}

    probe = [(torch.tensor([-1.0, 0.0, 2.0]),)]
    assert solved_or_reference("ch99.ex2", good, ref, probe) is good
    assert capsys.readouterr().out == ""
    for student in (wrong_key, wrong_value):
        assert solved_or_reference("ch99.ex2", student, ref, probe) is ref
        assert "ch99.ex2 is not solved yet" in capsys.readouterr().out


def test_solved_or_reference_without_probes_runs_the_visible_cases_and_keeps_the_rng(capsys):
    import random

    from utils.exercises import solved_or_reference

    def ref(step, total_steps, final, initial=0.0):
        t = min(max(step, 0), total_steps) / total_steps
        return final + (initial - final) * (1 - t) ** 3

    def linear(step, total_steps, final, initial=0.0):         # a plausible wrong schedule
        return initial + (final - initial) * min(max(step, 0), total_steps) / total_steps

    def unsolved(step, total_steps, final, initial=0.0):
        raise NotImplementedError("Exercise ch02.ex7: write this function (see the task above)")

    torch.manual_seed(5)
    random.seed(5)
    assert solved_or_reference("ch02.ex7", ref, ref) is ref
    assert capsys.readouterr().out == ""
    for student in (linear, unsolved):
        assert solved_or_reference("ch02.ex7", student, ref) is ref
        out = capsys.readouterr().out
        assert out.startswith("ch02.ex7 is not solved yet (") and "reference implementation" in out
        assert ("not implemented yet" if student is unsolved else "a visible case fails") in out
    after = (torch.rand(1), random.random())
    torch.manual_seed(5)
    random.seed(5)
    assert torch.equal(after[0], torch.rand(1)) and after[1] == random.random()


def test_note_if_far_is_silent_near_the_expected_figure_and_says_where_to_look_otherwise(capsys):
    from utils.exercises import note_if_far

    assert note_if_far("accuracy", 0.771, 0.768, 0.01, ["ch04.ex2"]) is None
    note_if_far("accuracy", torch.tensor(0.768), 0.768, 1e-6, ["ch04.ex2"])
    assert capsys.readouterr().out == ""
    note_if_far("accuracy", 0.70, 0.768, 0.01, ["ch04.ex2", "ch04.ex5"])
    out = capsys.readouterr().out
    assert out.startswith("note: accuracy is 0.7 here; the course's run gave 0.768") and "ch04.ex2, ch04.ex5" in out
    note_if_far("accuracy", float("nan"), 0.768, 0.01, ["ch04.ex2"])
    assert capsys.readouterr().out.startswith("note: accuracy is nan here")
    note_if_far("accuracy", None, 0.768, 0.01, ["ch04.ex2"])
    assert "should be a number, got NoneType" in capsys.readouterr().out
    with pytest.raises(ValueError, match="ids of the exercises"):
        note_if_far("accuracy", 0.7, 0.768, 0.01, [])
    with pytest.raises(ValueError, match="finite tolerance"):
        note_if_far("accuracy", 0.7, 0.768, -1, ["ch04.ex2"])
