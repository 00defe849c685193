"""How big a model is: parameters, sparsity, bytes at a given precision, and FLOPs.

Every chapter reports the same few static numbers for each variant of the model it builds
(how many parameters, how many of them are zero, how many bytes they take, how much
arithmetic one forward pass needs), so they are computed here, once, the same way everywhere:

* sizes are *computed* from the parameters and a bit width (``model_size_bytes``) or
  *read* from the tensors actually stored (``tensor_bytes``);
* FLOPs come from PyTorch's own counter, ``torch.utils.flop_counter.FlopCounterMode``.

How fast it runs lives beside it, in :mod:`utils.speed`.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

import torch
from torch import nn

__all__ = [
    "count_parameters",
    "count_nonzero",
    "sparsity",
    "model_size_bytes",
    "tensor_bytes",
    "format_bytes",
    "count_flops",
]

TensorSource = Union[nn.Module, torch.Tensor, Mapping[str, Any], Iterable[torch.Tensor]]
Where = Callable[[str, torch.Tensor], bool]
BitsFor = Union[Mapping[str, int], Callable[[str, torch.Tensor], Union[int, None]]]


# --------------------------------------------------------------------------- helpers
def _require_module(model: Any, what: str = "model") -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``, else raise a clear error."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_bits(bits: Any, what: str = "bits") -> int:
    """Return ``bits`` if it is a positive integer, else raise ``ValueError``."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise ValueError(f"{what} must be a positive integer, got {bits!r}")
    return bits


def _named_tensors(source: TensorSource) -> list[tuple[str, torch.Tensor]]:
    """Name every tensor of a module (its parameters), a tensor, a dict or an iterable."""
    if isinstance(source, nn.Module):
        return list(source.named_parameters())
    if isinstance(source, torch.Tensor):
        return [("tensor", source)]
    if isinstance(source, Mapping):
        items = list(source.items())
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        items = [(str(i), t) for i, t in enumerate(source)]
    else:
        raise TypeError(
            "expected an nn.Module, a tensor, a dict of tensors or an iterable of tensors, "
            f"got {type(source).__name__}"
        )
    for name, t in items:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"expected tensors only, but {name!r} is a {type(t).__name__}")
    return items


def _select(source: TensorSource, where: Where | None) -> list[tuple[str, torch.Tensor]]:
    """The named tensors of ``source`` for which ``where(name, tensor)`` holds."""
    items = _named_tensors(source)
    if where is None:
        return items
    if not callable(where):
        raise TypeError(f"where must be a callable (name, tensor) -> bool, got {type(where).__name__}")
    return [(n, t) for n, t in items if where(n, t)]


# --------------------------------------------------------------------------- counting
def count_parameters(model: nn.Module, trainable_only: bool = False, *, where: Where | None = None) -> int:
    """Number of parameters of ``model`` (shared parameters counted once)."""
    _require_module(model)
    items = _select(model, where)
    return sum(p.numel() for _, p in items if p.requires_grad or not trainable_only)


def count_nonzero(model_or_tensors: TensorSource, *, where: Where | None = None) -> int:
    """Number of nonzero entries in a model's parameters (or in the tensors given)."""
    return sum(int(torch.count_nonzero(t.detach())) for _, t in _select(model_or_tensors, where))


def sparsity(model_or_tensors: TensorSource, *, where: Where | None = None) -> float:
    """Fraction of entries that are exactly zero, between 0 and 1.

    ``where(name, tensor) -> bool`` restricts the count, e.g. to the weight matrices of
    the Linear layers: ``where=lambda n, t: n.endswith("weight") and t.dim() == 2``.
    """
    items = _select(model_or_tensors, where)
    total = sum(t.numel() for _, t in items)
    if total == 0:
        raise ValueError("no parameters to measure (empty model, or `where` selected nothing)")
    nonzero = sum(int(torch.count_nonzero(t.detach())) for _, t in items)
    return 1.0 - nonzero / total


