"""Chapter 2 exercises: unstructured pruning (masks, global thresholds, the source articles' bugs fixed).

Checks are property- or reference-based: counts and orderings of pruned magnitudes, agreement
with `torch.nn.utils.prune` where its answer is unique (no ties), and reference formulas.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from utils.exercises.plans import check_plan_form, kl_to, teacher_and_data, teacher_case, teacher_test_accuracy
from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close, expect_tensor

NOTEBOOK = "02-pruning/01-unstructured.ipynb"


def _expect_bool_mask(got: object, shape: tuple, what: str) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what}: expected a torch.Tensor, got a value of type {type(got).__name__}")
    if tuple(got.shape) != tuple(shape):
        raise CheckFailed(f"{what}: expected shape {tuple(shape)} (same as the weight), got {tuple(got.shape)}")
    if got.dtype != torch.bool:
        raise CheckFailed(f"{what}: expected dtype torch.bool (True = keep), got {got.dtype}")
    return got


def _expect_order(weights: list[torch.Tensor], masks: list[torch.Tensor], what: str) -> None:
    kept = torch.cat([w.abs()[m] for w, m in zip(weights, masks)])
    pruned = torch.cat([w.abs()[~m] for w, m in zip(weights, masks)])
    if kept.numel() and pruned.numel() and pruned.max() > kept.min():
        raise CheckFailed(f"{what}: a pruned weight (|w| = {pruned.max().item():.4g}) is larger than a kept one "
                          f"(|w| = {kept.min().item():.4g}); prune the smallest magnitudes")


# --- ch02.ex1: magnitude mask at a target sparsity ----------------------------------------------
def _mask_random(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    ndim = int(torch.randint(1, 4, (1,), generator=g))
    shape = tuple(int(s) for s in torch.randint(1, 12, (ndim,), generator=g))
    sparsity = round(float(torch.rand(1, generator=g)), 2)
    return torch.randn(shape, generator=g), sparsity


def _mask_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(50 + seed)
    return [
        (torch.randn(7, 5, generator=g), 0.0),                          # nothing pruned
        (torch.randn(3, 3, generator=g), 1.0),                          # everything pruned
        (torch.full((4, 6), 0.5), 0.5),                                 # all equal: any 12 entries
        (torch.randint(-3, 4, (9, 7), generator=g).float(), 0.4),       # many ties at the threshold
        (torch.randn(13, generator=g) * 1e-3, 0.33),                     # odd size, tiny values
        (-torch.rand(5, 4, generator=g), 0.75),                         # all negative
    ][seed]


def _verify_mask(args: tuple, got: object) -> None:
    weight, sparsity = args
    mask = _expect_bool_mask(got, weight.shape, "mask")
    expected = round(sparsity * weight.numel())
    if int((~mask).sum()) != expected:
        raise CheckFailed(f"sparsity {sparsity} of {weight.numel()} weights: expected {expected} pruned (False) "
                          f"entries, got {int((~mask).sum())}")
    _expect_order([weight], [mask], "mask")
    if weight.abs().unique().numel() == weight.numel():  # no ties: the answer is unique, compare with PyTorch
        module = nn.Module()
        module.weight = nn.Parameter(weight.clone())
        prune.l1_unstructured(module, "weight", amount=expected)
        expect_tensor(mask, module.weight_mask.bool(), what="mask vs torch.nn.utils.prune.l1_unstructured")


# --- ch02.ex1: the course's reference implementation (the notebook's fallback) ---
def magnitude_mask_reference(weight, sparsity):
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    keep[weight.detach().abs().flatten().argsort(stable=True)[:round(sparsity * weight.numel())]] = False
    return keep.view(weight.shape)


MASK = Exercise(
    id="ch02.ex1",
    func="magnitude_mask",
    reference=magnitude_mask_reference,
    title="Magnitude mask at a target sparsity",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("torch.nn.utils.prune", "prune.l1_unstructured"),
    cases=(
        Case("random shapes and sparsities", _mask_random, _verify_mask, seeds=(0, 1, 2)),
        Case("random shapes and sparsities", _mask_random, _verify_mask, seeds=tuple(range(3, 11)), hidden=True),
        Case("0%, 100%, all equal, ties, odd size, all negative", _mask_edge, _verify_mask,
             seeds=tuple(range(6)), hidden=True),
    ),
    mistakes=(
        Mistake('signed values instead of magnitudes', '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.flatten().argsort()[:k]] = False
    return mask.view(weight.shape)
'''),
        Mistake("inverted: keeps the small weights (the articles' mask = |z| <= tau)", '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.abs().flatten().argsort(descending=True)[:k]] = False
    return mask.view(weight.shape)
'''),
    ),
)


# --- ch02.ex5: one global threshold across tensors ---------------------------------------------
def _global_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(300 + seed)
    n = int(torch.randint(2, 5, (1,), generator=g))
    weights = {}
    for i in range(n):
        shape = tuple(int(s) for s in torch.randint(1, 10, (2,), generator=g))
        scale = 10 ** float(torch.rand(1, generator=g) * 2 - 1)  # layers on different scales
        weights[f"layer{i}.weight"] = torch.randn(shape, generator=g) * scale
    return weights, round(float(torch.rand(1, generator=g)) * 0.9 + 0.05, 2)


def _global_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(400 + seed)
    return [
        ({"a": torch.randn(4, 4, generator=g), "b": 100 * torch.randn(4, 4, generator=g)}, 0.5),
        ({"a": torch.randn(3, 5, generator=g), "b": torch.randn(2, 2, generator=g)}, 0.0),
        ({"a": torch.randn(3, 5, generator=g), "b": torch.randn(2, 2, generator=g)}, 1.0),
        ({"a": torch.ones(3, 3), "b": torch.ones(2, 5)}, 0.5),  # all tied
    ][seed]


def _verify_global(args: tuple, got: object) -> None:
    weights, sparsity = args
    if not isinstance(got, dict) or set(got) != set(weights):
        raise CheckFailed(f"expected a dict with keys {sorted(weights)}, got "
                          f"{sorted(got) if isinstance(got, dict) else type(got).__name__}")
    masks = [_expect_bool_mask(got[k], w.shape, f"mask[{k!r}]") for k, w in weights.items()]
    total = sum(w.numel() for w in weights.values())
    expected = round(sparsity * total)
    pruned = sum(int((~m).sum()) for m in masks)
    if pruned != expected:
        raise CheckFailed(f"sparsity {sparsity} of {total} weights in all: expected {expected} pruned entries "
                          f"in total, got {pruned}")
    _expect_order(list(weights.values()), masks, "global masks (one threshold for all tensors)")


# --- ch02.ex5: the course's reference implementation (the notebook's fallback) ---
def global_magnitude_masks_reference(weights, sparsity):
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort(stable=True)[:round(sparsity * flat.numel())]] = False
    sizes = [w.numel() for w in weights.values()]
    return {name: part.view(w.shape) for (name, w), part in zip(weights.items(), keep.split(sizes))}


GLOBAL = Exercise(
    id="ch02.ex5",
    func="global_magnitude_masks",
    reference=global_magnitude_masks_reference,
    title="Global magnitude masks: one threshold across all layers",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("torch.nn.utils.prune", "prune.global_unstructured"),
    cases=(
        Case("layers on different scales", _global_args, _verify_global, seeds=(0, 1)),
        Case("layers on different scales", _global_args, _verify_global, seeds=tuple(range(2, 8)), hidden=True),
        Case("100x scale gap, 0%, 100%, all tied", _global_edge, _verify_global, seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('layer-wise: the same sparsity in every tensor', '''
def global_magnitude_masks(weights, sparsity):
    out = {}
    for name, w in weights.items():
        k = round(sparsity * w.numel())
        m = torch.ones(w.numel(), dtype=torch.bool)
        m[w.abs().flatten().argsort()[:k]] = False
        out[name] = m.view(w.shape)
    return out
'''),
    ),
)


# --- ch02.ex2: the articles' "weight clipping", fixed ------------------------------------------
def _clip_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(500 + seed)
    shape = tuple(int(s) for s in torch.randint(2, 20, (2,), generator=g))
    offset = float(torch.randn(1, generator=g))  # nonzero mean: standardizing is not plain magnitude
    scale = 10 ** float(torch.rand(1, generator=g) * 2 - 1)
    tau = round(float(torch.rand(1, generator=g)) * 1.5 + 0.1, 2)
    return torch.randn(shape, generator=g) * scale + offset, tau


def _clip_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(600 + seed)
    return [(torch.randn(1, 11, generator=g) * 0.02 + 0.5, 0.5), (torch.randn(6, 3, generator=g), 0.0),
            (torch.randn(5, 5, generator=g) + 3.0, 5.0)][seed]


def _verify_clip(args: tuple, got: object) -> None:
    weight, tau = args
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(weight.shape):
        raise CheckFailed(f"expected a tensor of shape {tuple(weight.shape)}, got "
                          f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    z = ((weight.double() - weight.double().mean()) / weight.double().std()).abs()
    must_keep, must_drop = z > tau + 1e-6, z < tau - 1e-6  # entries within 1e-6 of tau may go either way
    expected = torch.where(must_keep, weight, torch.zeros_like(weight))
    settled = must_keep | must_drop
    expect_tensor(torch.where(settled, got, expected), expected, atol=0, rtol=0,
                  what=f"pruned weights (keep the ORIGINAL w where |z| > {tau})")


# --- ch02.ex2: the course's reference implementation (the notebook's fallback) ---
def standardized_prune_reference(weight, tau):
    z = (weight - weight.mean()) / weight.std()
    return torch.where(z.abs() > tau, weight, torch.zeros_like(weight))


CLIP = Exercise(
    id="ch02.ex2",
    func="standardized_prune",
    reference=standardized_prune_reference,
    title="Fix the articles' weight clipping: standardize, keep |z| > tau, return the original weights",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random weights with a nonzero mean", _clip_args, _verify_clip, seeds=(0, 1, 2)),
        Case("random weights with a nonzero mean", _clip_args, _verify_clip, seeds=tuple(range(3, 9)), hidden=True),
        Case("one row, tau = 0, nothing survives", _clip_edge, _verify_clip, seeds=(0, 1, 2), hidden=True),
    ),
    mistakes=(
        Mistake("the articles' output: returns the standardized weights", '''
def standardized_prune(weight, tau):
    z = (weight - weight.mean()) / weight.std()
    return z * (z.abs() > tau)
'''),
        Mistake('no standardization: plain |w| > tau', '''
def standardized_prune(weight, tau):
    return weight * (weight.abs() > tau)
'''),
    ),
)


# --- ch02.ex3: drop whole input columns by L2 norm, positions kept -----------------------------
def _col_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(700 + seed)
    rows, cols = (int(s) for s in torch.randint(2, 16, (2,), generator=g))
    scales = torch.rand(cols, generator=g) * 2  # columns of different importance
    return torch.randn(rows, cols, generator=g) * scales, round(float(torch.rand(1, generator=g)) * 0.9, 2)


def _col_args_spiky(seed: int) -> tuple:
    """Columns that are either spread (r entries of size a: L1 = r a, L2 = sqrt(r) a) or spiky (one entry b):
    with sqrt(r) a < b < r a the L1 and the L2 orders disagree, so an L1 ranking prunes other columns."""
    g = torch.Generator().manual_seed(750 + seed)
    rows, cols = 4 + int(torch.randint(0, 8, (1,), generator=g)), 6 + int(torch.randint(0, 8, (1,), generator=g))
    weight = torch.zeros(rows, cols)
    for j in range(cols):
        a = 0.5 + float(torch.rand(1, generator=g))
        sign = torch.where(torch.rand(rows, generator=g) < 0.5, -1.0, 1.0)
        if j % 2:
            weight[:, j] = sign * a * (1 + 0.01 * torch.rand(rows, generator=g))
        else:
            b = a * (rows ** 0.5 + (rows - rows ** 0.5) * (0.2 + 0.6 * float(torch.rand(1, generator=g))))
            weight[int(torch.randint(0, rows, (1,), generator=g)), j] = b
    perm = torch.randperm(cols, generator=g)
    return weight[:, perm], 0.5


def _col_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(800 + seed)
    return [(torch.randn(4, 9, generator=g), 0.0), (torch.randn(3, 5, generator=g), 1.0),
            (torch.randn(1, 7, generator=g), 0.5), (torch.randn(8, 1, generator=g), 0.6)][seed]


def _verify_cols(args: tuple, got: object) -> None:
    weight, fraction = args
    norms = weight.norm(dim=0)
    k = round(fraction * weight.shape[1])
    keep = torch.ones(weight.shape[1], dtype=torch.bool)
    keep[norms.argsort()[:k]] = False
    expect_tensor(got, weight * keep, atol=0, rtol=0,
                  what=f"weight with its {k} lowest-L2-norm columns zeroed (same shape, same positions)")


COLUMNS = Exercise(
    id="ch02.ex3",
    func="prune_columns",
    title="Fix the articles' sort-and-slice: zero the lowest-norm columns in place of slicing a sorted matrix",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random matrices", _col_args, _verify_cols, seeds=(0, 1, 2)),
        Case("random matrices", _col_args, _verify_cols, seeds=(3, 4, 5), hidden=True),
        Case("spread and spiky columns (L1 and L2 disagree)", _col_args_spiky, _verify_cols, seeds=(0, 1, 2),
             hidden=True),
        Case("0%, 100%, one row, one column", _col_edge, _verify_cols, seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('ranks columns by their L1 norm instead of L2', '''
def prune_columns(weight, fraction):
    k = round(fraction * weight.shape[1])
    keep = torch.ones(weight.shape[1], dtype=torch.bool)
    keep[weight.abs().sum(dim=0).argsort()[:k]] = False
    return weight * keep
'''),
        Mistake('drops the largest columns', '''
def prune_columns(weight, fraction):
    k = round(fraction * weight.shape[1])
    keep = torch.ones(weight.shape[1], dtype=torch.bool)
    keep[weight.norm(dim=0).argsort(descending=True)[:k]] = False
    return weight * keep
'''),
    ),
)


# --- ch02.ex4: threshold pruning of a model, in place ------------------------------------------
def _model_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(900 + seed)
    d_in, d_hidden, d_out = (int(x) for x in torch.randint(2, 9, (3,), generator=g))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.LayerNorm(d_hidden), nn.Linear(d_hidden, d_out))
    with torch.no_grad():
        model[1].weight.uniform_(0.0, 0.4)  # a LayerNorm gain below the threshold: must stay (not a matrix)
    return model, round(float(torch.rand(1, generator=g)) * 0.3 + 0.05, 2)


def _run_in_place(fn, args: tuple) -> dict:
    fn(*args)
    return {k: v.detach().clone() for k, v in args[0].state_dict().items()}


def _verify_threshold(args: tuple, state: object) -> None:
    model, threshold = args
    if not isinstance(state, dict):
        raise CheckFailed(f"expected the model's state_dict, got {type(state).__name__}")
    for name, before in model.state_dict().items():  # `model` here is a fresh copy, built from the same seed
        if before.dim() >= 2:
            expected, what = before * (before.abs() >= threshold), f"model.{name} (|w| < {threshold} set to 0)"
        else:
            expected, what = before, f"model.{name} (a bias or LayerNorm vector: must be unchanged)"
        if before.dim() >= 2 and torch.equal(state[name], before) and not torch.equal(expected, before):
            raise CheckFailed(f"{what}: unchanged; modify the parameter itself in place, e.g. p.mul_(mask) under "
                              "torch.no_grad() (p.data.abs() is a new tensor; `p = p * mask` only rebinds a name)")
        expect_tensor(state[name], expected, atol=0, rtol=0, what=what)


THRESHOLD = Exercise(
    id="ch02.ex4",
    func="threshold_prune_",
    in_place=True,
    title="Fix the articles' clamp: zero small weights of every weight matrix, in place",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("Linear-LayerNorm-Linear", _model_args, _verify_threshold, seeds=(0, 1), run=_run_in_place),
        Case("Linear-LayerNorm-Linear, other sizes", _model_args, _verify_threshold, seeds=(2, 3, 4, 5),
             hidden=True, run=_run_in_place),
    ),
    mistakes=(
        Mistake('also prunes biases and LayerNorm gains', '''
def threshold_prune_(model, threshold):
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(p.abs() >= threshold)
'''),
    ),
)


# --- ch02.ex6: per-matrix sparsities from a sensitivity scan (numeric bar on the real teacher) ----------
#: The real-teacher case: the encoder sparsity to reach, and the test accuracy to keep, without fine-tuning.
TEACHER_TARGET, TEACHER_BAR = 0.70, 0.67
#: A synthetic plan passes if its KL to the dense model on held-out inputs is at most this fraction of the
#: KL of uniform pruning (every matrix at the target), what a plan without a scan gives.
SYNTHETIC_RATIO = 0.6


def _plan_sparsity(plan: object, names: list[str], sizes: dict[str, int], target: float) -> float:
    """Check a plan's form and target; the fraction of the named weights it prunes."""
    check_plan_form(plan, names, "sparsity", lambda s: isinstance(s, (int, float)) and 0 <= s <= 1,
                    "a number in [0, 1] (a Python float)")
    total = sum(sizes[n] for n in names)
    count = sum(round(plan[n] * sizes[n]) for n in names)    # what ch02.ex1's mask prunes
    if count < target * total - len(names):                   # one weight per matrix of slack for float rounding
        raise CheckFailed(f"the plan prunes {count / total:.2%} of the weights, below the target {target:.0%} "
                          "(each matrix counts in proportion to its number of weights)")
    return count / total


