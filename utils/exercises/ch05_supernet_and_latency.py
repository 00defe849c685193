"""Chapter 5.1 exercises: counting a search space, slicing a sub-network, the per-layer latency term.

Checks compare with brute-force enumeration, with the supernet's own forward pass with the dropped
heads / neurons gated to zero (utils.pruning.gate_units) and layers removed, and with a least-squares
solve (torch.linalg.lstsq) on synthetic additive latencies: never with a copy of the solution.
"""
from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close, expect_equal, expect_tensor
from utils.nas import slice_subnet as slice_subnet_reference   # ch05.ex2's reference (the notebook's fallback)

NOTEBOOK = "05-architecture-search/01-supernet-and-latency.ipynb"


# --- ch05.ex1: counting architectures ------------------------------------------------------------
def _brute_count(n_layers: int, head_choices: tuple, ffn_choices: tuple, min_layers: int) -> int:
    genes = [(0, 0)] + [(h, f) for h in head_choices for f in ffn_choices]
    return sum(1 for arch in itertools.product(genes, repeat=n_layers)
               if sum(g != (0, 0) for g in arch) >= min_layers)


def _dp_count(n_layers: int, head_choices: tuple, ffn_choices: tuple, min_layers: int) -> int:
    ways = [1]                       # ways[k]: architectures of the layers so far keeping k of them
    w = len(head_choices) * len(ffn_choices)
    for _ in range(n_layers):
        ways = [(ways[k] if k < len(ways) else 0) + (ways[k - 1] * w if k >= 1 else 0) for k in range(len(ways) + 1)]
    return sum(ways[min_layers:])


def _count_small(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 5, (1,), generator=g))
    heads = tuple(sorted({int(x) for x in torch.randint(1, 13, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g)}))
    ffn = tuple(sorted({64 * int(x) for x in torch.randint(1, 25, (int(torch.randint(1, 3, (1,), generator=g)),), generator=g)}))
    return n, heads, ffn, int(torch.randint(0, n + 1, (1,), generator=g))


def _count_large(seed: int) -> tuple:
    return [(6, (3, 6, 9, 12), (384, 768, 1152, 1536), 1), (12, (4, 8, 12), (768, 1536, 3072), 2),
            (24, (1, 2, 4, 8, 16), (1024, 2048, 4096), 6), (3, (12,), (1536,), 0), (5, (2, 4), (100,), 5),
            (4, (2,), (10, 20), 6)][seed]


def _verify_count_small(args: tuple, got: object) -> None:
    expect_equal(got, _brute_count(*args), what=f"count_architectures{args}")


def _verify_count_large(args: tuple, got: object) -> None:
    expect_equal(got, _dp_count(*args), what=f"count_architectures{args}")


# --- ch05.ex1: the course's reference implementation (the notebook's fallback) ---
def count_architectures_reference(n_layers, head_choices, ffn_choices, min_layers=1):
    options = len(head_choices) * len(ffn_choices)
    counts = [1]                                   # counts[k]: gene lists of the layers so far with k kept
    for _ in range(n_layers):
        counts = [(counts[k] if k < len(counts) else 0) + (options * counts[k - 1] if k else 0)
                  for k in range(len(counts) + 1)]
    return sum(counts[max(min_layers, 0):])


COUNT = Exercise(
    id="ch05.ex1",
    func="count_architectures",
    reference=count_architectures_reference,
    title="Count the architectures of an elastic depth x heads x width space",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("small spaces, checked by enumerating every architecture", _count_small, _verify_count_small,
             seeds=(0, 1, 2)),
        Case("small spaces, checked by enumerating every architecture", _count_small, _verify_count_small,
             seeds=tuple(range(3, 12)), hidden=True),
        Case("our space, 12 and 24 layers, min_layers 0 and min_layers > layers", _count_large, _verify_count_large,
             seeds=(0, 1, 2, 3, 4, 5), hidden=True),
    ),
    mistakes=(
        Mistake('(1 + |H||W|)^L: ignores min_layers', '''
def count_architectures(n_layers, head_choices, ffn_choices, min_layers=1):
    return (1 + len(head_choices) * len(ffn_choices)) ** n_layers - 1
'''),
    ),
)


