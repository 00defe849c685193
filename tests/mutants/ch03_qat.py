"""Known wrong implementations of the exercises of `ch03_qat`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grading.py), kept out of the course package.
"""

MUTANTS = {
    'ch03.ex8': {
        "no STE: round() has zero gradient": '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-12)
    return torch.clamp(torch.round(w / s), -qmax, qmax) * s
''',
        "detached output: no gradient reaches w": '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-12)
    return (torch.clamp(torch.round(w / s), -qmax, qmax) * s).detach()
''',
        "per-tensor scale instead of per row": '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().max() / qmax).clamp(min=1e-12)
    q = torch.clamp(torch.round(w.detach() / s), -qmax, qmax) * s
    return w + (q - w).detach()
''',
    },
}
