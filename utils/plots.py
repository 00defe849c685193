"""The course's plots: one style, and a few helpers for the charts every chapter draws.

Each helper returns ``(fig, ax)`` so a notebook can add to the chart, and each one asks
for axis labels: a compression chart without units ("size", but MB or MiB? fp32 or
int8?) is a chart a reader cannot use.

* ``line_plot``      — a metric against a knob (accuracy vs sparsity, vs bit width).
* ``bar_breakdown``  — where something sits (parameters or FLOPs per component).
* ``histogram``      — a distribution (weights before and after quantization).
* ``pareto_plot``    — size (or latency) vs accuracy, with the Pareto front marked.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib

# Outside Jupyter and without a display, draw off-screen rather than fail.
if (
    "MPLBACKEND" not in os.environ
    and "ipykernel" not in sys.modules
    and sys.platform.startswith("linux")
    and not os.environ.get("DISPLAY")
    and not os.environ.get("WAYLAND_DISPLAY")
):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from cycler import cycler  # noqa: E402

__all__ = [
    "COLORS",
    "use_course_style",
    "line_plot",
    "bar_breakdown",
    "histogram",
    "pareto_front",
    "pareto_plot",
]

# Okabe & Ito's palette: distinguishable with the common forms of colour blindness.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

COURSE_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=COLORS),
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
    "image.cmap": "viridis",
}

# Axis labels for the keys of the results store (utils.results), with their units.
DEFAULT_LABELS = {
    "accuracy": "accuracy (fraction correct)",
    "size_mb": "model size (MB)",
    "size_bytes": "model size (bytes)",
    "params": "parameters",
    "params_m": "parameters (millions)",
    "latency_ms": "latency (ms)",
}


def use_course_style() -> None:
    """Set matplotlib's rcParams to the course style (idempotent; the helpers call it)."""
    plt.rcParams.update(COURSE_RC)


def _require_label(value: Any, what: str) -> str:
    """Axis labels are required and must be non-empty strings."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string with units, e.g. 'size (MB)', got {value!r}")
    return value


def _axes(ax: Any = None, figsize: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A new styled (fig, ax), or the figure of the axes given."""
    use_course_style()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:  # axes made before the style was set: style them the same way
        fig = ax.figure
        ax.grid(True, alpha=COURSE_RC["grid.alpha"])
        ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _to_list(values: Any) -> list[float]:
    """Numbers from a list, numpy array or torch tensor (flattened)."""
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().float().cpu().reshape(-1).numpy()
    if hasattr(values, "ravel") and hasattr(values, "tolist"):  # numpy array
        values = values.ravel().tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"expected a sequence of numbers, got {type(values).__name__}")
    out = [float(v) for v in values]
    return out


# --------------------------------------------------------------------------- line plot
def line_plot(
    series: Mapping[str, Any] | tuple[Any, Any],
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    x: Any = None,
    baseline: float | None = None,
    baseline_label: str = "baseline",
    logx: bool = False,
    marker: str = "o",
    ax: Any = None,
) -> tuple[Any, Any]:
    """Lines of y against x: ``{"magnitude": (xs, ys), "random": (xs, ys)}``, or ``(xs, ys)``.

    With ``x=`` given, the dict's values are just the ys.  ``baseline`` draws a dashed
    horizontal reference line (e.g. the uncompressed model's accuracy).
    """
    _require_label(xlabel, "xlabel")
    _require_label(ylabel, "ylabel")
    if isinstance(series, tuple) and len(series) == 2:
        named = {None: series}
    elif isinstance(series, Mapping) and series:
        named = dict(series)
    else:
        raise ValueError("series must be a non-empty dict {label: (xs, ys)} or a pair (xs, ys)")
    fig, ax = _axes(ax)
    for k, (label, value) in enumerate(named.items()):
        if x is not None:
            xs, ys = _to_list(x), _to_list(value)
        else:
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ValueError(f"series {label!r}: expected a pair (xs, ys), or pass x= once for all")
            xs, ys = _to_list(value[0]), _to_list(value[1])
        if len(xs) != len(ys):
            raise ValueError(f"series {label!r}: {len(xs)} x values but {len(ys)} y values")
        ax.plot(xs, ys, marker=marker, label=label, color=COLORS[k % len(COLORS)])
    if baseline is not None:
        ax.axhline(float(baseline), color="0.4", linestyle="--", linewidth=1.2, label=baseline_label)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(named) > 1 or None not in named or baseline is not None:
        ax.legend()
    return fig, ax