@torch.no_grad()
def _pruned_copy(model: nn.Module, plan: dict[str, float]) -> nn.Module:
    """A copy of the model with each planned matrix pruned by ch02.ex1's reference magnitude mask."""
    pruned = copy.deepcopy(model)
    params = dict(pruned.named_parameters())
    for name, s in plan.items():
        params[name].mul_(magnitude_mask_reference(params[name], s))
    return pruned


def _synthetic_plan_case(seed: int) -> tuple:
    """A 5-layer tanh MLP: two of its three middle layers have 92% tiny weights (pruning them to 90% costs
    almost nothing), the third is a quiet layer (small weights, the next layer scaled up to compensate)."""
    g = torch.Generator().manual_seed(2600 + seed)
    widths = [24, 192, 192, 192, 192, 8]
    order = [1 + int(i) for i in torch.randperm(3, generator=g)]
    free, quiet = set(order[:2]), order[2]
    layers: list[nn.Module] = []
    for i, (fi, fo) in enumerate(zip(widths, widths[1:])):
        w = torch.randn(fo, fi, generator=g)
        if i in free:
            w = torch.where(torch.rand(fo, fi, generator=g) < 0.92, 0.01 * w, 3.5 * w)
        w = w * (0.25 if i == quiet else 4.0 if i == quiet + 1 else 1.0)
        lin = nn.Linear(fi, fo)
        lin.weight.data = w / math.sqrt(fi)
        lin.bias.data = 0.1 * torch.randn(fo, generator=g)
        layers += [lin, nn.Tanh()] if i < len(widths) - 2 else [lin]
    model = nn.Sequential(*layers).eval()
    names = [n for n, _ in model.named_parameters() if n.endswith("weight")]
    batches = [(torch.randn(64, widths[0], generator=g) * 1.5,) for _ in range(4)]
    return model, batches, names, (0.70, 0.65, 0.72)[seed % 3]


