"""Exercises of 3.2, quantization-aware training: fake quantization with a straight-through estimator,
and with a learned step size (LSQ).

The STE check compares the forward pass with a reference per-row symmetric fake quantizer and the
gradient with the upstream gradient, which a straight-through estimator passes unchanged. The LSQ check
compares the forward pass and both gradients (weight and step size) with the formulas of Esser et al. (2020),
written out here element by element, not with autograd.
"""
from __future__ import annotations

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_tensor

NOTEBOOK = "03-quantization/02-qat.ipynb"


# --- ch03.ex9: fake quantization with a straight-through estimator --------------------------------
def _ref_fq(w: torch.Tensor, bits: int) -> torch.Tensor:
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-12)
    return torch.clamp(torch.round(w.detach() / s), -qmax, qmax) * s


def _ste_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(900 + seed)
    rows, cols = (int(s) for s in torch.randint(1, 10, (2,), generator=g))
    w = torch.randn(rows, cols, generator=g) * 10 ** (torch.rand(rows, 1, generator=g) - 0.5)
    upstream = torch.randn(rows, cols, generator=g)
    return w, int(torch.randint(2, 9, (1,), generator=g)), upstream


def _run_ste(fn, args: tuple):
    w, bits, upstream = args
    leaf = w.clone().requires_grad_(True)
    out = fn(leaf, bits)
    if not isinstance(out, torch.Tensor):
        return out, None
    if out.requires_grad:
        out.backward(upstream)
    return out.detach(), leaf.grad


def _verify_ste(args: tuple, got: object) -> None:
    w, bits, upstream = args
    out, grad = got
    expect_tensor(out, _ref_fq(w, bits), atol=1e-6, rtol=1e-5,
                  what=f"forward: {bits}-bit symmetric per-row fake quantization of w")
    if grad is None:
        raise CheckFailed("backward: w received no gradient; the output must stay connected to w (STE: x + (q - x).detach())")
    expect_tensor(grad, upstream, atol=1e-6, rtol=1e-5,
                  what="backward: the straight-through estimator passes the upstream gradient unchanged")


