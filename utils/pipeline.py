"""Plumbing for chapter 7's capstone: the course's compression steps as functions that return new models.

Every step takes a model and returns a *new* one (the input is never changed), so stages compose
and every intermediate model can still be measured:

- ``kd_loss``: chapter 4's distillation loss, alpha * CE + (1 - alpha) * T^2 * KL (the course's reference);
- ``distil``: a copy of a student trained against cached teacher logits (``utils.distill.TeacherCache``);
- ``prune_units``: structured pruning to the first ``heads`` heads / ``ffn`` neurons of every layer after
  sorting them by chapter 2's gradient importance (``utils.nas.unit_importance``, ``reorder_units``,
  ``slice_subnet``): a physically smaller ``Classifier``;
- ``quantize_int8``: dynamic int8 linear layers with ``torch.ao`` (chapter 3 and 6);
- ``CompressedEmbeddings`` / ``compress_embeddings``: the token table cut to the tokens a corpus uses and
  stored with 4- or 8-bit per-group codes, the position table cut to the tokenizer's maximum length;
- ``bytes_on_disk``: the size of the serialized ``state_dict`` (what a file of the model takes).
"""
from __future__ import annotations

import copy
import io
import warnings
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import Example, Tokenizer
from utils.distill import TeacherCache
from utils.models import Classifier
from utils.nas import reorder_units, slice_subnet, unit_importance
from utils.train import set_seed, train