def _verify_synthetic_plan(args: tuple, plan: object) -> None:
    model, _, names, target = args
    sizes = {n: model.get_parameter(n).numel() for n in names}
    _plan_sparsity(plan, names, sizes, target)
    held_out = torch.randn(2048, 24, generator=torch.Generator().manual_seed(99)) * 1.5
    got = kl_to(model, _pruned_copy(model, plan), held_out)
    bar = SYNTHETIC_RATIO * kl_to(model, _pruned_copy(model, {n: target for n in names}), held_out)
    if not got <= bar:
        most = max(names, key=lambda n: plan[n])
        raise CheckFailed(f"KL to the dense model on held-out inputs {got:.4f}, above the bar {bar:.4f} "
                          f"({SYNTHETIC_RATIO:g}x that of every matrix at {target:.0%}); you pruned {most!r} most "
                          f"({plan[most]:.0%}): is it the matrix whose KL rose least per removed weight in your scan?")


def teacher_matrices(model: nn.Module) -> list[str]:
    """The 36 encoder matrices a plan covers (``utils.pruning.prunable_weights``: embeddings and head stay dense)."""
    from utils.pruning import prunable_weights

    return list(prunable_weights(model))


def _real_teacher_plan(seed: int) -> tuple:
    return teacher_case(teacher_matrices, TEACHER_TARGET)


