"""Known wrong implementations of the exercises of `ch07_capstone`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    "ch07.ex5": {
        "rows in the order keep_ids were given (not sorted, repeats kept)": '''
def remap_vocabulary(input_ids, keep_ids, unk_id):
    rows = list(keep_ids) + ([unk_id] if unk_id not in keep_ids else [])
    row_of = {}
    for r, t in enumerate(rows):
        row_of.setdefault(t, r)
    return torch.tensor([row_of.get(t, row_of[unk_id]) for t in input_ids.flatten().tolist()]).reshape(input_ids.shape)
''',
        "forgets to keep [UNK] itself": '''
def remap_vocabulary(input_ids, keep_ids, unk_id):
    rows = sorted(set(keep_ids))
    row_of = {t: r for r, t in enumerate(rows)}
    return torch.tensor([row_of.get(t, 0) for t in input_ids.flatten().tolist()]).reshape(input_ids.shape)
''',
    },
    "ch07.ex6": {
        "the time-weighted mean of the speed-ups": '''
def amdahl_speedup(shares, speedups):
    if len(shares) != len(speedups) or abs(sum(shares) - 1) > 1e-6 or min(shares) < 0 or min(speedups) <= 0:
        raise ValueError("bad input")
    return sum(f * s for f, s in zip(shares, speedups))
''',
        "no input validation": '''
def amdahl_speedup(shares, speedups):
    return 1.0 / sum(f / s for f, s in zip(shares, speedups))
''',
    },
}