__all__ = ["kd_loss", "distil", "prune_units", "quantize_int8", "CompressedEmbeddings", "compress_embeddings",
           "corpus_token_ids", "bytes_on_disk"]


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            T: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T)), batch mean."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student and teacher logits differ in shape: {tuple(student_logits.shape)} vs "
                         f"{tuple(teacher_logits.shape)}")
    log_q = F.log_softmax(student_logits / T, dim=-1)
    log_p = F.log_softmax(teacher_logits / T, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean()
    return alpha * F.cross_entropy(student_logits, labels) + (1 - alpha) * T * T * kl


def distil(student: Classifier, cache: TeacherCache, examples: Sequence[Example], tokenizer: Tokenizer, *,
           steps: int, lr: float = 1e-4, batch_size: int = 32, T: float = 4.0, alpha: float = 0.5,
           seed: int = 0, loss: Callable | None = None) -> Classifier:
    """A trained copy of `student`: `steps` AdamW steps of ``kd_loss`` on `examples` (their logits must be cached),
    or of ``loss(student_logits, teacher_logits, labels)`` when given (then `T` and `alpha` are unused).

    The token embedding stays frozen (as in chapter 4): it is half the parameters and barely moves.
    """
    if not isinstance(student, Classifier):
        raise TypeError(f"expected a utils.models.Classifier, got {type(student).__name__}")
    if len(examples) < batch_size:
        raise ValueError(f"expected at least one batch of examples ({batch_size}), got {len(examples)}")
    set_seed(seed)
    model = copy.deepcopy(student)
    model.encoder.embed.tok.weight.requires_grad_(False)

    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        logits = m(batch.input_ids, batch.attention_mask)
        if loss is not None:
            return loss(logits, cache.logits(batch), batch.labels)
        return kd_loss(logits, cache.logits(batch), batch.labels, T, alpha)

    train(model, examples, tokenizer, steps=steps, batch_size=batch_size, lr=lr, seed=seed, loss_fn=loss_fn,
          device="cpu", progress=False)
    model.encoder.embed.tok.weight.requires_grad_(True)
    return model.eval()


def prune_units(model: Classifier, examples: Sequence[Example], tokenizer: Tokenizer, *, heads: int,
                ffn: int) -> Classifier:
    """A new Classifier keeping, in every layer, the `heads` heads and `ffn` neurons of highest importance."""
    if not isinstance(model, Classifier):
        raise TypeError(f"expected a utils.models.Classifier, got {type(model).__name__}")
    n_heads, n_ffn = model.cfg.heads_per_layer[0], model.cfg.ffn_per_layer[0]
    if not (1 <= heads <= n_heads and 1 <= ffn <= n_ffn):
        raise ValueError(f"expected 1 <= heads <= {n_heads} and 1 <= ffn <= {n_ffn}, got heads={heads}, ffn={ffn}")
    head_scores, ffn_scores = unit_importance(model, examples, tokenizer)
    ordered = reorder_units(model, head_scores, ffn_scores)
    return slice_subnet(ordered, [(heads, ffn)] * len(model.encoder.layers))


def quantize_int8(model: nn.Module, per_channel: bool = False) -> nn.Module:
    """A copy of `model` whose ``nn.Linear`` layers are torch.ao dynamic int8 (int8 weights, int8 matmul).

    The weights get one scale per tensor, or with `per_channel` one scale per output row (chapter 3.1's
    per-row scales; ``per_channel_dynamic_qconfig``); activations are quantized per batch at run time."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if not isinstance(per_channel, bool):
        raise TypeError(f"per_channel must be True or False, got {per_channel!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # torch.ao's deprecation notices (the API still works in 2.13)
        if per_channel:
            spec = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
            return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), spec)
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def corpus_token_ids(examples: Iterable[Example], tokenizer: Tokenizer, chunk: int = 512) -> list[int]:
    """Sorted ids of every token the tokenizer produces on `examples` (with [CLS], [SEP])."""
    examples = list(examples)
    if not examples:
        raise ValueError("expected at least one example")
    seen: set[int] = set()
    for start in range(0, len(examples), chunk):
        ids, mask = tokenizer.encode([e.text for e in examples[start:start + chunk]])
        seen.update(ids[mask.bool()].tolist())
    return sorted(seen)


class CompressedEmbeddings(nn.Module):
    """Drop-in for ``utils.models.Embeddings``: a cut, quantized token table and a cut position table.

    Token ids are mapped by ``id_map`` (original id -> row of the kept table; ids not kept -> the row of
    [UNK]); each row is stored as `bits`-bit signed codes in groups of ``group`` values with one fp16
    scale per group (4-bit codes are packed two per byte).
    """

    def __init__(self, embed: nn.Module, keep_ids: Sequence[int], unk_id: int, max_length: int,
                 bits: int = 8, group: int = 64) -> None:
        super().__init__()
        if bits not in (4, 8):
            raise ValueError(f"bits must be 4 or 8, got {bits}")
        tok = embed.tok.weight.detach()
        vocab, hidden = tok.shape
        if hidden % group:
            raise ValueError(f"group ({group}) must divide the hidden size ({hidden})")
        keep = sorted(set(int(i) for i in keep_ids) | {int(unk_id)})
        if keep[0] < 0 or keep[-1] >= vocab:
            raise ValueError(f"keep_ids must lie in [0, {vocab}), got ids from {keep[0]} to {keep[-1]}")
        if not 1 <= max_length <= embed.pos.weight.shape[0]:
            raise ValueError(f"max_length must be in [1, {embed.pos.weight.shape[0]}], got {max_length}")
        id_map = torch.full((vocab,), keep.index(int(unk_id)), dtype=torch.int32 if len(keep) > 32767 else torch.int16)
        id_map[torch.tensor(keep)] = torch.arange(len(keep), dtype=id_map.dtype)
        rows = tok[torch.tensor(keep)].reshape(len(keep), hidden // group, group)
        qmax = 2 ** (bits - 1) - 1
        scale = (rows.abs().amax(-1, keepdim=True) / qmax).clamp_min(1e-8).half()
        codes = torch.clamp(torch.round(rows / scale.float()), -qmax, qmax).to(torch.int8).reshape(len(keep), hidden)
        if bits == 4:
            nib = (codes + 8).to(torch.uint8)                      # 1..15 in 4 bits
            codes = nib[:, 0::2] | (nib[:, 1::2] << 4)             # two codes per byte
        self.bits, self.group, self.hidden, self.max_length = bits, group, hidden, max_length
        self.register_buffer("id_map", id_map)
        self.register_buffer("codes", codes)
        self.register_buffer("scale", scale.squeeze(-1))
        self.register_buffer("pos", embed.pos.weight.detach()[:max_length].clone())
        self.register_buffer("seg", embed.seg.weight.detach()[0].clone())
        self.norm = copy.deepcopy(embed.norm)
        self.drop = copy.deepcopy(embed.drop)

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Dequantized embedding rows for (already mapped) row indices."""
        codes = self.codes[ids]
        if self.bits == 4:
            codes = torch.stack([(codes & 15).to(torch.int8) - 8, (codes >> 4).to(torch.int8) - 8], -1).flatten(-2)
        codes = codes.float().unflatten(-1, (self.hidden // self.group, self.group))
        return (codes * self.scale[ids].float()[..., None]).flatten(-2)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] > self.max_length:
            raise ValueError(f"these embeddings keep {self.max_length} positions, got sequences of "
                             f"{input_ids.shape[-1]} tokens")
        x = self.rows(self.id_map[input_ids].long()) + self.pos[: input_ids.shape[1]][None] + self.seg
        return self.drop(self.norm(x))


def compress_embeddings(model: Classifier, keep_ids: Sequence[int], unk_id: int, max_length: int,
                        bits: int = 8, group: int = 64) -> Classifier:
    """A copy of `model` with ``CompressedEmbeddings`` in place of its embedding layer."""
    if not isinstance(getattr(getattr(model, "encoder", None), "embed", None), nn.Module):
        raise TypeError(f"expected a course Classifier with encoder.embed, got {type(model).__name__}")
    out = copy.deepcopy(model)
    out.encoder.embed = CompressedEmbeddings(model.encoder.embed, keep_ids, unk_id, max_length, bits, group)
    return out.eval()


def bytes_on_disk(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: every stored tensor plus the file's own metadata."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes
