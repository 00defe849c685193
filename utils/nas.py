"""Plumbing for architecture search on a weight-sharing supernet cut from a course Classifier.

The search *ideas* (counting the space, latency tables, evolution) are written in chapter 5's
notebooks; this module holds what both notebooks need around them:

- an architecture is a tuple with one gene per teacher layer: ``(heads, ffn)`` keeps that layer with
  its first ``heads`` attention heads and first ``ffn`` feed-forward neurons, ``(0, 0)`` drops it;
- ``unit_importance``: one score per head and per neuron (mean absolute per-example gate gradient,
  Michel et al.'s head score, as in chapter 2.2);
- ``reorder_units``: a copy of the model whose heads and neurons are sorted by decreasing score, so
  that "the first k" are the best k (the function the model computes does not change);
- ``slice_subnet``: the sub-network of an architecture as a real, smaller ``Classifier``;
- ``check_arch``, ``sample_arch`` and ``predict_latency`` (a per-block lookup table plus a per-layer term);
- ``subnet_forward``: a sub-network's forward pass on the supernet's own (shared) weights, so that a
  training step on it updates the supernet; ``sandwich_finetune`` trains the supernet that way (the
  sandwich rule: the largest, the smallest and random sub-networks in every step, each distilled from
  cached teacher logits).
"""
from __future__ import annotations

import copy
import math
import random
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import Example, Tokenizer, batches
from utils.models import Classifier, EncoderConfig, check_inputs, mean_pool
from utils.pruning import gate_units

__all__ = ["Arch", "check_arch", "sample_arch", "unit_importance", "reorder_units", "slice_subnet",
           "predict_latency", "n_kept", "subnet_forward", "sandwich_finetune"]

Arch = tuple[tuple[int, int], ...]


def check_arch(arch: Sequence[Sequence[int]], n_layers: int, head_choices: Sequence[int],
               ffn_choices: Sequence[int]) -> Arch:
    """Validate an architecture (one (heads, ffn) gene per layer, (0, 0) = dropped); return it as a tuple."""
    if len(arch) != n_layers:
        raise ValueError(f"expected one (heads, ffn) gene per layer ({n_layers}), got {len(arch)}")
    out = []
    for i, gene in enumerate(arch):
        if len(gene) != 2:
            raise ValueError(f"layer {i}: expected a (heads, ffn) pair, got {gene!r}")
        h, f = int(gene[0]), int(gene[1])
        if (h, f) != (0, 0) and (h not in head_choices or f not in ffn_choices):
            raise ValueError(f"layer {i}: ({h}, {f}) is not (0, 0) nor a choice of heads {tuple(head_choices)} "
                             f"x ffn {tuple(ffn_choices)}")
        out.append((h, f))
    if all(g == (0, 0) for g in out):
        raise ValueError("an architecture must keep at least one layer")
    return tuple(out)


def n_kept(arch: Sequence[Sequence[int]]) -> int:
    """Number of layers an architecture keeps."""
    return sum(1 for h, f in arch if (h, f) != (0, 0))


def sample_arch(rng: random.Random, n_layers: int, head_choices: Sequence[int], ffn_choices: Sequence[int]) -> Arch:
    """A random architecture: depth uniform in 1..n_layers, which layers uniform, widths uniform per layer."""
    if not isinstance(rng, random.Random):
        raise TypeError(f"expected a random.Random, got {type(rng).__name__}")
    depth = rng.randint(1, n_layers)
    kept = set(rng.sample(range(n_layers), depth))
    return tuple((rng.choice(list(head_choices)), rng.choice(list(ffn_choices))) if i in kept else (0, 0)
                 for i in range(n_layers))


