"""Known wrong implementations of the exercises of `ch03_qat`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch03.ex9': {
        "detached output: no gradient reaches w": '''
def fake_quant_ste(w, bits):
    qmax = 2 ** (bits - 1) - 1
    s = (w.detach().abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-12)
    return (torch.clamp(torch.round(w / s), -qmax, qmax) * s).detach()
''',
    },
    'ch03.ex10': {
        "no clipping: the forward pass leaves the grid for the largest weights": '''
def fake_quant_lsq(w, s, bits):
    v = w / s
    return (v + (v.round() - v).detach()) * s
''',
        "clipped weights pull s with the wrong sign": '''
def fake_quant_lsq(w, s, bits):
    qmax = 2 ** (bits - 1) - 1
    v = torch.clamp(w / s, -qmax, qmax)
    inside = (w / s).abs() <= qmax
    out = (v + (v.round() - v).detach()) * s
    return torch.where(inside, out, 2 * out.detach() - out)
''',
    },
}
