"""Chapter 7.3 exercise: the latency each request sees when a server batches requests.

The reference replays the queue with a plain loop over batches.
"""
from __future__ import annotations

import random

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close

NOTEBOOK = "07-evaluating-and-combining/03-results-at-a-glance.ipynb"


def _serve_args(seed: int) -> tuple:
    rng = random.Random(500 + seed)
    n = rng.randint(1, 40)
    rate = rng.choice([0.05, 0.2, 1.0, 5.0])                # requests per ms
    t, arrivals = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        arrivals.append(round(t, 3))
    batch = rng.choice([1, 2, 4, 8, 16])
    fixed, per = rng.choice([0.5, 2.0, 10.0]), rng.choice([0.1, 0.5, 2.0])
    service = [round(fixed + per * k, 3) for k in range(1, batch + 1)]     # service[k - 1]: a batch of k requests
    return arrivals, batch, service


def _serve_edge(seed: int) -> tuple:
    return [([0.0], 4, [1.0, 2.0, 3.0, 4.0]),                        # one request, batch never fills
            ([0.0, 0.0, 0.0, 0.0, 0.0], 2, [3.0, 5.0]),              # a burst: queueing behind earlier batches
            ([0.0, 100.0, 200.0], 1, [7.0]),                         # idle server between requests
            ([0.0, 1.0, 2.0, 3.0, 4.0], 3, [1.0, 1.5, 2.0])][seed]  # the last batch is smaller


def _reference(arrivals: list, batch: int, service: list) -> list:
    out, free = [], 0.0
    for start in range(0, len(arrivals), batch):
        group = arrivals[start:start + batch]
        begin = max(group[-1], free)
        free = begin + service[len(group) - 1]
        out.extend(free - a for a in group)
    return out


def _verify_serve(args: tuple, got: object) -> None:
    arrivals, batch, service = args
    expected = _reference(arrivals, batch, service)
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        raise CheckFailed(f"expected a list of {len(expected)} latencies (one per request, in arrival order), "
                          f"got {type(got).__name__}" + (f" of length {len(got)}" if hasattr(got, "__len__") else ""))
    for i, (g, e) in enumerate(zip(got, expected)):
        expect_close(g, e, atol=1e-9, rtol=1e-9,
                     what=f"latency of request {i} (arrived at {arrivals[i]} ms; batches of {batch})")


SERVE = Exercise(
    id="ch07.ex7",
    func="batch_latencies",
    title="Per-request latency of a server that runs fixed-size batches",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random arrivals, batch sizes and service times", _serve_args, _verify_serve, seeds=(0, 1, 2)),
        Case("random arrivals, batch sizes and service times", _serve_args, _verify_serve,
             seeds=tuple(range(3, 10)), hidden=True),
        Case("one request, a burst, an idle server, a smaller last batch", _serve_edge, _verify_serve,
             seeds=(0, 1, 2, 3), hidden=True),
    ),
    mistakes=(
        Mistake("the server is never busy: a batch starts when its last request arrives", '''
def batch_latencies(arrivals_ms, batch_size, service_ms):
    out = []
    for start in range(0, len(arrivals_ms), batch_size):
        group = arrivals_ms[start:start + batch_size]
        done = group[-1] + service_ms[len(group) - 1]
        out.extend(done - a for a in group)
    return out
'''),
        Mistake("a batch starts at its first request's arrival (no waiting for the batch to fill)", '''
def batch_latencies(arrivals_ms, batch_size, service_ms):
    out, free = [], 0.0
    for start in range(0, len(arrivals_ms), batch_size):
        group = arrivals_ms[start:start + batch_size]
        begin = max(group[0], free)
        free = begin + service_ms[len(group) - 1]
        out.extend(free - a for a in group)
    return out
'''),
        Mistake("the last, smaller batch takes a full batch's time", '''
def batch_latencies(arrivals_ms, batch_size, service_ms):
    out, free = [], 0.0
    for start in range(0, len(arrivals_ms), batch_size):
        group = arrivals_ms[start:start + batch_size]
        begin = max(group[-1], free)
        free = begin + service_ms[batch_size - 1]
        out.extend(free - a for a in group)
    return out
'''),
    ),
)

EXERCISES = (SERVE,)