# --- ch05.ex2: slicing a sub-network -----------------------------------------------------------
def _supernet(seed: int, layers: int = 4):
    from utils.models import Classifier, EncoderConfig
    torch.manual_seed(seed)
    cfg = EncoderConfig(vocab_size=50, hidden=24, layers=layers, heads=4, head_dim=6, ffn=16, max_positions=32)
    model = Classifier(cfg, num_labels=3).eval()
    with torch.no_grad():
        for p in model.parameters():      # LayerNorms and biases away from 1 / 0, so forgetting to copy them shows
            p.add_(0.2 * torch.randn_like(p))
    return model


def _slice_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(500 + seed)
    model = _supernet(seed)
    arch = []
    for _ in range(4):
        if float(torch.rand(1, generator=g)) < 0.3:
            arch.append((0, 0))
        else:
            arch.append((int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(1, 17, (1,), generator=g))))
    if all(a == (0, 0) for a in arch):
        arch[int(torch.randint(0, 4, (1,), generator=g))] = (2, 8)
    ids = torch.randint(1, 50, (3, 7), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0
    return model, tuple(arch), ids, mask


def _slice_edge(seed: int) -> tuple:
    model, _, ids, mask = _slice_args(seed)
    return model, [((4, 16),) * 4, ((0, 0), (0, 0), (0, 0), (4, 16)), ((1, 1), (0, 0), (4, 16), (0, 0)),
                   ((0, 0), (2, 16), (4, 3), (0, 0))][seed], ids, mask


def _run_slice(fn, args: tuple) -> tuple:
    """Plain values only (the grader passes outputs between processes): what the sub-network is and computes."""
    from utils.models import Classifier
    model, arch, ids, mask = args
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sub = fn(model, arch)
    unchanged = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    if not isinstance(sub, Classifier):
        return type(sub).__name__, None, None, None, None, unchanged
    sub.eval()
    with torch.no_grad():
        logits = sub(ids, mask)
    return ("Classifier", list(sub.cfg.heads_per_layer), list(sub.cfg.ffn_per_layer),
            sum(p.numel() for p in sub.parameters()), logits, unchanged)


def _reference(model, arch, ids, mask) -> torch.Tensor:
    """The supernet with dropped layers removed and the heads / neurons beyond the first k gated to 0."""
    from utils.pruning import gate_units
    ref = copy.deepcopy(model)
    kept = [i for i, g in enumerate(arch) if tuple(g) != (0, 0)]
    ref.encoder.layers = nn.ModuleList(ref.encoder.layers[i] for i in kept)
    hg = [(torch.arange(4) < arch[i][0]).float() for i in kept]
    fg = [(torch.arange(16) < arch[i][1]).float() for i in kept]
    with torch.no_grad(), gate_units(ref, head_gates=hg, ffn_gates=fg):
        return ref(ids, mask)


def _verify_slice(args: tuple, got: object) -> None:
    model, arch, ids, mask = args
    kind, heads, ffn, n_params, logits, unchanged = got
    if kind != "Classifier":
        raise CheckFailed(f"expected a utils.models.Classifier, got {kind}")
    if not unchanged:
        raise CheckFailed("the supernet was modified: slice copies of its weights into a new model")
    kept = [tuple(g) for g in arch if tuple(g) != (0, 0)]
    expect_equal(heads, [h for h, _ in kept], what="sub-network cfg.heads_per_layer")
    expect_equal(ffn, [f for _, f in kept], what="sub-network cfg.ffn_per_layer")
    hidden, d = 24, 6
    per_layer = sum(3 * (hidden * h * d + h * d) + h * d * hidden + hidden + 2 * hidden * f + f + hidden + 4 * hidden
                    for h, f in kept)
    other = sum(p.numel() for n, p in model.named_parameters() if ".layers." not in n)
    expect_equal(n_params, other + per_layer, what="number of parameters of the sub-network (a physically smaller model)")
    expect_tensor(logits, _reference(model, arch, ids, mask), atol=1e-5, rtol=1e-4,
                  what=f"logits of the sub-network {arch} (vs the supernet with the other layers / heads / neurons removed)")


SLICE = Exercise(
    id="ch05.ex2",
    func="slice_subnet",
    reference=slice_subnet_reference,
    title="Slice a sub-network out of the supernet as a real, smaller Classifier",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("random architectures of a random 4-layer supernet", _slice_args, _verify_slice, seeds=(0, 1),
             run=_run_slice),
        Case("random architectures of a random 4-layer supernet", _slice_args, _verify_slice, seeds=tuple(range(2, 8)),
             hidden=True, run=_run_slice),
        Case("the full architecture, only the last layer, one head and one neuron, non-contiguous layers",
             _slice_edge, _verify_slice, seeds=(0, 1, 2, 3), hidden=True, run=_run_slice),
    ),
)


