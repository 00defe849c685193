"""Fast tests of utils.distill on a tiny random classifier (no pretrained weights needed)."""
from __future__ import annotations

import pytest
import torch

from utils.data import Batch, Example
from utils.distill import TeacherCache, forward_with_hidden, make_student
from utils.models import Classifier, EncoderConfig


class _CharTokenizer:
    """Ids = character codes mod 50 (plus 1), dynamic padding with 0: enough to exercise the cache."""

    def encode(self, texts):
        ids = [[1 + ord(c) % 50 for c in t] for t in texts]
        width = max(len(x) for x in ids)
        out = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros_like(out)
        for i, x in enumerate(ids):
            out[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        return out, mask


def _teacher(layers: int = 4) -> Classifier:
    torch.manual_seed(0)
    cfg = EncoderConfig(vocab_size=60, hidden=16, layers=layers, heads=2, head_dim=8, ffn=32, max_positions=32)
    return Classifier(cfg, num_labels=3).eval()


def test_make_student_copies_chosen_layers_embeddings_and_head() -> None:
    teacher = _teacher()
    student = make_student(teacher, [0, 2])
    assert len(student.encoder.layers) == 2
    for j, i in enumerate([0, 2]):
        for (n, a), (_, b) in zip(student.encoder.layers[j].state_dict().items(),
                                  teacher.encoder.layers[i].state_dict().items()):
            assert torch.equal(a, b), n
    assert torch.equal(student.head.weight, teacher.head.weight)
    assert torch.equal(student.encoder.embed.tok.weight, teacher.encoder.embed.tok.weight)


def test_make_student_random_layers_keep_embeddings_and_differ_by_seed() -> None:
    teacher = _teacher()
    a, b = make_student(teacher, None, n_layers=2, seed=0), make_student(teacher, None, n_layers=2, seed=1)
    assert torch.equal(a.encoder.embed.tok.weight, teacher.encoder.embed.tok.weight)
    assert not torch.equal(a.encoder.layers[0].attn.q.weight, b.encoder.layers[0].attn.q.weight)
    assert torch.allclose(a.encoder.layers[0].attn_norm.weight, torch.ones(16))
    assert abs(a.encoder.layers[0].ffn.up.weight.std().item() - 0.02) < 0.005


@pytest.mark.parametrize("kwargs, match", [({"layer_ids": [0, 9]}, "layer_ids"), ({"layer_ids": []}, "layer_ids"),
                                           ({"layer_ids": None, "n_layers": 0}, "n_layers"),
                                           ({"layer_ids": [0, 1], "n_layers": 3}, "disagrees")])
def test_make_student_rejects_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        make_student(_teacher(), **kwargs)


def test_teacher_cache_returns_the_teachers_logits_in_batch_order() -> None:
    teacher, tok = _teacher(), _CharTokenizer()
    examples = [Example(t, i % 3, 1.0) for i, t in enumerate(["good day", "bad", "so so so", "meh", "great fun!"])]
    cache = TeacherCache(teacher, examples, tok, batch_size=2)
    assert len(cache) == 5
    picked = [examples[4], examples[1], examples[2]]
    ids, mask = tok.encode([e.text for e in picked])
    got = cache.logits(Batch(ids, mask, torch.tensor([e.label for e in picked])))
    with torch.no_grad():
        expected = torch.stack([teacher(*tok.encode([e.text]))[0] for e in picked])
    assert torch.allclose(got, expected, atol=1e-5)
    ids, mask = tok.encode(["never seen"])
    with pytest.raises(KeyError, match="not in the teacher cache"):
        cache.logits(Batch(ids, mask, torch.tensor([0])))


def test_forward_with_hidden_matches_forward() -> None:
    teacher, tok = _teacher(), _CharTokenizer()
    ids, mask = tok.encode(["hello there", "hi"])
    logits, hidden = forward_with_hidden(teacher, ids, mask)
    assert len(hidden) == 5 and hidden[-1].shape == (2, ids.shape[1], 16)
    assert torch.allclose(logits, teacher(ids, mask), atol=1e-6)


def test_train_scarce_student_trains_layers_0_2_4_with_the_given_loss() -> None:
    import torch.nn.functional as F

    from utils.distill import train_scarce_student

    teacher, tok = _teacher(layers=6), _CharTokenizer()
    texts = ["good day", "bad", "so so so", "meh", "great fun!", "ok"] * 6     # one batch of 32 at least
    examples = [Example(t, i % 3, 1.0) for i, t in enumerate(texts)]
    seen = []

    def loss(s, t, y):
        seen.append((s.shape, t.shape, y.shape))
        return F.cross_entropy(s, y) + F.mse_loss(s, t)

    student = train_scarce_student(teacher, loss, examples, tok, steps=2)
    assert len(student.encoder.layers) == 3 and not student.training and len(seen) == 2
    assert all(s == t and s[0] == y[0] for s, t, y in seen)
    assert torch.equal(student.encoder.embed.tok.weight, teacher.encoder.embed.tok.weight)      # frozen
    assert not torch.equal(student.encoder.layers[1].attn.q.weight, teacher.encoder.layers[2].attn.q.weight)  # trained


@pytest.mark.parametrize("loss, match", [(lambda s, t, y: s.sum(-1), "scalar"),
                                         (lambda s, t, y: torch.tensor(1.0), "autograd"),
                                         (lambda s, t, y: 1.0, "scalar")])
def test_train_scarce_student_rejects_a_loss_that_is_not_a_differentiable_scalar(loss, match) -> None:
    from utils.distill import train_scarce_student

    examples = [Example(t, i % 3, 1.0) for i, t in enumerate(["good day", "bad", "so so so"] * 11)]
    with pytest.raises(TypeError, match=match):
        train_scarce_student(_teacher(layers=6), loss, examples, _CharTokenizer(), steps=1)
