"""Chapter 5.2 exercises: mutating an architecture validly, the evolutionary search, the Pareto front with ties,
and a search of the learner's own on the real supernet, graded on held-out tweets (a numeric bar).

Mutation is random, so its check is statistical on many draws from a seeded ``random.Random``
(validity of every draw, the rate of changed genes, every option reachable) with bounds loose enough
for any correct implementation; the Pareto front is compared with a brute-force dominance test.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections import Counter

import torch

from utils.exercises.plans import teacher_and_data, teacher_test_accuracy
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


# --- ch05.ex6: the Pareto front with ties ------------------------------------------------------
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


# --- ch05.ex6: the course's reference implementation (the notebook's fallback) ---
def pareto_front_reference(latency, accuracy):
    points = list(zip(latency, accuracy))
    return [i for i, (lat, acc) in enumerate(points)
            if not any(l2 <= lat and a2 >= acc and (l2, a2) != (lat, acc) for l2, a2 in points)]


PARETO = Exercise(
    id="ch05.ex6",
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


# --- ch05.ex5: evolutionary search under a budget, on a landscape with a known optimum -----------
# A synthetic landscape: additive per-layer cost (a per-layer overhead plus head and width costs) and
# additive value with decreasing returns, L = 5 layers, 3 head and 3 width choices (100,000 architectures,
# about 12,000 to 60,000 within the budget). Its exact optimum is found by enumeration. Calibration with the
# reference below (300 evaluations, 10 seeds, landscapes 0-4): mean best 98.8% to 99.9% of the optimum, worst
# seed 96.1% or more; random search at the same budget: mean 93.1% to 96.5%.
_EVO_HEADS, _EVO_WIDTHS, _EVO_LAYERS, _EVO_EVALS, _EVO_SEEDS = (1, 2, 4), (1, 2, 3), 5, 300, tuple(range(10))
_EVO_MEAN, _EVO_WORST = 0.975, 0.93


def _landscape(seed: int):
    g = random.Random(seed)
    worth = [g.uniform(0.3, 1.0) for _ in range(_EVO_LAYERS)]
    head_cost = {h: g.uniform(0.5, 1.5) * h for h in _EVO_HEADS}
    width_cost = {w: g.uniform(0.5, 1.5) * w for w in _EVO_WIDTHS}
    overhead = g.uniform(0.5, 2.0)
    top_h, top_w = max(_EVO_HEADS), max(_EVO_WIDTHS)

    def cost(arch) -> float:
        return sum(overhead + head_cost[h] + width_cost[w] for h, w in arch if (h, w) != (0, 0))

    def value(arch) -> float:
        return sum(worth[l] * ((h / top_h) ** 0.5 + (w / top_w) ** 0.5)
                   for l, (h, w) in enumerate(arch) if (h, w) != (0, 0))

    budget = 0.5 * cost([(top_h, top_w)] * _EVO_LAYERS)
    return cost, value, budget


def _evo_args(seed: int) -> tuple:
    return (seed,)


def _crossover(a, b, rng):
    while True:
        child = [tuple(x) if rng.random() < 0.5 else tuple(y) for x, y in zip(a, b)]
        if any(g != (0, 0) for g in child):
            return child


def _run_evolve(fn, args: tuple) -> list:
    """Every seed's history of (architecture, score) and how many times the score was asked for."""
    from utils.nas import sample_arch

    cost, value, budget = _landscape(args[0])
    out = []
    for seed in _EVO_SEEDS:
        calls = [0]

        def score(arch, calls=calls) -> float:
            calls[0] += 1
            return value([tuple(g) for g in arch])

        history = fn(score, lambda arch: cost([tuple(g) for g in arch]) <= budget,
                     lambda rng: sample_arch(rng, _EVO_LAYERS, _EVO_HEADS, _EVO_WIDTHS),
                     lambda arch, rng: mutate_reference(arch, rng, _EVO_HEADS, _EVO_WIDTHS, 1 / _EVO_LAYERS),
                     _crossover, _EVO_EVALS, seed)
        out.append((history, calls[0]))
    return out