# --------------------------------------------------------------------------- sizes
def _bits_lookup(bits: int, bits_for: BitsFor | None, names: list[str]) -> Callable[[str, torch.Tensor], int]:
    """Turn the ``bits``/``bits_for`` arguments into a function (name, tensor) -> bits."""
    if bits_for is None:
        return lambda name, t: bits
    if isinstance(bits_for, Mapping):
        rules = [(str(pattern), _check_bits(b, f"bits_for[{pattern!r}]")) for pattern, b in bits_for.items()]
        for pattern, _ in rules:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ValueError(
                    f"bits_for pattern {pattern!r} matches no tensor; names look like {names[:3]}"
                )

        def from_rules(name: str, t: torch.Tensor) -> int:
            for pattern, b in rules:
                if fnmatch.fnmatchcase(name, pattern):
                    return b
            return bits

        return from_rules
    if callable(bits_for):

        def from_callable(name: str, t: torch.Tensor) -> int:
            b = bits_for(name, t)
            return bits if b is None else _check_bits(b, f"bits_for({name!r})")

        return from_callable
    raise TypeError(f"bits_for must be a dict or a callable, got {type(bits_for).__name__}")


def model_size_bytes(
    model: nn.Module,
    bits: int = 32,
    *,
    bits_for: BitsFor | None = None,
    include_buffers: bool = False,
) -> int:
    """Bytes the parameters would take if each were stored with ``bits`` bits.

    This is the size of a *storage format*, computed, not read from memory: an fp32
    model at ``bits=8`` gives the size its int8 version would have.  Per-tensor
    overrides come from ``bits_for``, either a dict of name patterns (``fnmatch``
    style, first match wins, e.g. ``{"embeddings.*": 32, "*LayerNorm*": 32}``) or a
    callable ``(name, tensor) -> bits or None`` (``None`` keeps ``bits``).  Each
    tensor is rounded up to whole bytes.  The scales and zero points a quantized
    format also stores are not included: add them (or pass them as buffers with
    ``include_buffers=True``).  Shared (tied) parameters are counted once.
    """
    _require_module(model)
    _check_bits(bits)
    items = list(model.named_parameters())
    if include_buffers:
        items += list(model.named_buffers())
    lookup = _bits_lookup(bits, bits_for, [n for n, _ in items])
    return sum(math.ceil(t.numel() * lookup(n, t) / 8) for n, t in items)


def _storage_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor holds in memory, including the indices of a sparse layout."""
    if t.layout == torch.sparse_coo:
        t = t.coalesce()
        return _storage_bytes(t.indices()) + _storage_bytes(t.values())
    if t.layout in (torch.sparse_csr, torch.sparse_bsr):
        return sum(_storage_bytes(x) for x in (t.crow_indices(), t.col_indices(), t.values()))
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return sum(_storage_bytes(x) for x in (t.ccol_indices(), t.row_indices(), t.values()))
    return t.numel() * t.element_size()


def _flatten_tensors(obj: Any) -> Iterable[torch.Tensor]:
    """Every tensor inside nested dicts, lists and tuples (packed quantized params)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _flatten_tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _flatten_tensors(v)


def tensor_bytes(obj: TensorSource) -> int:
    """Bytes actually stored: a tensor, a collection of tensors, or a module's state_dict.

    Unlike ``model_size_bytes`` this reads the real dtypes (an int8 tensor counts one
    byte per entry, a sparse tensor counts its indices too).  For a module it sums its
    ``state_dict()`` (parameters, buffers, and the packed weights of ``torch.ao``
    quantized layers); a tensor reachable twice (tied weights) is counted once.
    """
    if isinstance(obj, nn.Module):
        tensors = list(_flatten_tensors(obj.state_dict()))
    elif isinstance(obj, (torch.Tensor, Mapping, list, tuple)):
        tensors = list(_flatten_tensors(obj))
    elif isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        tensors = list(_flatten_tensors(list(obj)))
    else:
        raise TypeError(
            f"expected a tensor, a collection of tensors or an nn.Module, got {type(obj).__name__}"
        )
    seen: set[tuple] = set()
    total = 0
    for t in tensors:
        key = (t.data_ptr(), tuple(t.shape), t.dtype, t.layout) if t.layout == torch.strided else (id(t),)
        if t.layout == torch.strided and t.data_ptr() == 0:
            key = (id(t),)  # empty or meta tensors have no address to share
        if key in seen:
            continue
        seen.add(key)
        total += _storage_bytes(t)
    return total


