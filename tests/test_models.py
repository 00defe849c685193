"""The from-scratch encoder matches the transformers implementation of the same checkpoint."""
import os

import pytest
import torch

from utils.models import (Classifier, Encoder, EncoderConfig, load_classifier, load_encoder, load_model,
                          mean_pool, pretrained_dir, save_model, small_config)

SENTENCES = [
    "@united my bag never arrived and nobody answers the phone.",
    "Loving the new seats on this flight!",
    "Driverless cars will be on the road by 2020, says the report.",
    "ok",
]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()


def test_matches_transformers_bert(encoder):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    model, tok = encoder
    ref = transformers.BertModel.from_pretrained(str(pretrained_dir())).eval()
    ref_tok = transformers.AutoTokenizer.from_pretrained(str(pretrained_dir()))
    ids, mask = tok(SENTENCES)
    enc = ref_tok(SENTENCES, padding=True, return_tensors="pt")
    assert torch.equal(enc["input_ids"], ids) and torch.equal(enc["attention_mask"], mask)
    with torch.no_grad():
        ours = model(ids, mask)
        theirs = ref(input_ids=ids, attention_mask=mask).last_hidden_state
    assert ours.shape == (4, ids.shape[1], 384)
    real = mask.bool()
    assert (ours - theirs)[real].abs().max().item() <= 1e-4


def test_sizes_of_the_pretrained_model(encoder):
    model, _ = encoder
    n = sum(p.numel() for p in model.parameters())
    assert 22_500_000 < n < 22_800_000
    assert len(model.layers) == 6 and model.layers[0].attn.heads == 12


def test_padding_does_not_change_real_tokens(encoder):
    model, tok = encoder
    ids, mask = tok(["short one", "a considerably longer sentence for padding"])
    with torch.no_grad():
        batched = model(ids, mask)[0, : int(mask[0].sum())]
        alone = model(*tok(["short one"]))[0]
    assert torch.allclose(batched, alone, atol=1e-5)


def test_head_mask_of_ones_changes_nothing_and_zeros_do(encoder):
    model, tok = encoder
    ids, mask = tok(SENTENCES[:2])
    with torch.no_grad():
        base = model(ids, mask)
        same = model(ids, mask, head_mask=torch.ones(6, 12))
        hm = torch.ones(6, 12)
        hm[0, :6] = 0
        other = model(ids, mask, head_mask=hm)
    assert torch.allclose(base, same)
    assert not torch.allclose(base, other, atol=1e-3)


def test_bad_inputs_raise_clear_errors(encoder):
    model, _ = encoder
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="token ids must be in"):
        model(torch.full((1, 3), 40000))
    with pytest.raises(ValueError, match="attention_mask shape"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 4))
    with pytest.raises(ValueError, match="unknown EncoderConfig keys"):
        EncoderConfig.from_dict({"hidden": 384, "num_layers": 3})
    with pytest.raises(ValueError, match="one entry per layer"):
        EncoderConfig(layers=2, heads_per_layer=[12])


def test_small_variants_and_pruned_shapes_run_and_reload(tmp_path):
    torch.manual_seed(0)
    cfg = small_config(layers=2, heads=4, hidden=64, ffn=128, vocab_size=100, max_positions=32)
    cfg.heads_per_layer = [4, 0]      # a layer with every head removed still runs
    cfg.ffn_per_layer = [128, 16]
    model = Classifier(cfg, num_labels=3).eval()
    ids = torch.randint(0, 100, (2, 7))
    logits = model(ids, torch.ones_like(ids))
    assert logits.shape == (2, 3)
    save_model(model, tmp_path / "m.pt", extra={"note": "x"})
    again, extra = load_model(tmp_path / "m.pt")
    assert extra == {"note": "x"}
    assert torch.equal(again(ids), model(ids))
    with pytest.raises(ValueError, match="divisible"):
        small_config(hidden=100, heads=12)


def test_fully_pruned_blocks_build_without_warnings():
    # a layer with every head or neuron removed is a legitimate pruned shape: no torch warning
    # (it would reach a notebook's stored stderr, machine path included)
    import warnings
    cfg = small_config(layers=2, heads=4, hidden=64, ffn=128, vocab_size=100, max_positions=32)
    cfg.heads_per_layer, cfg.ffn_per_layer = [0, 4], [128, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Classifier(cfg, num_labels=3).eval()
        ids = torch.randint(0, 100, (1, 5))
        assert model(ids, torch.ones_like(ids)).shape == (1, 3)


def test_mean_pool_ignores_padding():
    h = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    assert torch.equal(mean_pool(h, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 2.0]]))


def test_classifier_head_is_seeded():
    a, _ = load_classifier(seed=3)
    b, _ = load_classifier(seed=3)
    assert torch.equal(a.head.weight, b.head.weight)


def test_linear_layers_selects_by_name_part():
    from torch import nn

    from utils.models import linear_layers

    model = nn.Sequential()
    model.add_module("q", nn.Linear(4, 3))
    model.add_module("block", nn.Sequential(nn.Linear(3, 3), nn.ReLU()))
    model.add_module("lm_head", nn.Linear(3, 5))
    assert list(linear_layers(model)) == ["q", "block.0", "lm_head"]
    assert list(linear_layers(model, skip=("lm_head",))) == ["q", "block.0"]
    assert list(linear_layers(model, skip=("block",))) == ["q", "lm_head"]
    with pytest.raises(TypeError, match="nn.Module"):
        linear_layers(torch.zeros(2))
    with pytest.raises(TypeError, match="string"):
        linear_layers(model, skip="lm_head")
