"""Known wrong implementations of the exercises of `ch01_why_compress`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch01.ex1': {
        "always counts a bias": '''
def linear_params_and_macs(in_features, out_features, tokens, bias=True):
    return in_features * out_features + out_features, tokens * in_features * out_features
''',
    },
    'ch01.ex2': {
        "linear in the sequence length": '''
def attention_macs(batch, seq, heads, head_dim):
    return 2 * batch * heads * seq * head_dim
''',
    },
    'ch01.ex3': {
        "float division, no rounding up to whole bytes": '''
def storage_bytes(numel, bits, group_size=0, scale_bits=16):
    if numel < 0 or bits < 1 or group_size < 0:
        raise ValueError("bad input")
    groups = numel / group_size if group_size else 0
    return (numel * bits + groups * scale_bits) / 8
''',
        "no input validation": '''
def storage_bytes(numel, bits, group_size=0, scale_bits=16):
    groups = -(-numel // group_size) if group_size > 0 else 0
    return -(-(numel * bits + groups * scale_bits) // 8)
''',
    },
}
