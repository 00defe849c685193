"""Unit tests for utils.size: counts, sizes, and FLOPs against a hand count."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.size import (
    count_flops,
    count_nonzero,
    count_parameters,
    format_bytes,
    model_size_bytes,
    sparsity,
    tensor_bytes,
)


# --------------------------------------------------------------------------- a small transformer block
class Block(nn.Module):
    """One pre-norm-free encoder block: multi-head self-attention and a two-layer FFN."""

    def __init__(self, d: int, heads: int, ffn: int, use_sdpa: bool = False) -> None:
        super().__init__()
        self.h, self.dh, self.use_sdpa = heads, d // heads, use_sdpa
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ff1, self.ff2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        split = lambda t: t.view(B, L, self.h, self.dh).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.use_sdpa:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = q @ k.transpose(-2, -1) / self.dh**0.5  # (B, h, L, L)
            a = scores.softmax(-1) @ v  # (B, h, L, dh)
        x = x + self.o(a.transpose(1, 2).reshape(B, L, d))
        return x + self.ff2(F.gelu(self.ff1(x)))


def hand_count(B: int, L: int, d: int, h: int, ffn: int) -> int:
    """2·B·L·in·out per Linear, plus 2·B·h·L·L·d_head for each of QK^T and AV."""
    linears = 4 * (2 * B * L * d * d) + 2 * B * L * d * ffn + 2 * B * L * ffn * d
    attention = 2 * (2 * B * h * L * L * (d // h))
    return linears + attention


@pytest.mark.parametrize("use_sdpa", [False, True])
@pytest.mark.parametrize("B,L,d,h,ffn", [(2, 7, 32, 4, 64), (1, 16, 48, 12, 96), (3, 5, 24, 2, 24)])
def test_count_flops_matches_hand_count(B, L, d, h, ffn, use_sdpa):
    torch.manual_seed(0)
    block = Block(d, h, ffn, use_sdpa).eval()
    result = count_flops(block, torch.randn(B, L, d))
    assert result["flops"] == hand_count(B, L, d, h, ffn)
    assert result["macs"] * 2 == result["flops"]
    for name in ["q", "k", "v", "o"]:
        assert result["by_module"][name] == 2 * B * L * d * d
        assert result["children"][name] == 2 * B * L * d * d
    assert result["children"]["ff1"] == 2 * B * L * d * ffn
    assert sum(result["by_operator"].values()) == result["flops"]


def test_count_flops_nested_names_and_kwargs():
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Block(16, 2, 32), Block(16, 2, 32)])

        def forward(self, x, n_layers=2):
            for layer in self.layers[:n_layers]:
                x = layer(x)
            return x

    m = Wrapper()
    x = torch.randn(1, 4, 16)
    full, half = count_flops(m, x), count_flops(m, x, n_layers=1)
    assert full["flops"] == 2 * half["flops"] == 2 * hand_count(1, 4, 16, 2, 32)
    assert full["by_module"]["layers.1.ff2"] == 2 * 4 * 32 * 16
    assert full["children"] == {"layers": full["flops"]}


def test_count_flops_rejects_non_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_flops(lambda x: x, torch.zeros(1))


# --------------------------------------------------------------------------- parameters and sparsity
def test_count_parameters_and_trainable():
    m = nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 2))
    assert count_parameters(m) == 55 + 12
    m[0].weight.requires_grad_(False)
    assert count_parameters(m, trainable_only=True) == 5 + 12
    assert count_parameters(m, where=lambda n, t: n.endswith("bias")) == 7


def test_tied_parameters_counted_once():
    emb = nn.Embedding(7, 3)
    head = nn.Linear(3, 7, bias=False)
    head.weight = emb.weight
    m = nn.ModuleDict({"emb": emb, "head": head})
    assert count_parameters(m) == 21
    assert model_size_bytes(m) == 84
    assert tensor_bytes(m) == 84


def test_count_nonzero_and_sparsity():
    m = nn.Linear(4, 5)
    with torch.no_grad():
        m.weight.zero_()
        m.weight[0, :2] = 1.0
        m.bias.fill_(1.0)
    assert count_nonzero(m) == 2 + 5
    assert sparsity(m) == pytest.approx(1 - 7 / 25)
    assert sparsity(m, where=lambda n, t: t.dim() == 2) == pytest.approx(0.9)
    assert count_nonzero([torch.tensor([0.0, 1.0]), torch.zeros(3)]) == 1
    assert sparsity({"a": torch.zeros(4)}) == 1.0


def test_sparsity_errors():
    with pytest.raises(ValueError, match="no parameters"):
        sparsity(nn.ReLU())
    with pytest.raises(TypeError, match="expected"):
        count_nonzero(3)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_parameters([torch.zeros(2)])


# --------------------------------------------------------------------------- sizes
def test_model_size_bytes_bit_widths():
    m = nn.Linear(10, 5)  # 50 weights + 5 biases
    assert model_size_bytes(m) == 220
    assert model_size_bytes(m, bits=8) == 55
    assert model_size_bytes(m, bits=4) == 25 + 3  # each tensor rounded up to whole bytes
    assert model_size_bytes(m, bits=8, bits_for={"bias": 32}) == 50 + 20
    assert model_size_bytes(m, bits=8, bits_for=lambda n, t: 32 if t.dim() == 1 else None) == 70


def test_model_size_bytes_patterns_and_buffers():
    m = nn.Sequential(nn.Embedding(100, 8), nn.Linear(8, 8), nn.LayerNorm(8), nn.BatchNorm1d(8))
    mixed = model_size_bytes(m, bits=8, bits_for={"0.*": 32, "2.*": 32, "3.*": 32})
    assert mixed == 800 * 4 + 72 + 16 * 4 + 16 * 4
    with_buffers = model_size_bytes(m, include_buffers=True)
    buffers = sum(b.numel() for b in m.buffers())
    assert with_buffers == 4 * (count_parameters(m) + buffers)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_model_size_bytes_rejects_bad_bits(bad):
    with pytest.raises(ValueError, match="bits must be a positive integer"):
        model_size_bytes(nn.Linear(2, 2), bits=bad)


def test_model_size_bytes_other_errors():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        model_size_bytes({"w": torch.zeros(3)})
    with pytest.raises(ValueError, match="matches no tensor"):
        model_size_bytes(nn.Linear(2, 2), bits_for={"encoder.*": 8})
    with pytest.raises(ValueError, match=r"bits_for\('weight'\) must be a positive integer"):
        model_size_bytes(nn.Linear(2, 2), bits_for=lambda n, t: 0)


def test_tensor_bytes_reads_real_dtypes():
    assert tensor_bytes(torch.zeros(10, dtype=torch.int8)) == 10
    assert tensor_bytes(torch.zeros(10, dtype=torch.float16)) == 20
    assert tensor_bytes([torch.zeros(3), torch.zeros(2, dtype=torch.float64)]) == 12 + 16
    m = nn.Linear(10, 5).to(torch.bfloat16)
    assert tensor_bytes(m) == 110


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
def test_tensor_bytes_sparse_counts_indices():
    dense = torch.zeros(100, 100)
    dense[0, :10] = 1.0
    coo = dense.to_sparse()
    assert tensor_bytes(coo) == 10 * 4 + 2 * 10 * 8  # values + int64 (row, col) indices
    csr = dense.to_sparse_csr()
    assert tensor_bytes(csr) == 101 * 8 + 10 * 8 + 10 * 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_tensor_bytes_quantized_module():
    m = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
    q = torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)
    # int8 weights (1 byte each) + fp32 bias; packed weights are found inside state_dict
    assert 64 * 32 + 32 * 4 <= tensor_bytes(q) < 64 * 32 + 32 * 4 + 64


def test_format_bytes():
    assert format_bytes(0) == "0 B"
    assert format_bytes(512) == "512 B"
    assert format_bytes(1500) == "1.5 kB"
    assert format_bytes(90_868_000) == "90.9 MB"
    assert format_bytes(123_456_789) == "123 MB"
    assert format_bytes(2 * 1024**2, binary=True) == "2.0 MiB"
    with pytest.raises(ValueError, match="non-negative"):
        format_bytes(-1)
