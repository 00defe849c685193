"""Correct implementations written differently from the solutions: each must score full marks.

Tolerances must accept every correct float32 implementation, not only the solution's own way of
computing (tests/test_grade.py grades these). exercise id -> {description: source}.
"""

ALTERNATIVES = {
    "ch07.ex7": {
        "an event loop over requests": '''
def batch_latencies(arrivals_ms, batch_size, service_ms):
    finish, free, out = {}, 0.0, []
    n = len(arrivals_ms)
    for i in range(n):
        b = i // batch_size
        if b not in finish:
            last = min(n, (b + 1) * batch_size) - 1
            size = last - b * batch_size + 1
            free = max(free, arrivals_ms[last]) + service_ms[size - 1]
            finish[b] = free
        out.append(finish[b] - arrivals_ms[i])
    return out
''',
    },
    "ch07.ex5": {
        "a lookup table built with searchsorted": '''
def remap_vocabulary(input_ids, keep_ids, unk_id):
    rows = torch.tensor(sorted(set(keep_ids) | {unk_id}))
    pos = torch.searchsorted(rows, input_ids.clamp(max=int(rows[-1])))
    found = rows[pos] == input_ids
    unk_row = int((rows == unk_id).nonzero()[0])
    return torch.where(found, pos, torch.full_like(pos, unk_row))
''',
    },
    "ch07.ex6": {
        "time after / time before, with numpy": '''
def amdahl_speedup(shares, speedups):
    import numpy as np
    f, s = np.asarray(shares, float), np.asarray(speedups, float)
    if f.shape != s.shape or (f < 0).any() or not np.isclose(f.sum(), 1.0, atol=1e-6) or (s <= 0).any():
        raise ValueError("shares must be >= 0 and sum to 1; speed-ups must be > 0; same length")
    return float(1.0 / (f / s).sum())
''',
    },
    "ch07.ex1": {
        "the quadratic's roots with math.sqrt": '''
def wilson_interval(correct, n, z=1.96):
    p, c = correct / n, z * z / n
    a, b = 1 + c, -(2 * p + c)
    r = math.sqrt(b * b - 4 * a * p * p)
    return (-b - r) / (2 * a), (-b + r) / (2 * a)
''',
    },
    "ch07.ex2": {
        "the binomial tail from lgamma in float": '''
def mcnemar_exact(a_correct, b_correct):
    b = int((a_correct & ~b_correct).sum()); c = int((~a_correct & b_correct).sum())
    m, k = b + c, min(b, c)
    if m == 0:
        return 1.0
    tail = sum(math.exp(math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2)) for i in range(k + 1))
    return min(1.0, 2.0 * tail)
''',
    },
    "ch07.ex3": {
        "numpy percentiles": '''
def paired_bootstrap(a_correct, b_correct, indices, level=0.95):
    import numpy as np
    d = a_correct.numpy().astype(float) - b_correct.numpy().astype(float)
    means = d[indices.numpy()].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(d.mean()), float(lo), float(hi)
''',
    },
    "ch07.ex4": {
        "float32 softmax, bucketize on the bin edges": '''
def expected_calibration_error(logits, labels, n_bins=10):
    conf, pred = torch.softmax(logits, -1).max(-1)
    edges = torch.linspace(0, 1, n_bins + 1)[1:-1]
    bins = torch.bucketize(conf, edges, right=True)
    ece = torch.zeros(())
    for b in bins.unique():
        sel = bins == b
        ece += sel.float().mean() * ((pred[sel] == labels[sel]).float().mean() - conf[sel].mean()).abs()
    return float(ece)
''',
    },
    "ch04.ex1": {
        "exp(x - logsumexp(x)), all in float32": '''
def softmax_t(logits, T=1.0):
    z = logits / T
    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))
''',
    },
    "ch02.ex3": {
        "norms from a sum of squares, mask built with topk": '''
def prune_columns(weight, fraction):
    k = round(fraction * weight.shape[1])
    norms = (weight ** 2).sum(dim=0)
    keep = torch.ones(weight.shape[1], dtype=weight.dtype)
    if k:
        keep[torch.topk(norms, k, largest=False).indices] = 0
    return weight * keep
''',
    },
}
