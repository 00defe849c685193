"""Known wrong implementations of the exercises of `ch06_where_time_goes`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    'ch06.ex1': {
        "forgets the weight matrix's bytes": '''
def linear_roofline(tokens, d_in, d_out, bytes_per_element, peak_flops, bandwidth):
    flops = 2 * tokens * d_in * d_out
    moved = bytes_per_element * (tokens * d_in + tokens * d_out)
    return flops / moved, max(flops / peak_flops, moved / bandwidth)
''',
    },
    'ch06.ex2': {
        "forgets the feed-forward block": '''
def attention_flop_share(seq_len, hidden, ffn):
    n, h = seq_len, hidden
    scores = 4 * n * n * h
    return scores / (scores + 8 * n * h * h)
''',
        "ratio to the rest, not share of the total": '''
def attention_flop_share(seq_len, hidden, ffn):
    n, h, f = seq_len, hidden, ffn
    return (4 * n * n * h) / (8 * n * h * h + 4 * n * h * f)
''',
    },
    'ch06.ex3': {
        "ratio of the means (one noisy round drags it)": '''
def interleaved_speedup(base_ms, new_ms):
    return (sum(base_ms) / len(base_ms)) / (sum(new_ms) / len(new_ms))
''',
        "ratio of the medians (ignores the pairing)": '''
import statistics
def interleaved_speedup(base_ms, new_ms):
    return statistics.median(base_ms) / statistics.median(new_ms)
''',
    },
}
