"""Unit tests for utils.quant: module swapping, the quantized linear stand-ins, GPTQ's input Hessians (fast)."""
import pytest
import torch
from torch import nn

from utils.models import linear_layers
from utils.quant import (DynamicInt8Linear, FakeQuantLinear, WeightOnlyLinear, input_hessians, linear_names,
                         replaced_weights, swap_linears)


def _int8_rows(w):
    scale = w.abs().amax(dim=1) / 127
    return torch.round(w / scale[:, None]).to(torch.int8), scale


def _toy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Sequential(nn.Linear(16, 4)))


def test_swap_linears_replaces_nested_and_honours_skip():
    model = _toy()
    assert linear_names(model) == ["0", "2.0"]
    swapped = swap_linears(model, lambda n, lin: nn.Identity() if n == "0" else lin, skip=lambda n: n == "2.0")
    assert swapped == ["0"]
    assert isinstance(model[0], nn.Identity) and isinstance(model[2][0], nn.Linear)


def test_swap_linears_validates():
    with pytest.raises(TypeError, match="nn.Module"):
        swap_linears("not a model", lambda n, lin: lin)
    with pytest.raises(TypeError, match="must return an nn.Module"):
        swap_linears(_toy(), lambda n, lin: 3)


@pytest.mark.parametrize("cls", [WeightOnlyLinear, DynamicInt8Linear])
def test_int8_linears_match_float(cls):
    torch.manual_seed(1)
    lin = nn.Linear(64, 32)
    q, scale = _int8_rows(lin.weight.detach())
    layer = cls(q, scale, lin.bias)
    x = torch.randn(2, 5, 64)
    y, ref = layer(x), lin(x)
    assert y.shape == ref.shape
    assert ((y - ref).norm() / ref.norm()).item() < 0.02


def test_int8_linear_validates_inputs():
    with pytest.raises(ValueError, match="2-D int8 weight"):
        WeightOnlyLinear(torch.zeros(3, 4), torch.ones(3))
    with pytest.raises(ValueError, match="one scale per output row"):
        DynamicInt8Linear(torch.zeros(3, 4, dtype=torch.int8), torch.ones(2))


def test_fake_quant_linear_uses_the_function_and_trains():
    lin = nn.Linear(4, 3)
    layer = FakeQuantLinear(lin, lambda w: w * 0)
    x = torch.randn(2, 4)
    assert torch.allclose(layer(x), lin.bias.expand(2, 3))
    layer = FakeQuantLinear(lin, lambda w: w + (torch.round(w) - w).detach())
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    with pytest.raises(TypeError, match="nn.Linear"):
        FakeQuantLinear(nn.ReLU(), lambda w: w)


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


def test_input_hessians_match_explicit_formula_and_share_keys():
    torch.manual_seed(0)
    model = TwoHeads()
    layers = linear_layers(model, skip=("lm_head",))
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
        input_hessians(model, linear_layers(model, skip=("lm_head",)), [])
    with pytest.raises(ValueError, match="at least one linear layer"):
        input_hessians(model, {}, [torch.randn(1, 4)])
    assert not model.q._forward_hooks


def test_replaced_weights_restores_even_on_error():
    model = TwoHeads()
    layers = linear_layers(model, skip=("lm_head",))
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