def format_bytes(n: int | float, *, binary: bool = False) -> str:
    """Human-readable size: ``format_bytes(90_868_000) == '90.9 MB'`` (``binary=True``: MiB)."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0:
        raise ValueError(f"expected a non-negative number of bytes, got {n!r}")
    base, units = (1024.0, ["B", "KiB", "MiB", "GiB", "TiB"]) if binary else (1000.0, ["B", "kB", "MB", "GB", "TB"])
    value, unit = float(n), units[0]
    for unit in units:
        if value < base or unit == units[-1]:
            break
        value /= base
    if unit == "B":
        return f"{int(round(value))} B"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


# --------------------------------------------------------------------------- FLOPs
def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args: Any, out_shape=None, **kwargs: Any) -> int:
    """FLOPs of the CPU flash-attention kernel: the same two matrix products as on CUDA."""
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _extra_flop_formulas() -> dict[Any, Any]:
    """Formulas the torch counter lacks: on CPU, ``scaled_dot_product_attention`` runs
    ``_scaled_dot_product_flash_attention_for_cpu``, which it would count as zero."""
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    return {} if op is None else {op: _cpu_sdpa_flop}


def count_flops(model: nn.Module, *inputs: Any, **kwargs: Any) -> dict[str, Any]:
    """FLOPs and MACs of one forward pass ``model(*inputs, **kwargs)``, with a breakdown.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``, which counts the matrix
    products (``mm``, ``addmm``, ``bmm``, convolutions, scaled-dot-product attention):
    a product of an (m×k) and a (k×n) matrix is 2·m·k·n FLOPs, i.e. m·k·n
    multiply-accumulates (MACs = FLOPs / 2).  Element-wise work (bias adds, softmax,
    LayerNorm, GELU) is not counted; it is small next to the products in a transformer.
    The counter sees shapes, not values: zeros left by pruning still count, and
    ``torch.ao`` quantized kernels are not counted at all.

    ``F.scaled_dot_product_attention`` is counted on every device (on CPU the torch
    counter misses it, so a formula for its CPU kernel is added here).

    Returns a dict with ``flops`` and ``macs`` (totals), ``by_module`` (FLOPs per
    submodule name as in ``model.named_modules()``, nested ones included, zeros left
    out),
    ``children`` (FLOPs per top-level child) and ``by_operator`` (e.g. ``aten.addmm``).
    The forward pass runs under ``torch.no_grad()``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    _require_module(model)
    counter = FlopCounterMode(display=False, custom_mapping=_extra_flop_formulas())
    with torch.no_grad(), counter:
        model(*inputs, **kwargs)
    counts = counter.get_flop_counts()
    total = counter.get_total_flops()
    root = type(model).__name__
    called: dict[str, int] = {}
    for name, per_op in counts.items():
        if name == "Global" or name == root:
            continue
        rel = name[len(root) + 1 :] if name.startswith(root + ".") else name
        called[rel] = int(sum(per_op.values()))

    def flops_of(name: str, module: nn.Module) -> int:
        # A container that is never called itself (nn.ModuleList) sums its children.
        if name in called:
            return called[name]
        return sum(flops_of(f"{name}.{c}", m) for c, m in module.named_children())

    by_module = {}
    for name, module in model.named_modules():
        if name and (n := flops_of(name, module)):
            by_module[name] = n
    children = {n: flops_of(n, m) for n, m in model.named_children()}
    by_operator = {str(op): int(v) for op, v in counts.get("Global", {}).items()}
    return {
        "flops": int(total),
        "macs": int(total) // 2,
        "by_module": dict(sorted(by_module.items())),
        "children": children,
        "by_operator": dict(sorted(by_operator.items())),
    }
