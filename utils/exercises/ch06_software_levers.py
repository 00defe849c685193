"""Chapter 6.2 exercises: software levers (length buckets, SDPA with padding, the articles' two
"acceleration" bugs, choosing a configuration from a measured table).

References are independent of any solution: per-sequence forwards without padding, attention written
out in float64, a reference training step with autograd, an eval-mode forward, and a brute-force
search of the table.
"""
from __future__ import annotations

import copy
import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_equal, expect_tensor

NOTEBOOK = "06-acceleration/02-software-levers.ipynb"


# --- ch06.ex4: length buckets, order restored -----------------------------------------------------
def _bucket_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(900 + seed)
    rng = random.Random(900 + seed)
    n = rng.choice([5, 13, 29, 40, 64])
    batch = rng.choice([2, 4, 8, 16])
    lengths = [rng.choice([rng.randint(2, 8), rng.randint(9, 40)]) for _ in range(n)]
    seqs = [[int(t) for t in torch.randint(1, 50, (L,), generator=g)] for L in lengths]
    table = torch.randn(50, 3, generator=g)
    return seqs, batch, 0, table


def _bucket_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(950 + seed)
    table = torch.randn(50, 3, generator=g)
    return [([[5, 6, 7]], 4, 0, table),                                 # one sequence
            ([[1] * 4, [2] * 4, [3] * 4], 2, 0, table),               # equal lengths: any order, same slots
            ([[9] * L for L in (30, 1, 1, 30, 1, 1, 30)], 3, 0, table)][seed]


def _pooled(ids: torch.Tensor, mask: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """A padding-invariant toy model: mean of the real tokens' rows of `table`."""
    m = mask.to(table.dtype).unsqueeze(-1)
    return (table[ids] * m).sum(1) / m.sum(1).clamp_min(1.0)


def _run_bucket(fn, args: tuple) -> tuple:
    seqs, batch, pad_id, table = args
    calls: list[tuple[int, int]] = []

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise TypeError("forward expects input_ids as a 2-D torch.long tensor")
        if not isinstance(mask, torch.Tensor) or mask.shape != ids.shape:
            raise TypeError("forward expects an attention mask of the same shape as input_ids")
        calls.append((int(ids.shape[0]), int(ids.shape[1])))
        return _pooled(ids, mask, table)

    out = fn(forward, [list(s) for s in seqs], batch, pad_id)
    return out, calls


def _slots(lengths: list[int], batch: int) -> int:
    return sum(len(c) * max(c) for c in (lengths[i:i + batch] for i in range(0, len(lengths), batch)))


def _verify_bucket(args: tuple, got: object) -> None:
    seqs, batch, pad_id, table = args
    out, calls = got
    expected = torch.cat([_pooled(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long), table) for s in seqs])
    expect_tensor(out, expected, atol=1e-5, rtol=1e-5,
                  what="outputs, one row per sequence in the ORIGINAL order (compared with each sequence run alone)")
    if any(b > batch for b, _ in calls):
        raise CheckFailed(f"forward was called with a batch of {max(b for b, _ in calls)} > batch_size {batch}")
    used = sum(b * n for b, n in calls)
    lengths = sorted(len(s) for s in seqs)
    best = {_slots(lengths, batch), _slots(lengths[::-1], batch)}
    if used not in best:
        raise CheckFailed(f"{used} padded token slots were computed; length-sorted batches of {batch} padded to "
                          f"their longest need {min(best)}" + (f" (or {max(best)} sorted longest first)"
                                                              if len(best) > 1 else ""))


BUCKETS = Exercise(
    id="ch06.ex4",
    func="bucketed_forward",
    title="Length-sorted buckets, padded to their longest, outputs in the original order",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("random lengths and batch sizes", _bucket_args, _verify_bucket, seeds=(0, 1, 2), run=_run_bucket),
        Case("random lengths and batch sizes", _bucket_args, _verify_bucket, seeds=tuple(range(3, 10)), hidden=True,
             run=_run_bucket),
        Case("one sequence, equal lengths, long and short mixed", _bucket_edge, _verify_bucket, seeds=(0, 1, 2),
             hidden=True, run=_run_bucket),
    ),
)


# --- ch06.ex5: SDPA with a padding mask ------------------------------------------------------------
def _sdpa_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1000 + seed)
    b, h, n, d = (int(x) for x in (torch.randint(1, 4, (1,), generator=g), torch.randint(1, 5, (1,), generator=g),
                                   torch.randint(2, 12, (1,), generator=g), torch.tensor(8 * (1 + seed % 3))))
    q, k, v = (torch.randn(b, h, n, d, generator=g) for _ in range(3))
    lengths = torch.randint(1, n + 1, (b,), generator=g)
    lengths[0] = n if seed % 2 else lengths[0]                 # sometimes a row without padding
    mask = (torch.arange(n)[None, :] < lengths[:, None]).long()
    return q, k, v, mask