def _optimum(seed: int) -> float:
    cost, value, budget = _landscape(seed)
    options = _options(_EVO_HEADS, _EVO_WIDTHS)
    return max(value(a) for a in itertools.product(options, repeat=_EVO_LAYERS)
               if cost(a) <= budget and any(g != (0, 0) for g in a))


def _verify_evolve(args: tuple, got: object) -> None:
    cost, value, budget = _landscape(args[0])
    options = set(_options(_EVO_HEADS, _EVO_WIDTHS))
    if not isinstance(got, (list, tuple)) or len(got) != len(_EVO_SEEDS):
        raise CheckFailed("internal: expected one history per seed")
    best = []
    for seed, (history, calls) in zip(_EVO_SEEDS, got):
        where = f"seed {seed}"
        if not isinstance(history, (list, tuple)) or len(history) != _EVO_EVALS:
            size = len(history) if isinstance(history, (list, tuple)) else type(history).__name__
            raise CheckFailed(f"{where}: expected a history of {_EVO_EVALS} (architecture, score) pairs, got {size}")
        seen = set()
        for k, item in enumerate(history):
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise CheckFailed(f"{where}: history entry {k} is {item!r:.60}, expected an (architecture, score) pair")
            arch, s = item
            if not isinstance(arch, (list, tuple)) or len(arch) != _EVO_LAYERS:
                raise CheckFailed(f"{where}: entry {k}: expected {_EVO_LAYERS} genes, got {arch!r:.80}")
            genes = tuple(tuple(g) if isinstance(g, (list, tuple)) else g for g in arch)
            if any(g not in options for g in genes) or all(g == (0, 0) for g in genes):
                raise CheckFailed(f"{where}: entry {k} is not a valid architecture: {genes}")
            if cost(genes) > budget:
                raise CheckFailed(f"{where}: entry {k} {genes} is over the budget (cost {cost(genes):.2f} > "
                                  f"{budget:.2f}): reject a candidate before evaluating it")
            if genes in seen:
                raise CheckFailed(f"{where}: {genes} was evaluated twice: an evaluation is the budget, skip seen architectures")
            seen.add(genes)
            if not isinstance(s, (int, float)) or abs(float(s) - value(genes)) > 1e-9:
                raise CheckFailed(f"{where}: entry {k} records score {s!r:.30} for {genes}, but score() gives {value(genes):.6f}")
        if calls > _EVO_EVALS:
            raise CheckFailed(f"{where}: score() was called {calls} times for a budget of {_EVO_EVALS} evaluations")
        best.append(max(float(s) for _, s in history))
    opt = _optimum(args[0])
    ratios = [b / opt for b in best]
    mean, worst = sum(ratios) / len(ratios), min(ratios)
    if mean < _EVO_MEAN or worst < _EVO_WORST:
        raise CheckFailed(f"best architecture found after {_EVO_EVALS} evaluations: {mean:.1%} of the optimum on average over "
                          f"{len(ratios)} seeds (worst {worst:.1%}); an evolutionary search reaches at least "
                          f"{_EVO_MEAN:.1%} on average and {_EVO_WORST:.0%} in every seed (random search: about 93-96%). "
                          f"Are the parents the best architectures so far?")


# --- ch05.ex5: the course's reference implementation (the notebook's fallback) ---
def evolve_reference(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    start, history = random.Random(seed), []
    while len(history) < min(pop, evals):                      # a random start of `pop` architectures
        a = tuple(sample(start))
        if fits(a) and a not in [h for h, _ in history]:
            history.append((a, score(a)))
    rng = random.Random(seed)
    while len(history) < evals:
        parents = [a for a, _ in sorted(history, key=lambda h: -h[1])[:pop]]
        x, y = rng.sample(parents, 2)
        child = tuple(mutate(crossover(x, y, rng), rng))
        if fits(child) and child not in [h for h, _ in history]:
            history.append((child, score(child)))
    return history


EVOLVE = Exercise(
    id="ch05.ex5",
    func="evolve",
    reference=evolve_reference,
    title="Evolutionary search under a budget: near the known optimum, never over budget",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("synthetic landscapes 0 and 1, 10 seeds x 300 evaluations", _evo_args, _verify_evolve, seeds=(0, 1),
             run=_run_evolve),
        Case("synthetic landscapes 2 to 4, 10 seeds x 300 evaluations", _evo_args, _verify_evolve, seeds=(2, 3, 4),
             hidden=True, run=_run_evolve),
    ),
)


