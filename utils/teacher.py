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

from utils.data import LABELS, Tokenizer, load_tweets, tweets_csv_path
from utils.models import Classifier, load_classifier, load_model, load_tokenizer, save_model
from utils.train import set_seed, train

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
    """The course's cache folder: $COURSE_CACHE, else ~/.cache/nlp-compression-course (created)."""
    root = os.environ.get("COURSE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nlp-compression-course")
    path = Path(root)
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
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["extra"]
