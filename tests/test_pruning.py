"""Unit tests for utils.pruning: selecting weights, applying masks in place, keeping them through training."""

import pytest
import torch
from torch import nn

from utils.models import Classifier, small_config
from utils.pruning import apply_masks_, keep_masks, mask_sparsity, masks_from_zeros, prunable_weights


def tiny_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(small_config(layers=2, heads=2, hidden=8, ffn=16, vocab_size=50, max_positions=16))


def test_prunable_weights_skip_embeddings_and_head():
    model = tiny_classifier()
    names = list(prunable_weights(model))
    assert len(names) == 2 * 6
    assert all(".layers." in n and n.endswith(".weight") for n in names)
    assert not any("embed" in n or n.startswith("head") for n in names)
    assert "head.weight" in prunable_weights(model, skip=("embed.",))


def test_prunable_weights_rejects_non_module():
    with pytest.raises(TypeError):
        prunable_weights(torch.zeros(3))


def test_apply_masks_in_place_and_only_masked_entries():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mask = torch.tensor([[True, False, True, False]] * 3)
    weight = model[0].weight
    assert apply_masks_(model, {"0.weight": mask}) is model
    assert model[0].weight is weight  # same tensor, changed in place
    assert torch.equal(model[0].weight, before["0.weight"] * mask)
    for k in ("0.bias", "1.weight", "1.bias"):
        assert torch.equal(model.state_dict()[k], before[k])


def test_apply_masks_checks_names_and_shapes():
    model = nn.Linear(4, 3)
    with pytest.raises(KeyError):
        apply_masks_(model, {"nope": torch.ones(3, 4)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks_(model, {"weight": torch.ones(4, 3)})


def test_keep_masks_holds_zeros_through_optimizer_steps():
    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    masks = {"weight": torch.rand(3, 6) > 0.5}
    apply_masks_(model, masks)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    after_step = keep_masks(masks)
    for _ in range(3):
        loss = model(torch.randn(5, 6)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        after_step(model)
    assert torch.all(model.weight[~masks["weight"]] == 0)
    assert torch.all(model.weight[masks["weight"]] != 0)


def test_mask_sparsity_and_masks_from_zeros():
    masks = {"a": torch.tensor([True, False, False, True]), "b": torch.zeros(2, 2, dtype=torch.bool)}
    assert mask_sparsity(masks) == pytest.approx(6 / 8)
    got = masks_from_zeros({"w": torch.tensor([0.0, 1.5, -2.0, 0.0])})
    assert torch.equal(got["w"], torch.tensor([False, True, True, False]))
    with pytest.raises(ValueError):
        mask_sparsity({})
