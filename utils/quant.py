"""Plumbing for the quantization chapter: swap `nn.Linear` modules for quantized stand-ins.

The quantizer formulas themselves (scales, zero points, rounding, fake quantization) are
written in the notebooks; the modules here only *hold* what a notebook computed and run it:

- `swap_linears(model, make)` replaces every `nn.Linear` (in place) by `make(name, linear)`;
- `WeightOnlyLinear` stores int8 weights and per-output-row scales, dequantizes, then runs a
  float matmul (smaller storage, no faster);
- `DynamicInt8Linear` also quantizes its input per row at run time, multiplies the integer codes
  and rescales: the arithmetic of an int8 kernel, simulated with a float matmul on integer-valued
  tensors (exact up to fp32 rounding of sums beyond 2^24), because `torch._int_mm` has no fast CPU
  kernel (measured: many times slower than fp32); its accuracy is that of dynamic int8, not its speed;
- `FakeQuantLinear` keeps a float weight and applies a given fake-quantization function to it
  in every forward pass (quantization-aware training);
- `input_hessians` collects, with forward hooks, the input statistics 2XᵀX/n that GPTQ needs,
  and `replaced_weights` swaps quantized weights into a model and back (the low-bit LM notebook).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from utils.models import linear_layers

__all__ = ["swap_linears", "linear_names", "WeightOnlyLinear", "DynamicInt8Linear", "FakeQuantLinear",
           "input_hessians", "replaced_weights"]


def linear_names(model: nn.Module) -> list[str]:
    """Qualified names of every `nn.Linear` in `model`, in module order (``utils.models.linear_layers``)."""
    return list(linear_layers(model))


def swap_linears(model: nn.Module, make: Callable[[str, nn.Linear], nn.Module],
                 skip: Callable[[str], bool] | None = None) -> list[str]:
    """Replace each `nn.Linear` of `model` (in place) by `make(name, linear)`; return the names swapped.

    `skip(name)` returning True keeps that layer in float (e.g. the classification head).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if not callable(make):
        raise TypeError(f"make must be callable as make(name, linear), got {type(make).__name__}")
    swapped = []
    for name in linear_names(model):
        if skip is not None and skip(name):
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        new = make(name, getattr(parent, child))
        if not isinstance(new, nn.Module):
            raise TypeError(f"make({name!r}, linear) must return an nn.Module, got {type(new).__name__}")
        setattr(parent, child, new)
        swapped.append(name)
    return swapped


