"""Chapter 2, part 2 exercises: structured pruning (Taylor importance of neurons, removing heads, the articles' neuron selection fixed).

Checks compare with reference formulas (Taylor score) and with the unpruned layer run under a
head mask (head removal): a correct pruned layer computes exactly what the masked layer does.
"""
from __future__ import annotations

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_tensor
from utils.models import SelfAttention

NOTEBOOK = "02-pruning/02-structured.ipynb"


# --- ch02.ex8: first-order Taylor importance of FFN neurons -----------------------------------
def _taylor_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1100 + seed)
    lead = tuple(int(s) for s in torch.randint(1, 6, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g))
    units = int(torch.randint(1, 20, (1,), generator=g))
    acts = torch.randn(*lead, units, generator=g)
    grads = torch.randn(*lead, units, generator=g) * 0.1
    return acts, grads


def _taylor_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1200 + seed)
    a = torch.randn(4, 6, 5, generator=g)
    return [
        (a, -a),                                     # a * g < 0 everywhere: the score is still >= 0
        (a, torch.zeros_like(a)),                    # no gradient: every score 0
        (torch.ones(2, 3, 4), torch.tensor([1.0, -1.0]).repeat(3)[:3, None].expand(2, 3, 4).contiguous()),  # cancels
        (torch.randn(7, 1, generator=g), torch.randn(7, 1, generator=g)),  # a single unit
    ][seed]


def _reference_taylor(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    return (acts * grads).reshape(-1, acts.shape[-1]).sum(0).abs()


def _verify_taylor(args: tuple, got: object) -> None:
    acts, grads = args
    expect_tensor(got, _reference_taylor(acts, grads), atol=1e-5, rtol=1e-4,
                  what=f"importance of {acts.shape[-1]} units from activations of shape {tuple(acts.shape)}")


# --- ch02.ex8: the course's reference implementation (the notebook's fallback) ---
def taylor_importance_reference(acts, grads):
    if acts.shape != grads.shape:
        raise ValueError(f"acts and grads must have the same shape, got {tuple(acts.shape)} and {tuple(grads.shape)}")
    return torch.einsum("...u,...u->u", acts, grads).abs()


TAYLOR = Exercise(
    id="ch02.ex8",
    func="taylor_importance",
    reference=taylor_importance_reference,
    title="First-order Taylor importance of FFN neurons",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random shapes", _taylor_args, _verify_taylor, seeds=(0, 1)),
        Case("random shapes", _taylor_args, _verify_taylor, seeds=tuple(range(2, 8)), hidden=True),
        Case("negative products, zero gradient, cancelling signs, one unit", _taylor_edge, _verify_taylor,
             seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('no absolute value', '''
def taylor_importance(acts, grads):
    return (acts * grads).reshape(-1, acts.shape[-1]).sum(0)
'''),
        Mistake('mean instead of sum', '''
def taylor_importance(acts, grads):
    return (acts * grads).reshape(-1, acts.shape[-1]).mean(0).abs()
'''),
    ),
)


# --- ch02.ex9: remove attention heads physically -----------------------------------------------
def _heads_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1300 + seed)
    heads = int(torch.randint(2, 7, (1,), generator=g))
    head_dim = int(torch.randint(2, 6, (1,), generator=g))
    hidden = int(torch.randint(4, 17, (1,), generator=g))
    torch.manual_seed(1300 + seed)
    attn = SelfAttention(hidden, heads, head_dim, dropout=0.0).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0, 0.5, generator=g)  # nonzero biases: forgetting one shows
    n_keep = int(torch.randint(1, heads, (1,), generator=g))
    keep = torch.randperm(heads, generator=g)[:n_keep].tolist()  # any order
    return attn, keep


def _heads_edge(seed: int) -> tuple:
    attn, _ = _heads_args(20 + seed)
    return [
        (attn, list(range(attn.heads))),            # keep every head
        (attn, []),                                 # remove every head
        (attn, [attn.heads - 1]),                   # only the last
        (attn, list(reversed(range(attn.heads)))),  # every head, reversed order
    ][seed]


