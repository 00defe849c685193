"""Unit tests for utils.notebook: the one set-up call at the top of every notebook."""

import random

import matplotlib.pyplot as plt
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
