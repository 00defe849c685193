"""Known wrong implementations of the exercises of `ch03_ptq`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch03.ex1': {
        "per-tensor scale even when per_channel=True": '''
def fake_quantize(x, bits, symmetric=True, per_channel=False):
    lo, hi = x.min().clamp(max=0), x.max().clamp(min=0)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / qmax
        zero = torch.zeros_like(scale)
    else:
        qmin, qmax = 0, 2 ** bits - 1
        scale = (hi - lo) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if not symmetric:
        zero = torch.round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, qmin, qmax) - zero) * scale
''',
        "symmetric scale max|x| / 2^(b-1): the largest value is clipped": '''
def fake_quantize(x, bits, symmetric=True, per_channel=False):
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    lo = x.amin(dim=dims, keepdim=True).clamp(max=0)
    hi = x.amax(dim=dims, keepdim=True).clamp(min=0)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / 2 ** (bits - 1)
        zero = torch.zeros_like(scale)
    else:
        qmin, qmax = 0, 2 ** bits - 1
        scale = (hi - lo) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if not symmetric:
        zero = torch.round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, qmin, qmax) - zero) * scale
''',
        "asymmetric without a zero point (range starts at 0)": '''
def fake_quantize(x, bits, symmetric=True, per_channel=False):
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    lo = x.amin(dim=dims, keepdim=True).clamp(max=0)
    hi = x.amax(dim=dims, keepdim=True).clamp(min=0)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / qmax
    else:
        qmin, qmax = 0, 2 ** bits - 1
        scale = (hi - lo) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(x / scale), qmin, qmax) * scale
''',
        "no guard for an all-zero row (0/0 = NaN)": '''
def fake_quantize(x, bits, symmetric=True, per_channel=False):
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    lo = x.amin(dim=dims, keepdim=True).clamp(max=0)
    hi = x.amax(dim=dims, keepdim=True).clamp(min=0)
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / qmax
        zero = torch.zeros_like(scale)
    else:
        qmin, qmax = 0, 2 ** bits - 1
        scale = (hi - lo) / qmax
        zero = torch.round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, qmin, qmax) - zero) * scale
''',
    },
    'ch03.ex3': {
        "the articles' formula round(log2(x)): NaN for negative weights": '''
def log2_quantize(x, bits):
    mag = x.abs()
    e_max = torch.round(torch.log2(mag.max()))
    e_min = e_max - (2 ** (bits - 1) - 2)
    e = torch.round(torch.log2(x)).clamp(e_min, e_max)
    return torch.pow(2.0, e)
''',
        "sign dropped": '''
def log2_quantize(x, bits):
    mag = x.abs()
    if float(mag.max()) == 0.0:
        return torch.zeros_like(x)
    e_max = torch.round(torch.log2(mag.max()))
    e_min = e_max - (2 ** (bits - 1) - 2)
    e = torch.round(torch.log2(mag.clamp(min=1e-30))).clamp(e_min, e_max)
    out = torch.pow(2.0, e)
    return torch.where(mag < 2.0 ** (e_min - 1), torch.zeros_like(x), out)
''',
        "no exponent range: tiny values never become 0": '''
def log2_quantize(x, bits):
    mag = x.abs()
    if float(mag.max()) == 0.0:
        return torch.zeros_like(x)
    e = torch.round(torch.log2(mag.clamp(min=1e-30)))
    return torch.where(mag == 0, torch.zeros_like(x), torch.sign(x) * torch.pow(2.0, e))
''',
    },
    'ch03.ex5': {
        "no clamp in the error: values beyond the clip are not clipped": '''
def mse_optimal_clip(x, bits, candidates):
    qmax = 2 ** (bits - 1) - 1
    def err(c):
        s = c / qmax
        return float(((torch.round(x / s) * s - x) ** 2).mean())
    return min(candidates, key=err)
''',
        "error measured on the clipped values only (ignores the clipping error)": '''
def mse_optimal_clip(x, bits, candidates):
    qmax = 2 ** (bits - 1) - 1
    def err(c):
        s = c / qmax
        xc = x.clamp(-c, c)
        return float(((torch.round(xc / s) * s - xc) ** 2).mean())
    return min(candidates, key=err)
''',
    },
    'ch03.ex6': {
        "accumulates in int16 (overflows on long rows)": '''
def int8_linear(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero):
    acc = (a_q.to(torch.int16) - a_zero) @ w_q.to(torch.int16).t()
    y = acc.float() * (a_scale * w_scale)[None, :] / out_scale
    return torch.clamp(torch.round(y) + out_zero, 0, 255).to(torch.uint8)
''',
        "per-row weight scales ignored (first scale for all)": '''
def int8_linear(a_q, a_scale, a_zero, w_q, w_scale, out_scale, out_zero):
    acc = (a_q.to(torch.int32) - a_zero) @ w_q.to(torch.int32).t()
    y = acc.float() * (a_scale * w_scale[0]) / out_scale
    return torch.clamp(torch.round(y) + out_zero, 0, 255).to(torch.uint8)
''',
    },
    'ch03.ex4': {
        "the articles' code: standardize, multiply by 2^b, clip to min*2^(b-1)..max*2^(b-1)": '''
def mean_shift_quantize(w, bits):
    mean = w.mean()
    z = (w - mean) / w.std()
    lo = torch.floor(z.min() * 2 ** (bits - 1))
    hi = torch.ceil(z.max() * 2 ** (bits - 1))
    codes = torch.clamp(torch.round(z * 2 ** bits), lo, hi).long()
    return codes, 1.0 / 2 ** bits, mean
''',
        "scale from max - min of the unshifted weights, codes overflow": '''
def mean_shift_quantize(w, bits):
    mean = w.mean()
    scale = (w.max() - w.min()) / (2 ** bits - 1)
    codes = torch.round((w - mean) / scale).long()
    return codes, scale, mean
''',
    },
    'ch03.ex7': {
        "the articles' loop: rebinds `param`, changes nothing": '''
def quantize_model_(model, bits):
    for param in model.parameters():
        param = torch.round(param * 256) / 256
''',
        "the articles' quantizer in place: a fixed step 1/256 whatever the bits": '''
def quantize_model_(model, bits):
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.round(p * 256) / 256)
''',
    },
    'ch03.ex2': {
        "truncation (int cast) instead of rounding: 0.3 / 0.1 = 2.999... becomes 2": '''
def linear_quantize(x, delta):
    codes = (x / delta).long()
    return codes, codes * delta
''',
        "the article's printed output: the first code is lost (codes shifted down, clamped at 0)": '''
def linear_quantize(x, delta):
    codes = torch.round(x / delta).long()
    codes = torch.where(codes == codes.min(), codes - 1, codes)
    return codes, codes * delta
''',
    },
    'ch03.ex8': {
        "moves the most sensitive matrices down first (sorted the wrong way)": '''
def mixed_precision_plan(model, batches, names, max_avg_bits):
    import math
    widths = (2, 3, 4, 8)
    hi = min(b for b in widths if b >= max_avg_bits)
    lo = max([b for b in widths if b < hi], default=hi)
    layers = {n: model.get_submodule(n) for n in names}
    original = {n: layers[n].weight.detach().clone() for n in names}
    sizes = {n: original[n].numel() for n in names}
    with torch.no_grad():
        ref = [torch.log_softmax(model(*x), -1) for x in batches]
        kl = lambda: sum(torch.nn.functional.kl_div(torch.log_softmax(model(*x), -1), r, log_target=True,
                                                    reduction="sum").item() for x, r in zip(batches, ref))
        for n in names:
            layers[n].weight.copy_(fake_quantize(original[n], hi, per_channel=True))
        base, cost = kl(), {}
        for n in names:
            layers[n].weight.copy_(fake_quantize(original[n], lo, per_channel=True))
            cost[n] = (kl() - base) / sizes[n]
            layers[n].weight.copy_(fake_quantize(original[n], hi, per_channel=True))
        for n in names:
            layers[n].weight.copy_(original[n])
    plan, total = {n: hi for n in names}, sum(sizes.values())
    for n in sorted(names, key=lambda n: -cost[n]):
        if sum(sizes[m] * plan[m] for m in names) <= max_avg_bits * total:
            break
        plan[n] = lo
    return plan
''',
        "leaves the model quantized (the weights are never put back)": '''
def mixed_precision_plan(model, batches, names, max_avg_bits):
    widths = (2, 3, 4, 8)
    hi = min(b for b in widths if b >= max_avg_bits)
    lo = max([b for b in widths if b < hi], default=hi)
    layers = {n: model.get_submodule(n) for n in names}
    sizes = {n: layers[n].weight.numel() for n in names}
    with torch.no_grad():
        ref = [torch.log_softmax(model(*x), -1) for x in batches]
        kl = lambda: sum(torch.nn.functional.kl_div(torch.log_softmax(model(*x), -1), r, log_target=True,
                                                    reduction="sum").item() for x, r in zip(batches, ref))
        original = {n: layers[n].weight.detach().clone() for n in names}
        for n in names:
            layers[n].weight.copy_(fake_quantize(original[n], hi, per_channel=True))
        base, cost = kl(), {}
        for n in names:
            layers[n].weight.copy_(fake_quantize(original[n], lo, per_channel=True))
            cost[n] = (kl() - base) / sizes[n]
            layers[n].weight.copy_(fake_quantize(original[n], hi, per_channel=True))
    plan, total = {n: hi for n in names}, sum(sizes.values())
    for n in sorted(names, key=lambda n: cost[n]):
        if sum(sizes[m] * plan[m] for m in names) <= max_avg_bits * total:
            break
        plan[n] = lo
    return plan
''',
    },
}
