"""Smoke tests for utils.plots: each helper draws, labels its axes, and rejects bad input."""

import matplotlib
import numpy as np
import pytest
import torch

from utils.plots import (
    COLORS,
    bar_breakdown,
    histogram,
    line_plot,
    pareto_front,
    pareto_plot,
    use_course_style,
)

plt = matplotlib.pyplot


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_backend_is_non_interactive_without_display():
    assert matplotlib.get_backend().lower() in {"agg", "module://matplotlib_inline.backend_inline"}


def test_use_course_style_sets_rcparams():
    use_course_style()
    assert plt.rcParams["axes.grid"] is True
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][:3] == COLORS[:3]
    assert plt.rcParams["font.size"] >= 10


def test_line_plot_dict_pair_and_shared_x(tmp_path):
    fig, ax = line_plot(
        {"magnitude": ([0, 0.5, 0.9], [0.8, 0.79, 0.6]), "random": ([0, 0.5, 0.9], [0.8, 0.7, 0.4])},
        xlabel="sparsity (fraction of weights zero)",
        ylabel="accuracy",
        title="t",
        baseline=0.8,
    )
    assert ax.get_xlabel().startswith("sparsity") and ax.get_title() == "t"
    assert len(ax.get_lines()) == 3  # two series and the baseline
    fig.savefig(tmp_path / "line.png")
    assert (tmp_path / "line.png").stat().st_size > 1000
    _, ax2 = line_plot({"a": torch.tensor([1.0, 2.0])}, x=np.array([8, 4]), xlabel="bits", ylabel="error")
    assert list(ax2.get_lines()[0].get_xdata()) == [8, 4]
    _, ax3 = line_plot(([1, 2], [3, 4]), xlabel="x (units)", ylabel="y (units)", logx=True)
    assert ax3.get_xscale() == "log"


def test_line_plot_errors():
    with pytest.raises(ValueError, match="xlabel must be a non-empty string"):
        line_plot(([1], [2]), xlabel="", ylabel="y")
    with pytest.raises(ValueError, match="2 x values but 3 y values"):
        line_plot({"s": ([1, 2], [1, 2, 3])}, xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="non-empty dict"):
        line_plot({}, xlabel="x", ylabel="y")


def test_bar_breakdown_single_and_grouped():
    fig, ax = bar_breakdown({"embeddings": 11.9e6, "encoder": 10.6e6, "pooler": 0.15e6},
                            xlabel="parameters", title="where the parameters are")
    assert len(ax.patches) == 3 and ax.get_xlabel() == "parameters"
    assert any(t.get_text().endswith("%") for t in ax.texts)
    _, ax2 = bar_breakdown({"params": {"embeddings": 12, "encoder": 11}, "FLOPs": {"encoder": 689}},
                           xlabel="share of total (%)", normalize=True)
    assert len(ax2.patches) == 4
    with pytest.raises(ValueError, match="non-negative"):
        bar_breakdown({"a": -1}, xlabel="x")


def test_histogram_tensor_and_overlay():
    w = torch.randn(1000)
    _, ax = histogram(w, xlabel="weight value", bins=20)
    assert ax.get_ylabel() == "count" and len(ax.patches) == 1
    _, ax2 = histogram({"fp32": w, "int8": torch.round(w * 10) / 10}, xlabel="weight value", logy=True)
    assert ax2.get_yscale() == "log" and ax2.get_legend() is not None
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        histogram(w, xlabel="v", bins=0)


POINTS = {
    "fp32": {"accuracy": 0.82, "size_bytes": 90_000_000},
    "int8": {"accuracy": 0.81, "size_bytes": 23_000_000},
    "pruned-50": {"accuracy": 0.78, "size_bytes": 90_000_000},  # dominated by fp32
    "int4": {"accuracy": 0.70, "size_bytes": 12_000_000},
    "bad-int4": {"accuracy": 0.65, "size_bytes": 13_000_000},  # dominated by int4
}


def test_pareto_front_marks_non_dominated_points():
    names = list(POINTS)
    assert [names[i] for i in pareto_front(POINTS)] == ["int4", "int8", "fp32"]
    assert [names[i] for i in pareto_front(POINTS, maximize_y=False)] == ["int4", "bad-int4"]


def test_pareto_plot_draws_front_and_labels():
    pts = [dict(name=n, group="quant" if "int" in n else "other", **p) for n, p in POINTS.items()]
    fig, ax = pareto_plot(pts, group="group", title="size vs accuracy")
    assert ax.get_xlabel() == "model size (MB)" and "accuracy" in ax.get_ylabel()
    front_line = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
    assert list(front_line[0].get_xdata()) == [12.0, 23.0, 90.0]
    assert {t.get_text() for t in ax.texts} == set(POINTS)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "quant" in legend and "other" in legend and "Pareto front" in legend


def test_pareto_plot_errors():
    with pytest.raises(ValueError, match="has no 'latency_ms'"):
        pareto_plot(POINTS, x="latency_ms")
    with pytest.raises(ValueError, match="list of dicts"):
        pareto_plot(42)
