"""The course's teacher: all-MiniLM-L6-v2 fine-tuned on the tweet-sentiment task.

The first call trains it with the course's own loop (a few minutes on a 2-core CPU)
and caches the weights in a user cache folder, keyed by the training configuration;
later calls load it in about a second. Every chapter compares against this model.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Sequence

import torch

from utils import env
from utils.data import LABELS, Example, Tokenizer, load_tweets, tweets_csv_path
from utils.models import Classifier, load_classifier, load_model, load_tokenizer, save_model
from utils.train import accuracy, predict, set_seed, train

# Everything that determines the teacher's weights; change any of it and a new teacher is trained.
TEACHER_CONFIG = {
    "base": "all-MiniLM-L6-v2",
    "labels": list(LABELS),
    "max_length": 64,
    "steps": 600,
    "batch_size": 32,
    "lr": 1e-4,
    "weight_decay": 0.01,
    "warmup": 0.1,
    "freeze_token_embeddings": True,  # the 11.7M-weight table: steps ~35% faster on CPU
    "seed": 0,
    "version": 1,
}


def cache_dir() -> Path:
    """The course's cache folder (``utils.env.cache_dir``), created if missing."""
    path = env.cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def teacher_key(config: dict) -> str:
    """A short hash of the training configuration and the data file, naming the cache entry."""
    data = tweets_csv_path()
    blob = json.dumps(config, sort_keys=True) + f"|{data.stat().st_size}"
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def teacher_path(config: dict | None = None) -> Path:
    """Where the teacher for this configuration is (or will be) cached."""
    return cache_dir() / f"teacher-{teacher_key(config or TEACHER_CONFIG)}.pt"


def train_teacher(config: dict | None = None, progress: bool = True) -> tuple[Classifier, dict]:
    """Fine-tune the pretrained encoder on the training split; return (model, info)."""
    config = dict(config or TEACHER_CONFIG)
    unknown = set(config) - set(TEACHER_CONFIG)
    if unknown:
        raise ValueError(f"unknown teacher config keys {sorted(unknown)}; known: {sorted(TEACHER_CONFIG)}")
    set_seed(config["seed"])
    data = load_tweets()
    model, tokenizer = load_classifier(len(config["labels"]), seed=config["seed"], max_length=config["max_length"])
    table = model.encoder.embed.tok.weight
    table.requires_grad_(not config["freeze_token_embeddings"])
    log = train(model, data["train"], tokenizer, steps=config["steps"], batch_size=config["batch_size"],
                lr=config["lr"], weight_decay=config["weight_decay"], warmup=config["warmup"],
                seed=config["seed"], device="cpu", progress=progress)
    table.requires_grad_(True)
    info = {"config": config, "train_seconds": round(log.seconds, 1), "final_loss": log.losses[-1]}
    return model.cpu().eval(), info


def load_teacher(config: dict | None = None, progress: bool = True, retrain: bool = False) -> tuple[Classifier, Tokenizer]:
    """Return (teacher, tokenizer): from the cache when present, else trained now and cached."""
    config = dict(config or TEACHER_CONFIG)
    path = teacher_path(config)
    if retrain or not path.is_file():
        start = time.perf_counter()
        print(f"Training the teacher ({config['steps']} steps); it is cached as {path.name} afterwards.")
        model, info = train_teacher(config, progress)
        tmp = path.with_suffix(".tmp")
        save_model(model, tmp, extra=info)
        os.replace(tmp, path)  # atomic: an interrupted run never leaves a half-written teacher
        print(f"Trained in {time.perf_counter() - start:.0f} s.")
    else:
        print(f"Loading the cached teacher ({path.name}) from the course cache")
    model, _ = load_model(path)
    return model, load_tokenizer(config["max_length"])


def teacher_info(config: dict | None = None) -> dict:
    """The training record stored with the cached teacher (config, training seconds)."""
    path = teacher_path(config)
    if not path.is_file():
        raise FileNotFoundError(f"no cached teacher at {path}: call load_teacher() first")
    return torch.load(path, map_location="cpu", weights_only=True)["extra"]


def _logits_path(examples: Sequence[Example], config: dict) -> Path:
    """Cache file for the teacher's logits on these texts: keyed by the teacher file and the texts."""
    teacher_file = teacher_path(config)
    st = teacher_file.stat()
    digest = hashlib.sha1(f"{teacher_file.name}|{st.st_size}|{st.st_mtime_ns}|{config['max_length']}|".encode())
    for e in examples:
        digest.update(e.text.encode())
        digest.update(b"\x1f")
    return cache_dir() / f"{teacher_file.stem}-logits-{digest.hexdigest()[:16]}.pt"


def cached_teacher_logits(examples: Sequence[Example], config: dict | None = None) -> torch.Tensor:
    """The cached teacher's logits (float32, one row per example, in order), computed once and cached.

    Every chapter compares against the teacher on the same validation and test tweets; the first
    notebook that asks computes the logits with ``utils.train.predict`` and stores them beside the
    teacher, the others read them back (a cached teacher that is retrained gets new logits).
    """
    config = dict(config or TEACHER_CONFIG)
    examples = list(examples)
    if not examples or not all(isinstance(e, Example) for e in examples):
        raise ValueError("expected a non-empty list of utils.data.Example")
    if not teacher_path(config).is_file():
        raise FileNotFoundError(f"no cached teacher at {teacher_path(config)}: call load_teacher() first")
    path = _logits_path(examples, config)
    if path.is_file():
        try:
            logits = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:                     # a truncated or foreign file: compute the logits again
            logits = None
        if (isinstance(logits, torch.Tensor) and logits.dim() == 2 and logits.shape[0] == len(examples)
                and logits.shape[1] == len(config["labels"]) and torch.isfinite(logits).all()):
            return logits
    model, _ = load_model(teacher_path(config))
    logits = predict(model, examples, load_tokenizer(config["max_length"]))
    tmp = path.with_suffix(".tmp")
    torch.save(logits, tmp)
    os.replace(tmp, path)
    return logits


def cached_teacher_accuracy(examples: Sequence[Example], config: dict | None = None) -> float:
    """The cached teacher's accuracy on these examples (from ``cached_teacher_logits``), in [0, 1]."""
    examples = list(examples)
    return accuracy(cached_teacher_logits(examples, config), [e.label for e in examples])