def unit_importance(model: Classifier, examples: Sequence[Example], tokenizer: Tokenizer,
                    batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over examples of |d loss(x) / d gate| for every head (L, H) and every FFN neuron (L, FF)."""
    if len(examples) == 0:
        raise ValueError("expected at least one example to score the units on")
    layers = model.encoder.layers
    heads, ffn = torch.zeros(len(layers), layers[0].attn.heads), torch.zeros(len(layers), layers[0].ffn.up.out_features)
    if any(l.attn.heads != heads.shape[1] or l.ffn.up.out_features != ffn.shape[1] for l in layers):
        raise ValueError("unit_importance expects the same number of heads and neurons in every layer")
    was_training = model.training
    model.eval()
    for b in batches(examples, tokenizer, batch_size=batch_size):
        n = b.input_ids.shape[0]
        hg = [torch.ones(n, heads.shape[1], requires_grad=True) for _ in layers]
        fg = [torch.ones(n, ffn.shape[1], requires_grad=True) for _ in layers]
        with gate_units(model, head_gates=hg, ffn_gates=fg):
            loss = F.cross_entropy(model(b.input_ids, b.attention_mask), b.labels, reduction="sum")
        grads = torch.autograd.grad(loss, hg + fg)
        heads += torch.stack(grads[:len(layers)], 1).abs().sum(0)
        ffn += torch.stack(grads[len(layers):], 1).abs().sum(0)
    model.train(was_training)
    return heads / len(examples), ffn / len(examples)


@torch.no_grad()
def reorder_units(model: Classifier, head_scores: torch.Tensor, ffn_scores: torch.Tensor) -> Classifier:
    """A copy of `model` whose heads and FFN neurons are sorted by decreasing score in every layer."""
    layers = model.encoder.layers
    if head_scores.shape != (len(layers), layers[0].attn.heads) or ffn_scores.shape != (len(layers), layers[0].ffn.up.out_features):
        raise ValueError(f"scores of shape {tuple(head_scores.shape)} / {tuple(ffn_scores.shape)} do not match the model")
    out = copy.deepcopy(model)
    for layer, hs, fs in zip(out.encoder.layers, head_scores, ffn_scores):
        a, f, d = layer.attn, layer.ffn, layer.attn.head_dim
        rows = torch.cat([torch.arange(h * d, (h + 1) * d) for h in hs.argsort(descending=True, stable=True).tolist()])
        for lin in (a.q, a.k, a.v):
            lin.weight.copy_(lin.weight[rows])
            lin.bias.copy_(lin.bias[rows])
        a.o.weight.copy_(a.o.weight[:, rows])
        idx = fs.argsort(descending=True, stable=True)
        f.up.weight.copy_(f.up.weight[idx])
        f.up.bias.copy_(f.up.bias[idx])
        f.down.weight.copy_(f.down.weight[:, idx])
    return out


@torch.no_grad()
def slice_subnet(supernet: Classifier, arch: Sequence[Sequence[int]]) -> Classifier:
    """The sub-network of `arch` as a new Classifier: kept layers in order, each with its first heads / neurons."""
    layers = supernet.encoder.layers
    if len(arch) != len(layers):
        raise ValueError(f"expected one (heads, ffn) gene per supernet layer ({len(layers)}), got {len(arch)}")
    kept = [(i, int(h), int(f)) for i, (h, f) in enumerate(arch) if (int(h), int(f)) != (0, 0)]
    if not kept:
        raise ValueError("an architecture must keep at least one layer")
    for i, h, f in kept:
        if not (1 <= h <= layers[i].attn.heads and 1 <= f <= layers[i].ffn.up.out_features):
            raise ValueError(f"layer {i}: ({h}, {f}) exceeds the supernet's "
                             f"({layers[i].attn.heads}, {layers[i].ffn.up.out_features})")
    cfg = EncoderConfig.from_dict({**supernet.cfg.to_dict(), "layers": len(kept),
                                   "heads_per_layer": [h for _, h, _ in kept], "ffn_per_layer": [f for _, _, f in kept]})
    sub = Classifier(cfg, supernet.head.out_features)
    sub.encoder.embed.load_state_dict(supernet.encoder.embed.state_dict())
    sub.head.load_state_dict(supernet.head.state_dict())
    for new, (i, h, f) in zip(sub.encoder.layers, kept):
        old, w = layers[i], h * layers[i].attn.head_dim
        for name in ("q", "k", "v"):
            getattr(new.attn, name).weight.copy_(getattr(old.attn, name).weight[:w])
            getattr(new.attn, name).bias.copy_(getattr(old.attn, name).bias[:w])
        new.attn.o.weight.copy_(old.attn.o.weight[:, :w])
        new.attn.o.bias.copy_(old.attn.o.bias)
        new.ffn.up.weight.copy_(old.ffn.up.weight[:f])
        new.ffn.up.bias.copy_(old.ffn.up.bias[:f])
        new.ffn.down.weight.copy_(old.ffn.down.weight[:, :f])
        new.ffn.down.bias.copy_(old.ffn.down.bias)
        new.attn_norm.load_state_dict(old.attn_norm.state_dict())
        new.ffn_norm.load_state_dict(old.ffn_norm.state_dict())
    return sub.eval()


def predict_latency(table: Mapping, arch: Sequence[Sequence[int]]) -> float:
    """base + sum over kept layers of (layer + attn[heads] + ffn[width]); table keys 'base', 'layer', 'attn', 'ffn'.

    'attn' and 'ffn' map a head count / width (int or its string, as read back from JSON) to a time.
    """
    for key in ("base", "attn", "ffn"):
        if key not in table:
            raise KeyError(f"latency table has no {key!r} entry (keys: {sorted(table)})")

    def get(d: Mapping, k: int) -> float:
        if k in d:
            return float(d[k])
        if str(k) in d:
            return float(d[str(k)])
        raise KeyError(f"latency table has no entry for {k} (entries: {sorted(d)})")

    total = float(table["base"])
    for h, f in arch:
        if (h, f) != (0, 0):
            total += float(table.get("layer", 0.0)) + get(table["attn"], int(h)) + get(table["ffn"], int(f))
    return total


def subnet_forward(supernet: Classifier, arch: Sequence[Sequence[int]], input_ids: torch.Tensor,
                   attention_mask: torch.Tensor) -> torch.Tensor:
    """Logits of the sub-network `arch` computed on the supernet's own weights (slices, not copies).

    In eval mode it equals ``slice_subnet(supernet, arch)(input_ids, attention_mask)``; in training mode
    (dropout on) its gradients flow into the supernet's shared weights, which is what weight-sharing
    training needs.
    """
    layers = supernet.encoder.layers
    if len(arch) != len(layers):
        raise ValueError(f"expected one (heads, ffn) gene per supernet layer ({len(layers)}), got {len(arch)}")
    kept = [(layer, int(h), int(f)) for layer, (h, f) in zip(layers, arch) if (int(h), int(f)) != (0, 0)]
    if not kept:
        raise ValueError("an architecture must keep at least one layer")
    enc = supernet.encoder
    check_inputs(input_ids, attention_mask, enc.cfg.vocab_size, enc.cfg.max_positions)
    x = enc.embed(input_ids)
    bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
    b, n, _ = x.shape
    for layer, h, f in kept:
        a, d = layer.attn, layer.attn.head_dim
        if not (1 <= h <= a.heads and 1 <= f <= layer.ffn.up.out_features):
            raise ValueError(f"({h}, {f}) exceeds the supernet layer's ({a.heads}, {layer.ffn.up.out_features})")
        w = h * d
        q, k, v = (F.linear(x, lin.weight[:w], lin.bias[:w]).view(b, n, h, d).transpose(1, 2) for lin in (a.q, a.k, a.v))
        probs = a.drop((q @ k.transpose(-1, -2) / math.sqrt(d) + bias).softmax(dim=-1))
        ctx = (probs @ v).transpose(1, 2).reshape(b, n, w)
        x = layer.attn_norm(x + layer.drop(F.linear(ctx, a.o.weight[:, :w], a.o.bias)))
        up, down = layer.ffn.up, layer.ffn.down
        hidden = F.gelu(F.linear(x, up.weight[:f], up.bias[:f]))
        x = layer.ffn_norm(x + layer.drop(F.linear(hidden, down.weight[:, :f], down.bias)))
    return supernet.head(supernet.drop(mean_pool(x, attention_mask)))


def sandwich_finetune(supernet: Classifier, cache, examples: Sequence[Example], tokenizer: Tokenizer, *,
                      steps: int, smallest: Sequence[Sequence[int]], sample, n_random: int = 2, lr: float = 1e-4,
                      batch_size: int = 32, T: float = 4.0, alpha: float = 0.5, seed: int = 0) -> Classifier:
    """A copy of `supernet` trained with the sandwich rule: every step sums the distillation loss of the
    largest sub-network, `smallest`, and `n_random` architectures drawn by ``sample(rng)`` (a seeded
    ``random.Random``), all on the same batch, against the teacher logits in `cache` (a
    ``utils.distill.TeacherCache`` holding `examples`). The token embedding stays frozen, as in chapter 4.
    """
    from utils.pipeline import kd_loss            # utils.pipeline imports this module: import at call time
    from utils.train import set_seed, train

    if not isinstance(supernet, Classifier):
        raise TypeError(f"expected a utils.models.Classifier supernet, got {type(supernet).__name__}")
    if steps < 1 or n_random < 0:
        raise ValueError(f"expected steps >= 1 and n_random >= 0, got steps={steps}, n_random={n_random}")
    largest = tuple((l.attn.heads, l.ffn.up.out_features) for l in supernet.encoder.layers)
    smallest = tuple(map(tuple, smallest))
    if len(smallest) != len(largest):
        raise ValueError(f"smallest must have one gene per layer ({len(largest)}), got {len(smallest)}")
    set_seed(seed)
    rng = random.Random(seed)
    model = copy.deepcopy(supernet)
    model.encoder.embed.tok.weight.requires_grad_(False)

    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        target = cache.logits(batch)
        archs = [largest, smallest] + [tuple(map(tuple, sample(rng))) for _ in range(n_random)]
        return sum(kd_loss(subnet_forward(m, a, batch.input_ids, batch.attention_mask), target, batch.labels, T, alpha)
                   for a in archs) / len(archs)

    train(model, examples, tokenizer, steps=steps, batch_size=batch_size, lr=lr, seed=seed, loss_fn=loss_fn,
          device="cpu", progress=False)
    model.encoder.embed.tok.weight.requires_grad_(True)
    return model.eval()
