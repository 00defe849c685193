"""Pruning plumbing shared by the pruning chapter and later ones: which tensors to prune,
applying masks in place, keeping them applied during fine-tuning, and counting what is left.

The pruning *rules* (magnitude, global thresholds, schedules, importance scores) are written
in the chapter's notebooks; this module only moves masks around.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

__all__ = ["prunable_weights", "apply_masks_", "keep_masks", "mask_sparsity", "masks_from_zeros"]

DEFAULT_SKIP = ("embed.", "head.")


def prunable_weights(model: nn.Module, skip: Iterable[str] = DEFAULT_SKIP) -> dict[str, nn.Parameter]:
    """The 2-D weight matrices of `model`'s nn.Linear layers whose names contain none of `skip`.

    With the default `skip`, a course Classifier yields the 36 Q/K/V/O/up/down matrices of
    its encoder layers: embeddings and the classification head are left dense.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    skip = tuple(skip)
    out = {}
    for mod_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            name = f"{mod_name}.weight" if mod_name else "weight"
            if not any(s in name for s in skip):
                out[name] = module.weight
    return out


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
