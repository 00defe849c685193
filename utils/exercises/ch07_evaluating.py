"""Chapter 7.1 exercises: evaluating honestly (Wilson interval, exact McNemar, paired bootstrap, ECE).

References are computed here independently of utils.stats: the Wilson bounds as the roots of their
quadratic, the McNemar tail with exact fractions, the bootstrap and the calibration error in float64
with explicit loops.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close

NOTEBOOK = "07-evaluating-and-combining/01-evaluating.ipynb"
FORBIDDEN = ("utils.stats", "scipy", "statsmodels", "sklearn")


# --- ch07.ex1: Wilson interval -----------------------------------------------------------------
def _wilson_args(seed: int) -> tuple:
    rng = random.Random(10 + seed)
    n = rng.choice([1, 7, 50, 200, 2000, 31, 1000])
    k = rng.randint(0, n)
    z = rng.choice([1.96, 1.0, 2.576, 1.645])
    return k, n, z


def _wilson_edge(seed: int) -> tuple:
    return [(0, 10, 1.96), (10, 10, 1.96), (0, 1, 1.96), (1628, 2000, 1.96), (1, 2, 3.0)][seed]


def _verify_wilson(args: tuple, got: object) -> None:
    k, n, z = args
    # p solves (p_hat - p)^2 = z^2 p (1 - p) / n:  (1 + z^2/n) p^2 - (2 p_hat + z^2/n) p + p_hat^2 = 0
    p_hat, c = k / n, z * z / n
    a, b, cc = 1 + c, -(2 * p_hat + c), p_hat * p_hat
    root = math.sqrt(max(0.0, b * b - 4 * a * cc))
    lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(f"expected a (low, high) pair, got {type(got).__name__}")
    expect_close(got[0], lo, atol=1e-9, rtol=1e-9, what=f"lower bound for {k}/{n}, z={z}")
    expect_close(got[1], hi, atol=1e-9, rtol=1e-9, what=f"upper bound for {k}/{n}, z={z}")


WILSON = Exercise(
    id="ch07.ex1",
    func="wilson_interval",
    title="The Wilson score interval of an accuracy",
    points=2,
    notebook=NOTEBOOK,
    forbidden=FORBIDDEN,
    cases=(
        Case("random counts and z", _wilson_args, _verify_wilson, seeds=(0, 1, 2)),
        Case("random counts and z", _wilson_args, _verify_wilson, seeds=tuple(range(3, 10)), hidden=True),
        Case("0 and all correct, n = 1, the teacher's 1628/2000", _wilson_edge, _verify_wilson,
             seeds=(0, 1, 2, 3, 4), hidden=True),
    ),
    mistakes=(
        Mistake('the Wald interval p +- z sqrt(p(1-p)/n)', '''
def wilson_interval(correct, n, z=1.96):
    p = correct / n
    half = z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)
'''),
    ),
)


# --- ch07.ex2: exact McNemar ---------------------------------------------------------------------
def _pair(only_a: int, only_b: int, both: int, neither: int, seed: int) -> tuple:
    a = [True] * only_a + [False] * only_b + [True] * both + [False] * neither
    b = [False] * only_a + [True] * only_b + [True] * both + [False] * neither
    order = list(range(len(a)))
    random.Random(seed).shuffle(order)
    return torch.tensor([a[i] for i in order]), torch.tensor([b[i] for i in order])


def _mcnemar_args(seed: int) -> tuple:
    rng = random.Random(30 + seed)
    return _pair(rng.randint(0, 40), rng.randint(0, 40), rng.randint(0, 300), rng.randint(0, 80), seed)


def _mcnemar_edge(seed: int) -> tuple:
    return _pair(*[(0, 0, 20, 5), (6, 6, 100, 10), (9, 0, 50, 3), (0, 1, 10, 0), (120, 80, 1500, 300)][seed], seed)


def _verify_mcnemar(args: tuple, got: object) -> None:
    a, b = args
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    m, k = only_a + only_b, min(only_a, only_b)
    expected = 1.0 if m == 0 else float(min(Fraction(1), 2 * sum(Fraction(math.comb(m, i), 2 ** m) for i in range(k + 1))))
    expect_close(got, expected, atol=1e-12, rtol=1e-9,
                 what=f"two-sided exact p-value ({only_a} tweets only A gets right, {only_b} only B)")


MCNEMAR = Exercise(
    id="ch07.ex2",
    func="mcnemar_exact",
    title="Exact McNemar test of two classifiers on the same tweets",
    points=2,
    notebook=NOTEBOOK,
    forbidden=FORBIDDEN,
    cases=(
        Case("random agreement tables", _mcnemar_args, _verify_mcnemar, seeds=(0, 1, 2)),
        Case("random agreement tables", _mcnemar_args, _verify_mcnemar, seeds=tuple(range(3, 10)), hidden=True),
        Case("no disagreement, a tie, one-sided, one disagreement, large counts", _mcnemar_edge, _verify_mcnemar,
             seeds=(0, 1, 2, 3, 4), hidden=True),
    ),
    mistakes=(
        Mistake('one-sided (no factor 2)', '''
def mcnemar_exact(a_correct, b_correct):
    b = int((a_correct & ~b_correct).sum()); c = int((~a_correct & b_correct).sum())
    m = b + c
    if m == 0:
        return 1.0
    return sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m
'''),
    ),
)


# --- ch07.ex3: paired bootstrap -------------------------------------------------------------------
def _boot_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(50 + seed)
    n = int(torch.randint(5, 300, (1,), generator=g))
    a = torch.rand(n, generator=g) < 0.8
    b = a.clone()
    flip = torch.rand(n, generator=g) < [0.05, 0.2, 0.5][seed % 3]
    b[flip] = ~b[flip]
    indices = torch.randint(0, n, (int(torch.randint(50, 400, (1,), generator=g)), n), generator=g)
    level = [0.95, 0.9, 0.99][seed % 3]
    return a, b, indices, level


def _verify_boot(args: tuple, got: object) -> None:
    a, b, indices, level = args
    d = [float(x) - float(y) for x, y in zip(a.tolist(), b.tolist())]
    diff = sum(d) / len(d)
    means = sorted(sum(d[i] for i in row) / len(row) for row in indices.tolist())

    def quantile(q: float) -> float:                       # linear interpolation between order statistics
        pos = q * (len(means) - 1)
        lo = math.floor(pos)
        return means[lo] + (means[min(lo + 1, len(means) - 1)] - means[lo]) * (pos - lo)

    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed(f"expected (difference, low, high), got {type(got).__name__}")
    expect_close(got[0], diff, atol=1e-9, rtol=1e-9, what="accuracy(a) - accuracy(b) on all examples")
    expect_close(got[1], quantile((1 - level) / 2), atol=1e-9, rtol=1e-9,
                 what=f"lower end: the {(1 - level) / 2:.3g} quantile of the resampled differences")
    expect_close(got[2], quantile((1 + level) / 2), atol=1e-9, rtol=1e-9,
                 what=f"upper end: the {(1 + level) / 2:.3g} quantile of the resampled differences")


BOOTSTRAP = Exercise(
    id="ch07.ex3",
    func="paired_bootstrap",
    title="A paired bootstrap interval for the difference of two accuracies",
    points=2,
    notebook=NOTEBOOK,
    forbidden=FORBIDDEN,
    cases=(
        Case("random pairs, resamples and levels", _boot_args, _verify_boot, seeds=(0, 1, 2)),
        Case("random pairs, resamples and levels", _boot_args, _verify_boot, seeds=tuple(range(3, 10)), hidden=True),
    ),
    mistakes=(
        Mistake('b minus a', '''
def paired_bootstrap(a_correct, b_correct, indices, level=0.95):
    d = b_correct.double() - a_correct.double()
    means = d[indices].mean(1)
    q = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float(d.mean()), float(q[0]), float(q[1])
'''),
    ),
)


# --- ch07.ex4: expected calibration error ---------------------------------------------------------
def _ece_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(70 + seed)
    n, c = int(torch.randint(20, 400, (1,), generator=g)), int(torch.randint(2, 6, (1,), generator=g))
    logits = torch.randn(n, c, generator=g) * [0.5, 2.0, 5.0][seed % 3]
    labels = torch.randint(0, c, (n,), generator=g)
    return logits, labels, [10, 15, 5][seed % 3]


def _ece_edge(seed: int) -> tuple:
    inf = float("inf")
    return [
        (torch.tensor([[0.0, -inf], [-inf, 0.0], [0.0, -inf]]), torch.tensor([0, 1, 1]), 10),   # confidence exactly 1
        (torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 1, 0]), 10),      # exactly 0.5: bin 5
        (torch.tensor([[2.0, 1.0, 0.0]] * 4), torch.tensor([0, 0, 1, 2]), 1),                   # one bin
    ][seed]


def _verify_ece(args: tuple, got: object) -> None:
    logits, labels, n_bins = args
    probs = torch.softmax(logits.double(), -1)
    conf, pred = probs.max(-1)
    bins: dict[int, list[tuple[float, float]]] = {}
    for c, p, y in zip(conf.tolist(), pred.tolist(), labels.tolist()):
        bins.setdefault(min(int(c * n_bins), n_bins - 1), []).append((c, float(p == y)))
    n = len(labels)
    expected = sum(len(v) / n * abs(sum(r for _, r in v) / len(v) - sum(c for c, _ in v) / len(v))
                   for v in bins.values())
    expect_close(got, expected, atol=1e-6, rtol=1e-5,
                 what=f"ECE with {n_bins} equal-width confidence bins, weighted by the share of examples")


ECE = Exercise(
    id="ch07.ex4",
    func="expected_calibration_error",
    title="Expected calibration error from logits",
    points=2,
    notebook=NOTEBOOK,
    forbidden=FORBIDDEN,
    cases=(
        Case("random logits, labels and bin counts", _ece_args, _verify_ece, seeds=(0, 1, 2)),
        Case("random logits, labels and bin counts", _ece_args, _verify_ece, seeds=tuple(range(3, 10)), hidden=True),
        Case("confidence exactly 1, exactly 0.5, a single bin", _ece_edge, _verify_ece, seeds=(0, 1, 2), hidden=True),
    ),
    mistakes=(
        Mistake('plain mean over bins, not weighted by their size', '''
def expected_calibration_error(logits, labels, n_bins=10):
    conf, pred = logits.double().softmax(-1).max(-1)
    right = (pred == labels).double()
    bins = (conf * n_bins).floor().clamp(max=n_bins - 1).long()
    gaps = [abs(right[bins == b].mean() - conf[bins == b].mean()).item() for b in range(n_bins) if (bins == b).any()]
    return sum(gaps) / len(gaps)
'''),
    ),
)

EXERCISES = (WILSON, MCNEMAR, BOOTSTRAP, ECE)
