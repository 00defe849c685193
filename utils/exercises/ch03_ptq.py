"""Exercises of 3.1, post-training quantization: affine and log quantizers, calibration, integer matmul, the articles' bugs.

Checks compare with reference formulas written here and with properties that any correct
answer has (codes inside the b-bit range, round-trip error at most half a step, gradients).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from utils.exercises.plans import check_plan_form, kl_to, teacher_and_data, teacher_case, teacher_test_accuracy
from utils.grading.spec import (Case, CheckFailed, Exercise, Mistake, describe, expect_close,
                                expect_tensor)

NOTEBOOK = "03-quantization/01-ptq.ipynb"


def _expect_tensor_like(got: object, shape: tuple, what: str) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what}: expected a torch.Tensor, got {describe(got)}")
    if tuple(got.shape) != tuple(shape):
        raise CheckFailed(f"{what}: expected shape {tuple(shape)}, got {tuple(got.shape)}")
    return got


def _expect_pair(got: object, what: str) -> tuple:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(f"{what}: expected a pair (codes, values), got {describe(got)}")
    return tuple(got)


# --- ch03.ex1: affine quantizer, symmetric or asymmetric, per tensor or per row --------------------
def _ref_affine(x: torch.Tensor, bits: int, symmetric: bool, per_channel: bool) -> tuple:
    x = x.double()
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    if per_channel:
        lo = x.amin(dim=dims, keepdim=True).clamp(max=0)
        hi = x.amax(dim=dims, keepdim=True).clamp(min=0)
    else:
        lo, hi = x.min().clamp(max=0), x.max().clamp(min=0)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / qmax
        zero = torch.zeros_like(scale)
    else:
        qmin, qmax = 0, 2 ** bits - 1
        scale = (hi - lo) / (qmax - qmin)
        zero = None
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if zero is None:
        zero = torch.round(-lo / scale).clamp(qmin, qmax)
    q = torch.clamp(torch.round(x / scale) + zero, qmin, qmax)
    return (q - zero) * scale, scale


def _affine_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    rows, cols = (int(s) for s in torch.randint(1, 12, (2,), generator=g))
    row_scale = 10 ** (torch.rand(rows, 1, generator=g) * 2 - 1)   # rows on different scales
    offset = torch.randn(rows, 1, generator=g) * float(torch.rand(1, generator=g))
    x = (torch.randn(rows, cols, generator=g) + offset) * row_scale
    bits = int(torch.randint(2, 9, (1,), generator=g))
    return x, bits, bool(seed % 2), bool((seed // 2) % 2)


def _affine_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(100 + seed)
    return [
        (torch.rand(4, 6, generator=g) + 1.0, 8, False, True),            # all positive: zero must stay exact
        (torch.zeros(3, 5), 4, True, True),                               # all zero rows
        (torch.cat([torch.zeros(1, 5), torch.randn(2, 5, generator=g)]), 3, True, True),   # one zero row
        (torch.tensor([[-1.0, 0.0, 0.25, 1.0]]), 2, True, False),         # 2-bit symmetric: levels -1, 0, 1
        (-torch.rand(5, 3, generator=g), 8, False, False),               # all negative
        (torch.randn(6, 7, generator=g) * 1e-4, 8, False, True),          # tiny values
    ][seed]


def _verify_affine(args: tuple, got: object) -> None:
    x, bits, symmetric, per_channel = args
    got = _expect_tensor_like(got, x.shape, "dequantized x_hat")
    expected, scale = _ref_affine(x, bits, symmetric, per_channel)
    kind = f"{bits}-bit {'symmetric' if symmetric else 'asymmetric'} {'per-row' if per_channel else 'per-tensor'}"
    err = (got.double() - x.double()).abs()
    bound = (scale / 2).expand_as(err) * (1 + 1e-5) + 1e-7
    if (err > bound).any():
        i = tuple(int(v) for v in (err > bound).nonzero()[0])
        raise CheckFailed(f"{kind}: round-trip error {err[i].item():.4g} at {i} exceeds half a step "
                          f"({bound[i].item():.4g}); a value inside the range must land on its nearest level")
    expect_tensor(got.double(), expected, atol=1e-6, rtol=1e-5, what=f"{kind} x_hat")


# --- ch03.ex1: the course's reference implementation (the notebook's fallback) ---
def fake_quantize_reference(x, bits, symmetric=True, per_channel=False):
    dims = tuple(range(1 if per_channel else 0, x.dim()))
    lo, hi = x.amin(dim=dims, keepdim=True).clamp(max=0), x.amax(dim=dims, keepdim=True).clamp(min=0)
    if symmetric:
        qmin, qmax, scale = 1 - 2 ** (bits - 1), 2 ** (bits - 1) - 1, torch.maximum(-lo, hi) / (2 ** (bits - 1) - 1)
    else:
        qmin, qmax, scale = 0, 2 ** bits - 1, (hi - lo) / (2 ** bits - 1)
    scale = scale.masked_fill(scale == 0, 1.0)
    zero = torch.zeros_like(scale) if symmetric else (-lo / scale).round()
    return ((x / scale).round().add(zero).clamp(qmin, qmax) - zero) * scale


AFFINE = Exercise(
    id="ch03.ex1",
    func="fake_quantize",
    reference=fake_quantize_reference,
    title="Affine quantizer: symmetric or asymmetric, per tensor or per output row",
    points=3,
    notebook=NOTEBOOK,
    forbidden=("torch.quantize_per_tensor", "torch.quantize_per_channel", "torch.fake_quantize_per_tensor_affine",
               "torch.fake_quantize_per_channel_affine"),
    cases=(
        Case("random matrices, all four variants", _affine_args, _verify_affine, seeds=(0, 1, 2, 3)),
        Case("random matrices, all four variants", _affine_args, _verify_affine, seeds=tuple(range(4, 16)), hidden=True),
        Case("all positive, zero rows, 2-bit, all negative, tiny", _affine_edge, _verify_affine,
             seeds=tuple(range(6)), hidden=True),
    ),
)


# --- ch03.ex3: power-of-two (logarithmic) quantization --------------------------------------------
def _ref_log2(x: torch.Tensor, bits: int) -> torch.Tensor:
    x = x.double()
    mag = x.abs()
    if float(mag.max()) == 0.0:
        return torch.zeros_like(x)
    e_max = torch.round(torch.log2(mag.max()))
    e_min = e_max - (2 ** (bits - 1) - 2)
    e = torch.round(torch.log2(mag.clamp(min=1e-300))).clamp(e_min, e_max)
    out = torch.sign(x) * torch.pow(2.0, e)
    return torch.where(mag < 2.0 ** (e_min - 1), torch.zeros_like(x), out)


def _log_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(200 + seed)
    n = int(torch.randint(3, 40, (1,), generator=g))
    scale = 10 ** float(torch.rand(1, generator=g) * 4 - 2)
    return torch.randn(n, generator=g) * scale, int(torch.randint(3, 7, (1,), generator=g))


def _log_edge(seed: int) -> tuple:
    return [
        (torch.tensor([1.0, -2.0, 0.25, 0.0, -0.0625, 4.0]), 4),   # exact powers of two (and a zero)
        (torch.tensor([8.0, 1e-6, -3e-7, 0.9]), 3),                 # tiny values flush to zero
        (torch.zeros(5), 4),                                         # all zero
        (torch.tensor([[0.3, -0.7], [1.4, -5.0]]), 5),               # 2-D input
    ][seed]


def _verify_log(args: tuple, got: object) -> None:
    x, bits = args
    got = _expect_tensor_like(got, x.shape, "power-of-two x_hat")
    expect_tensor(got.double(), _ref_log2(x, bits), atol=1e-9, rtol=1e-6,
                  what=f"{bits}-bit power-of-two quantization (sign, exponent in [e_max - 2^(b-1) + 2, e_max], or 0)")


# --- ch03.ex3: the course's reference implementation (the notebook's fallback) ---
def log2_quantize_reference(x, bits):
    if not bool((x != 0).any()):
        return torch.zeros_like(x)
    e_max = x.abs().max().log2().round()
    e_min = e_max - (2 ** (bits - 1) - 2)
    e = x.abs().clamp(min=torch.finfo(x.dtype).tiny).log2().round().clamp(e_min, e_max)
    return torch.where(x.abs() < 2.0 ** (e_min - 1), torch.zeros_like(x), x.sign() * 2.0 ** e)


LOG2 = Exercise(
    id="ch03.ex3",
    func="log2_quantize",
    reference=log2_quantize_reference,
    title="Power-of-two (logarithmic) quantization, sign included",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random vectors", _log_args, _verify_log, seeds=(0, 1, 2)),
        Case("random vectors", _log_args, _verify_log, seeds=tuple(range(3, 10)), hidden=True),
        Case("exact powers, tiny values, all zero, 2-D", _log_edge, _verify_log, seeds=(0, 1, 2, 3), hidden=True),
    ),
)


# --- ch03.ex5: MSE-optimal clipping range ----------------------------------------------------------
def _ref_mse(x: torch.Tensor, clip: float, bits: int) -> float:
    qmax = 2 ** (bits - 1) - 1
    s = clip / qmax
    xh = torch.clamp(torch.round(x.double() / s), -qmax, qmax) * s
    return float(((xh - x.double()) ** 2).mean())


def _mse_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(300 + seed)
    n = int(torch.randint(200, 2000, (1,), generator=g))
    x = torch.randn(n, generator=g)
    k = int(torch.randint(1, 6, (1,), generator=g))          # a few outliers, like transformer activations
    x[torch.randint(0, n, (k,), generator=g)] = torch.randn(k, generator=g) * 30
    bits = int(torch.randint(3, 9, (1,), generator=g))
    amax = float(x.abs().max())
    candidates = [amax * f for f in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)]
    return x, bits, candidates


def _mse_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(400 + seed)
    x = torch.rand(500, generator=g) * 2 - 1          # uniform, no outliers: the full range is best
    return [(x, 8, [0.25, 0.5, 1.0]), (torch.tensor([0.1, -0.2, 50.0]), 4, [0.25, 1.0, 50.0])][seed]


def _verify_mse(args: tuple, got: object) -> None:
    x, bits, candidates = args
    errors = [_ref_mse(x, c, bits) for c in candidates]
    best = min(range(len(candidates)), key=errors.__getitem__)
    expect_close(got, candidates[best], rtol=1e-9, atol=0,
                 what=f"clipping value with the smallest {bits}-bit quantization MSE (MSEs {[f'{e:.3g}' for e in errors]})")


# --- ch03.ex5: the course's reference implementation (the notebook's fallback) ---
def mse_optimal_clip_reference(x, bits, candidates):
    qmax = 2 ** (bits - 1) - 1
    errors = [float(((x / (c / qmax)).round().clamp(-qmax, qmax) * (c / qmax) - x).pow(2).mean()) for c in candidates]
    return candidates[errors.index(min(errors))]


MSE = Exercise(
    id="ch03.ex5",
    func="mse_optimal_clip",
    reference=mse_optimal_clip_reference,
    title="Calibration: choose the clipping range that minimizes the quantization MSE",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("Gaussian activations with outliers", _mse_args, _verify_mse, seeds=(0, 1)),
        Case("Gaussian activations with outliers", _mse_args, _verify_mse, seeds=tuple(range(2, 9)), hidden=True),
        Case("uniform data, three values", _mse_edge, _verify_mse, seeds=(0, 1), hidden=True),
    ),
    mistakes=(
        Mistake('min-max: always the largest candidate', '''
def mse_optimal_clip(x, bits, candidates):
    return max(candidates)
'''),
    ),
)


# --- ch03.ex6: int8 x int8 -> int32 matmul with requantization -------------------------------------
def _ref_int_mm(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero) -> torch.Tensor:
    acc = (a_q.long() - a_zero) @ w_q.long().t()
    y = acc.double() * (a_scale * w_scale.double())[None, :] / out_scale
    return torch.clamp(torch.round(y) + out_zero, 0, 255).to(torch.uint8)


def _int_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(500 + seed)
    m, k, n = (int(s) for s in torch.randint(1, 40, (3,), generator=g))
    k = k + 64 * (seed % 3)  # long rows: an int8 or int16 accumulator overflows
    a_q = torch.randint(0, 256, (m, k), generator=g).to(torch.uint8)
    a_zero = int(torch.randint(0, 256, (1,), generator=g))
    w_q = torch.randint(-127, 128, (n, k), generator=g).to(torch.int8)
    a_scale = float(torch.rand(1, generator=g)) * 0.05 + 0.001
    w_scale = torch.rand(n, generator=g) * 0.02 + 0.001
    typical = float((a_scale * w_scale.mean()) * 127 * 40 * k ** 0.5)
    out_scale = typical / 127
    return a_q, a_scale, a_zero, w_q, w_scale, out_scale, int(torch.randint(100, 156, (1,), generator=g))


def _verify_int(args: tuple, got: object) -> None:
    a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero = args
    expected = _ref_int_mm(*args)
    if isinstance(got, torch.Tensor) and got.dtype != torch.uint8:
        raise CheckFailed(f"output: expected dtype torch.uint8 (requantized), got {got.dtype}")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        diff = (got.int() - expected.int()).abs()
        if int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 0.01:
            return  # an off-by-one at an exact .5 tie from float rounding is fine
    expect_tensor(got, expected, what=f"requantized output ({a_q.shape[0]}x{a_q.shape[1]} @ {a_q.shape[1]}x{w_q.shape[0]})")


# --- ch03.ex6: the course's reference implementation (the notebook's fallback) ---
def int8_linear_reference(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero):
    acc = (a_q.long() - a_zero) @ w_q.long().t()            # exact in int64
    y = (acc.double() * (a_scale * w_scale.double() / out_scale)).round() + out_zero
    return y.clamp(0, 255).to(torch.uint8)


INTMM = Exercise(
    id="ch03.ex6",
    func="int8_linear",
    reference=int8_linear_reference,
    title="Integer matmul: uint8 activations x int8 weights -> int32, then requantize to uint8",
    points=3,
    notebook=NOTEBOOK,
    forbidden=("torch._int_mm", "torch.ops.quantized", "torch.ao"),
    cases=(
        Case("random shapes and scales", _int_args, _verify_int, seeds=(0, 1, 2)),
        Case("random shapes and scales", _int_args, _verify_int, seeds=tuple(range(3, 12)), hidden=True),
    ),
    mistakes=(
        Mistake('activation zero point forgotten', '''
def int8_linear(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero):
    acc = a_q.to(torch.int32) @ w_q.to(torch.int32).t()
    y = acc.float() * (a_scale * w_scale)[None, :] / out_scale
    return torch.clamp(torch.round(y) + out_zero, 0, 255).to(torch.uint8)
'''),
        Mistake('no clamp before the cast (wraps around)', '''
def int8_linear(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero):
    acc = (a_q.to(torch.int32) - a_zero) @ w_q.to(torch.int32).t()
    y = acc.float() * (a_scale * w_scale)[None, :] / out_scale
    return (torch.round(y) + out_zero).to(torch.int32).to(torch.uint8)
'''),
    ),
)


# --- ch03.ex4: the articles' "mean-shift then map to n bits", fixed --------------------------------
def _shift_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(600 + seed)
    rows, cols = (int(s) for s in torch.randint(2, 30, (2,), generator=g))
    w = torch.randn(rows, cols, generator=g) * float(torch.rand(1, generator=g) * 0.5 + 0.01) + float(torch.randn(1, generator=g))
    return w, int(torch.randint(2, 9, (1,), generator=g))


def _verify_shift(args: tuple, got: object) -> None:
    w, bits = args
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed(f"expected a triple (codes, scale, mean), got {describe(got)}")
    codes, scale, mean = got
    codes = _expect_tensor_like(codes, w.shape, "codes")
    if codes.is_floating_point() or codes.dtype == torch.bool:
        raise CheckFailed(f"codes: expected an integer dtype, got {codes.dtype}")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if int(codes.min()) < lo or int(codes.max()) > hi:
        raise CheckFailed(f"codes: expected {bits}-bit signed integers in [{lo}, {hi}], got values in "
                          f"[{int(codes.min())}, {int(codes.max())}]")
    mu = w.double().mean()
    expect_close(mean, float(mu), rtol=1e-5, atol=1e-6, what="mean")
    ref_scale = float((w.double() - mu).abs().max()) / hi
    expect_close(scale, ref_scale, rtol=1e-4, atol=1e-9, what=f"scale (max |w - mean| / {hi})")
    err = (float(mean) + float(scale) * codes.double() - w.double()).abs().max()
    if float(err) > ref_scale / 2 * (1 + 1e-4) + 1e-7:
        raise CheckFailed(f"reconstruction mean + scale * codes: max error {float(err):.4g}, expected at most half a step "
                          f"({ref_scale / 2:.4g})")


# --- ch03.ex4: the course's reference implementation (the notebook's fallback) ---
def mean_shift_quantize_reference(w, bits):
    qmax, mean = 2 ** (bits - 1) - 1, w.mean()
    scale = (w - mean).abs().max() / qmax
    return ((w - mean) / scale).round().clamp(-qmax, qmax).long(), scale, mean


SHIFT = Exercise(
    id="ch03.ex4",
    func="mean_shift_quantize",
    reference=mean_shift_quantize_reference,
    title="Fix the articles' 'mean-shift then map to n bits': a real b-bit code and a scale to undo it",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random matrices with a nonzero mean", _shift_args, _verify_shift, seeds=(0, 1, 2)),
        Case("random matrices with a nonzero mean", _shift_args, _verify_shift, seeds=tuple(range(3, 10)), hidden=True),
    ),
    mistakes=(
        Mistake('scale 2^b levels for a signed b-bit range (clips the extremes)', '''
def mean_shift_quantize(w, bits):
    mean = w.mean()
    c = w - mean
    scale = c.abs().max() / 2 ** (bits - 1)
    codes = torch.clamp(torch.round(c / scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).long()
    return codes, scale, mean
'''),
    ),
)


# --- ch03.ex7: quantize every weight matrix of a model, in place ----------------------------------
def _model_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(700 + seed)
    d_in, d_hidden, d_out = (int(x) for x in torch.randint(2, 9, (3,), generator=g))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.LayerNorm(d_hidden), nn.Linear(d_hidden, d_out))
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[0].weight.mul_(5.0)   # a large layer: a fixed step of 1/256 would be far too fine or coarse
    return model, int(torch.randint(2, 9, (1,), generator=g))


def _run_in_place(fn, args: tuple) -> dict:
    fn(*args)
    return {k: v.detach().clone() for k, v in args[0].state_dict().items()}


def _verify_model(args: tuple, state: object) -> None:
    model, bits = args
    if not isinstance(state, dict):
        raise CheckFailed(f"expected the model's state_dict, got {type(state).__name__}")
    qmax = 2 ** (bits - 1) - 1
    for name, before in model.state_dict().items():  # a fresh copy built from the same seed
        if before.dim() >= 2:
            s = before.abs().max() / qmax
            expected = torch.clamp(torch.round(before / s), -qmax, qmax) * s
            what = f"model.{name} ({bits}-bit symmetric per-tensor, in place)"
            if torch.equal(state[name], before):
                raise CheckFailed(f"{what}: unchanged; `p = quantize(p)` only rebinds the loop variable: write into the "
                                  "parameter, e.g. p.copy_(...) under torch.no_grad()")
        else:
            expected, what = before, f"model.{name} (a bias or LayerNorm vector: leave it in float)"
        expect_tensor(state[name], expected, atol=1e-6, rtol=1e-5, what=what)


MODEL = Exercise(
    id="ch03.ex7",
    func="quantize_model_",
    in_place=True,
    title="Fix the articles' loop: quantize every weight matrix of a model in place",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("Linear-LayerNorm-Linear", _model_args, _verify_model, seeds=(0, 1), run=_run_in_place),
        Case("Linear-LayerNorm-Linear, other sizes and bits", _model_args, _verify_model, seeds=(2, 3, 4, 5, 6),
             hidden=True, run=_run_in_place),
    ),
    mistakes=(
        Mistake('also quantizes biases and LayerNorm gains', '''
def quantize_model_(model, bits):
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for p in model.parameters():
            s = p.abs().max() / qmax
            p.copy_(torch.clamp(torch.round(p / s), -qmax, qmax) * s)
'''),
    ),
)


# --- ch03.ex2: the articles' example whose printed output is wrong --------------------------------
def _lin_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(800 + seed)
    delta = [0.1, 0.05, 0.2, 0.3, 0.01][seed % 5]
    k = torch.randint(-20, 21, (int(torch.randint(3, 15, (1,), generator=g)),), generator=g).double()
    x = k * delta + (torch.rand(k.shape, generator=g, dtype=torch.float64) - 0.5) * delta * 0.6  # near grid points
    return x, delta


def _lin_edge(seed: int) -> tuple:
    return [(torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64), 0.1),   # the article's example
            (torch.tensor([0.3, 0.6, 0.7, -0.3, -0.7], dtype=torch.float64), 0.1),   # x / delta just below an integer
            (torch.tensor([-0.26, -0.04, 0.04, 0.26]), 0.1)][seed]


def _verify_lin(args: tuple, got: object) -> None:
    x, delta = args
    codes, values = _expect_pair(got, "linear_quantize")
    codes = _expect_tensor_like(codes, x.shape, "codes")
    if codes.is_floating_point():
        raise CheckFailed(f"codes: expected an integer dtype (torch.int64), got {codes.dtype}")
    ref = torch.round(x.double() / delta)
    expect_tensor(codes.long(), ref.long(), what=f"codes round(x / {delta})")
    expect_tensor(_expect_tensor_like(values, x.shape, "values").double(), ref * delta, atol=1e-6, rtol=1e-6,
                  what=f"dequantized values codes * {delta}")


# --- ch03.ex2: the course's reference implementation (the notebook's fallback) ---
def linear_quantize_reference(x, delta):
    codes = (x / delta).round().long()
    return codes, codes * delta


LINEAR = Exercise(
    id="ch03.ex2",
    func="linear_quantize",
    reference=linear_quantize_reference,
    title="The articles' printed output is wrong: compute linear quantization codes and values correctly",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("values near grid points", _lin_args, _verify_lin, seeds=(0, 1, 2)),
        Case("values near grid points", _lin_args, _verify_lin, seeds=tuple(range(3, 10)), hidden=True),
        Case("the article's example, x / delta just below an integer, negatives", _lin_edge, _verify_lin,
             seeds=(0, 1, 2), hidden=True),
    ),
    mistakes=(
        Mistake('floor instead of round', '''
def linear_quantize(x, delta):
    codes = torch.floor(x / delta).long()
    return codes, codes * delta
'''),
    ),
)


# --- ch03.ex8: a bit budget spent by a sensitivity scan (numeric bar on the real teacher) ----------------
#: The bit widths a plan may give a matrix (symmetric, one scale per output row).
PLAN_BITS = (2, 3, 4, 8)
#: The real-teacher case: average bits allowed over the 36 encoder matrices, and the test accuracy to reach.
TEACHER_BUDGET, TEACHER_BAR = 2.5, 0.65
#: A synthetic plan passes if its KL to the float model on held-out inputs is within this factor of the best plan's.
SYNTHETIC_SLACK = 1.5


def _plan_bits(plan: object, names: list[str], sizes: dict[str, int], budget: float) -> float:
    """Check a plan's form and budget; its average bits per weight (weighted by each matrix's size)."""
    check_plan_form(plan, names, "bit width", lambda b: isinstance(b, int) and b in PLAN_BITS,
                    f"one of {PLAN_BITS} (a Python int)")
    avg = sum(sizes[n] * plan[n] for n in names) / sum(sizes.values())
    if avg > budget + 1e-9:
        raise CheckFailed(f"the plan averages {avg:.3f} bits per weight, over the budget of {budget:g} "
                          "(each matrix counts in proportion to its number of weights)")
    return avg


@torch.no_grad()
def _quantized_copy(model: nn.Module, plan: dict[str, int]) -> nn.Module:
    """A copy of the model with each planned matrix fake-quantized by ch03.ex1's reference, one scale per row."""
    q = copy.deepcopy(model)
    for name, bits in plan.items():
        layer = q.get_submodule(name)
        layer.weight.copy_(fake_quantize_reference(layer.weight, bits, per_channel=True))
    return q


