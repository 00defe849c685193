"""Fast tests of utils.nas on a tiny random classifier (no pretrained weights needed)."""
from __future__ import annotations

import random

import pytest
import torch

from utils.data import Example
from utils.models import Classifier, EncoderConfig
from utils.nas import (check_arch, n_kept, predict_latency, reorder_units, sample_arch, sandwich_finetune, slice_subnet,
                       subnet_forward, unit_importance)
from utils.pruning import gate_units


class _CharTokenizer:
    def encode(self, texts, max_length=None):
        ids = [[1 + ord(c) % 50 for c in t] for t in texts]
        width = max(len(x) for x in ids)
        out = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros_like(out)
        for i, x in enumerate(ids):
            out[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        return out, mask


def _model() -> Classifier:
    torch.manual_seed(0)
    cfg = EncoderConfig(vocab_size=60, hidden=16, layers=3, heads=4, head_dim=4, ffn=12, max_positions=32)
    model = Classifier(cfg, num_labels=3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def _inputs():
    ids = torch.randint(1, 60, (5, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    return ids, mask


def test_full_arch_reproduces_the_model_and_sub_network_equals_gated_model() -> None:
    model, (ids, mask) = _model(), _inputs()
    full = slice_subnet(model, [(4, 12)] * 3)
    assert torch.allclose(full(ids, mask), model(ids, mask), atol=1e-6)
    sub = slice_subnet(model, [(2, 5), (4, 12), (1, 3)])
    assert sub.cfg.heads_per_layer == [2, 4, 1] and sub.cfg.ffn_per_layer == [5, 12, 3]
    hg = [torch.tensor([1.0] * h + [0.0] * (4 - h)) for h in (2, 4, 1)]
    fg = [torch.tensor([1.0] * f + [0.0] * (12 - f)) for f in (5, 12, 3)]
    with gate_units(model, head_gates=hg, ffn_gates=fg):
        ref = model(ids, mask)
    assert torch.allclose(sub(ids, mask), ref, atol=1e-5)


def test_dropped_layers_are_skipped() -> None:
    model, (ids, mask) = _model(), _inputs()
    sub = slice_subnet(model, [(0, 0), (4, 12), (0, 0)])
    assert len(sub.encoder.layers) == 1
    for a, b in zip(sub.encoder.layers[0].state_dict().values(), model.encoder.layers[1].state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="at least one layer"):
        slice_subnet(model, [(0, 0)] * 3)
    with pytest.raises(ValueError, match="exceeds"):
        slice_subnet(model, [(5, 12), (4, 12), (4, 12)])
    with pytest.raises(ValueError, match="one .heads, ffn. gene per"):
        slice_subnet(model, [(4, 12)])


def test_reorder_keeps_the_function_and_sorts_units() -> None:
    model, (ids, mask) = _model(), _inputs()
    examples = [Example(text=t, label=i % 3, confidence=None) for i, t in enumerate(["good day", "bad flight", "ok then", "late again"])]
    hs, fs = unit_importance(model, examples, _CharTokenizer(), batch_size=2)
    assert hs.shape == (3, 4) and fs.shape == (3, 12) and (hs >= 0).all()
    sorted_model = reorder_units(model, hs, fs)
    assert torch.allclose(sorted_model(ids, mask), model(ids, mask), atol=1e-5)
    hs2, fs2 = unit_importance(sorted_model, examples, _CharTokenizer(), batch_size=2)
    assert torch.allclose(hs2, hs.sort(1, descending=True).values, atol=1e-5)
    assert torch.allclose(fs2, fs.sort(1, descending=True).values, atol=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        reorder_units(model, hs[:2], fs)


def test_arch_helpers_and_latency_prediction() -> None:
    assert check_arch([[4, 12], [0, 0]], 2, (2, 4), (6, 12)) == ((4, 12), (0, 0))
    with pytest.raises(ValueError, match="not \\(0, 0\\) nor a choice"):
        check_arch([(3, 12), (0, 0)], 2, (2, 4), (6, 12))
    with pytest.raises(ValueError, match="at least one"):
        check_arch([(0, 0), (0, 0)], 2, (2, 4), (6, 12))
    rng = random.Random(0)
    for _ in range(50):
        arch = sample_arch(rng, 4, (2, 4), (6, 12))
        assert check_arch(arch, 4, (2, 4), (6, 12)) == arch and 1 <= n_kept(arch) <= 4
    table = {"base": 1.0, "layer": 0.5, "attn": {"2": 2.0, "4": 3.0}, "ffn": {6: 4.0, 12: 6.0}}
    assert predict_latency(table, [(2, 6), (0, 0), (4, 12)]) == pytest.approx(1.0 + 0.5 + 2 + 4 + 0.5 + 3 + 6)
    assert predict_latency({k: v for k, v in table.items() if k != "layer"}, [(2, 6)]) == pytest.approx(7.0)
    with pytest.raises(KeyError, match="no entry for 8"):
        predict_latency(table, [(8, 6)])


def test_subnet_forward_equals_the_sliced_model_and_trains_the_shared_weights() -> None:
    model, (ids, mask) = _model(), _inputs()
    for arch in ([(4, 12)] * 3, [(2, 5), (0, 0), (1, 3)], [(0, 0), (3, 7), (0, 0)]):
        assert torch.allclose(subnet_forward(model, arch, ids, mask), slice_subnet(model, arch)(ids, mask), atol=1e-5)
    subnet_forward(model, [(2, 5), (0, 0), (1, 3)], ids, mask).sum().backward()
    q0, up2, q1 = model.encoder.layers[0].attn.q.weight.grad, model.encoder.layers[2].ffn.up.weight.grad, \
        model.encoder.layers[1].attn.q.weight.grad
    assert q0[:8].abs().sum() > 0 and torch.equal(q0[8:], torch.zeros_like(q0[8:]))    # 2 heads of 4 dims used
    assert up2[:3].abs().sum() > 0 and torch.equal(up2[3:], torch.zeros_like(up2[3:]))
    assert q1 is None                                                                  # a dropped layer gets nothing
    with pytest.raises(ValueError, match="at least one layer"):
        subnet_forward(model, [(0, 0)] * 3, ids, mask)
    with pytest.raises(ValueError, match="exceeds"):
        subnet_forward(model, [(5, 12), (4, 12), (4, 12)], ids, mask)


def test_sandwich_finetune_trains_a_copy_with_the_token_embedding_frozen() -> None:
    from utils.distill import TeacherCache

    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    examples = [Example(text=t * (1 + i % 3), label=i % 3, confidence=None)
                for i, t in enumerate(["good day", "bad flight", "ok then", "late again", "fine", "awful"] * 2)]
    tok = _CharTokenizer()
    cache = TeacherCache(model, examples, tok, batch_size=4)
    sample = lambda rng: sample_arch(rng, 3, (2, 4), (6, 12))
    trained = sandwich_finetune(model, cache, examples, tok, steps=2, smallest=[(2, 6)] * 3, sample=sample,
                                batch_size=4, lr=1e-2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())        # the input is untouched
    after = trained.state_dict()
    assert torch.equal(after["encoder.embed.tok.weight"], before["encoder.embed.tok.weight"])
    assert not torch.equal(after["encoder.layers.0.attn.q.weight"], before["encoder.layers.0.attn.q.weight"])
    assert trained.encoder.embed.tok.weight.requires_grad and not trained.training
    again = sandwich_finetune(model, cache, examples, tok, steps=2, smallest=[(2, 6)] * 3, sample=sample,
                              batch_size=4, lr=1e-2)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in after.items())         # seeded: reproducible
    with pytest.raises(ValueError, match="one gene per layer"):
        sandwich_finetune(model, cache, examples, tok, steps=1, smallest=[(2, 6)], sample=sample, batch_size=4)
