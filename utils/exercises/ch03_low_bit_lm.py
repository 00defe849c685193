"""Chapter 3 exercises, notebook 3: low-bit weight-only quantization of a language model.

Group-wise (scale, minimum) quantization of a weight matrix, the bytes such a matrix takes,
and the GPTQ column loop (quantize a column, spread its error over the columns not yet
quantized with the inverse Hessian's Cholesky factor). Checks are property- or
reference-based on small random problems; ties of the rounding are never relied on.
"""
from __future__ import annotations

import math

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_equal, expect_tensor

NOTEBOOK = "03-quantization/03-low-bit-lm.ipynb"


def _raises_value_error(fn, args: tuple) -> dict:
    """Run `fn`; report whether it raised ValueError (other exceptions propagate and fail the case)."""
    try:
        value = fn(*args)
    except ValueError as exc:
        return {"raised": "ValueError", "message": str(exc)}
    return {"raised": "nothing", "message": f"returned {type(value).__name__}"}


def _verify_raises(args: tuple, got: object) -> None:
    group_size = args[-1]
    if not isinstance(got, dict) or got.get("raised") != "ValueError":
        what = got.get("message", "") if isinstance(got, dict) else ""
        raise CheckFailed(f"group_size={group_size} does not divide the number of input columns: expected a "
                          f"ValueError, got no error ({what})")
    if str(group_size) not in got.get("message", ""):
        raise CheckFailed(f"expected the ValueError's message to name the group size {group_size}, got "
                          f"{got.get('message', '')!r}")


# --- ch03.ex11: group-wise (scale, minimum) fake quantization ----------------------------------
def _fq_random(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1000 + seed)
    group = [4, 8, 16, 32][int(torch.randint(0, 4, (1,), generator=g))]
    rows, n_groups = int(torch.randint(1, 9, (1,), generator=g)), int(torch.randint(1, 5, (1,), generator=g))
    bits = [2, 3, 4, 8][int(torch.randint(0, 4, (1,), generator=g))]
    scale = 10 ** float(torch.rand(1, generator=g) * 2 - 2)
    return torch.randn(rows, n_groups * group, generator=g) * scale, bits, group


def _fq_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1100 + seed)
    if seed == 0:  # one constant group among random ones
        w = torch.randn(3, 12, generator=g)
        w[1, 4:8] = 0.37
        return w, 3, 4
    if seed == 1:  # all positive, far from zero (a symmetric grid wastes half its levels)
        return torch.rand(4, 16, generator=g) + 5.0, 4, 8
    if seed == 2:  # one group per row: per-channel
        return torch.randn(5, 24, generator=g), 4, 24
    if seed == 3:  # all-zero matrix
        return torch.zeros(2, 8), 4, 4
    if seed == 4:  # heavy outlier in one group
        w = torch.randn(2, 32, generator=g) * 0.02
        w[0, 3] = 1.0
        return w, 3, 16
    return torch.randn(6, 64, generator=g), 8, 64  # 1 group, 8 bits


def _fq_bad_shape(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1200 + seed)
    # rows * cols is a multiple of the group size, cols is not: a flat reshape would not notice
    return [(torch.randn(4, 6, generator=g), 4, 4), (torch.randn(8, 12, generator=g), 3, 8),
            (torch.randn(2, 5, generator=g), 2, 3)][seed]


