"""Chapter 5.2 exercises: mutating an architecture validly, the Pareto front with ties.

Mutation is random, so its check is statistical on many draws from a seeded ``random.Random``
(validity of every draw, the rate of changed genes, every option reachable) with bounds loose enough
for any correct implementation; the Pareto front is compared with a brute-force dominance test.
"""
from __future__ import annotations

import random
from collections import Counter

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_equal

NOTEBOOK = "05-architecture-search/02-search.ipynb"


# --- ch05.ex4: mutation ------------------------------------------------------------------------
def _options(heads: tuple, widths: tuple) -> list[tuple[int, int]]:
    return [(0, 0)] + [(h, w) for h in heads for w in widths]


def _mutate_args(seed: int) -> tuple:
    heads, widths = [((3, 6, 9, 12), (384, 768, 1152, 1536)), ((2, 4), (64, 128, 256)), ((1, 2, 3), (10,))][seed % 3]
    g = random.Random(900 + seed)
    n = [6, 4, 5, 1, 3, 6, 2, 1][seed % 8]
    opts = _options(heads, widths)
    arch = [g.choice(opts) for _ in range(n)]
    if all(a == (0, 0) for a in arch):
        arch[0] = opts[-1]
    p = [0.3, 0.5, 1.0, 1.0, 0.2, 0.5, 1.0, 0.7][seed % 8]
    return arch, heads, widths, p, seed


def _run_mutate(fn, args: tuple) -> tuple:
    arch, heads, widths, p, seed = args
    parent = [tuple(g) for g in arch]
    rng = random.Random(seed)
    draws = 600 if len(arch) > 1 else 1500
    out = []
    for _ in range(draws):
        child = fn(list(parent), rng, heads, widths, p)
        out.append(child)
    return out, [tuple(g) for g in parent]


def _verify_mutate(args: tuple, got: object) -> None:
    arch, heads, widths, p, _ = args
    children, parent_after = got
    parent = [tuple(g) for g in arch]
    if parent_after != parent:
        raise CheckFailed("the parent architecture was modified: return a new one")
    opts = set(_options(heads, widths))
    changed = 0
    reach = Counter()
    for child in children:
        if not isinstance(child, (tuple, list)) or len(child) != len(parent):
            raise CheckFailed(f"expected a sequence of {len(parent)} genes, got {child!r:.80}")
        genes = [tuple(g) if isinstance(g, (tuple, list)) else g for g in child]
        bad = [g for g in genes if g not in opts]
        if bad:
            raise CheckFailed(f"gene {bad[0]!r} is not (0, 0) nor a (heads, width) pair of the choices {heads} x {widths}")
        if all(g == (0, 0) for g in genes):
            raise CheckFailed(f"a child keeps no layer at all (parent {parent}): redraw until at least one layer is kept")
        diff = [a != b for a, b in zip(genes, parent)]
        changed += sum(diff)
        if p == 1.0 and not all(diff):
            raise CheckFailed(f"with p = 1 every gene must change (to another option), got {genes} from {parent}")
        reach[genes[0]] += 1
    rate = changed / (len(children) * len(parent))
    # a gene changes with probability p, plus the rare redraws that avoid an empty network
    if not p - 0.06 <= rate <= p + 0.06 + (0.07 if len(parent) == 1 else 0.0):
        raise CheckFailed(f"each gene should change with probability p = {p}; it changed in {rate:.0%} of the draws")
    if p == 1.0:
        wanted = opts - {parent[0]} - ({(0, 0)} if len(parent) == 1 else set())
        missing = sorted(wanted - set(reach))
        if missing:
            raise CheckFailed(f"options never drawn for the first gene in {len(children)} mutations: {missing[:4]} "
                              f"(a mutated gene is drawn uniformly among the other options)")
        expected = len(children) / len(wanted)
        skewed = [o for o in wanted if not 0.5 * expected <= reach[o] <= 1.6 * expected]
        if skewed:
            raise CheckFailed(f"options of the first gene are not drawn uniformly: {skewed[0]} drawn {reach[skewed[0]]} "
                              f"times, about {expected:.0f} expected")