# --- ch05.ex7: a search of your own, graded on the real supernet's held-out accuracy -------------
#: Architectures the learner's search may score, on the real supernet (on the synthetic landscapes: twice that).
FIND_EVALS = 32
#: The bar on the real supernet: the best uniform (width-only) sub-network under the same budget, chosen on
#: the proxy as 5.2 chooses it, plus this margin on the 2,000 test tweets (chapter 5's target).
FIND_MARGIN = 0.02
#: Budgets (fractions of the teacher's predicted latency) of the real-supernet cases: 5.2's, and a tighter one.
FIND_BUDGETS = (0.5, 0.45)
#: On a synthetic landscape, the true value of the returned architecture must reach this fraction of the optimum.
FIND_SYNTHETIC = 0.85
_FIND_SPACE = (6, (1, 2, 4), (1, 2, 3))
#: 5.2's search space on the real supernet, and the teacher's own architecture in it.
_REAL_SPACE = (6, (3, 6, 9, 12), (384, 768, 1152, 1536))
_TEACHER_ARCH = ((12, 1536),) * 6


def _find_landscape(seed: int):
    """A 6-layer additive landscape (layers of very unequal worth, decreasing returns in heads and width) and
    the exact optimum under its budget (meet in the middle: layers 0-2 against layers 3-5)."""
    n_layers, heads, widths = _FIND_SPACE
    g = random.Random(3000 + seed)
    worth = [g.uniform(0.05, 1.0) for _ in range(n_layers)]
    head_cost = {h: g.uniform(0.5, 1.5) * h for h in heads}
    width_cost = {w: g.uniform(0.5, 1.5) * w for w in widths}
    overhead = g.uniform(0.5, 2.0)

    def gene_cost(gene) -> float:
        return 0.0 if gene == (0, 0) else overhead + head_cost[gene[0]] + width_cost[gene[1]]

    def gene_value(layer: int, gene) -> float:
        return 0.0 if gene == (0, 0) else worth[layer] * ((gene[0] / max(heads)) ** 0.5 + (gene[1] / max(widths)) ** 0.5)

    def cost(arch) -> float:
        return sum(gene_cost(tuple(x)) for x in arch)

    def value(arch) -> float:
        return sum(gene_value(l, tuple(x)) for l, x in enumerate(arch))

    budget = 0.5 * cost([(max(heads), max(widths))] * n_layers)
    options = _options(heads, widths)

    def half(layers):
        return [(sum(gene_cost(x) for x in c), sum(gene_value(l, x) for l, x in zip(layers, c)))
                for c in itertools.product(options, repeat=len(layers))]

    left, right = half([0, 1, 2]), sorted(half([3, 4, 5]))
    costs, best, top = [c for c, _ in right], [], -1.0
    for _, v in right:                                       # best value of the right half up to each cost
        top = max(top, v)
        best.append(top)
    optimum = max(v + best[i] for c, v in left if (i := bisect.bisect_right(costs, budget - c) - 1) >= 0)
    return cost, value, budget, optimum


def _find_synthetic_args(seed: int) -> tuple:
    return ("synthetic", seed)


def _counted(score, evals: int):
    """`score` with a budget of `evals` distinct architectures (memoised: asking again is free); the list of
    the architectures scored, in order."""
    seen: dict = {}

    def counted(arch) -> float:
        key = tuple(tuple(int(v) for v in g) for g in arch)
        if key not in seen:
            if len(seen) >= evals:
                raise RuntimeError(f"the evaluation budget is spent: {evals} architectures scored already "
                                   f"(asking again for one of them is free)")
            seen[key] = float(score(key))
        return seen[key]

    return counted, seen


