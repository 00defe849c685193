"""Known wrong implementations of the exercises of `ch03_low_bit_lm`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch03.ex11': {
        "2**bits levels: step = (max - min) / 2**bits": '''
def quantize_groupwise(weight, bits, group_size):
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    w = weight.reshape(rows, cols // group_size, group_size)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    step = (hi - lo) / 2 ** bits
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = torch.clamp(torch.round((w - lo) / step), 0, 2 ** bits - 1)
    return (lo + step * q).reshape(rows, cols)
''',
        "no guard for a constant group (divides by a zero step)": '''
def quantize_groupwise(weight, bits, group_size):
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    w = weight.reshape(rows, cols // group_size, group_size)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    step = (hi - lo) / (2 ** bits - 1)
    q = torch.clamp(torch.round((w - lo) / step), 0, 2 ** bits - 1)
    return (lo + step * q).reshape(rows, cols)
''',
        "flat reshape(-1, g): groups straddle rows when g does not divide the columns": '''
def quantize_groupwise(weight, bits, group_size):
    w = weight.reshape(-1, group_size)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    step = (hi - lo) / (2 ** bits - 1)
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = torch.clamp(torch.round((w - lo) / step), 0, 2 ** bits - 1)
    return (lo + step * q).reshape(weight.shape)
''',
        "symmetric absmax grid (no minimum)": '''
def quantize_groupwise(weight, bits, group_size):
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    w = weight.reshape(rows, cols // group_size, group_size)
    qmax = 2 ** (bits - 1) - 1
    step = w.abs().amax(-1, keepdim=True) / max(qmax, 1)
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = torch.clamp(torch.round(w / step), -qmax - 1, qmax)
    return (step * q).reshape(rows, cols)
''',
        "truncates instead of rounding": '''
def quantize_groupwise(weight, bits, group_size):
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    w = weight.reshape(rows, cols // group_size, group_size)
    lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    step = (hi - lo) / (2 ** bits - 1)
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = torch.clamp(((w - lo) / step).floor(), 0, 2 ** bits - 1)
    return (lo + step * q).reshape(rows, cols)
''',
    },
    'ch03.ex12': {
        "forgets the minima (scales only)": '''
def group_quant_bytes(rows, cols, bits, group_size):
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    return -(-rows * cols * bits // 8) + rows * (cols // group_size) * 2
''',
        "integer division bits // 8 (3-bit codes cost nothing)": '''
def group_quant_bytes(rows, cols, bits, group_size):
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    return rows * cols * (bits // 8) + rows * (cols // group_size) * 4
''',
        "counts groups over all weights, without the divisibility check": '''
def group_quant_bytes(rows, cols, bits, group_size):
    return -(-rows * cols * bits // 8) + -(-rows * cols // group_size) * 4
''',
    },
    'ch03.ex13': {
        "forgets to divide the error by the diagonal of the factor": '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, i] + scale[:, i] * torch.clamp(torch.round((w[:, i] - minimum[:, i]) / scale[:, i]), 0, 2 ** bits - 1)
        err = w[:, i] - q[:, i]
        w[:, i + 1:] -= err[:, None] * hinv_chol[i, i + 1:][None, :]
    return q
''',
        "adds the error instead of subtracting it": '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, i] + scale[:, i] * torch.clamp(torch.round((w[:, i] - minimum[:, i]) / scale[:, i]), 0, 2 ** bits - 1)
        err = (w[:, i] - q[:, i]) / hinv_chol[i, i]
        w[:, i + 1:] += err[:, None] * hinv_chol[i, i + 1:][None, :]
    return q
''',
        "quantizes the original column, not the updated one": '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, i] + scale[:, i] * torch.clamp(torch.round((weight[:, i] - minimum[:, i]) / scale[:, i]), 0, 2 ** bits - 1)
        err = (w[:, i] - q[:, i]) / hinv_chol[i, i]
        w[:, i + 1:] -= err[:, None] * hinv_chol[i, i + 1:][None, :]
    return q
''',
        "one grid per row (column 0's) for every column: ignores groups": '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, 0] + scale[:, 0] * torch.clamp(torch.round((w[:, i] - minimum[:, 0]) / scale[:, 0]), 0, 2 ** bits - 1)
        err = (w[:, i] - q[:, i]) / hinv_chol[i, i]
        w[:, i + 1:] -= err[:, None] * hinv_chol[i, i + 1:][None, :]
    return q
''',
        "the full inverse H^-1 never updated after a column (no Cholesky factor)": '''
def gptq_quantize_columns(weight, hinv_chol, scale, minimum, bits):
    w = weight.clone()
    q = torch.zeros_like(w)
    hinv = hinv_chol.T @ hinv_chol
    for i in range(w.shape[1]):
        q[:, i] = minimum[:, i] + scale[:, i] * torch.clamp(torch.round((w[:, i] - minimum[:, i]) / scale[:, i]), 0, 2 ** bits - 1)
        err = (w[:, i] - q[:, i]) / hinv[i, i]
        w[:, i + 1:] -= err[:, None] * hinv[i, i + 1:][None, :]
    return q
''',
    },
}
