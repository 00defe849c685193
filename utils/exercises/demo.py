"""Demo exercises used by the grader's own tests (their notebook lives in tests/fixtures/demo/).

They show the three kinds of checks a chapter needs: a property-based check (a magnitude
mask at a target sparsity), a function that must change a model in place (judged through
`Case.run`), and a plain-number answer.
"""

from __future__ import annotations

import torch
from torch import nn

from utils.grading.spec import Case, CheckFailed, Exercise, expect_equal, expect_tensor

NOTEBOOK = "demo/demo-grading.ipynb"


# --- demo.ex1: magnitude mask -------------------------------------------------------------

def _mask_args(shape: tuple[int, ...], sparsity: float) -> callable:
    def make(seed: int) -> tuple:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(shape, generator=g), sparsity
    return make


def _random_mask_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1000 + seed)
    ndim = int(torch.randint(1, 4, (1,), generator=g))
    shape = tuple(int(s) for s in torch.randint(2, 9, (ndim,), generator=g))
    sparsity = round(float(torch.rand(1, generator=g)) * 0.9 + 0.05, 2)
    return torch.randn(shape, generator=g), sparsity


def _verify_mask(args: tuple, mask: object) -> None:
    weight, sparsity = args
    if not isinstance(mask, torch.Tensor):
        raise CheckFailed(f"expected a torch.Tensor mask, got a value of type {type(mask).__name__}")
    if tuple(mask.shape) != tuple(weight.shape):
        raise CheckFailed(f"expected a mask of shape {tuple(weight.shape)} (same as the weight), got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise CheckFailed(f"expected dtype torch.bool (True = keep), got {mask.dtype}")
    n_pruned = int((~mask).sum())
    expected = round(sparsity * weight.numel())
    if n_pruned != expected:
        raise CheckFailed(
            f"sparsity {sparsity} of {weight.numel()} weights: expected {expected} pruned (False) entries, got {n_pruned}"
        )
    kept, pruned = weight.abs()[mask], weight.abs()[~mask]
    if kept.numel() and pruned.numel() and pruned.max() > kept.min():
        raise CheckFailed(
            f"a pruned weight (|w| = {pruned.max().item():.4f}) is larger than a kept one (|w| = {kept.min().item():.4f}); "
            "prune the smallest magnitudes"
        )


MASK = Exercise(
    id="demo.ex1",
    func="magnitude_mask",
    title="Magnitude mask at a target sparsity",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("torch.nn.utils.prune",),
    cases=(
        Case("4x6 weight, 50% sparsity", _mask_args((4, 6), 0.5), _verify_mask, seeds=(0, 1)),
        Case("8x8 weight, 90% sparsity", _mask_args((8, 8), 0.9), _verify_mask),
        Case("nothing to prune (0%)", _mask_args((3, 5), 0.0), _verify_mask, hidden=True),
        Case("everything pruned (100%)", _mask_args((5,), 1.0), _verify_mask, hidden=True),
        Case("random shape and sparsity", _random_mask_args, _verify_mask, seeds=(0, 1, 2, 3), hidden=True),
    ),
    mutants={
        "keeps the k-th smallest (>= threshold)": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    if k == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    threshold = weight.abs().flatten().kthvalue(k).values
    return weight.abs() >= threshold
''',
        "signed values instead of magnitudes": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.flatten().argsort()[:k]] = False
    return mask.view(weight.shape)
''',
        "float mask instead of bool": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel())
    mask[weight.abs().flatten().argsort()[:k]] = 0.0
    return mask.view(weight.shape)
''',
    },
)


# --- demo.ex2: apply masks to a model in place ----------------------------------------------

def _model_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    d_in, d_hidden, d_out = (int(x) for x in torch.randint(2, 7, (3,), generator=g))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))
    masks = {name: torch.rand(p.shape, generator=g) > 0.5 for name, p in model.named_parameters() if name.endswith("weight")}
    return model, masks


def _run_in_place(fn, args: tuple) -> dict[str, torch.Tensor]:
    """Call the student's function, then return the model's state_dict (what must have changed)."""
    fn(*args)
    return {k: v.detach().clone() for k, v in args[0].state_dict().items()}


def _verify_masked(args: tuple, state: object) -> None:
    model, masks = args
    if not isinstance(state, dict):
        raise CheckFailed(f"expected the model's state_dict, got a value of type {type(state).__name__}")
    for name, before in model.state_dict().items():
        expected = before * masks[name] if name in masks else before
        what = f"model.{name} after the call" + ("" if name in masks else " (no mask: must be unchanged)")
        if name not in state:
            raise CheckFailed(f"{what}: missing from the model's state_dict")
        if name in masks and torch.equal(state[name], before) and not bool(masks[name].all()):
            raise CheckFailed(f"{what}: unchanged; modify the parameter in place (p.mul_(mask) under torch.no_grad())")
        expect_tensor(state[name], expected, atol=0, rtol=0, what=what)


APPLY = Exercise(
    id="demo.ex2",
    func="apply_masks_",
    title="Apply pruning masks to a model in place",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("two-layer MLP", _model_args, _verify_masked, seeds=(0, 1), run=_run_in_place),
        Case("two-layer MLP, other sizes", _model_args, _verify_masked, seeds=(2, 3, 4), hidden=True, run=_run_in_place),
    ),
    mutants={
        "rebinds the loop variable": '''
def apply_masks_(model, masks):
    for name, p in model.named_parameters():
        if name in masks:
            p = p * masks[name]
''',
        "returns a masked copy": '''
import copy
def apply_masks_(model, masks):
    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in masks:
                p.mul_(masks[name])
    return model
''',
        "also zeroes the biases": '''
def apply_masks_(model, masks):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(masks[name] if name in masks else 0)
''',
    },
)


# --- demo.ex3: parameters and MACs of a linear layer ------------------------------------------

def _linear_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    d_in, d_out, tokens = (int(x) for x in torch.randint(1, 512, (3,), generator=g))
    return d_in, d_out, tokens, bool(seed % 2 == 0)


def _verify_linear(args: tuple, got: object) -> None:
    d_in, d_out, tokens, bias = args
    expect_equal(got, (d_in * d_out + (d_out if bias else 0), tokens * d_in * d_out), what="(parameters, MACs)")


COUNT = Exercise(
    id="demo.ex3",
    func="linear_params_and_macs",
    title="Parameters and MACs of nn.Linear",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("random sizes", _linear_args, _verify_linear, seeds=(0, 1)),
        Case("random sizes", _linear_args, _verify_linear, seeds=(2, 3, 4, 5), hidden=True),
    ),
    mutants={
        "counts the bias in the MACs": '''
def linear_params_and_macs(in_features, out_features, tokens, bias=True):
    params = in_features * out_features + (out_features if bias else 0)
    return params, tokens * params
''',
    },
)

EXERCISES = (MASK, APPLY, COUNT)
