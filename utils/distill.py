"""Plumbing for knowledge distillation: smaller students built from a teacher, cached teacher outputs.

The distillation *losses* are written in the chapter notebook; this module only holds what the
training runs need around them:

- ``make_student``: a shallower Classifier of the same width whose layers are copied from chosen
  teacher layers (DistilBERT-style) or freshly initialised, with the teacher's embeddings and head;
- ``TeacherCache``: the teacher's logits (and optionally pooled hidden states) computed once for a
  set of training examples and looked up per batch by token ids, so every student run reuses them;
- ``forward_with_hidden``: a Classifier's logits together with every layer's hidden states.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from utils.data import Batch, Example, Tokenizer
from utils.models import Classifier, EncoderConfig, mean_pool


def make_student(teacher: Classifier, layer_ids: Sequence[int] | None, n_layers: int | None = None,
                 seed: int = 0) -> Classifier:
    """A student with the teacher's width: embeddings and head copied from the teacher.

    ``layer_ids`` lists the teacher layers whose weights initialise the student's layers, in order
    (e.g. ``[0, 2, 4]``). ``layer_ids=None`` gives ``n_layers`` randomly initialised layers (BERT's
    init: normal(0, 0.02) weights, zero biases, unit LayerNorm), drawn from ``seed``.
    """
    if not isinstance(teacher, Classifier):
        raise TypeError(f"expected a utils.models.Classifier teacher, got {type(teacher).__name__}")
    n_teacher = len(teacher.encoder.layers)
    if layer_ids is None:
        if not isinstance(n_layers, int) or not 1 <= n_layers <= n_teacher:
            raise ValueError(f"with layer_ids=None, n_layers must be an int in [1, {n_teacher}], got {n_layers!r}")
        heads = [teacher.cfg.heads_per_layer[0]] * n_layers
        ffn = [teacher.cfg.ffn_per_layer[0]] * n_layers
    else:
        layer_ids = [int(i) for i in layer_ids]
        if not layer_ids or any(not 0 <= i < n_teacher for i in layer_ids):
            raise ValueError(f"layer_ids must be a non-empty list of teacher layers in [0, {n_teacher}), got {layer_ids}")
        if n_layers is not None and n_layers != len(layer_ids):
            raise ValueError(f"n_layers={n_layers} disagrees with {len(layer_ids)} layer_ids")
        heads = [teacher.cfg.heads_per_layer[i] for i in layer_ids]
        ffn = [teacher.cfg.ffn_per_layer[i] for i in layer_ids]
    cfg = EncoderConfig.from_dict({**teacher.cfg.to_dict(), "layers": len(heads),
                                   "heads_per_layer": heads, "ffn_per_layer": ffn})
    torch.manual_seed(seed)
    student = Classifier(cfg, teacher.head.out_features)
    if layer_ids is None:
        for module in student.encoder.layers.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    else:
        for j, i in enumerate(layer_ids):
            student.encoder.layers[j].load_state_dict(teacher.encoder.layers[i].state_dict())
    student.encoder.embed.load_state_dict(teacher.encoder.embed.state_dict())
    student.head.load_state_dict(teacher.head.state_dict())
    return student.eval()


def forward_with_hidden(model: Classifier, input_ids: torch.Tensor,
                        attention_mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Return (logits, hidden states): index 0 is the embedding output, index i the output of layer i."""
    hidden = model.encoder(input_ids, attention_mask, return_all=True)
    return model.head(model.drop(mean_pool(hidden[-1], attention_mask))), hidden


def _key(ids: torch.Tensor, mask: torch.Tensor) -> bytes:
    return ids[mask.bool()].cpu().numpy().tobytes()


class TeacherCache:
    """The teacher's logits for a fixed list of examples, looked up per batch by the token ids.

    The teacher's output is a function of the token ids alone (in eval mode), so keying the cache
    by the ids of each row is exact. ``logits(batch)`` raises KeyError for a row that was not cached.
    """

    def __init__(self, teacher: nn.Module, examples: Sequence[Example], tokenizer: Tokenizer,
                 batch_size: int = 64) -> None:
        if len(examples) == 0:
            raise ValueError("expected at least one example to cache")
        self.examples = list(examples)
        self._logits: dict[bytes, torch.Tensor] = {}
        was_training = teacher.training
        teacher.eval()
        device = next(teacher.parameters()).device
        order = sorted(range(len(self.examples)), key=lambda i: len(self.examples[i].text))
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                texts = [self.examples[i].text for i in order[start:start + batch_size]]
                ids, mask = tokenizer.encode(texts)
                out = teacher(ids.to(device), mask.to(device)).float().cpu()
                for r in range(len(texts)):
                    self._logits[_key(ids[r], mask[r])] = out[r]
        teacher.train(was_training)

    def __len__(self) -> int:
        return len(self._logits)

    def logits(self, batch: Batch) -> torch.Tensor:
        """The cached teacher logits for every row of ``batch`` (on the batch's device)."""
        rows = []
        for r in range(batch.input_ids.shape[0]):
            key = _key(batch.input_ids[r], batch.attention_mask[r])
            if key not in self._logits:
                raise KeyError(f"row {r} of the batch is not in the teacher cache; train on cache.examples")
            rows.append(self._logits[key])
        return torch.stack(rows).to(batch.input_ids.device)



def check_scalar_loss(value: object) -> torch.Tensor:
    """`value` if it is a loss autograd can train with (a 0-dim tensor with a gradient), else a TypeError that
    says what was expected."""
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"the loss must return a scalar (0-dim) tensor, got {got}")
    if not value.requires_grad:
        raise TypeError("the loss does not depend on student_logits through autograd (no gradient)")
    return value


#: 4.1's scarce-label setting: a teacher-initialised 3-layer student (teacher layers 0, 2, 4, token embeddings
#: frozen) trained for 300 steps of batch 32 over the first 960 training tweets (ten passes) at learning
#: rate 1e-4, seed 0. Graded exercise ch04.ex6 trains it with the learner's loss.
SCARCE = {"layers": (0, 2, 4), "labelled": 960, "steps": 300, "batch": 32, "lr": 1e-4, "seed": 0}


def train_scarce_student(teacher: Classifier, loss, examples: Sequence[Example], tokenizer: Tokenizer,
                         cache: TeacherCache | None = None, *, steps: int = SCARCE["steps"],
                         seed: int = SCARCE["seed"]) -> Classifier:
    """A student trained in 4.1's scarce-label setting (``SCARCE``) with
    ``loss(student_logits, teacher_logits, labels)``, a scalar tensor, on ``examples`` (the labelled tweets;
    their teacher logits come from ``cache``, built here if not given). Returns the student in eval mode."""
    from utils.pipeline import distil

    if not callable(loss):
        raise TypeError(f"expected loss(student_logits, teacher_logits, labels), a function, got {type(loss).__name__}")
    if cache is None:
        cache = TeacherCache(teacher, examples, tokenizer)
    student = make_student(teacher, SCARCE["layers"], n_layers=len(SCARCE["layers"]), seed=seed)
    return distil(student, cache, examples, tokenizer, steps=steps, lr=SCARCE["lr"], batch_size=SCARCE["batch"],
                  seed=seed, loss=lambda s, t, y: check_scalar_loss(loss(s, t, y)))