def _verify_fq(args: tuple, got: object) -> None:
    weight, bits, group = args
    expect_tensor(got, weight, atol=math.inf, rtol=0, what="dequantized weight (shape and dtype of the input)")
    rows, cols = weight.shape
    w = weight.double().reshape(rows, cols // group, group)
    out = got.double().reshape(rows, cols // group, group)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    maxq = 2 ** bits - 1
    step = (hi - lo) / maxq
    tol = 1e-5 * (hi.abs() + lo.abs() + 1e-12)
    flat = step == 0
    if (flat & ((out - lo).abs() > tol)).any():
        r, gi, _ = (flat & ((out - lo).abs() > tol)).nonzero()[0].tolist()
        raise CheckFailed(f"row {r}, group {gi} has all weights equal to {lo[r, gi, 0].item():.6g}: expected them "
                          f"reproduced exactly, got {out[r, gi].tolist()[:4]}... (guard the zero step)")
    safe = torch.where(flat, torch.ones_like(step), step)
    k = (out - lo) / safe
    off_grid = (~flat) & (((k - k.round()).abs() > 1e-3) | (k.round() < 0) | (k.round() > maxq))
    if off_grid.any():
        r, gi, j = off_grid.nonzero()[0].tolist()
        raise CheckFailed(f"weight [{r}, {gi * group + j}] (group {gi} of row {r}): expected a value on the grid "
                          f"min + k*step, k in 0..{maxq}, step = (max - min)/{maxq} = {step[r, gi, 0].item():.4g} "
                          f"(min = {lo[r, gi, 0].item():.4g}), got {out[r, gi, j].item():.6g} (k = "
                          f"{k[r, gi, j].item():.3f}); groups run along the input dimension (columns)")
    err = (out - w).abs()
    too_far = (~flat) & (err > step / 2 + tol)
    if too_far.any():
        r, gi, j = too_far.nonzero()[0].tolist()
        raise CheckFailed(f"weight [{r}, {gi * group + j}]: expected the nearest grid value (error <= step/2 = "
                          f"{step[r, gi, 0].item() / 2:.4g}), got error {err[r, gi, j].item():.4g}; round, "
                          "do not truncate")


# --- ch03.ex11: the course's reference implementation (the notebook's fallback) ---
def quantize_groupwise_reference(weight, bits, group_size):
    if weight.shape[1] % group_size:
        raise ValueError(f"group_size {group_size} does not divide the {weight.shape[1]} input columns")
    w = weight.unflatten(1, (-1, group_size))
    lo, hi = w.aminmax(dim=-1, keepdim=True)
    step = ((hi - lo) / (2 ** bits - 1)).masked_fill(hi == lo, 1.0)
    return (lo + step * ((w - lo) / step).round().clamp(0, 2 ** bits - 1)).flatten(1)


FAKE_QUANT = Exercise(
    id="ch03.ex11",
    func="quantize_groupwise",
    reference=quantize_groupwise_reference,
    title="Group-wise asymmetric weight quantization (scale and minimum per group of g input columns)",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random matrices, bits and group sizes", _fq_random, _verify_fq, seeds=(0, 1, 2)),
        Case("random matrices, bits and group sizes", _fq_random, _verify_fq, seeds=tuple(range(3, 11)),
             hidden=True),
        Case("constant group, all positive, per-channel, all zero, outlier, 8 bits", _fq_edge, _verify_fq,
             seeds=tuple(range(6)), hidden=True),
        Case("columns not a multiple of the group size: ValueError", _fq_bad_shape, _verify_raises,
             seeds=(0, 1, 2), hidden=True, run=_raises_value_error),
    ),
    mistakes=(
        Mistake('groups along the output dimension (rows)', '''
def quantize_groupwise(weight, bits, group_size):
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    w = weight.T.reshape(cols, -1, group_size) if rows % group_size == 0 else weight.T.reshape(cols, 1, rows)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    step = (hi - lo) / (2 ** bits - 1)
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = torch.clamp(torch.round((w - lo) / step), 0, 2 ** bits - 1)
    return (lo + step * q).reshape(cols, rows).T.contiguous()
'''),
    ),
)


# --- ch03.ex12: bytes of a group-quantized matrix ----------------------------------------------
def _bytes_random(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1300 + seed)
    group = [32, 64, 128][int(torch.randint(0, 3, (1,), generator=g))]
    rows = int(torch.randint(1, 50, (1,), generator=g))
    cols = group * int(torch.randint(1, 9, (1,), generator=g))
    bits = int(torch.randint(2, 9, (1,), generator=g))
    return rows, cols, bits, group


def _bytes_edge(seed: int) -> tuple:
    return [(576, 1536, 3, 64),     # a SmolLM2 down projection, 3-bit
            (1, 3, 3, 3),           # 9 bits of codes: 2 bytes
            (7, 5, 1, 5),           # 1-bit codes, per-channel
            (1536, 576, 4, 576),    # per-channel 4-bit
            (3, 64, 8, 16)][seed]


def _bytes_bad(seed: int) -> tuple:
    return [(4, 100, 4, 64), (576, 576, 4, 128), (2, 10, 3, 4)][seed]


def _verify_bytes(args: tuple, got: object) -> None:
    rows, cols, bits, group = args
    expected = math.ceil(rows * cols * bits / 8) + rows * (cols // group) * 2 * 2
    expect_equal(got, expected, what=f"bytes of a {rows}x{cols} matrix at {bits} bits, groups of {group} "
                                     "(packed codes + one fp16 scale and one fp16 minimum per group)")


# --- ch03.ex12: the course's reference implementation (the notebook's fallback) ---
def group_quant_bytes_reference(rows, cols, bits, group_size):
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide the {cols} input columns")
    return (rows * cols * bits + 7) // 8 + 4 * rows * (cols // group_size)


BYTES = Exercise(
    id="ch03.ex12",
    func="group_quant_bytes",
    reference=group_quant_bytes_reference,
    title="Storage of a group-quantized matrix: packed codes plus scales and minima",
    points=1,
    notebook=NOTEBOOK,
    cases=(
        Case("random shapes, bits and group sizes", _bytes_random, _verify_bytes, seeds=(0, 1, 2)),
        Case("random shapes, bits and group sizes", _bytes_random, _verify_bytes, seeds=tuple(range(3, 10)),
             hidden=True),
        Case("SmolLM2 shapes, odd bit counts, per-channel", _bytes_edge, _verify_bytes, seeds=tuple(range(5)),
             hidden=True),
        Case("group size does not divide the columns: ValueError", _bytes_bad, _verify_raises, seeds=(0, 1, 2),
             hidden=True, run=_raises_value_error),
    ),
    mistakes=(
        Mistake('one byte per code (no bit packing)', '''
def group_quant_bytes(rows, cols, bits, group_size):
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    return rows * cols + rows * (cols // group_size) * 4
'''),
        Mistake('scales and minima stored in fp32', '''
def group_quant_bytes(rows, cols, bits, group_size):
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    return -(-rows * cols * bits // 8) + rows * (cols // group_size) * 8
'''),
    ),
)


# --- ch03.ex13: the GPTQ column loop -----------------------------------------------------------
def _gptq_reference(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    maxq = 2 ** bits - 1
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, i] + scale[:, i] * torch.clamp(torch.round((w[:, i] - minimum[:, i]) / scale[:, i]), 0, maxq)
        err = (w[:, i] - q[:, i]) / hinv_chol[i, i]
        w[:, i + 1:] -= err[:, None] * hinv_chol[i, i + 1:][None, :]
    return q


def _factor(hessian: torch.Tensor) -> torch.Tensor:
    return torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(hessian)), upper=True)


