"""Correct implementations written differently from the solutions: each must score full marks.

Tolerances must accept every correct float32 implementation, not only the solution's own way of
computing (tests/test_grade.py grades these). exercise id -> {description: source}.
"""

ALTERNATIVES = {
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
