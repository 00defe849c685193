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
    from utils.notebook import solved_or_reference

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
    from utils.notebook import solved_or_reference

    def ref(x, y):
        return (x + y, torch.tensor([float(x)]))

    assert solved_or_reference("ch99.ex1", student, ref, [(1, 2)]) is ref
    out = capsys.readouterr().out
    assert out.startswith("ch99.ex1 is not solved yet") and "reference implementation" in out
    with pytest.raises(ValueError, match="at least one probe"):
        solved_or_reference("ch99.ex1", student, ref, [])