# --- ch05.ex3: the per-layer latency term ------------------------------------------------------
def _layer_args(seed: int) -> tuple:
    """Synthetic additive latency: base + sum(attn[h] + ffn[f]) + c * layers + noise; the table lacks c."""
    g = torch.Generator().manual_seed(700 + seed)
    heads, widths = (3, 6, 9, 12), (384, 768, 1152, 1536)
    attn = {h: float(2 + 1.5 * h / 3 + torch.rand(1, generator=g)) for h in heads}
    ffn = {f: float(3 + 4 * f / 384 + torch.rand(1, generator=g)) for f in widths}
    base, c = float(5 + 5 * torch.rand(1, generator=g)), float(1 + 6 * torch.rand(1, generator=g))
    noise = [0.5, 1.0, 2.0, 0.0, 3.0, 1.5, 0.2, 1.0][seed % 8]
    n_arch = int(torch.randint(5, 30, (1,), generator=g))
    predicted, measured, layers = [], [], []
    for _ in range(n_arch):
        n = int(torch.randint(1, 7, (1,), generator=g))
        hs = torch.randint(0, 4, (n,), generator=g).tolist()
        fs = torch.randint(0, 4, (n,), generator=g).tolist()
        p = base + sum(attn[heads[i]] + ffn[widths[j]] for i, j in zip(hs, fs))
        predicted.append(p)
        measured.append(p + c * n + noise * float(torch.randn(1, generator=g)))
        layers.append(n)
    return predicted, measured, layers


def _layer_edge(seed: int) -> tuple:
    return [([10.0, 20.0], [13.0, 26.0], [1, 2]),            # exactly 3 per layer
            ([10.0, 20.0, 30.0], [10.0, 20.0, 30.0], [1, 3, 6]),   # the table misses nothing: 0
            ([50.0], [47.0], [5]),                            # one architecture, negative cost
            ([10.0, 10.0, 10.0], [12.0, 14.0, 30.0], [1, 1, 6])][seed]


def _verify_layer(args: tuple, got: object) -> None:
    predicted, measured, layers = args
    r = torch.tensor(measured, dtype=torch.float64) - torch.tensor(predicted, dtype=torch.float64)
    n = torch.tensor(layers, dtype=torch.float64)[:, None]
    expected = float(torch.linalg.lstsq(n, r[:, None]).solution[0, 0])
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    expect_close(got, expected, atol=1e-6, rtol=1e-6,
                 what="least-squares per-layer cost c minimising sum_i (measured_i - predicted_i - c * layers_i)^2")


# --- ch05.ex3: the course's reference implementation (the notebook's fallback) ---
def fit_layer_cost_reference(predicted, measured, layers):
    n = torch.tensor(layers, dtype=torch.float64)
    r = torch.tensor(measured, dtype=torch.float64) - torch.tensor(predicted, dtype=torch.float64)
    return float(n @ r / (n @ n))


LAYER_COST = Exercise(
    id="ch05.ex3",
    func="fit_layer_cost",
    reference=fit_layer_cost_reference,
    title="Find the per-layer cost the block table misses, from the residuals",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("synthetic additive latencies with a hidden per-layer cost and noise", _layer_args, _verify_layer,
             seeds=(0, 1, 2)),
        Case("synthetic additive latencies with a hidden per-layer cost and noise", _layer_args, _verify_layer,
             seeds=tuple(range(3, 10)), hidden=True),
        Case("exact, zero, negative and unbalanced costs", _layer_edge, _verify_layer, seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('mean of per-architecture ratios residual / layers', '''
def fit_layer_cost(predicted, measured, layers):
    return sum((m - p) / n for p, m, n in zip(predicted, measured, layers)) / len(layers)
'''),
    ),
)

EXERCISES = (COUNT, SLICE, LAYER_COST)