def _verify_teacher_plan(args: tuple, plan: object) -> None:
    teacher = teacher_and_data()[0]
    names = teacher_matrices(teacher)
    pruned = _plan_sparsity(plan, names, {n: teacher.get_parameter(n).numel() for n in names}, TEACHER_TARGET)
    acc, n = teacher_test_accuracy(_pruned_copy(teacher, plan))
    if acc < TEACHER_BAR:
        raise CheckFailed(f"your plan ({pruned:.1%} of the encoder's weights pruned) gives {acc:.1%} on the "
                          f"{n:,} test tweets; the bar is {TEACHER_BAR:.0%} (every matrix at 70% gives 61%, "
                          f"one global threshold 64%, the dense teacher 81%)")


# --- ch02.ex6: the course's reference implementation (the notebook's fallback) ---
@torch.no_grad()
def sparsity_plan_reference(model, batches, names, target):
    if not 0 <= target <= 1:
        raise ValueError(f"target: expected a fraction in [0, 1], got {target}")
    lo, hi = max(0.0, round(target - 0.2, 6)), 0.9
    if target >= hi:
        return {n: target for n in names}
    params = dict(model.named_parameters())
    original = {n: params[n].detach().clone() for n in names}
    sizes = {n: original[n].numel() for n in names}
    ref = [F.log_softmax(model(*x), -1) for x in batches]

    def kl() -> float:
        return sum(F.kl_div(F.log_softmax(model(*x), -1), r, log_target=True, reduction="sum").item()
                   for x, r in zip(batches, ref))

    def prune_(n: str, s: float) -> None:
        params[n].copy_(original[n] * magnitude_mask_reference(original[n], s))

    try:
        for n in names:
            prune_(n, lo)
        base, cost = kl(), {}
        for n in names:                       # one matrix at `hi`, the others at `lo`
            prune_(n, hi)
            cost[n] = (kl() - base) / (sizes[n] * (hi - lo))
            prune_(n, lo)
    finally:
        for n in names:
            params[n].copy_(original[n])
    plan, total = {n: lo for n in names}, sum(sizes.values())
    for n in sorted(names, key=lambda n: cost[n]):  # cheapest KL per removed weight first, until the target holds
        if sum(sizes[m] * plan[m] for m in names) >= target * total:
            break
        plan[n] = hi
    return plan


