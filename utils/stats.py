"""How sure is a measured difference? The course's reference statistics for comparing classifiers.

Chapter 7.1 asks learners to write each of these from the formula; later notebooks and the results
page use these references so that they run whatever state the learner's exercises are in.

- ``wilson_interval``: a confidence interval for an accuracy k/n;
- ``mcnemar_exact``: the exact two-sided McNemar test of two classifiers on the same examples;
- ``paired_bootstrap``: a percentile interval for the accuracy difference, resampling examples;
- ``expected_calibration_error``: equal-width confidence bins, weighted |accuracy - confidence|;
- ``correct_vector``: per-example correctness (a bool tensor) from logits and labels.
"""
from __future__ import annotations

import math

import torch

__all__ = ["wilson_interval", "mcnemar_exact", "paired_bootstrap", "expected_calibration_error",
           "correct_vector", "bootstrap_indices"]


def _check_counts(correct: int, n: int) -> None:
    if isinstance(correct, bool) or isinstance(n, bool) or not isinstance(correct, int) or not isinstance(n, int):
        raise TypeError(f"expected integer counts, got correct={correct!r}, n={n!r}")
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"expected 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for the proportion correct / n at normal quantile z (1.96: 95%)."""
    _check_counts(correct, n)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    for name, t in (("a_correct", a), ("b_correct", b)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.bool or t.dim() != 1:
            raise TypeError(f"{name}: expected a 1-D bool tensor, got "
                            f"{type(t).__name__ if not isinstance(t, torch.Tensor) else (t.dtype, tuple(t.shape))}")
    if a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"expected two non-empty vectors of the same length, got {a.numel()} and {b.numel()}")


def mcnemar_exact(a_correct: torch.Tensor, b_correct: torch.Tensor) -> float:
    """Two-sided exact McNemar p-value: only examples where exactly one model is right count."""
    _check_pair(a_correct, b_correct)
    only_a = int((a_correct & ~b_correct).sum())
    only_b = int((~a_correct & b_correct).sum())
    m, k = only_a + only_b, min(only_a, only_b)
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m
    return min(1.0, 2 * tail)


def bootstrap_indices(n: int, resamples: int, seed: int = 0) -> torch.Tensor:
    """A (resamples, n) tensor of example indices drawn with replacement (seeded, reproducible)."""
    if n < 1 or resamples < 1:
        raise ValueError(f"expected n >= 1 and resamples >= 1, got n={n}, resamples={resamples}")
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (resamples, n), generator=g)


def paired_bootstrap(a_correct: torch.Tensor, b_correct: torch.Tensor, indices: torch.Tensor,
                     level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy(a) - accuracy(b), and the percentile interval of that difference over resampled examples."""
    _check_pair(a_correct, b_correct)
    if indices.dim() != 2 or indices.shape[1] != a_correct.numel():
        raise ValueError(f"expected indices of shape (resamples, {a_correct.numel()}), got {tuple(indices.shape)}")
    diff = a_correct.double() - b_correct.double()
    means = diff[indices].mean(1)
    lo, hi = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float(diff.mean()), float(lo), float(hi)


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 10) -> float:
    """ECE: bin examples by confidence (max softmax probability) into n_bins equal-width bins on [0, 1];
    sum over bins of (examples in bin / n) * |accuracy in bin - mean confidence in bin|."""
    if logits.dim() != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"expected logits (n, classes) and n labels, got {tuple(logits.shape)} and {tuple(labels.shape)}")
    probs = logits.double().softmax(-1)
    conf, pred = probs.max(-1)
    right = (pred == labels).double()
    bins = (conf * n_bins).floor().clamp(max=n_bins - 1).long()
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.double().mean().item() * abs(right[sel].mean().item() - conf[sel].mean().item())
    return ece


def correct_vector(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-example correctness (bool) of arg-max predictions."""
    if logits.dim() != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"expected logits (n, classes) and n labels, got {tuple(logits.shape)} and {tuple(labels.shape)}")
    return logits.argmax(-1) == labels
