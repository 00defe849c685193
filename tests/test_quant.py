"""Unit tests for utils.quant: module swapping and the quantized linear stand-ins (fast)."""
import pytest
import torch
from torch import nn

from utils.quant import DynamicInt8Linear, FakeQuantLinear, WeightOnlyLinear, linear_names, swap_linears


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
