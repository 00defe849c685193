"""Chapter 6.1 exercises: where the time goes (roofline of a linear layer, attention's FLOP share, a robust speed-up).

Checks compare with formulas evaluated here in exact or float64 arithmetic; the speed-up estimator is
graded on synthetic per-round timings (a machine whose speed drifts from round to round, with one round
where only one variant was disturbed), never on real timings.
"""
from __future__ import annotations

import random
import statistics

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close

NOTEBOOK = "06-acceleration/01-where-time-goes.ipynb"


# --- ch06.ex1: arithmetic intensity and roofline time of a linear layer -------------------------
def _roof_args(seed: int) -> tuple:
    rng = random.Random(600 + seed)
    tokens = rng.choice([1, 7, 32, 896, 4096, 64])
    d_in, d_out = rng.choice([384, 576, 1536, 100]), rng.choice([384, 1536, 576, 3])
    bpe = rng.choice([4, 2, 1])
    peak = rng.choice([70e9, 190e9, 1e12, 3e9])
    bw = rng.choice([20e9, 50e9, 3e12])
    return tokens, d_in, d_out, bpe, peak, bw


def _roof_edge(seed: int) -> tuple:
    return [(1, 576, 1536, 4, 70e9, 20e9),       # one decoding token: memory-bound
            (100_000, 384, 384, 2, 1e9, 1e12),   # huge batch on a slow core: compute-bound
            (1, 1, 1, 4, 1.0, 1.0)][seed]


def _verify_roof(args: tuple, got: object) -> None:
    tokens, d_in, d_out, bpe, peak, bw = args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(f"expected a pair (intensity, min_time_s), got {got!r:.80}")
    flops = 2 * tokens * d_in * d_out
    moved = bpe * (tokens * d_in + d_in * d_out + tokens * d_out)
    expect_close(got[0], flops / moved, rtol=1e-9, atol=0,
                 what=f"intensity (FLOP/byte) for {tokens} tokens, {d_in}->{d_out}, {bpe} B/element")
    expect_close(got[1], max(flops / peak, moved / bw), rtol=1e-9, atol=0,
                 what=f"roofline time (s) with peak {peak:.3g} FLOP/s and bandwidth {bw:.3g} B/s")


ROOFLINE = Exercise(
    id="ch06.ex1",
    func="linear_roofline",
    title="Arithmetic intensity and roofline time of a linear layer",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random shapes, dtypes and machines", _roof_args, _verify_roof, seeds=(0, 1, 2)),
        Case("random shapes, dtypes and machines", _roof_args, _verify_roof, seeds=tuple(range(3, 12)), hidden=True),
        Case("one token, a huge batch, unit sizes", _roof_edge, _verify_roof, seeds=(0, 1, 2), hidden=True),
    ),
    mistakes=(
        Mistake('counts multiply-adds, not FLOPs', '''
def linear_roofline(tokens, d_in, d_out, bytes_per_element, peak_flops, bandwidth):
    flops = tokens * d_in * d_out
    moved = bytes_per_element * (tokens * d_in + d_in * d_out + tokens * d_out)
    return flops / moved, max(flops / peak_flops, moved / bandwidth)
'''),
        Mistake('min instead of max (the faster of the two limits)', '''
def linear_roofline(tokens, d_in, d_out, bytes_per_element, peak_flops, bandwidth):
    flops = 2 * tokens * d_in * d_out
    moved = bytes_per_element * (tokens * d_in + d_in * d_out + tokens * d_out)
    return flops / moved, min(flops / peak_flops, moved / bandwidth)
'''),
    ),
)


# --- ch06.ex2: attention's share of a layer's FLOPs ---------------------------------------------
def _share_args(seed: int) -> tuple:
    rng = random.Random(700 + seed)
    return rng.choice([8, 28, 64, 128, 512, 2048, 1]), rng.choice([384, 768, 576, 64]), rng.choice([1536, 3072, 256])


def _verify_share(args: tuple, got: object) -> None:
    n, h, f = args
    scores = 2 * (2 * n * n * h)            # Q K^T and P V: n*n*h multiply-adds each
    projections = 4 * (2 * n * h * h)       # Q, K, V, O
    ffn = 2 * (2 * n * h * f)               # up and down
    expect_close(got, scores / (scores + projections + ffn), rtol=1e-9, atol=1e-12,
                 what=f"share of the matmul FLOPs in QK^T and PV (n={n}, hidden={h}, ffn={f})")


ATTN_SHARE = Exercise(
    id="ch06.ex2",
    func="attention_flop_share",
    title="Attention's share of a transformer layer's matmul FLOPs",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random lengths and widths", _share_args, _verify_share, seeds=(0, 1, 2)),
        Case("random lengths and widths", _share_args, _verify_share, seeds=tuple(range(3, 12)), hidden=True),
    ),
    mistakes=(
        Mistake('counts Q K^T only, not P V', '''
def attention_flop_share(seq_len, hidden, ffn):
    n, h, f = seq_len, hidden, ffn
    scores = 2 * n * n * h
    return scores / (scores + 8 * n * h * h + 4 * n * h * f)
'''),
    ),
)


# --- ch06.ex3: a robust interleaved speed-up -----------------------------------------------------
def _speed_args(seed: int) -> tuple:
    rng = random.Random(800 + seed)
    rounds = rng.choice([7, 8, 9, 10, 11])
    true = rng.choice([1.3, 2.0, 3.1, 0.8])
    base, new = [], []
    for _ in range(rounds):
        machine = rng.uniform(0.6, 2.5)              # the whole machine is faster or slower this round
        b = 100.0 * machine * rng.uniform(0.97, 1.03)
        base.append(b)
        new.append(100.0 * machine / true * rng.uniform(0.97, 1.03))
    noisy = rng.randrange(rounds)
    if seed % 2:
        new[noisy] *= 8.0                              # a background job hit only the new variant
    else:
        base[noisy] *= 8.0
    return base, new


def _speed_edge(seed: int) -> tuple:
    return [([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 1000.0], [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0]),
            ([3.0, 3.0], [1.0, 2.0]),                 # even count: mean of the two middle ratios
            ([7.0], [7.0])][seed]


def _verify_speed(args: tuple, got: object) -> None:
    base, new = args
    expected = statistics.median(b / n for b, n in zip(base, new))
    expect_close(got, expected, rtol=1e-9, atol=0,
                 what="median over rounds of (baseline time / new time) in the same round")


SPEEDUP = Exercise(
    id="ch06.ex3",
    func="interleaved_speedup",
    title="A robust speed-up from interleaved rounds",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("synthetic drifting machine, one noisy round", _speed_args, _verify_speed, seeds=(0, 1, 2)),
        Case("synthetic drifting machine, one noisy round", _speed_args, _verify_speed, seeds=tuple(range(3, 12)),
             hidden=True),
        Case("an outlier round, an even number of rounds, one round", _speed_edge, _verify_speed, seeds=(0, 1, 2),
             hidden=True),
    ),
    mistakes=(
        Mistake('mean of the per-round ratios', '''
def interleaved_speedup(base_ms, new_ms):
    return sum(b / n for b, n in zip(base_ms, new_ms)) / len(base_ms)
'''),
        Mistake('inverted: new / base', '''
import statistics
def interleaved_speedup(base_ms, new_ms):
    return statistics.median(n / b for b, n in zip(base_ms, new_ms))
'''),
    ),
)

EXERCISES = (ROOFLINE, ATTN_SHARE, SPEEDUP)
