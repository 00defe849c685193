"""Unit tests for utils.pruning: selecting weights, applying masks in place, keeping them through training."""

import pytest
import torch
from torch import nn

from utils.models import Classifier, small_config
from utils.pruning import apply_masks_, gate_units, keep_masks, mask_sparsity, masks_from_zeros, prunable_weights


def tiny_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(small_config(layers=2, heads=2, hidden=8, ffn=16, vocab_size=50, max_positions=16))


def test_prunable_weights_skip_embeddings_and_head():
    model = tiny_classifier()
    names = list(prunable_weights(model))
    assert len(names) == 2 * 6
    assert all(".layers." in n and n.endswith(".weight") for n in names)
    assert not any("embed" in n or n.startswith("head") for n in names)
    assert "head.weight" in prunable_weights(model, skip=("embed",))


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


def _tiny_inputs(batch: int = 3, seq: int = 5):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -2:] = 0
    return ids, mask


def test_head_gates_match_the_models_head_mask_and_are_removed_afterwards():
    model = tiny_classifier().eval()
    ids, mask = _tiny_inputs()
    head_mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = model(ids, mask, head_mask=head_mask)
    with gate_units(model, head_gates=list(head_mask)):
        got = model(ids, mask)
    torch.testing.assert_close(got, expected)
    assert not any(m._forward_pre_hooks for m in model.modules())
    torch.testing.assert_close(model(ids, mask), model(ids, mask, head_mask=torch.ones(2, 2)))


def test_ffn_gate_zero_equals_zeroing_the_neurons_weights():
    model = tiny_classifier().eval()
    ids, mask = _tiny_inputs()
    gate = torch.ones(16)
    gate[[0, 3, 7]] = 0
    with gate_units(model, ffn_gates=[gate, None]):
        got = model(ids, mask)
    with torch.no_grad():
        ffn = model.encoder.layers[0].ffn
        ffn.down.weight[:, [0, 3, 7]] = 0
    torch.testing.assert_close(got, model(ids, mask))


def test_per_example_gates_give_per_example_gradients():
    model = tiny_classifier().eval()
    ids, mask = _tiny_inputs()
    labels = torch.tensor([0, 1, 2])
    gates = [torch.ones(3, 16, requires_grad=True), torch.ones(3, 16, requires_grad=True)]
    with gate_units(model, ffn_gates=gates):
        loss = nn.functional.cross_entropy(model(ids, mask), labels, reduction="sum")
    loss.backward()
    for b in range(3):  # the same gradient, one example at a time
        g1 = torch.ones(16, requires_grad=True)
        with gate_units(model, ffn_gates=[g1, None]):
            nn.functional.cross_entropy(model(ids[b:b + 1], mask[b:b + 1]), labels[b:b + 1]).backward()
        torch.testing.assert_close(gates[0].grad[b], g1.grad, rtol=1e-4, atol=1e-6)


def test_gate_units_rejects_wrong_shapes_and_models():
    model = tiny_classifier()
    with pytest.raises(ValueError, match="one gate tensor"):
        with gate_units(model, head_gates=[torch.ones(2)]):
            pass
    with pytest.raises(ValueError, match=r"expected shape \(16,\)"):
        with gate_units(model, ffn_gates=[torch.ones(15), None]):
            pass
    with pytest.raises(TypeError, match="Classifier or Encoder"):
        with gate_units(nn.Linear(2, 2)):
            pass
