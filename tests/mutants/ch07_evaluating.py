"""Known wrong implementations of the exercises of `ch07_evaluating`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    "ch07.ex1": {
        "forgets the z^2/(4n^2) term under the root": '''
def wilson_interval(correct, n, z=1.96):
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n)
    return centre - half, centre + half
''',
    },
    "ch07.ex2": {
        "doubles the tail without capping at 1": '''
def mcnemar_exact(a_correct, b_correct):
    b = int((a_correct & ~b_correct).sum()); c = int((~a_correct & b_correct).sum())
    m = b + c
    if m == 0:
        return 1.0
    return 2 * sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m
''',
        "the chi-square approximation instead of the exact test": '''
def mcnemar_exact(a_correct, b_correct):
    b = int((a_correct & ~b_correct).sum()); c = int((~a_correct & b_correct).sum())
    if b + c == 0:
        return 1.0
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    return math.erfc(math.sqrt(stat / 2))
''',
        "counts every example, not only the disagreements": '''
def mcnemar_exact(a_correct, b_correct):
    n = a_correct.numel()
    k = min(int(a_correct.sum()), int(b_correct.sum()))
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
''',
    },
    "ch07.ex3": {
        "unpaired: resamples the two models independently": '''
def paired_bootstrap(a_correct, b_correct, indices, level=0.95):
    a, b = a_correct.double(), b_correct.double()
    means = a[indices].mean(1) - b[indices.flip(0)].mean(1)
    q = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float((a - b).mean()), float(q[0]), float(q[1])
''',
        "a normal interval instead of percentiles": '''
def paired_bootstrap(a_correct, b_correct, indices, level=0.95):
    d = a_correct.double() - b_correct.double()
    means = d[indices].mean(1)
    half = 1.96 * float(means.std())
    return float(d.mean()), float(d.mean()) - half, float(d.mean()) + half
''',
        "uses level and 1 - level as the quantiles": '''
def paired_bootstrap(a_correct, b_correct, indices, level=0.95):
    d = a_correct.double() - b_correct.double()
    means = d[indices].mean(1)
    q = torch.quantile(means, torch.tensor([1 - level, level], dtype=torch.float64))
    return float(d.mean()), float(q[0]), float(q[1])
''',
    },
    "ch07.ex4": {
        "the overall gap |accuracy - mean confidence| (one bin)": '''
def expected_calibration_error(logits, labels, n_bins=10):
    conf, pred = logits.double().softmax(-1).max(-1)
    return abs((pred == labels).double().mean() - conf.mean()).item()
''',
        "confidence 1.0 falls outside the bins (dropped)": '''
def expected_calibration_error(logits, labels, n_bins=10):
    conf, pred = logits.double().softmax(-1).max(-1)
    right = (pred == labels).double()
    bins = (conf * n_bins).floor().long()
    n = len(labels)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.sum().item() / n * abs(right[sel].mean() - conf[sel].mean()).item()
    return ece
''',
        "the probability of the true class instead of the top class": '''
def expected_calibration_error(logits, labels, n_bins=10):
    probs = logits.double().softmax(-1)
    conf = probs.gather(1, labels[:, None]).squeeze(1)
    right = (probs.argmax(-1) == labels).double()
    bins = (conf * n_bins).floor().clamp(max=n_bins - 1).long()
    n = len(labels)
    return sum((bins == b).sum().item() / n * abs(right[bins == b].mean() - conf[bins == b].mean()).item()
               for b in range(n_bins) if (bins == b).any())
''',
    },
}
