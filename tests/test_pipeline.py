"""Fast tests of utils.pipeline on a tiny random classifier: every step returns a new model and
leaves its input untouched; the compressed embeddings reproduce the table they replace."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from utils.data import Example
from utils.distill import TeacherCache, make_student
from utils.models import Classifier, EncoderConfig
from utils.size import tensor_bytes
from utils.pipeline import (CompressedEmbeddings, bytes_on_disk, compress_embeddings, corpus_token_ids, distil,
                            kd_loss, prune_units, quantize_int8)


class _CharTokenizer:
    """Ids = character codes mod 50 (plus 2), [UNK] = 1, padding 0."""

    unk_id, pad_id, max_length = 1, 0, 24

    def encode(self, texts):
        ids = [[2 + ord(c) % 50 for c in t] for t in texts]
        width = max(len(x) for x in ids)
        out = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros_like(out)
        for i, x in enumerate(ids):
            out[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        return out, mask


def _model(layers: int = 2) -> Classifier:
    torch.manual_seed(0)
    cfg = EncoderConfig(vocab_size=60, hidden=16, layers=layers, heads=4, head_dim=4, ffn=32, max_positions=32)
    return Classifier(cfg, num_labels=3).eval()


def _examples(n: int = 24) -> list[Example]:
    words = ["good", "bad", "fine", "meh", "great", "awful", "ok"]
    return [Example(text=" ".join(words[(i * k) % 7] for k in range(1, 2 + i % 4)), label=i % 3, confidence=1.0)
            for i in range(n)]


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_kd_loss_formula_and_shape_check():
    s, t, y = torch.randn(5, 3), torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    T, alpha = 3.0, 0.25
    kl = F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True, reduction="batchmean")
    expected = alpha * F.cross_entropy(s, y) + (1 - alpha) * T * T * kl
    assert torch.allclose(kd_loss(s, t, y, T, alpha), expected, atol=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        kd_loss(s, t[:, :2], y)


def test_distil_returns_a_trained_copy_and_keeps_the_input():
    teacher, tok, ex = _model(4), _CharTokenizer(), _examples()
    cache = TeacherCache(teacher, ex, tok)
    student = make_student(teacher, [0, 2])
    before = _state(student)
    trained = distil(student, cache, ex, tok, steps=3, batch_size=8, lr=1e-3)
    assert _same(before, _state(student)) and trained is not student
    assert not torch.equal(trained.encoder.layers[0].ffn.up.weight, student.encoder.layers[0].ffn.up.weight)
    assert torch.equal(trained.encoder.embed.tok.weight, student.encoder.embed.tok.weight)   # frozen
    assert trained.encoder.embed.tok.weight.requires_grad and not trained.training
    with pytest.raises(ValueError, match="at least one batch"):
        distil(student, cache, ex[:3], tok, steps=1, batch_size=8)


def test_prune_units_makes_a_smaller_classifier_and_keeps_the_input():
    model, tok, ex = _model(), _CharTokenizer(), _examples()
    before = _state(model)
    small = prune_units(model, ex, tok, heads=2, ffn=8)
    assert _same(before, _state(model))
    assert small.cfg.heads_per_layer == [2, 2] and small.cfg.ffn_per_layer == [8, 8]
    full = prune_units(model, ex, tok, heads=4, ffn=32)                       # keeping everything: same function
    ids, mask = tok.encode(["good fine", "awful"])
    assert torch.allclose(full(ids, mask), model(ids, mask), atol=1e-5)
    with pytest.raises(ValueError, match="heads <= 4"):
        prune_units(model, ex, tok, heads=5, ffn=8)


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_int8_is_a_copy_close_to_the_float_model(per_channel):
    model = _model()
    before = _state(model)
    q = quantize_int8(model, per_channel=per_channel)
    assert _same(before, _state(model))
    linears = [m for m in q.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert linears
    scheme = linears[0].weight().qscheme()
    assert scheme == (torch.per_channel_affine if per_channel else torch.per_tensor_affine)
    if per_channel:          # one symmetric scale per output row: max |w| of the row over half of int8's 255 steps
        w = model.get_submodule(next(n for n, m in q.named_modules() if m is linears[0])).weight.detach()
        assert torch.allclose(linears[0].weight().q_per_channel_scales().float(), w.abs().amax(1) / 127.5, rtol=1e-5)
        assert not linears[0].weight().q_per_channel_zero_points().any()
    ids, mask = _CharTokenizer().encode(["good fine", "awful ok meh"])
    assert (q(ids, mask) - model(ids, mask)).abs().max() < 0.1
    with pytest.raises(TypeError, match="per_channel"):
        quantize_int8(model, per_channel="yes")


@pytest.mark.parametrize("bits,tol", [(8, 0.02), (4, 0.3)])
def test_compressed_embeddings_reproduce_the_kept_rows(bits, tol):
    model, tok = _model(), _CharTokenizer()
    keep = corpus_token_ids(_examples(), tok)
    small = compress_embeddings(model, keep, tok.unk_id, tok.max_length, bits=bits, group=8)
    assert isinstance(small.encoder.embed, CompressedEmbeddings) and small.encoder.embed is not model.encoder.embed
    emb = small.encoder.embed
    ids = torch.tensor(keep)
    ref = model.encoder.embed.tok.weight[ids]
    got = emb.rows(emb.id_map[ids].long())
    assert (got - ref).abs().max() <= tol * ref.abs().max()
    text_ids, mask = tok.encode(["good fine", "awful"])                      # only kept tokens: close logits
    assert (small(text_ids, mask) - model(text_ids, mask)).abs().max() < 10 * tol


def test_compressed_embeddings_map_unknown_tokens_to_unk_and_count_fewer_bytes():
    model, tok = _model(), _CharTokenizer()
    keep = [5, 7, 9]
    emb = CompressedEmbeddings(model.encoder.embed, keep, tok.unk_id, 16, bits=4, group=8)
    unk_row = emb.id_map[tok.unk_id]
    assert emb.id_map[torch.tensor([5, 7, 9])].tolist() == [1, 2, 3] and emb.id_map[30] == unk_row == 0
    assert emb.codes.shape == (4, 8) and emb.codes.dtype == torch.uint8      # 16 codes of 4 bits per row
    assert tensor_bytes(emb) < tensor_bytes(model.encoder.embed) / 3
    with pytest.raises(ValueError, match="keep 16 positions"):
        emb(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        CompressedEmbeddings(model.encoder.embed, keep, 1, 16, bits=3)
    with pytest.raises(ValueError, match="must divide"):
        CompressedEmbeddings(model.encoder.embed, keep, 1, 16, group=5)


def test_bytes_on_disk_counts_the_serialized_state_dict():
    model = _model()
    params = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert params < bytes_on_disk(model) < params + 64 * 1024
    with pytest.raises(TypeError, match="nn.Module"):
        bytes_on_disk({"w": torch.ones(2)})
