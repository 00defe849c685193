"""Chapter 7.2 exercises: the capstone pipeline (cutting the vocabulary, Amdahl's law for a pipeline).

References are computed here with plain Python (a dict for the id map, a loop for the time shares).
"""
from __future__ import annotations

import random

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close

NOTEBOOK = "07-evaluating-and-combining/02-capstone.ipynb"


# --- ch07.ex5: remap token ids to the rows of a cut vocabulary -----------------------------------
def _remap_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(300 + seed)
    rng = random.Random(300 + seed)
    vocab = rng.choice([20, 50, 200])
    shape = [(3, 7), (1, 12), (5, 4), (9,), (2, 3, 4)][seed % 5]
    ids = torch.randint(0, vocab, shape, generator=g)
    keep = [rng.randrange(vocab) for _ in range(rng.randint(1, vocab // 2))]      # unsorted, with repeats
    unk = rng.randrange(vocab)
    if seed % 2:
        keep.append(unk)                                                            # sometimes [UNK] is kept already
    return ids, keep, unk


def _remap_edge(seed: int) -> tuple:
    ids = torch.tensor([[5, 1, 9, 0], [9, 9, 3, 7]])
    return [(ids, list(range(10)), 1),        # everything kept: the identity
            (ids, [2, 4], 8),                 # nothing of the input kept: all [UNK]
            (ids, [9, 3, 5], 0),              # unk below every kept id: row 0
            (ids, [7, 7, 3], 100)][seed]      # unk id beyond the input's ids


def _verify_remap(args: tuple, got: object) -> None:
    ids, keep, unk = args
    rows = sorted(set(keep) | {unk})
    row_of = {t: r for r, t in enumerate(rows)}
    expected = torch.tensor([row_of.get(t, row_of[unk]) for t in ids.flatten().tolist()]).reshape(ids.shape)
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"expected a tensor of row indices, got {type(got).__name__}")
    if got.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool):
        raise CheckFailed(f"expected integer row indices, got dtype {got.dtype}")
    if tuple(got.shape) != tuple(ids.shape):
        raise CheckFailed(f"expected the input's shape {tuple(ids.shape)}, got {tuple(got.shape)}")
    wrong = (got.long() != expected).nonzero()
    if len(wrong):
        pos = tuple(wrong[0].tolist())
        raise CheckFailed(f"token {int(ids[pos])} at {pos}: expected row {int(expected[pos])} of the cut table "
                          f"(kept ids in increasing order, [UNK]={unk} included), got {int(got[pos])}")


REMAP = Exercise(
    id="ch07.ex5",
    func="remap_vocabulary",
    title="Token ids to the rows of a cut vocabulary, unknown tokens to [UNK]",
    points=2,
    notebook=NOTEBOOK,
    forbidden=("utils.pipeline",),
    cases=(
        Case("random ids, kept sets and [UNK]", _remap_args, _verify_remap, seeds=(0, 1, 2)),
        Case("random ids, kept sets and [UNK]", _remap_args, _verify_remap, seeds=tuple(range(3, 10)), hidden=True),
        Case("all kept, none kept, [UNK] first, [UNK] beyond the input", _remap_edge, _verify_remap,
             seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake('unknown tokens get the [UNK] token id, not its row', '''
def remap_vocabulary(input_ids, keep_ids, unk_id):
    rows = sorted(set(keep_ids) | {unk_id})
    row_of = {t: r for r, t in enumerate(rows)}
    return torch.tensor([row_of.get(t, unk_id) for t in input_ids.flatten().tolist()]).reshape(input_ids.shape)
'''),
    ),
)


# --- ch07.ex6: Amdahl's law --------------------------------------------------------------------
def _amdahl_args(seed: int) -> tuple:
    rng = random.Random(400 + seed)
    k = rng.randint(1, 5)
    raw = [rng.random() + 0.05 for _ in range(k)]
    shares = [r / sum(raw) for r in raw]
    speedups = [rng.choice([1.0, 1.5, 2.0, 3.7, 10.0, 0.8]) for _ in range(k)]
    return shares, speedups


def _amdahl_edge(seed: int) -> tuple:
    return [([1.0], [4.0]), ([0.5, 0.5], [1.0, 1e9]), ([0.0, 1.0], [100.0, 1.0]), ([0.25, 0.25, 0.5], [2.0, 2.0, 2.0])][seed]


def _verify_amdahl(args: tuple, got: object) -> None:
    shares, speedups = args
    expected = 1.0 / sum(f / s for f, s in zip(shares, speedups))
    expect_close(got, expected, atol=1e-9, rtol=1e-9,
                 what=f"overall speed-up of parts with time shares {[round(f, 3) for f in shares]} sped up by {speedups}")


def _bad_amdahl(seed: int) -> tuple:
    return [([0.5, 0.4], [2.0, 2.0]),          # shares sum to 0.9
            ([0.5, 0.5], [2.0]),               # lengths differ
            ([1.2, -0.2], [2.0, 2.0]),         # a negative share
            ([0.5, 0.5], [2.0, 0.0])][seed]    # a zero speed-up


def _run_expect_error(fn, args: tuple) -> str:
    try:
        fn(*args)
    except ValueError:
        return "ValueError"
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return "no exception"


def _verify_error(args: tuple, got: object) -> None:
    if got != "ValueError":
        raise CheckFailed(f"invalid input {args}: expected a ValueError, got {got}")


AMDAHL = Exercise(
    id="ch07.ex6",
    func="amdahl_speedup",
    title="Amdahl's law: the speed-up of a whole from the speed-ups of its parts",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random shares and speed-ups", _amdahl_args, _verify_amdahl, seeds=(0, 1, 2)),
        Case("invalid shares or speed-ups raise ValueError", _bad_amdahl, _verify_error, seeds=(0, 1),
             run=_run_expect_error),
        Case("random shares and speed-ups", _amdahl_args, _verify_amdahl, seeds=tuple(range(3, 10)), hidden=True),
        Case("one part, an infinite speed-up, a zero share, all equal", _amdahl_edge, _verify_amdahl,
             seeds=(0, 1, 2, 3), hidden=True),
        Case("invalid shares or speed-ups raise ValueError", _bad_amdahl, _verify_error, seeds=(2, 3), hidden=True,
             run=_run_expect_error),
    ),
    mistakes=(
        Mistake('the product of the speed-ups', '''
def amdahl_speedup(shares, speedups):
    if len(shares) != len(speedups) or abs(sum(shares) - 1) > 1e-6 or min(shares) < 0 or min(speedups) <= 0:
        raise ValueError("bad input")
    out = 1.0
    for s in speedups:
        out *= s
    return out
'''),
    ),
)

EXERCISES = (REMAP, AMDAHL)