PLAN = Exercise(
    id="ch02.ex6",
    func="sparsity_plan",
    reference=sparsity_plan_reference,
    title="Sparsity per matrix from a sensitivity scan (>= 67% at >= 70% sparsity on the teacher, no fine-tuning)",
    points=3,
    notebook=NOTEBOOK,
    timeout=300.0,
    cases=(
        Case("synthetic MLP, two layers lose almost nothing at 90%", _synthetic_plan_case, _verify_synthetic_plan,
             seeds=(0, 1)),
        Case("synthetic MLP, other layers and targets", _synthetic_plan_case, _verify_synthetic_plan,
             seeds=(2, 3, 4, 5), hidden=True),
        Case("the real teacher, 70% sparsity, 2,000 test tweets", _real_teacher_plan, _verify_teacher_plan,
             hidden=True),
    ),
    mistakes=(
        Mistake("the same sparsity for every matrix: no scan", """
def sparsity_plan(model, batches, names, target):
    return {n: target for n in names}
"""),
    ),
)


# --- ch02.ex7: the cubic sparsity schedule ------------------------------------------------------
def _cubic_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1000 + seed)
    total = int(torch.randint(1, 500, (1,), generator=g))
    step = int(torch.randint(0, total + 50, (1,), generator=g))  # sometimes past the end
    final = round(float(torch.rand(1, generator=g)), 3)
    initial = round(float(torch.rand(1, generator=g)) * final, 3)
    return step, total, final, initial