def _run_find(fn, args: tuple) -> tuple:
    """In the worker: the learner's search with a counted score; its choice and the architectures it scored."""
    if args[0] == "synthetic":
        seed = args[1]
        cost, value, budget, optimum = _find_landscape(seed)

        def noisy(arch) -> float:          # a fixed, noisy proxy: the same architecture always scores the same
            return value(arch) + random.Random(hash((seed, arch))).gauss(0.0, 0.02 * optimum)

        score, seen = _counted(noisy, 2 * FIND_EVALS)
        chosen = fn(score, cost, budget, _FIND_SPACE, 2 * FIND_EVALS)
    else:
        _, fraction, table = args
        supernet, proxy = _real_search()
        from utils.nas import predict_latency

        score, seen = _counted(lambda arch: _proxy_accuracy(supernet, proxy, arch), FIND_EVALS)
        chosen = fn(score, lambda arch: predict_latency(table, arch), fraction * predict_latency(table, _TEACHER_ARCH),
                    _REAL_SPACE, FIND_EVALS)
    return chosen, [list(map(list, a)) for a in seen]


@torch.no_grad()
def _proxy_accuracy(supernet, proxy: list, arch) -> float:
    """Accuracy of the sub-network `arch` sliced from `supernet` on the proxy batches (5.2's proxy)."""
    from utils.nas import slice_subnet

    sub = slice_subnet(supernet, arch)
    return torch.cat([sub(ids, mask).argmax(-1) == y for ids, mask, y in proxy]).float().mean().item()


@functools.lru_cache(maxsize=1)
def _real_search() -> tuple:
    """5.2's supernet (the cached teacher, heads and neurons sorted by importance on 256 training tweets) and
    the proxy batches (the first 192 validation tweets, length-sorted, 64 a batch). Built in the grader and,
    for the learner's function, in the worker (which may read the course cache and the installed data, not
    the course's recorded runs: the latency table travels in the case's arguments)."""
    from utils.data import load_tweets
    from utils.nas import reorder_units, unit_importance

    teacher, _, _, tok = teacher_and_data()
    data = load_tweets()
    heads, ffn = unit_importance(teacher, data["train"][:256], tok)
    supernet = reorder_units(teacher, heads, ffn).eval()
    proxy_set = sorted(data["validation"][:192], key=lambda e: len(tok.tokens(e.text)))
    proxy = [(*tok.encode([e.text for e in proxy_set[s:s + 64]]), torch.tensor([e.label for e in proxy_set[s:s + 64]]))
             for s in range(0, len(proxy_set), 64)]
    return supernet, proxy


@functools.lru_cache(maxsize=1)
def _latency_table() -> dict:
    """5.1's recorded latency table (the one 5.2 searches with)."""
    from utils.results import load_recorded

    return load_recorded("ch05-latency-table")["figures"]


def _find_real_args(seed: int) -> tuple:
    teacher_and_data()                  # NotGradable if the teacher is not cached
    return ("real", FIND_BUDGETS[seed], _latency_table())


@functools.lru_cache(maxsize=len(FIND_BUDGETS))
@torch.no_grad()
def _real_bar(fraction: float) -> tuple[float, tuple, float]:
    """The best width-only sub-network under the budget, chosen on the proxy (ties: the faster), its test
    accuracy, and the test accuracy a searched sub-network must reach."""
    from utils.nas import predict_latency, slice_subnet

    supernet, proxy = _real_search()
    table = _latency_table()
    n_layers, heads, widths = _REAL_SPACE
    budget = fraction * predict_latency(table, _TEACHER_ARCH)
    uniform = [((h, w),) * n_layers for h in heads for w in widths
               if predict_latency(table, ((h, w),) * n_layers) <= budget]
    best = max(uniform, key=lambda a: (_proxy_accuracy(supernet, proxy, a), -predict_latency(table, a)))
    base, _ = teacher_test_accuracy(slice_subnet(supernet, best))
    return base, best, base + FIND_MARGIN


def _chosen_arch(got: object, n_layers: int, heads: tuple, widths: tuple) -> tuple:
    """The architecture the learner returned, validated (a CheckFailed that says what was expected)."""
    from utils.nas import check_arch

    chosen, scored = got
    if not isinstance(chosen, (list, tuple)) or any(not isinstance(g, (list, tuple)) for g in chosen):
        raise CheckFailed(f"expected an architecture: a list of {n_layers} (heads, width) genes, got {chosen!r:.100}")
    if any(isinstance(v, bool) or not isinstance(v, int) for g in chosen for v in g):
        raise CheckFailed(f"expected genes of two Python ints, got {chosen!r:.100}")
    try:
        arch = check_arch(chosen, n_layers, heads, widths)
    except ValueError as exc:
        raise CheckFailed(f"not a valid architecture: {exc}") from None
    if [list(g) for g in arch] not in scored:
        raise CheckFailed(f"you returned {list(arch)}, which your search never scored: return the architecture "
                          f"you chose among those you evaluated")
    return arch


