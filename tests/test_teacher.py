"""utils.teacher.cached_teacher_logits / cached_teacher_accuracy: cached teacher logits, keyed by the teacher file and the texts."""
from __future__ import annotations

import os

import pytest
import torch

from utils.data import Example
from utils.models import Classifier, EncoderConfig, load_tokenizer, save_model
from utils.teacher import TEACHER_CONFIG, cached_teacher_accuracy, cached_teacher_logits, teacher_path
from utils.train import accuracy, predict


def _fake_teacher(seed: int) -> Classifier:
    torch.manual_seed(seed)
    cfg = EncoderConfig(vocab_size=30522, hidden=16, layers=1, heads=2, head_dim=8, ffn=32, max_positions=64)
    return Classifier(cfg, num_labels=len(TEACHER_CONFIG["labels"])).eval()


EXAMPLES = [Example("what a great day", 2, None), Example("the flight was delayed again", 0, None),
            Example("meeting at noon", 1, None)]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    return tmp_path


def test_logits_are_the_teachers_predictions_and_are_cached(cache) -> None:
    model = _fake_teacher(0)
    save_model(model, teacher_path())
    first = cached_teacher_logits(EXAMPLES)
    expected = predict(model, EXAMPLES, load_tokenizer(TEACHER_CONFIG["max_length"]))
    assert torch.allclose(first, expected, atol=1e-6)
    files = sorted(p.name for p in cache.glob("*-logits-*.pt"))
    assert len(files) == 1
    assert torch.equal(cached_teacher_logits(EXAMPLES), first)          # read back, same values
    assert sorted(p.name for p in cache.glob("*-logits-*.pt")) == files
    other = cached_teacher_logits(EXAMPLES[:2])                          # other texts: another entry
    assert torch.allclose(other, first[:2], atol=1e-6)
    assert len(list(cache.glob("*-logits-*.pt"))) == 2


def test_a_retrained_teacher_gets_new_logits(cache) -> None:
    save_model(_fake_teacher(0), teacher_path())
    old = cached_teacher_logits(EXAMPLES)
    save_model(_fake_teacher(1), teacher_path())                 # as load_teacher(retrain=True) would
    st = os.stat(teacher_path())
    os.utime(teacher_path(), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    new = cached_teacher_logits(EXAMPLES)
    assert not torch.allclose(old, new)


def test_a_corrupt_cache_entry_is_recomputed(cache) -> None:
    save_model(_fake_teacher(0), teacher_path())
    good = cached_teacher_logits(EXAMPLES)
    (entry,) = cache.glob("*-logits-*.pt")
    torch.save(torch.full((2, 3), float("nan")), entry)
    assert torch.equal(cached_teacher_logits(EXAMPLES), good)
    entry.write_bytes(b"not a tensor file")
    assert torch.equal(cached_teacher_logits(EXAMPLES), good)


def test_clear_errors(cache) -> None:
    with pytest.raises(FileNotFoundError, match="load_teacher"):
        cached_teacher_logits(EXAMPLES)
    save_model(_fake_teacher(0), teacher_path())
    with pytest.raises(ValueError, match="non-empty list"):
        cached_teacher_logits([])
    with pytest.raises(ValueError, match="Example"):
        cached_teacher_logits(["a string, not an Example"])


def test_cached_accuracy_is_the_accuracy_of_the_cached_logits(cache) -> None:
    save_model(_fake_teacher(0), teacher_path())
    logits = cached_teacher_logits(EXAMPLES)
    labels = [e.label for e in EXAMPLES]
    assert cached_teacher_accuracy(EXAMPLES) == accuracy(logits, labels)
    flipped = [Example(e.text, (int(p) + 1) % 3, None) for e, p in zip(EXAMPLES, logits.argmax(-1))]
    assert cached_teacher_accuracy(flipped) == 0.0                     # same texts, labels all wrong
    right = [Example(e.text, int(p), None) for e, p in zip(EXAMPLES, logits.argmax(-1))]
    assert cached_teacher_accuracy(right) == 1.0
    with pytest.raises(ValueError, match="non-empty list"):
        cached_teacher_accuracy([])