def _inputs(attn: SelfAttention, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 5, attn.o.out_features, generator=g)
    mask = torch.ones(2, 5)
    mask[1, 3:] = 0
    return x, (1.0 - mask[:, None, None, :]) * torch.finfo(x.dtype).min


def _run_heads(fn, args: tuple) -> dict:
    attn, keep = args
    before = {k: v.clone() for k, v in attn.state_dict().items()}
    new = fn(attn, list(keep))
    if not isinstance(new, torch.nn.Module):
        return {"error": f"expected an nn.Module (a SelfAttention), got {type(new).__name__}"}
    x, bias = _inputs(attn)
    with torch.no_grad():
        out = new.eval()(x, bias)
    changed = [k for k, v in attn.state_dict().items() if not torch.equal(v, before[k])]
    return {"out": out.detach().clone(), "heads": getattr(new, "heads", None), "same_object": new is attn,
            "n_params": sum(p.numel() for p in new.parameters()), "changed": changed}


def _verify_heads(args: tuple, got: object) -> None:
    attn, keep = args
    if not isinstance(got, dict):
        raise CheckFailed(f"expected a pruned SelfAttention, got {type(got).__name__}")
    if "error" in got:
        raise CheckFailed(got["error"])
    if got["same_object"] or got["changed"]:
        raise CheckFailed("the original layer was modified; build and return a new, smaller SelfAttention "
                          f"(changed: {', '.join(got['changed']) or 'returned the same object'})")
    if got["heads"] != len(keep):
        raise CheckFailed(f"keeping heads {keep} of {attn.heads}: expected .heads == {len(keep)}, got {got['heads']}")
    d, hidden = attn.head_dim, attn.o.out_features
    expected_params = 4 * (len(keep) * d * hidden) + 3 * len(keep) * d + hidden
    if got["n_params"] != expected_params:
        raise CheckFailed(f"keeping {len(keep)} heads of size {d} in a {hidden}-wide layer: expected "
                          f"{expected_params:,} parameters, got {got['n_params']:,}")
    head_mask = torch.zeros(attn.heads)
    head_mask[list(keep)] = 1.0
    x, bias = _inputs(attn)
    with torch.no_grad():
        expected = attn(x, bias, head_mask)
    expect_tensor(got["out"], expected, atol=1e-5, rtol=1e-4,
                  what=f"output of the layer keeping heads {keep} (vs the full layer with the other heads masked)")


# --- ch02.ex9: the course's reference implementation (the notebook's fallback) ---
def prune_heads_reference(attn, keep):
    d = attn.head_dim
    idx = torch.tensor([h * d + j for h in sorted(keep) for j in range(d)], dtype=torch.long)
    new = SelfAttention(attn.o.out_features, len(keep), d, attn.drop.p)
    with torch.no_grad():
        for part in ("q", "k", "v"):
            for tensor in ("weight", "bias"):
                getattr(getattr(new, part), tensor).copy_(getattr(getattr(attn, part), tensor).index_select(0, idx))
        new.o.weight.copy_(attn.o.weight.index_select(1, idx))
        new.o.bias.copy_(attn.o.bias)
    return new.train(attn.training)


HEADS = Exercise(
    id="ch02.ex9",
    func="prune_heads",
    reference=prune_heads_reference,
    title="Remove attention heads so that the smaller layer matches the masked one",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("random sizes, random heads kept", _heads_args, _verify_heads, seeds=(0, 1), run=_run_heads),
        Case("random sizes, random heads kept", _heads_args, _verify_heads, seeds=tuple(range(2, 8)),
             hidden=True, run=_run_heads),
        Case("keep all, keep none, only the last, reversed order", _heads_edge, _verify_heads,
             seeds=(0, 1, 2, 3), hidden=True, run=_run_heads),
    ),
)