def _verify_find(args: tuple, got: object) -> None:
    if args[0] == "synthetic":
        cost, value, budget, optimum = _find_landscape(args[1])
        arch = _chosen_arch(got, *_FIND_SPACE)
        if cost(arch) > budget:
            raise CheckFailed(f"{list(arch)} is over the budget (latency {cost(arch):.2f} > {budget:.2f})")
        if value(arch) < FIND_SYNTHETIC * optimum:
            raise CheckFailed(f"the architecture you chose has {value(arch) / optimum:.1%} of the optimum's true value "
                              f"(the bar is {FIND_SYNTHETIC:.0%}; a search that spends the budget and keeps the best "
                              f"score reaches it): did your candidates use most of the budget?")
        return
    from utils.nas import predict_latency, slice_subnet

    supernet, _ = _real_search()
    table = _latency_table()
    arch = _chosen_arch(got, *_REAL_SPACE)
    fraction, full = args[1], predict_latency(table, _TEACHER_ARCH)
    if predict_latency(table, arch) > fraction * full:
        raise CheckFailed(f"{list(arch)} predicts {predict_latency(table, arch) / full:.1%} of the teacher's latency, "
                          f"over the budget of {fraction:.0%}")
    base, uniform, bar = _real_bar(fraction)
    acc, n = teacher_test_accuracy(slice_subnet(supernet, arch))
    if acc < bar - 1e-9:
        raise CheckFailed(f"your sub-network ({list(arch)}, {predict_latency(table, arch) / full:.1%} of the teacher's "
                          f"latency) has {acc:.2%} on the {n:,} test tweets; the bar is {bar:.2%}, 2 points "
                          f"above the best uniform sub-network under the budget ({uniform[0]} in every layer, {base:.2%})")


# --- ch05.ex7: the course's reference implementation (the notebook's fallback) ---
def find_subnet_reference(score, latency, budget, space, max_evals):
    from utils.nas import sample_arch

    n_layers, heads, widths = space
    history = evolve_reference(score, lambda a: 0.85 * budget <= latency(a) <= budget,
                               lambda rng: sample_arch(rng, n_layers, heads, widths),
                               lambda a, rng: mutate_reference(a, rng, heads, widths, 1 / n_layers), _crossover,
                               max_evals, 0)
    return [list(g) for g in max(history, key=lambda h: (h[1], -latency(h[0])))[0]]


FIND = Exercise(
    id="ch05.ex7",
    func="find_subnet",
    reference=find_subnet_reference,
    title="A search of your own under a latency budget (>= 2 points above uniform shrinking on held-out tweets)",
    points=3,
    notebook=NOTEBOOK,
    timeout=300.0,
    cases=(
        Case("synthetic landscapes, 64 evaluations, noisy scores", _find_synthetic_args, _verify_find, seeds=(0, 1),
             run=_run_find),
        Case("synthetic landscapes, 64 evaluations, noisy scores", _find_synthetic_args, _verify_find, seeds=(2, 3),
             hidden=True, run=_run_find),
        Case("the real supernet, 32 evaluations, budgets 50% and 45%, 2,000 test tweets", _find_real_args, _verify_find,
             seeds=(0, 1), hidden=True, run=_run_find),
    ),
    mistakes=(
        Mistake("the best uniform sub-network: no per-layer search", """
def find_subnet(score, latency, budget, space, max_evals):
    n_layers, heads, widths = space
    uniform = [[(h, w)] * n_layers for h in heads for w in widths if latency([(h, w)] * n_layers) <= budget]
    return max(uniform, key=score)
"""),
    ),
)

EXERCISES = (MUTATE, EVOLVE, PARETO, FIND)
