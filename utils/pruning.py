"""Pruning plumbing shared by the pruning chapter and later ones: which tensors to prune,
applying masks in place, keeping them applied during fine-tuning, counting what is left, and
gating whole units (attention heads, feed-forward neurons) to score or simulate their removal.

The pruning *rules* (magnitude, global thresholds, schedules, importance scores) are written
in the chapter's notebooks; this module only moves masks around.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from utils.models import linear_layers

__all__ = ["prunable_weights", "apply_masks_", "keep_masks", "mask_sparsity", "masks_from_zeros", "gate_units"]

DEFAULT_SKIP = ("embed", "head")


def prunable_weights(model: nn.Module, skip: Iterable[str] = DEFAULT_SKIP) -> dict[str, nn.Parameter]:
    """The weight matrices of `model`'s nn.Linear layers (``utils.models.linear_layers``), by parameter name.

    With the default `skip` (module name parts), a course Classifier yields the 36 Q/K/V/O/up/down
    matrices of its encoder layers: embeddings and the classification head are left dense.
    """
    return {f"{name}.weight" if name else "weight": m.weight for name, m in linear_layers(model, skip).items()}


def _check_masks(params: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    for name, mask in masks.items():
        if name not in params:
            raise KeyError(f"mask for {name!r}, but the model has no parameter of that name")
        if tuple(mask.shape) != tuple(params[name].shape):
            raise ValueError(f"mask for {name!r} has shape {tuple(mask.shape)}, parameter has {tuple(params[name].shape)}")


@torch.no_grad()
def apply_masks_(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Zero, in place, every entry of `model`'s parameters where the mask (name -> bool/0-1 tensor) is 0."""
    params = dict(model.named_parameters())
    _check_masks(params, masks)
    for name, mask in masks.items():
        p = params[name]
        p.mul_(mask.to(device=p.device, dtype=p.dtype))
    return model


def keep_masks(masks: dict[str, torch.Tensor]) -> Callable[[nn.Module], None]:
    """An `after_step` callback for `utils.train.train` that re-applies `masks` after every optimizer step.

    Without it, AdamW moves pruned weights away from zero (their gradients are not zero, and
    weight decay and momentum act on them too).
    """
    def after_step(model: nn.Module) -> None:
        apply_masks_(model, masks)
    return after_step


def mask_sparsity(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of zero (pruned) entries over all masks together."""
    if not masks:
        raise ValueError("expected at least one mask")
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.count_nonzero()) for m in masks.values())
    return 1.0 - kept / total if total else 0.0


def masks_from_zeros(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Boolean masks (True = keep) marking the nonzero entries of each tensor."""
    return {name: p.detach() != 0 for name, p in params.items()}


def _check_gates(gates: Sequence[torch.Tensor | None] | None, sizes: list[int], what: str) -> None:
    if gates is None:
        return
    if len(gates) != len(sizes):
        raise ValueError(f"{what}: expected one gate tensor (or None) per layer ({len(sizes)}), got {len(gates)}")
    for i, (g, n) in enumerate(zip(gates, sizes)):
        if g is None:
            continue
        if not isinstance(g, torch.Tensor):
            raise TypeError(f"{what}[{i}]: expected a tensor, got {type(g).__name__}")
        if g.dim() not in (1, 2) or g.shape[-1] != n:
            raise ValueError(f"{what}[{i}]: expected shape ({n},) or (batch, {n}), got {tuple(g.shape)}")


@contextmanager
def gate_units(model: nn.Module, head_gates: Sequence[torch.Tensor | None] | None = None,
               ffn_gates: Sequence[torch.Tensor | None] | None = None) -> Iterator[nn.Module]:
    """Multiply each attention head's output and each FFN neuron's activation by a gate, inside a `with` block.

    `model` is a course Classifier or Encoder. `head_gates[l]` has shape (heads_l,) or (batch, heads_l)
    and scales head h's context vector in layer l before the output projection; `ffn_gates[l]` has
    shape (ffn_l,) or (batch, ffn_l) and scales neuron i's GELU activation before the down projection.
    A gate of 0 removes the unit exactly (the layer then computes what the physically smaller layer
    would); gates that require grad give d(loss)/d(gate), the signal behind Taylor and Fisher scores.
    Per-example gates (batch, units) give per-example gradients in a single backward pass.
    """
    encoder = getattr(model, "encoder", model)
    layers = getattr(encoder, "layers", None)
    if layers is None:
        raise TypeError(f"expected a course Classifier or Encoder (with .layers), got {type(model).__name__}")
    _check_gates(head_gates, [layer.attn.heads for layer in layers], "head_gates")
    _check_gates(ffn_gates, [layer.ffn.up.out_features for layer in layers], "ffn_gates")
    handles = []

    def head_hook(gate: torch.Tensor, head_dim: int):
        def hook(module: nn.Module, args: tuple) -> tuple:
            ctx = args[0]                                  # (batch, seq, heads * head_dim)
            b, n, _ = ctx.shape
            g = gate.view(-1, 1, gate.shape[-1], 1).to(ctx.dtype)   # (1 or batch, 1, heads, 1)
            return ((ctx.view(b, n, -1, head_dim) * g).view(b, n, -1),) + args[1:]
        return hook

    def ffn_hook(gate: torch.Tensor):
        def hook(module: nn.Module, args: tuple) -> tuple:
            act = args[0]                                  # (batch, seq, ffn)
            return (act * gate.view(-1, 1, gate.shape[-1]).to(act.dtype),) + args[1:]
        return hook

    try:
        for i, layer in enumerate(layers):
            if head_gates is not None and head_gates[i] is not None and layer.attn.heads:
                handles.append(layer.attn.o.register_forward_pre_hook(head_hook(head_gates[i], layer.attn.head_dim)))
            if ffn_gates is not None and ffn_gates[i] is not None and layer.ffn.up.out_features:
                handles.append(layer.ffn.down.register_forward_pre_hook(ffn_hook(ffn_gates[i])))
        yield model
    finally:
        for h in handles:
            h.remove()