def _gptq_problem(g: torch.Generator, rows: int, cols: int, bits: int, correlated: float, identity: bool = False,
                  group: int | None = None, permute: bool = False):
    weight = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    if identity:
        hessian = torch.eye(cols, dtype=torch.float64)
    else:
        n = 4 * cols
        base = torch.randn(n, 1, generator=g, dtype=torch.float64)
        x = torch.randn(n, cols, generator=g, dtype=torch.float64) + correlated * base
        hessian = 2 * x.T @ x / n + 0.01 * torch.eye(cols, dtype=torch.float64)
    hinv_chol = _factor(hessian)
    order = torch.randperm(cols, generator=g) if permute else None
    group = group or cols                                   # one grid per row and group of columns
    w = weight.reshape(rows, cols // group, group)
    lo, hi = w.amin(-1), w.amax(-1)
    scale = (hi - lo) / (2 ** bits - 1)
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)   # constant group: every weight on level 0
    if order is not None:                                   # act-order: columns permuted, grids travel along
        weight, hinv_chol = weight[:, order], _factor(hessian[order][:, order])
    expand = lambda t: t.repeat_interleave(group, dim=1)[:, order if order is not None else slice(None)]
    return weight, hinv_chol, expand(scale), expand(lo), bits


def _gptq_random(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1400 + seed)
    rows, group = int(torch.randint(1, 7, (1,), generator=g)), int(torch.randint(2, 5, (1,), generator=g))
    cols = group * int(torch.randint(1, 4, (1,), generator=g))
    bits = int(torch.randint(2, 5, (1,), generator=g))
    return _gptq_problem(g, rows, cols, bits, correlated=float(torch.rand(1, generator=g)) * 2, group=group,
                         permute=bool(seed % 2))


def _gptq_edge(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1500 + seed)
    return [_gptq_problem(g, 4, 6, 3, 0.0, identity=True),   # H = I: GPTQ is round-to-nearest
            _gptq_problem(g, 3, 1, 2, 1.0),                  # one column: nothing to propagate to
            _gptq_problem(g, 2, 16, 2, 3.0),                 # strongly correlated inputs
            _gptq_problem(g, 8, 10, 4, 0.5, group=5, permute=True)][seed]   # act-order, two groups


def _verify_gptq(args: tuple, got: object) -> None:
    weight, hinv_chol, scale, minimum, bits = args
    expected = _gptq_reference(weight, hinv_chol, scale, minimum, bits)
    expect_tensor(got, expected, atol=1e-9, rtol=1e-9,
                  what="quantized weight (columns quantized in order, each error spread over the later columns "
                       "with row i of the upper Cholesky factor of H^-1, divided by its diagonal entry)")


# --- ch03.ex13: the course's reference implementation (the notebook's fallback) ---
def gptq_quantize_columns_reference(weight, hinv_chol, scale, minimum, bits):
    w, out = weight.clone(), torch.empty_like(weight)
    for i in range(w.shape[1]):
        out[:, i] = minimum[:, i] + scale[:, i] * ((w[:, i] - minimum[:, i]) / scale[:, i]).round().clamp(0, 2 ** bits - 1)
        w[:, i + 1:] -= torch.outer((w[:, i] - out[:, i]) / hinv_chol[i, i], hinv_chol[i, i + 1:])
    return out


GPTQ = Exercise(
    id="ch03.ex13",
    func="gptq_quantize_columns",
    reference=gptq_quantize_columns_reference,
    title="The GPTQ column loop: quantize, then compensate the error in the columns not yet quantized",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("random small problems", _gptq_random, _verify_gptq, seeds=(0, 1, 2)),
        Case("random small problems", _gptq_random, _verify_gptq, seeds=tuple(range(3, 10)), hidden=True),
        Case("identity Hessian, one column, correlated inputs, 8 rows", _gptq_edge, _verify_gptq,
             seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('round-to-nearest: no error propagation', '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    q = torch.clamp(torch.round((weight - minimum) / scale), 0, 2 ** bits - 1)
    return minimum + scale * q
'''),
    ),
)

EXERCISES = (FAKE_QUANT, BYTES, GPTQ)