# --------------------------------------------------------------------------- bars
def bar_breakdown(
    values: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    *,
    xlabel: str,
    title: str | None = None,
    normalize: bool = False,
    annotate: bool = True,
    ax: Any = None,
) -> tuple[Any, Any]:
    """Horizontal bars of where a quantity sits, e.g. parameters per component.

    ``values`` is ``{component: amount}``, or ``{series: {component: amount}}`` for
    grouped bars (e.g. the share of parameters next to the share of FLOPs; use
    ``normalize=True`` to show each series as a percentage of its own total).
    ``annotate`` writes each bar's share of its series' total next to it.
    """
    _require_label(xlabel, "xlabel")
    if not isinstance(values, Mapping) or not values:
        raise ValueError("values must be a non-empty dict {component: amount}")
    grouped = all(isinstance(v, Mapping) for v in values.values())
    table: dict[str, dict[str, float]] = (
        {str(s): {str(k): float(v) for k, v in comp.items()} for s, comp in values.items()}
        if grouped
        else {"": {str(k): float(v) for k, v in values.items()}}
    )
    components: list[str] = []
    for comp in table.values():
        components += [c for c in comp if c not in components]
    for s, comp in table.items():
        if any(v < 0 or not math.isfinite(v) for v in comp.values()):
            raise ValueError(f"bar_breakdown needs finite non-negative amounts (series {s!r})")
    fig, ax = _axes(ax, figsize=(6.4, max(2.5, 0.45 * len(components) * max(1, len(table)) + 1.2)))
    height = 0.8 / len(table)
    for i, (s, comp) in enumerate(table.items()):
        total = sum(comp.values()) or 1.0
        amounts = [comp.get(c, 0.0) for c in components]
        shown = [100.0 * a / total for a in amounts] if normalize else amounts
        ys = [j - 0.4 + height * (i + 0.5) for j in range(len(components))]
        bars = ax.barh(ys, shown, height=height * 0.9, label=s or None, color=COLORS[i % len(COLORS)])
        if annotate:
            for bar, a in zip(bars, amounts):
                ax.annotate(
                    f"{100.0 * a / total:.1f}%",
                    (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=9,
                )
    ax.set_yticks(range(len(components)), components)
    ax.invert_yaxis()  # first component on top
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.15)
    if title:
        ax.set_title(title)
    if grouped:
        ax.legend()
    return fig, ax


# --------------------------------------------------------------------------- histogram
def histogram(
    data: Any,
    *,
    xlabel: str,
    ylabel: str = "count",
    title: str | None = None,
    bins: int = 100,
    range: tuple[float, float] | None = None,  # noqa: A002 - matplotlib's name
    logy: bool = False,
    ax: Any = None,
) -> tuple[Any, Any]:
    """Histogram of values (a tensor, array or list), or overlaid ones ``{label: values}``."""
    _require_label(xlabel, "xlabel")
    _require_label(ylabel, "ylabel")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    named = dict(data) if isinstance(data, Mapping) else {None: data}
    if not named:
        raise ValueError("data must not be empty")
    fig, ax = _axes(ax)
    for k, (label, values) in enumerate(named.items()):
        xs = _to_list(values)
        if not xs:
            raise ValueError(f"no values to plot{'' if label is None else f' for {label!r}'}")
        ax.hist(xs, bins=bins, range=range, histtype="stepfilled", alpha=0.45 if len(named) > 1 else 0.8,
                edgecolor="none", label=label, color=COLORS[k % len(COLORS)])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(named) > 1:
        ax.legend()
    return fig, ax


