"""Exercises of 3.2, quantization-aware training: fake quantization with a straight-through estimator.

The check compares the forward pass with a reference per-row symmetric fake quantizer and the
gradient with the upstream gradient, which a straight-through estimator passes unchanged.
"""
from __future__ import annotations

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_tensor

NOTEBOOK = "03-quantization/02-qat.ipynb"


# --- ch03.ex8: fake quantization with a straight-through estimator --------------------------------
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


# --- ch03.ex8: the course's reference implementation (the notebook's fallback) ---
def fake_quant_ste_reference(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = w.detach().abs().amax(dim=1, keepdim=True).div(qmax).clamp(min=1e-12)
    q = (w.detach() / scale).round().clamp(-qmax, qmax) * scale
    return q + (w - w.detach())                               # the value of q, the gradient of w


STE = Exercise(
    id="ch03.ex8",
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

EXERCISES = (STE,)