def _synthetic(seed: int) -> tuple:
    """A 5-layer tanh MLP: two of its three middle layers have weights +-c (ternary at 2 bits loses almost
    nothing), the others are Gaussian (2 bits crush most weights to 0). Budget: the easy two at a lower width."""
    g = torch.Generator().manual_seed(3100 + seed)
    widths = [24, 192, 192, 192, 192, 8]
    easy = {1 + int(i) for i in torch.randperm(3, generator=g)[:2]}
    hi = 3 if seed % 2 == 0 else 4        # budget between hi - 1 and hi: the easy layers go down one step
    layers: list[nn.Module] = []
    for i, (fi, fo) in enumerate(zip(widths, widths[1:])):
        if i in easy:
            w = (torch.randint(0, 2, (fo, fi), generator=g).float() * 2 - 1) * (1 + 0.02 * torch.randn(fo, fi, generator=g))
        else:
            w = torch.randn(fo, fi, generator=g)
        lin = nn.Linear(fi, fo)
        lin.weight.data = w / math.sqrt(fi)
        lin.bias.data = 0.1 * torch.randn(fo, generator=g)
        layers += [lin, nn.Tanh()] if i < len(widths) - 2 else [lin]
    model = nn.Sequential(*layers).eval()
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    sizes = {n: model.get_submodule(n).weight.numel() for n in names}
    intended = {n: hi - 1 if k in easy else hi for k, n in enumerate(names)}
    budget = math.ceil(100 * sum(sizes[n] * intended[n] for n in names) / sum(sizes.values())) / 100
    batches = [(torch.randn(64, widths[0], generator=g) * 1.5,) for _ in range(4)]
    return model, batches, names, budget


