"""Seeding, device choice, and the one fine-tune / evaluation loop every chapter uses.

``train`` takes an optional ``loss_fn(model, batch) -> loss`` (distillation passes one
that also calls the teacher) and an optional ``after_step(model)`` hook (pruning
passes one that re-applies its masks after every optimizer step).
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from utils import env
from utils.data import Batch, Example, Tokenizer, batches


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so a notebook run is repeatable."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or as ``prefer``/the COURSE_DEVICE variable says), else CPU."""
    choice = prefer or env.device_preference()
    if choice:
        if choice.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} requested but CUDA is not available")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=2.0)


@torch.no_grad()
def predict(model: nn.Module, examples: Sequence[Example], tokenizer: Tokenizer, batch_size: int = 64,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Return the model's logits for every example, in the examples' order (float32, on CPU)."""
    if len(examples) == 0:
        raise ValueError("expected at least one example")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].text))  # little padding
    out: list[torch.Tensor] = [None] * len(examples)  # type: ignore[list-item]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = tokenizer.encode([examples[i].text for i in idx])
        logits = model(ids.to(device), mask.to(device)).float().cpu()
        for j, i in enumerate(idx):
            out[i] = logits[j]
    model.train(was_training)
    return torch.stack(out)


def accuracy(logits: torch.Tensor, labels: torch.Tensor | Sequence[int]) -> float:
    """Fraction of rows whose arg-max equals the label, as the exact ratio correct / n (a Python float).

    Computed from integer counts, not a float32 mean, so that 1,619 right out of 2,000 is 0.8095 and
    prints the same (81.0%) here as when read back from a record.
    """
    labels = torch.as_tensor(labels)
    if logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"expected logits (n, classes) and n labels, got {tuple(logits.shape)} and {tuple(labels.shape)}")
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN")
    return int((logits.argmax(-1) == labels).sum()) / labels.shape[0]


def evaluate(model: nn.Module, examples: Sequence[Example], tokenizer: Tokenizer, batch_size: int = 64,
             device: torch.device | str | None = None) -> dict[str, float]:
    """Accuracy and mean cross-entropy of the model on labelled examples."""
    logits = predict(model, examples, tokenizer, batch_size, device)
    labels = torch.tensor([e.label for e in examples])
    return {"accuracy": accuracy(logits, labels), "loss": F.cross_entropy(logits, labels).item()}


def cross_entropy_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The default loss: cross-entropy of the model's logits against the hard labels."""
    return F.cross_entropy(model(batch.input_ids, batch.attention_mask), batch.labels)


@dataclass
class TrainLog:
    """What happened during training: losses per step, evaluations, wall time."""

    losses: list[float] = field(default_factory=list)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def _training_batches(examples, tokenizer, batch_size, seed) -> "iter[Batch]":
    """Endless shuffled batches, grouped by similar length within windows to cut padding."""
    epoch = 0
    while True:
        rng = random.Random(seed * 1000 + epoch)
        order = list(range(len(examples)))
        rng.shuffle(order)
        window = batch_size * 50
        chunks = []
        for w in range(0, len(order), window):
            part = sorted(order[w : w + window], key=lambda i: len(examples[i].text))
            chunks += [part[s : s + batch_size] for s in range(0, len(part), batch_size)]
        rng.shuffle(chunks)
        for idx in chunks:
            sub = [examples[i] for i in idx]
            yield next(batches(sub, tokenizer, batch_size=len(sub)))
        epoch += 1


def train(
    model: nn.Module,
    examples: Sequence[Example],
    tokenizer: Tokenizer,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 5e-5,
    weight_decay: float = 0.01,
    warmup: float = 0.1,
    seed: int = 0,
    loss_fn: Callable[[nn.Module, Batch], torch.Tensor] = cross_entropy_loss,
    after_step: Callable[[nn.Module], None] | None = None,
    eval_examples: Sequence[Example] | None = None,
    eval_every: int = 0,
    device: torch.device | str | None = None,
    params: Sequence[nn.Parameter] | None = None,
    progress: bool = True,
    max_grad_norm: float = 1.0,
) -> TrainLog:
    """Fine-tune ``model`` for ``steps`` optimizer steps with AdamW and a linear warm-up/decay schedule.

    The model is left in eval mode on ``device``. Returns a TrainLog.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if len(examples) == 0:
        raise ValueError("expected training examples")
    device = torch.device(device) if device is not None else pick_device()
    model.to(device).train()
    params = [p for p in (params or model.parameters()) if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    warm = max(1, int(warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    torch.manual_seed(seed)  # dropout masks
    log, start = TrainLog(), time.perf_counter()
    bar = _progress(steps, "training", progress)
    data = _training_batches(examples, tokenizer, batch_size, seed)
    for step in range(1, steps + 1):
        batch = next(data).to(device)
        loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm:
            nn.utils.clip_grad_norm_(params, max_grad_norm)
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(model)
        log.losses.append(loss.item())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(log.losses[-20:]):.3f}")
        if eval_examples is not None and eval_every and (step % eval_every == 0 or step == steps):
            log.evals.append((step, evaluate(model, eval_examples, tokenizer, device=device)))
            model.train()
    if bar is not None:
        bar.close()
    model.eval()
    log.seconds, log.steps = time.perf_counter() - start, steps
    return log