def _sdpa_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1100 + seed)
    q, k, v = (torch.randn(2, 2, 5, 4, generator=g) for _ in range(3))
    masks = [torch.tensor([[1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]),   # one real token; no padding
             torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]])]
    return q * (10 if seed else 1), k, v, masks[seed]


def _verify_sdpa(args: tuple, got: object) -> None:
    q, k, v, mask = args
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
    expected = (scores.softmax(-1) @ v.double()).to(q.dtype)
    expect_tensor(got, expected, atol=1e-5, rtol=1e-4,
                  what="softmax(Q K^T / sqrt(d) with padded KEYS excluded) V, for every query (padded ones too)")


SDPA = Exercise(
    id="ch06.ex5",
    func="sdpa_attention",
    title="F.scaled_dot_product_attention with a padding mask, equal to the manual attention",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random shapes and padding", _sdpa_args, _verify_sdpa, seeds=(0, 1, 2)),
        Case("random shapes and padding", _sdpa_args, _verify_sdpa, seeds=tuple(range(3, 10)), hidden=True),
        Case("one real token, no padding, large scores", _sdpa_edge, _verify_sdpa, seeds=(0, 1), hidden=True),
    ),
    mistakes=(
        Mistake('inverted mask (True where padded)', '''
def sdpa_attention(q, k, v, attention_mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=(attention_mask == 0)[:, None, None, :])
'''),
        Mistake('masks padded queries instead of padded keys', '''
def sdpa_attention(q, k, v, attention_mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask.bool()[:, None, :, None])
'''),
    ),
)


# --- ch06.ex6: find the bug: the articles' "software acceleration" loop ----------------------------
def _tiny_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _step_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1200 + seed)
    n = int(torch.randint(2, 9, (1,), generator=g))
    return 1200 + seed, torch.randn(n, 5, generator=g) * 2, torch.randint(0, 3, (n,), generator=g)


def _setup_step(model_seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = _tiny_model(model_seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for p in model.parameters():                 # gradients left over from an earlier batch
        p.grad = torch.full_like(p, 3.0)
    return model, opt


def _run_step(fn, args: tuple) -> tuple:
    model_seed, x, y = args
    model, opt = _setup_step(model_seed)
    loss = fn(model, x.clone(), y.clone(), opt)
    if isinstance(loss, torch.Tensor):
        loss = loss.detach()
    return loss, torch.cat([p.detach().flatten() for p in model.parameters()])


def _verify_step(args: tuple, got: object) -> None:
    model_seed, x, y = args
    loss, params = got
    model, opt = _setup_step(model_seed)
    opt.zero_grad()
    ref_loss = F.cross_entropy(model(x), y)
    ref_loss.backward()
    opt.step()
    ref_params = torch.cat([p.detach().flatten() for p in model.parameters()])
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise CheckFailed(f"expected the loss as a one-element tensor, got {type(loss).__name__}")
    expect_tensor(loss.reshape(()).double(), ref_loss.detach().double(), atol=1e-5, rtol=1e-5,
                  what="returned loss (cross-entropy of the logits before the step)")
    expect_tensor(params, ref_params, atol=1e-5, rtol=1e-4,
                  what="parameters after one Adam step (the trained weights updated, not replaced)")


TRAIN_STEP = Exercise(
    id="ch06.ex6",
    func="fixed_train_step",
    in_place=True,  # one optimizer step changes the model: that is the task
    title="Find the bug: the articles' 'software acceleration' training step",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("a small classifier, one step", _step_args, _verify_step, seeds=(0, 1), run=_run_step),
        Case("a small classifier, one step", _step_args, _verify_step, seeds=tuple(range(2, 8)), hidden=True,
             run=_run_step),
    ),
    mistakes=(
        Mistake("no zero_grad: last batch's gradients are added", '''
def fixed_train_step(model, inputs, labels, optimizer):
    loss = F.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
'''),
    ),
)


# --- ch06.ex7: find the bug: "hardware acceleration" that trains ---------------------------------
class _DropNet(nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _predict_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1300 + seed)
    sizes = [int(s) for s in torch.randint(1, 6, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g)]
    return 1300 + seed, [torch.randn(s, 6, generator=g) for s in sizes], bool(seed % 2 == 0)


def _run_predict(fn, args: tuple) -> tuple:
    seed, xs, training = args
    model = _DropNet(seed).train(training)
    before = copy.deepcopy(model.state_dict())
    torch.manual_seed(0)
    out = fn(model, [x.clone() for x in xs])
    needs_grad = bool(isinstance(out, torch.Tensor) and out.requires_grad)
    unchanged = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    return out, needs_grad, unchanged, model.training


def _verify_predict(args: tuple, got: object) -> None:
    seed, xs, training = args
    out, needs_grad, unchanged, mode_after = got
    model = _DropNet(seed).eval()
    with torch.no_grad():
        expected = torch.cat([model(x) for x in xs])
    expect_tensor(out, expected, atol=1e-6, rtol=1e-5, what="logits of every batch, concatenated (dropout off)")
    if needs_grad:
        raise CheckFailed("the logits carry an autograd graph: run inference under torch.inference_mode() or no_grad()")
    if not unchanged:
        raise CheckFailed("the model's weights changed: inference must not train (the articles call model.fit)")
    expect_equal(mode_after, training, what="model.training after the call (restore the mode it came in with)")


FAST_PREDICT = Exercise(
    id="ch06.ex7",
    func="fast_predict",
    title="Find the bug: 'hardware acceleration' that trains the model",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("a small model with dropout, a few batches", _predict_args, _verify_predict, seeds=(0, 1),
             run=_run_predict),
        Case("a small model with dropout, a few batches", _predict_args, _verify_predict, seeds=tuple(range(2, 8)),
             hidden=True, run=_run_predict),
    ),
)