def _verify_synthetic(args: tuple, plan: object) -> None:
    model, batches, names, budget = args
    sizes = {n: model.get_submodule(n).weight.numel() for n in names}
    _plan_bits(plan, names, sizes, budget)
    held_out = torch.randn(1024, 24, generator=torch.Generator().manual_seed(99)) * 1.5
    best = _best_synthetic(args)
    got, bar = kl_to(model, _quantized_copy(model, plan), held_out), SYNTHETIC_SLACK * kl_to(model, _quantized_copy(model, best), held_out)
    if not got <= bar:
        low = sorted(n for n in names if plan[n] == min(plan.values()))
        raise CheckFailed(f"KL to the float model on held-out inputs {got:.4f}, above the bar {bar:.4f} "
                          f"({SYNTHETIC_SLACK:g}x the best plan within the budget); your lowest width went to "
                          f"layers {low}: are those the ones whose KL rose least per weight in your scan?")


def _best_synthetic(args: tuple) -> dict[str, int]:
    """The best plan within the budget, by construction: the +-c layers (|w| almost constant along each row)
    one step below the others, at the largest pair of widths that fits."""
    model, _, names, budget = args
    weights = {n: model.get_submodule(n).weight.detach() for n in names}
    easy = {n for n, w in weights.items() if float((w.abs().std(dim=1) / w.abs().mean(dim=1)).max()) < 0.1}
    total = sum(w.numel() for w in weights.values())
    for lo, hi in reversed(list(zip(PLAN_BITS, PLAN_BITS[1:]))):
        plan = {n: lo if n in easy else hi for n in names}
        if sum(weights[n].numel() * plan[n] for n in names) / total <= budget + 1e-9:
            return plan
    raise AssertionError("the synthetic case has no plan within its budget")  # never: the budget is built from one


