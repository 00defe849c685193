"""Plumbing for weight-only quantization of a language model (chapter 3, notebook 3).

The quantizers themselves (group-wise rounding, GPTQ) are written in the notebook; this module
only finds the linear layers, collects the input statistics GPTQ needs with forward hooks, and
swaps quantized weights in and out of a model.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

import torch
from torch import nn


def linear_layers(model: nn.Module, exclude: Iterable[str] = ("lm_head",)) -> dict[str, nn.Linear]:
    """Every `nn.Linear` of `model` by qualified name, except those whose last name part is in `exclude`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    skip = set(exclude)
    return {name: m for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] not in skip}


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