# --- ch03.ex9: the course's reference implementation (the notebook's fallback) ---
def fake_quant_ste_reference(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = w.detach().abs().amax(dim=1, keepdim=True).div(qmax).clamp(min=1e-12)
    q = (w.detach() / scale).round().clamp(-qmax, qmax) * scale
    return q + (w - w.detach())                               # the value of q, the gradient of w


STE = Exercise(
    id="ch03.ex9",
    func="fake_quant_ste",
    reference=fake_quant_ste_reference,
    title="Fake quantization with a straight-through estimator",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("torch.fake_quantize_per_channel_affine", "torch.fake_quantize_per_tensor_affine"),
    cases=(
        Case("random weights, forward and gradient", _ste_args, _verify_ste, seeds=(0, 1, 2), run=_run_ste),
        Case("random weights, forward and gradient", _ste_args, _verify_ste, seeds=tuple(range(3, 10)),
             hidden=True, run=_run_ste),
    ),
    mistakes=(
        Mistake('per-tensor scale instead of per row', '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().max() / qmax).clamp(min=1e-12)
    q = torch.clamp(torch.round(w.detach() / s), -qmax, qmax) * s
    return w + (q - w).detach()
'''),
        Mistake('no STE: round() has zero gradient', '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-12)
    return torch.clamp(torch.round(w / s), -qmax, qmax) * s
'''),
    ),
)

# --- ch03.ex10: fake quantization with a learned step size (LSQ) ----------------------------------
def _lsq_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(950 + seed)
    rows, cols = (int(x) for x in torch.randint(1, 12, (2,), generator=g))
    bits = int(torch.randint(2, 9, (1,), generator=g))
    qmax = 2 ** (bits - 1) - 1
    w = torch.randn(rows, cols, generator=g) * 10 ** (torch.rand(1, generator=g) - 0.5)
    # a step between 0.3 and 0.9 times max|w| / qmax: at least the largest weight is clipped
    s = (w.abs().max() / qmax * (0.3 + 0.6 * torch.rand(1, generator=g))).reshape(())
    upstream = torch.randn(rows, cols, generator=g)
    return w, s, bits, upstream


def _run_lsq(fn, args: tuple):
    w, s, bits, upstream = args
    w_leaf, s_leaf = w.clone().requires_grad_(True), s.clone().requires_grad_(True)
    out = fn(w_leaf, s_leaf, bits)
    if not isinstance(out, torch.Tensor):
        return out, None, None
    if out.requires_grad:
        out.backward(upstream)
    return out.detach(), w_leaf.grad, s_leaf.grad


def lsq_expected(w: torch.Tensor, s: torch.Tensor, bits: int, upstream: torch.Tensor):
    """Forward value, d loss / d w and d loss / d s of LSQ fake quantization, from the formulas."""
    qmax = 2 ** (bits - 1) - 1
    v = w / s
    inside = (v >= -qmax) & (v <= qmax)
    q = torch.round(v.clamp(-qmax, qmax))
    out = q * s
    grad_w = upstream * inside.to(w.dtype)
    d_out_d_s = torch.where(inside, q - v, v.clamp(-qmax, qmax))      # clipped: -qmax or +qmax
    grad_s = (upstream * d_out_d_s).sum()
    return out, grad_w, grad_s


def _verify_lsq(args: tuple, got: object) -> None:
    w, s, bits, upstream = args
    out, grad_w, grad_s = got
    want_out, want_w, want_s = lsq_expected(w, s, bits, upstream)
    expect_tensor(out, want_out, atol=1e-5, rtol=1e-5,
                  what=f"forward: s * round(clamp(w / s, -qmax, qmax)) with {bits} bits (qmax = {2 ** (bits - 1) - 1})")
    if grad_w is None:
        raise CheckFailed("backward: w received no gradient; keep the output connected to w")
    expect_tensor(grad_w, want_w, atol=1e-5, rtol=1e-5,
                  what="backward, d/dw: the upstream gradient where |w / s| <= qmax, 0 where the weight is clipped")
    if grad_s is None:
        raise CheckFailed("backward: s received no gradient; the step size must be learnable (do not detach s)")
    expect_tensor(grad_s.reshape(()), want_s, atol=1e-4, rtol=1e-4,
                  what="backward, d/ds: sum of upstream * (round(w/s) - w/s) inside the range, upstream * (+-qmax) where clipped")


# --- ch03.ex10: the course's reference implementation (the notebook's fallback) ---
def fake_quant_lsq_reference(w, s, bits):
    qmax = 2 ** (bits - 1) - 1
    v = torch.clamp(w / s, -qmax, qmax)
    return (v + (v.round() - v).detach()) * s                 # round in the forward pass, identity in the backward


LSQ = Exercise(
    id="ch03.ex10",
    func="fake_quant_lsq",
    reference=fake_quant_lsq_reference,
    title="Fake quantization with a learned step size (LSQ)",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("torch.fake_quantize_per_channel_affine", "torch.fake_quantize_per_tensor_affine",
               "_fake_quantize_learnable"),
    cases=(
        Case("random weights and step, forward and both gradients", _lsq_args, _verify_lsq, seeds=(0, 1, 2),
             run=_run_lsq),
        Case("random weights and step, forward and both gradients", _lsq_args, _verify_lsq,
             seeds=tuple(range(3, 12)), hidden=True, run=_run_lsq),
    ),
    mistakes=(
        Mistake('plain STE: gradient 1 also for clipped weights, none for s', '''
def fake_quant_lsq(w, s, bits):
    qmax = 2 ** (bits - 1) - 1
    q = torch.clamp(torch.round(w.detach() / s.detach()), -qmax, qmax) * s.detach()
    return w + (q - w).detach()
'''),
        Mistake('step size detached: s gets no gradient', '''
def fake_quant_lsq(w, s, bits):
    qmax = 2 ** (bits - 1) - 1
    v = torch.clamp(w / s.detach(), -qmax, qmax)
    return (v + (v.round() - v).detach()) * s.detach()
'''),
        Mistake('STE around the whole product: d/ds is 0 for every weight inside the range', '''
def fake_quant_lsq(w, s, bits):
    qmax = 2 ** (bits - 1) - 1
    v = torch.clamp(w / s, -qmax, qmax)
    return v * s + (v.round() * s - v * s).detach()
'''),
    ),
)

EXERCISES = (STE, LSQ)