# --- ch06.ex8: choose a configuration from a measured table ---------------------------------------
def _choose_args(seed: int) -> tuple:
    rng = random.Random(1400 + seed)
    names = ["fp32 eager", "sdpa", "bf16 weights", "bf16 autocast", "dynamic int8", "ort fp32", "ort int8",
             "jit", "compile"]
    rng.shuffle(names)
    n_eval = 2000
    table = {}
    for name in names[: rng.randint(3, len(names))]:
        table[name] = (round(rng.uniform(50, 400), 1), rng.randint(1560, 1660) / n_eval)
    baseline = next(iter(table))
    return table, baseline, rng.choice([0.0, 0.3, 0.5, 1.0, 2.0])


def _choose_edge(seed: int) -> tuple:
    return [({"base": (100.0, 0.81), "fast": (50.0, 0.805), "faster": (40.0, 0.8045)}, "base", 0.5),  # exactly at floor
            ({"base": (100.0, 0.81), "a": (60.0, 0.79), "b": (60.0, 0.80)}, "base", 5.0),   # tie: more accurate
            ({"base": (100.0, 0.81), "b": (60.0, 0.80), "a": (60.0, 0.80)}, "base", 5.0),   # full tie: by name
            ({"base": (100.0, 0.81), "slow": (120.0, 0.85), "bad": (10.0, 0.50)}, "base", 1.0)][seed]


def _verify_choose(args: tuple, got: object) -> None:
    table, baseline, drop = args
    floor = table[baseline][1] - drop / 100
    ok = [(lat, -acc, name) for name, (lat, acc) in table.items() if acc >= floor - 1e-9]
    expect_equal(got, min(ok)[2], what=f"fastest configuration within {drop:g} accuracy points of {baseline!r}")


CHOOSE = Exercise(
    id="ch06.ex8",
    func="choose_configuration",
    title="Choose a configuration from a measured table under an accuracy floor",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random tables and floors", _choose_args, _verify_choose, seeds=(0, 1, 2)),
        Case("random tables and floors", _choose_args, _verify_choose, seeds=tuple(range(3, 12)), hidden=True),
        Case("at the floor exactly, ties, nothing faster qualifies", _choose_edge, _verify_choose, seeds=(0, 1, 2, 3),
             hidden=True),
    ),
    mistakes=(
        Mistake('most accurate, not fastest', '''
def choose_configuration(table, baseline, max_drop_points):
    floor = table[baseline][1] - max_drop_points / 100
    ok = [(-acc, lat, name) for name, (lat, acc) in table.items() if acc >= floor - 1e-9]
    return min(ok)[2]
'''),
        Mistake('treats the drop in points as a fraction', '''
def choose_configuration(table, baseline, max_drop_points):
    floor = table[baseline][1] - max_drop_points
    ok = [(lat, -acc, name) for name, (lat, acc) in table.items() if acc >= floor - 1e-9]
    return min(ok)[2]
'''),
    ),
)

EXERCISES = (BUCKETS, SDPA, TRAIN_STEP, FAST_PREDICT, CHOOSE)