# --- ch05.ex4: the course's reference implementation (the notebook's fallback) ---
def mutate_reference(arch, rng, head_choices, ffn_choices, p):
    options = [(0, 0)] + [(h, w) for h in head_choices for w in ffn_choices]
    while True:
        child = []
        for gene in map(tuple, arch):
            child.append(rng.choice([o for o in options if o != gene]) if rng.random() < p else gene)
        if any(gene != (0, 0) for gene in child):
            return child


MUTATE = Exercise(
    id="ch05.ex4",
    func="mutate",
    reference=mutate_reference,
    title="Mutate an architecture: every gene with probability p, always a valid child",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("600 mutations of random 6- and 4-layer architectures", _mutate_args, _verify_mutate, seeds=(0, 1),
             run=_run_mutate),
        Case("p = 1, other choice sets, one-layer architectures (the empty child must be avoided)",
             _mutate_args, _verify_mutate, seeds=tuple(range(2, 8)), hidden=True, run=_run_mutate),
    ),
)


# --- ch05.ex5: the Pareto front with ties ------------------------------------------------------
def _front_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1100 + seed)
    n = int(torch.randint(1, 40, (1,), generator=g))
    levels = int(torch.randint(3, 12, (1,), generator=g))        # few distinct values: many ties
    lat = [float(x) for x in torch.randint(1, levels + 1, (n,), generator=g)]
    acc = [float(x) / levels for x in torch.randint(0, levels + 1, (n,), generator=g)]
    return lat, acc


def _front_edge(seed: int) -> tuple:
    return [([1.0], [0.5]),
            ([2.0, 2.0, 2.0], [0.7, 0.7, 0.7]),                     # identical: all on the front
            ([1.0, 1.0, 2.0], [0.6, 0.8, 0.9]),                     # same latency, lower accuracy: dominated
            ([1.0, 2.0, 2.0, 3.0], [0.5, 0.5, 0.9, 0.9]),           # same accuracy, higher latency: dominated
            ([3.0, 2.0, 1.0], [0.9, 0.8, 0.7])][seed]               # all on the front, given in reverse order


def _verify_front(args: tuple, got: object) -> None:
    lat, acc = args
    n = len(lat)
    front = [i for i in range(n) if not any(lat[j] <= lat[i] and acc[j] >= acc[i] and (lat[j] < lat[i] or acc[j] > acc[i])
                                           for j in range(n))]
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(got, list):
        got = [int(i) if hasattr(i, "__index__") and not isinstance(i, bool) else i for i in got]
    expect_equal(got, front, what=f"indices of the non-dominated points, increasing (latency {lat}, accuracy {acc})"[:400])


# --- ch05.ex5: the course's reference implementation (the notebook's fallback) ---
def pareto_front_reference(latency, accuracy):
    points = list(zip(latency, accuracy))
    return [i for i, (lat, acc) in enumerate(points)
            if not any(l2 <= lat and a2 >= acc and (l2, a2) != (lat, acc) for l2, a2 in points)]


PARETO = Exercise(
    id="ch05.ex5",
    func="pareto_front",
    reference=pareto_front_reference,
    title="The Pareto front of (latency, accuracy) points, ties included",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("random points with many ties", _front_args, _verify_front, seeds=(0, 1, 2)),
        Case("random points with many ties", _front_args, _verify_front, seeds=tuple(range(3, 12)), hidden=True),
        Case("one point, identical points, ties in latency, ties in accuracy, reverse order", _front_edge,
             _verify_front, seeds=(0, 1, 2, 3, 4), hidden=True),
    ),
    mistakes=(
        Mistake('non-strict on both axes: drops identical points', '''
def pareto_front(latency, accuracy):
    n = len(latency)
    return [i for i in range(n) if not any(j != i and latency[j] <= latency[i] and accuracy[j] >= accuracy[i]
                                           for j in range(n))]
'''),
    ),
)

EXERCISES = (MUTATE, PARETO)