def _check_int8_weight(q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    if not isinstance(q, torch.Tensor) or q.dim() != 2 or q.dtype != torch.int8:
        got = f"{tuple(q.shape)} {q.dtype}" if isinstance(q, torch.Tensor) else type(q).__name__
        raise ValueError(f"expected a 2-D int8 weight (out_features, in_features), got {got}")
    scale = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
    if scale.numel() == 1:
        scale = scale.expand(q.shape[0]).clone()
    if scale.numel() != q.shape[0]:
        raise ValueError(f"expected one scale per output row ({q.shape[0]}) or a single scale, got {scale.numel()}")
    if bias is not None and tuple(bias.shape) != (q.shape[0],):
        raise ValueError(f"expected a bias of shape ({q.shape[0]},), got {tuple(bias.shape)}")
    return scale


class WeightOnlyLinear(nn.Module):
    """Linear layer storing int8 weights `q` and per-row scales: y = x (scale * q)^T + b, computed in float."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        scale = _check_int8_weight(q, scale, bias)
        self.register_buffer("q", q.detach().clone())
        self.register_buffer("scale", scale.detach().clone())
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self.in_features, self.out_features = q.shape[1], q.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.q.to(x.dtype) * self.scale.to(x.dtype)[:, None]  # dequantize, then a float matmul
        return F.linear(x, weight, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, weight=int8 per-row scales"


class DynamicInt8Linear(nn.Module):
    """Linear layer with int8 weights whose input is quantized per row at run time (symmetric int8).

    y = (q_x @ q_w^T) * s_x * s_w + b: the integer product is simulated with a float matmul on the
    integer codes (for accuracy studies; `torch._int_mm` is exact but very slow on CPUs), then rescaled.
    """

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        scale = _check_int8_weight(q, scale, bias)
        self.register_buffer("wt", q.detach().t().contiguous())  # (in_features, out_features) for x @ W^T
        self.register_buffer("scale", scale.detach().clone())
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self.in_features, self.out_features = q.shape[1], q.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).float()
        s_x = x2.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0  # one scale per row (token)
        q_x = torch.round(x2 / s_x).clamp(-127, 127).to(torch.int8)
        acc = q_x.float() @ self.wt.float()  # integer-valued; torch._int_mm(q_x, self.wt) gives it in int32, slowly
        y = acc.float() * s_x * self.scale
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 x int8 (simulated)"


class FakeQuantLinear(nn.Module):
    """Linear layer whose float weight goes through `fake_quant(weight)` in every forward pass (QAT)."""

    def __init__(self, linear: nn.Linear, fake_quant: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"expected an nn.Linear, got {type(linear).__name__}")
        if not callable(fake_quant):
            raise TypeError(f"fake_quant must be callable, got {type(fake_quant).__name__}")
        self.weight = nn.Parameter(linear.weight.detach().clone())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())
        self.fake_quant = fake_quant
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.fake_quant(self.weight), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fake-quantized weight"


@torch.no_grad()
def input_hessians(
    model: nn.Module,
    layers: Mapping[str, nn.Linear],
    batches: Iterable[torch.Tensor],
    share: Callable[[str], str] = lambda name: name,
) -> dict[str, torch.Tensor]:
    """H = 2/n * X^T X of the inputs X (n rows) each layer sees while `model` runs on `batches`.

    Layers that read the same input (e.g. the query, key and value projections) can share one
    matrix: `share(name)` gives the key a layer's Hessian is stored under, and only the first
    layer of each key is hooked. Returns {key: float32 (in_features, in_features) tensor}.
    """
    if not layers:
        raise ValueError("expected at least one linear layer, got none")
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def hook(key: str):
        def accumulate(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).float()
            sums[key] = sums[key] + x.T @ x if key in sums else x.T @ x
            counts[key] = counts.get(key, 0) + x.shape[0]
        return accumulate

    hooked: set[str] = set()
    handles = []
    try:
        for name, layer in layers.items():
            if not isinstance(layer, nn.Linear):
                raise TypeError(f"layer {name!r}: expected nn.Linear, got {type(layer).__name__}")
            key = share(name)
            if key not in hooked:
                hooked.add(key)
                handles.append(layer.register_forward_hook(hook(key)))
        n_batches = 0
        for batch in batches:
            model(batch)
            n_batches += 1
        if n_batches == 0:
            raise ValueError("expected at least one calibration batch, got none")
    finally:
        for h in handles:
            h.remove()
    missing = sorted(hooked - set(sums))
    if missing:
        raise ValueError(f"layers never ran on the calibration batches: {missing[:3]}")
    return {key: 2.0 * sums[key] / counts[key] for key in sums}


@contextmanager
def replaced_weights(layers: Mapping[str, nn.Linear], weights: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """Inside the `with` block the named layers use `weights` (same shapes); the originals come back after."""
    unknown = sorted(set(weights) - set(layers))
    if unknown:
        raise KeyError(f"weights given for unknown layers: {unknown[:3]}")
    saved = {}
    try:
        with torch.no_grad():
            for name, w in weights.items():
                param = layers[name].weight
                if tuple(w.shape) != tuple(param.shape):
                    raise ValueError(f"layer {name!r}: expected a weight of shape {tuple(param.shape)}, "
                                     f"got {tuple(w.shape)}")
                saved[name] = param.detach().clone()
                param.copy_(w)
        yield
    finally:
        with torch.no_grad():
            for name, w in saved.items():
                layers[name].weight.copy_(w)