def _cubic_edge(seed: int) -> tuple:
    return [(0, 100, 0.9, 0.0), (100, 100, 0.9, 0.0), (50, 100, 0.8, 0.0), (250, 100, 0.5, 0.1), (3, 1, 0.7, 0.2)][seed]


def _verify_cubic(args: tuple, got: object) -> None:
    step, total, final, initial = args
    t = min(max(step, 0), total) / total
    expect_close(got, final + (initial - final) * (1 - t) ** 3, atol=1e-9, what=f"sparsity at step {step} of {total}")


# --- ch02.ex7: the course's reference implementation (the notebook's fallback) ---
def cubic_sparsity_reference(step, total_steps, final, initial=0.0):
    t = min(max(step, 0), total_steps) / total_steps
    return final + (initial - final) * (1 - t) ** 3


CUBIC = Exercise(
    id="ch02.ex7",
    func="cubic_sparsity",
    reference=cubic_sparsity_reference,
    title="The cubic sparsity schedule of Zhu & Gupta (2017)",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("random steps and targets", _cubic_args, _verify_cubic, seeds=(0, 1, 2)),
        Case("random steps and targets", _cubic_args, _verify_cubic, seeds=tuple(range(3, 10)), hidden=True),
        Case("start, end, middle, past the end", _cubic_edge, _verify_cubic, seeds=(0, 1, 2, 3, 4), hidden=True),
    ),
    mistakes=(
        Mistake('linear schedule', '''
def cubic_sparsity(step, total_steps, final, initial=0.0):
    t = min(step, total_steps) / total_steps
    return initial + (final - initial) * t
'''),
        Mistake('cubic in t, not in 1 - t (slow start)', '''
def cubic_sparsity(step, total_steps, final, initial=0.0):
    t = min(step, total_steps) / total_steps
    return initial + (final - initial) * t ** 3
'''),
    ),
)

EXERCISES = (MASK, CLIP, COLUMNS, THRESHOLD, GLOBAL, PLAN, CUBIC)
