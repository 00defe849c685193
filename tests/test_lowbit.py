"""Unit tests of utils.lowbit (linear layers, input Hessians with hooks, swapping weights)."""
import pytest
import torch
from torch import nn

from utils.lowbit import input_hessians, linear_layers, replaced_weights


class TwoHeads(nn.Module):
    """Two projections reading the same input (like q/k), then an output projection."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(4, 3, bias=False)
        self.k = nn.Linear(4, 3, bias=False)
        self.out = nn.Linear(3, 2)
        self.lm_head = nn.Linear(2, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.out(torch.relu(self.q(x) + self.k(x))))


def test_linear_layers_excludes_lm_head():
    assert list(linear_layers(TwoHeads())) == ["q", "k", "out"]
    assert list(linear_layers(TwoHeads(), exclude=())) == ["q", "k", "out", "lm_head"]
    with pytest.raises(TypeError, match="nn.Module"):
        linear_layers(torch.zeros(2))


def test_input_hessians_match_explicit_formula_and_share_keys():
    torch.manual_seed(0)
    model = TwoHeads()
    layers = linear_layers(model)
    batches = [torch.randn(2, 5, 4), torch.randn(1, 3, 4)]
    hs = input_hessians(model, layers, batches, share=lambda n: "q" if n == "k" else n)
    assert set(hs) == {"q", "out"}
    x = torch.cat([b.reshape(-1, 4) for b in batches])
    torch.testing.assert_close(hs["q"], 2 * x.T @ x / x.shape[0])
    h = torch.relu(model.q(x) + model.k(x)).detach()
    torch.testing.assert_close(hs["out"], 2 * h.T @ h / h.shape[0])
    assert not model.q._forward_hooks and not model.out._forward_hooks  # hooks removed


def test_input_hessians_errors():
    model = TwoHeads()
    with pytest.raises(ValueError, match="at least one calibration batch"):
        input_hessians(model, linear_layers(model), [])
    with pytest.raises(ValueError, match="at least one linear layer"):
        input_hessians(model, {}, [torch.randn(1, 4)])
    assert not model.q._forward_hooks


def test_replaced_weights_restores_even_on_error():
    model = TwoHeads()
    layers = linear_layers(model)
    before = model.q.weight.detach().clone()
    with replaced_weights(layers, {"q": torch.zeros(3, 4)}):
        assert torch.count_nonzero(model.q.weight) == 0
    assert torch.equal(model.q.weight, before)
    with pytest.raises(RuntimeError):
        with replaced_weights(layers, {"q": torch.ones(3, 4)}):
            raise RuntimeError("boom")
    assert torch.equal(model.q.weight, before)
    with pytest.raises(ValueError, match="shape"):
        with replaced_weights(layers, {"q": torch.ones(4, 3)}):
            pass
    with pytest.raises(KeyError, match="unknown"):
        with replaced_weights(layers, {"nope": torch.ones(1)}):
            pass