# --- ch02.ex10: find the bug: the articles' neuron selection ------------------------------------
def _keep_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1300 + seed)
    n = int(torch.randint(1, 40, (1,), generator=g))
    scores = torch.rand(n, generator=g) * float(torch.randint(1, 100, (1,), generator=g))
    return scores, int(torch.randint(0, n + 1, (1,), generator=g))


def _keep_edge(seed: int) -> tuple:
    return [(torch.tensor([0.3, 0.1, 0.9, 0.5]), 2),                       # the articles' version keeps 0.1 and 0.3
            (torch.tensor([2.0, 2.0, 1.0, 2.0, 0.5]), 2),                   # ties at the cut: any two of the 2.0s
            (torch.tensor([5.0, 4.0, 3.0]), 3),                             # keep everything
            (torch.tensor([5.0, 4.0, 3.0]), 0),                             # keep nothing
            (torch.tensor([0.01, 0.02, 0.03, 7.0, 6.0, 8.0]), 3)][seed]     # index values vs importance values


def _verify_keep(args: tuple, got: object) -> None:
    scores, n_keep = args
    if isinstance(got, torch.Tensor):
        if got.dim() != 1 or got.dtype.is_floating_point:
            raise CheckFailed(f"expected a list of integer indices, got a tensor of shape {tuple(got.shape)} and dtype {got.dtype}")
        got = got.tolist()
    if isinstance(got, tuple):
        got = list(got)
    if not isinstance(got, list) or any(isinstance(i, bool) or not hasattr(i, "__index__") for i in got):
        raise CheckFailed(f"expected a list of integer indices, got {got!r:.80}")
    got = [int(i) for i in got]
    n = scores.numel()
    if len(got) != n_keep:
        raise CheckFailed(f"expected {n_keep} indices (n_keep), got {len(got)}")
    if any(not 0 <= i < n for i in got) or len(set(got)) != len(got):
        raise CheckFailed(f"indices must be distinct positions in 0..{n - 1}, got {got}")
    if got != sorted(got):
        raise CheckFailed(f"return the kept indices in increasing order, got {got}")
    dropped = [i for i in range(n) if i not in set(got)]
    if got and dropped and float(scores[got].min()) < float(scores[dropped].max()):
        worst = min(got, key=lambda i: float(scores[i]))
        best = max(dropped, key=lambda i: float(scores[i]))
        raise CheckFailed(f"neuron {worst} (importance {float(scores[worst]):.3g}) is kept while neuron {best} "
                          f"(importance {float(scores[best]):.3g}) is removed: keep the MOST important ones")


# --- ch02.ex10: the course's reference implementation (the notebook's fallback) ---
def neurons_to_keep_reference(importance, n_keep):
    if importance.dim() != 1 or not 0 <= n_keep <= importance.numel():
        raise ValueError(f"expected a 1-D tensor of importances and 0 <= n_keep <= {importance.numel()}")
    return sorted(importance.argsort(descending=True, stable=True)[:n_keep].tolist())


KEEP = Exercise(
    id="ch02.ex10",
    func="neurons_to_keep",
    reference=neurons_to_keep_reference,
    title="Find the bug: keep the most important neurons, by index",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random importances, random number kept", _keep_args, _verify_keep, seeds=(0, 1, 2)),
        Case("random importances, random number kept", _keep_args, _verify_keep, seeds=tuple(range(3, 10)), hidden=True),
        Case("the articles' example, ties at the cut, keep all, keep none, small values at large indices",
             _keep_edge, _verify_keep, seeds=(0, 1, 2, 3, 4), hidden=True),
    ),
    mistakes=(
        Mistake("the articles' order: sorts ascending and keeps the first n_keep, the least important", '''
def neurons_to_keep(importance, n_keep):
    return sorted(importance.argsort()[:n_keep].tolist())
'''),
    ),
)

EXERCISES = (TAYLOR, HEADS, KEEP)
