"""Unit tests for utils.speed: timing and peak memory."""

import re
import time

import pytest
import torch
from torch import nn

from utils.speed import LatencyResult, measure_latency, peak_memory_bytes


# --------------------------------------------------------------------------- latency
def test_measure_latency_times_a_sleep():
    r = measure_latency(lambda: time.sleep(0.005), warmup=1, repeats=5, device="cpu")
    assert isinstance(r, LatencyResult)
    assert r.repeats == 5 and len(r.times_ms) == 5 and r.device == "cpu"
    assert 5.0 <= r.min_ms <= r.q25_ms <= r.median_ms <= r.q75_ms <= max(r.times_ms)
    assert r.p10_ms <= r.median_ms <= r.p90_ms and r.iqr_ms >= 0
    assert r.threads == torch.get_num_threads()
    text = str(r)
    assert re.fullmatch(r"[\d.]+ ms \(median of 5, IQR [\d.]+–[\d.]+ ms, \d+ threads?, cpu\)", text), text


def test_measure_latency_counts_calls_and_accepts_torch_device():
    calls = []
    r = measure_latency(lambda: calls.append(1), warmup=2, repeats=3, device=torch.device("cpu"))
    assert len(calls) == 5 and r.warmup == 2 and r.std_ms >= 0
    one = measure_latency(lambda: None, warmup=0, repeats=1, device="cpu")
    assert one.median_ms == one.min_ms and one.std_ms == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"repeats": 0}, "repeats must be an integer >= 1"),
        ({"warmup": -1}, "warmup must be a non-negative integer"),
        ({"device": "nonsense"}, "not a device"),
    ],
)
def test_measure_latency_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_latency(lambda: None, **kwargs)


def test_measure_latency_rejects_non_callable():
    with pytest.raises(TypeError, match="callable"):
        measure_latency(torch.zeros(2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_request_without_cuda_is_clear():
    with pytest.raises(ValueError, match="CUDA is not available"):
        measure_latency(lambda: None, device="cuda")


# --------------------------------------------------------------------------- memory
def test_peak_memory_cpu_is_exact_for_tensors():
    def fn():
        a = torch.empty(1_000_000)  # 4 MB
        b = torch.empty(2_000_000)  # 8 MB; peak 12 MB here
        del a
        c = torch.empty(500_000)  # 2 MB; only 10 MB live now
        return b, c

    assert peak_memory_bytes(fn, device="cpu") == 12_000_000


def test_peak_memory_cpu_grows_with_batch():
    lin = nn.Linear(64, 256)
    small = peak_memory_bytes(lambda: lin(torch.randn(8, 64)), device="cpu")
    large = peak_memory_bytes(lambda: lin(torch.randn(64, 64)), device="cpu")
    assert small >= 8 * 256 * 4 and large >= 64 * 256 * 4 and large > small


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_cuda():
    def fn():
        return torch.empty(4_000_000, device="cuda")  # 16 MB

    assert peak_memory_bytes(fn, device="cuda") >= 16_000_000
    r = measure_latency(lambda: torch.randn(256, 256, device="cuda") @ torch.randn(256, 256, device="cuda"))
    assert r.device.startswith("cuda")


def test_peak_memory_rejects_other_devices():
    with pytest.raises(ValueError, match="supports 'cpu' and 'cuda'"):
        peak_memory_bytes(lambda: None, device="meta")


def test_interleaved_latency_runs_every_variant_once_per_round_in_order():
    from utils.speed import interleaved_latency
    calls = []
    times = interleaved_latency({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=2,
                                device="cpu")
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(len(v) == 3 and all(x >= 0 for x in v) for v in times.values())


def test_interleaved_latency_shuffles_the_order_of_each_round():
    from utils.speed import interleaved_latency
    names = list("abcdef")
    calls = []
    def variants():
        return {n: (lambda n=n: calls.append(n)) for n in names}
    times = interleaved_latency(variants(), rounds=20, warmup=0, shuffle=3)
    rounds = [calls[i:i + len(names)] for i in range(0, len(calls), len(names))]
    assert all(sorted(r) == names for r in rounds)                     # every variant once per round
    assert len({tuple(r) for r in rounds}) > 10                        # the orders differ between rounds
    assert len({r[0] for r in rounds}) > 2                             # no variant always first
    assert all(len(v) == 20 for v in times.values())
    first = list(calls)
    calls.clear()
    interleaved_latency(variants(), rounds=20, warmup=0, shuffle=3)
    assert calls == first                                              # seeded: the same orders again
    # the list of a variant follows the rounds: a variant that is slow in round 2 only has its
    # slow time at index 2, wherever it ran within that round
    counter = {"n": 0}
    def slow_in_round_two():
        counter["n"] += 1
        if counter["n"] == 3:
            time.sleep(0.02)
    times = interleaved_latency({"x": slow_in_round_two, "y": lambda: None, "z": lambda: None}, rounds=4, warmup=0,
                                shuffle=0)
    assert max(range(4), key=lambda i: times["x"][i]) == 2


def test_interleaved_latency_times_a_sleep():
    from utils.speed import interleaved_latency
    times = interleaved_latency({"sleep": lambda: time.sleep(0.01), "none": lambda: None}, rounds=2, device="cpu")
    assert min(times["sleep"]) >= 9 and max(times["none"]) < 9


@pytest.mark.parametrize("kwargs, match", [({"variants": {}}, "non-empty"), ({"variants": {"x": 1}}, "callables"),
                                           ({"variants": {"x": print}, "rounds": 0}, "rounds"),
                                           ({"variants": {"x": print}, "warmup": -1}, "warmup"),
                                           ({"variants": {"x": print}, "shuffle": 1.5}, "shuffle"),
                                           ({"variants": {"x": print}, "shuffle": True}, "shuffle")])
def test_interleaved_latency_errors(kwargs, match):
    from utils.speed import interleaved_latency
    with pytest.raises((ValueError, TypeError), match=match):
        interleaved_latency(**kwargs)