def teacher_matrices(model: nn.Module) -> list[str]:
    """The 36 matrices a plan covers: every linear layer of the encoder (embeddings, pooler and head stay float)."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith("encoder.")]


def _real_teacher(seed: int) -> tuple:
    return teacher_case(teacher_matrices, TEACHER_BUDGET)


def _verify_teacher(args: tuple, plan: object) -> None:
    teacher = teacher_and_data()[0]
    names = teacher_matrices(teacher)
    avg = _plan_bits(plan, names, {n: teacher.get_submodule(n).weight.numel() for n in names}, TEACHER_BUDGET)
    acc, n = teacher_test_accuracy(_quantized_copy(teacher, plan))
    if acc < TEACHER_BAR:
        raise CheckFailed(f"your plan ({avg:.2f} bits per weight) gives {acc:.1%} on the {n:,} test tweets; "
                          f"the bar is {TEACHER_BAR:.0%} (uniform 2 bits gives 39%, the float teacher 81%)")


# --- ch03.ex8: the course's reference implementation (the notebook's fallback) ---
@torch.no_grad()
def mixed_precision_plan_reference(model, batches, names, max_avg_bits):
    layers = {n: model.get_submodule(n) for n in names}
    original = {n: layers[n].weight.detach().clone() for n in names}
    sizes = {n: original[n].numel() for n in names}
    widths = (2, 3, 4, 8)
    if max_avg_bits < widths[0]:
        raise ValueError(f"max_avg_bits: expected at least {widths[0]}, got {max_avg_bits}")
    if max_avg_bits >= widths[-1]:
        return {n: widths[-1] for n in names}
    hi = min(b for b in widths if b >= max_avg_bits)        # everything at `hi` first, then some one step down
    lo = max([b for b in widths if b < hi], default=hi)
    ref = [F.log_softmax(model(*x), -1) for x in batches]

    def kl() -> float:
        return sum(F.kl_div(F.log_softmax(model(*x), -1), r, log_target=True, reduction="sum").item()
                   for x, r in zip(batches, ref))

    try:
        for n in names:
            layers[n].weight.copy_(fake_quantize_reference(original[n], hi, per_channel=True))
        base, cost = kl(), {}
        for n in names:                       # one matrix one step down, the others at `hi`
            layers[n].weight.copy_(fake_quantize_reference(original[n], lo, per_channel=True))
            cost[n] = (kl() - base) / sizes[n]
            layers[n].weight.copy_(fake_quantize_reference(original[n], hi, per_channel=True))
    finally:
        for n in names:
            layers[n].weight.copy_(original[n])
    plan, total = {n: hi for n in names}, sum(sizes.values())
    for n in sorted(names, key=lambda n: cost[n]):  # cheapest KL per weight first, until the budget holds
        if sum(sizes[m] * plan[m] for m in names) <= max_avg_bits * total:
            break
        plan[n] = lo
    return plan


MIXED = Exercise(
    id="ch03.ex8",
    func="mixed_precision_plan",
    reference=mixed_precision_plan_reference,
    title="A bit budget: choose bits per matrix with a sensitivity scan (>= 65% at <= 2.5 bits on the teacher)",
    points=3,
    notebook=NOTEBOOK,
    timeout=300.0,
    cases=(
        Case("synthetic MLP, two layers tolerate one bit less", _synthetic, _verify_synthetic, seeds=(0, 1)),
        Case("synthetic MLP, other layers and budgets", _synthetic, _verify_synthetic, seeds=(2, 3, 4, 5), hidden=True),
        Case("the real teacher, 2.5 bits, 2,000 test tweets", _real_teacher, _verify_teacher, hidden=True),
    ),
    mistakes=(
        Mistake("the same width for every matrix (the budget rounded down): no scan", """
def mixed_precision_plan(model, batches, names, max_avg_bits):
    import math
    return {n: max(2, math.floor(max_avg_bits)) for n in names}
"""),
    ),
)


EXERCISES = (AFFINE, LINEAR, LOG2, SHIFT, MSE, INTMM, MODEL, MIXED)
