"""Chapter 1 exercises: counting parameters, multiply-accumulates and bytes.

Each check compares with an independent reference: ``nn.Linear``'s own parameters,
PyTorch's FLOP counter run on real matrix products, or exact integer arithmetic.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_equal

NOTEBOOK = "01-background/01-why-compress.ipynb"


# --- ch01.ex1: parameters and MACs of nn.Linear ---------------------------------------------
def _linear_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    d_in, d_out, tokens = (int(x) for x in torch.randint(1, 600, (3,), generator=g))
    return d_in, d_out, tokens, bool(seed % 2 == 0)


def _linear_edge(seed: int) -> tuple:
    return [(1, 1, 1, True), (1, 1, 1, False), (384, 1536, 0, True), (7, 3, 1, False)][seed]


def _verify_linear(args: tuple, got: object) -> None:
    d_in, d_out, tokens, bias = args
    params = sum(p.numel() for p in nn.Linear(d_in, d_out, bias=bias, device="meta").parameters())
    with FlopCounterMode(display=False) as counter:  # PyTorch's count on a real product
        torch.empty(tokens, d_in, device="meta") @ torch.empty(d_in, d_out, device="meta")
    expect_equal(got, (params, counter.get_total_flops() // 2), what="(parameters, MACs)")


# --- ch01.ex1: the course's reference implementation (the notebook's fallback) ---
def linear_params_and_macs_reference(in_features, out_features, tokens, bias=True):
    return out_features * (in_features + int(bias)), out_features * in_features * tokens


LINEAR = Exercise(
    id="ch01.ex1",
    func="linear_params_and_macs",
    reference=linear_params_and_macs_reference,
    title="Parameters and MACs of a linear layer",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random sizes, with and without bias", _linear_args, _verify_linear, seeds=(0, 1, 2)),
        Case("random sizes", _linear_args, _verify_linear, seeds=(3, 4, 5, 6, 7), hidden=True),
        Case("edge sizes (1x1, zero tokens)", _linear_edge, _verify_linear, seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('reports FLOPs (2 per MAC) instead of MACs', '''
def linear_params_and_macs(in_features, out_features, tokens, bias=True):
    params = in_features * out_features + (out_features if bias else 0)
    return params, 2 * tokens * in_features * out_features
'''),
        Mistake('counts the bias as multiply-accumulates', '''
def linear_params_and_macs(in_features, out_features, tokens, bias=True):
    params = in_features * out_features + (out_features if bias else 0)
    return params, tokens * params
'''),
    ),
)


# --- ch01.ex2: MACs of the attention matrix products ------------------------------------------
def _attn_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(100 + seed)
    batch, seq, heads, head_dim = (int(x) for x in torch.randint(1, 40, (4,), generator=g))
    return batch, seq, heads, head_dim


def _attn_edge(seed: int) -> tuple:
    return [(1, 1, 1, 1), (2, 128, 12, 32), (1, 512, 1, 64)][seed]


def _verify_attn(args: tuple, got: object) -> None:
    b, n, h, d = args
    q = k = v = torch.empty(b, h, n, d, device="meta")
    with FlopCounterMode(display=False) as counter:
        scores = q @ k.transpose(-1, -2)
        scores.softmax(-1) @ v
    expect_equal(got, counter.get_total_flops() // 2, what="attention MACs")


# --- ch01.ex2: the course's reference implementation (the notebook's fallback) ---
def attention_macs_reference(batch, seq, heads, head_dim):
    return 2 * batch * heads * head_dim * seq ** 2


ATTENTION = Exercise(
    id="ch01.ex2",
    func="attention_macs",
    reference=attention_macs_reference,
    title="Multiply-accumulates of self-attention's two matrix products",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random sizes", _attn_args, _verify_attn, seeds=(0, 1, 2)),
        Case("random sizes", _attn_args, _verify_attn, seeds=(3, 4, 5, 6), hidden=True),
        Case("edge sizes (all ones, BERT-like, long sequence)", _attn_edge, _verify_attn, seeds=(0, 1, 2), hidden=True),
    ),
    mistakes=(
        Mistake('only Q K^T (forgets the product with V)', '''
def attention_macs(batch, seq, heads, head_dim):
    return batch * heads * seq * seq * head_dim
'''),
        Mistake('forgets the heads', '''
def attention_macs(batch, seq, heads, head_dim):
    return 2 * batch * seq * seq * head_dim
'''),
    ),
)


# --- ch01.ex3: bytes of a tensor at a given bit width, with group-wise scales -----------------
def _storage_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(200 + seed)
    numel = int(torch.randint(1, 100_000, (1,), generator=g))
    bits = [1, 2, 3, 4, 8, 16, 32][int(torch.randint(0, 7, (1,), generator=g))]
    group = [0, 32, 64, 128][int(torch.randint(0, 4, (1,), generator=g))]
    return numel, bits, group, 16


def _storage_edge(seed: int) -> tuple:
    return [(1, 1, 0, 16), (7, 3, 0, 16), (33, 4, 32, 16), (256, 8, 128, 32), (1000, 4, 1000, 16),
            (5, 1, 2, 8)][seed]


def _reference_bytes(numel: int, bits: int, group: int, scale_bits: int) -> int:
    groups = -(-numel // group) if group else 0
    return -(-(numel * bits + groups * scale_bits) // 8)


def _verify_storage(args: tuple, got: object) -> None:
    expect_equal(got, _reference_bytes(*args), what=f"bytes for numel={args[0]}, bits={args[1]}, group_size={args[2]}")


def _bad_storage_args(seed: int) -> tuple:
    return [(10, 0, 0, 16), (10, 4, -1, 16), (-5, 8, 0, 16)][seed]


def _run_expect_error(fn, args: tuple) -> str:
    """Call and report which exception (if any) was raised."""
    try:
        fn(*args)
    except ValueError:
        return "ValueError"
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return "no exception"


def _verify_error(args: tuple, got: object) -> None:
    if got != "ValueError":
        raise CheckFailed(f"invalid input {args}: expected a ValueError, got {got}")


# --- ch01.ex3: the course's reference implementation (the notebook's fallback) ---
def storage_bytes_reference(numel, bits, group_size=0, scale_bits=16):
    if numel < 0 or bits < 1 or group_size < 0:
        raise ValueError(f"expected numel >= 0, bits >= 1, group_size >= 0; got {numel}, {bits}, {group_size}")
    scales = -(-numel // group_size) * scale_bits if group_size else 0
    return -(-(numel * bits + scales) // 8)


STORAGE = Exercise(
    id="ch01.ex3",
    func="storage_bytes",
    reference=storage_bytes_reference,
    title="Bytes of a tensor at b bits with group-wise scales",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random sizes, bit widths and groups", _storage_args, _verify_storage, seeds=(0, 1, 2, 3)),
        Case("random sizes, bit widths and groups", _storage_args, _verify_storage, seeds=tuple(range(4, 12)), hidden=True),
        Case("odd sizes, 1-bit, partial last group", _storage_edge, _verify_storage, seeds=tuple(range(6)), hidden=True),
        Case("invalid input raises ValueError", _bad_storage_args, _verify_error, seeds=(0, 1, 2), hidden=True,
             run=_run_expect_error),
    ),
    mistakes=(
        Mistake("drops the last, partial group's scale", '''
def storage_bytes(numel, bits, group_size=0, scale_bits=16):
    if numel < 0 or bits < 1 or group_size < 0:
        raise ValueError("bad input")
    groups = numel // group_size if group_size else 0
    return -(-(numel * bits + groups * scale_bits) // 8)
'''),
        Mistake('rounds every value up to a whole byte', '''
def storage_bytes(numel, bits, group_size=0, scale_bits=16):
    if numel < 0 or bits < 1 or group_size < 0:
        raise ValueError("bad input")
    groups = -(-numel // group_size) if group_size else 0
    return numel * -(-bits // 8) + groups * -(-scale_bits // 8)
'''),
    ),
)

EXERCISES = (LINEAR, ATTENTION, STORAGE)