# --------------------------------------------------------------------------- Pareto
def _points(points: Any) -> list[dict[str, Any]]:
    """Points as a list of dicts; a dict ``{name: {...}}`` gets its names as ``'name'``."""
    if isinstance(points, Mapping):
        out = []
        for name, p in points.items():
            if not isinstance(p, Mapping):
                raise ValueError(f"point {name!r} must be a dict, got {type(p).__name__}")
            out.append({"name": str(name), **p})
        return out
    if isinstance(points, Sequence) and not isinstance(points, (str, bytes)):
        if not all(isinstance(p, Mapping) for p in points):
            raise ValueError("points must be dicts such as {'name': ..., 'size_mb': ..., 'accuracy': ...}")
        return [dict(p) for p in points]
    raise ValueError(f"points must be a list of dicts or a dict of dicts, got {type(points).__name__}")


def _value(point: Mapping[str, Any], key: str) -> float:
    """A point's value for ``key``; ``size_mb`` and ``params_m`` are derived when absent."""
    if key in point:
        return float(point[key])
    if key == "size_mb" and "size_bytes" in point:
        return float(point["size_bytes"]) / 1e6
    if key == "params_m" and "params" in point:
        return float(point["params"]) / 1e6
    raise ValueError(f"point {point.get('name', point)!r} has no {key!r}")


def pareto_front(
    points: Any,
    x: str = "size_mb",
    y: str = "accuracy",
    *,
    minimize_x: bool = True,
    maximize_y: bool = True,
) -> list[int]:
    """Indices of the points no other point beats on both axes (smaller x, higher y by default)."""
    pts = _points(points)
    sx = 1.0 if minimize_x else -1.0
    sy = 1.0 if maximize_y else -1.0
    coords = [(sx * _value(p, x), sy * _value(p, y)) for p in pts]
    front = []
    for i, (xi, yi) in enumerate(coords):
        dominated = any(
            xj <= xi and yj >= yi and (xj < xi or yj > yi) for j, (xj, yj) in enumerate(coords) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: coords[i][0])


def pareto_plot(
    points: Any,
    x: str = "size_mb",
    y: str = "accuracy",
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    group: str | None = None,
    minimize_x: bool = True,
    maximize_y: bool = True,
    annotate: bool = True,
    logx: bool = False,
    ax: Any = None,
) -> tuple[Any, Any]:
    """Scatter of the trade-off (e.g. size vs accuracy) with the Pareto front drawn as a line.

    ``points`` is a list of dicts (``name``, the x and y keys, optionally a ``group``
    key such as the chapter) or a dict ``{name: {...}}`` like a chapter's saved
    results; ``size_mb`` is derived from ``size_bytes`` when absent.  Front points
    are drawn filled, dominated ones hollow.
    """
    pts = _points(points)
    if not pts:
        raise ValueError("no points to plot")
    xlabel = _require_label(xlabel if xlabel is not None else DEFAULT_LABELS.get(x, x), "xlabel")
    ylabel = _require_label(ylabel if ylabel is not None else DEFAULT_LABELS.get(y, y), "ylabel")
    front = set(pareto_front(pts, x, y, minimize_x=minimize_x, maximize_y=maximize_y))
    fig, ax = _axes(ax)
    groups: list[Any] = []
    for p in pts:
        g = p.get(group) if group else None
        if g not in groups:
            groups.append(g)
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for k, g in enumerate(groups):
        color, marker = COLORS[k % len(COLORS)], markers[k % len(markers)]
        idx = [i for i, p in enumerate(pts) if (p.get(group) if group else None) == g]
        labelled = g is None
        for on_front in (True, False):
            sel = [i for i in idx if (i in front) == on_front]
            if not sel:
                continue
            ax.scatter(
                [_value(pts[i], x) for i in sel],
                [_value(pts[i], y) for i in sel],
                s=55,
                marker=marker,
                facecolors=color if on_front else "none",
                edgecolors=color,
                linewidths=1.5,
                zorder=3,
                label=None if labelled else str(g),
            )
            labelled = True
    order = sorted(front, key=lambda i: _value(pts[i], x))
    ax.plot(
        [_value(pts[i], x) for i in order],
        [_value(pts[i], y) for i in order],
        color="0.35",
        linestyle="--",
        linewidth=1.2,
        zorder=2,
        label="Pareto front",
    )
    if annotate:
        for p in pts:
            if "name" in p:
                ax.annotate(str(p["name"]), (_value(p, x), _value(p, y)), xytext=(5, 4),
                            textcoords="offset points", fontsize=9)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return fig, ax
