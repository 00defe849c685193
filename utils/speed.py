"""How fast a model runs and how much memory it needs while running: latency and peak memory.

A single timing means little, so latency is the median of several timed calls after a
warm-up, with the spread and the number of CPU threads reported next to it; on a GPU the
device is synchronized around each call. How big a model is lives in :mod:`utils.size`.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["LatencyResult", "interleaved_latency", "measure_latency", "peak_memory_bytes"]


# --------------------------------------------------------------------------- time
def _resolve_device(device: str | torch.device | None) -> torch.device:
    """A torch.device from a string or device; ``None`` means CUDA when present, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"not a device: {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available on this machine")
    return dev


def _sync(dev: torch.device) -> None:
    """Wait for queued GPU work so that a timer measures it."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _quantile(sorted_xs: list[float], q: float) -> float:
    """Quantile by linear interpolation between order statistics (numpy's default)."""
    pos = (len(sorted_xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _fmt_ms(x: float) -> str:
    """Milliseconds with about three significant digits."""
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


@dataclass(frozen=True)
class LatencyResult:
    """Timings of repeated calls, in milliseconds, and the conditions they were taken in."""

    median_ms: float
    q25_ms: float
    q75_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    repeats: int
    warmup: int
    threads: int
    device: str
    times_ms: tuple[float, ...] = field(repr=False, default=())

    @property
    def iqr_ms(self) -> float:
        """Interquartile range (q75 − q25)."""
        return self.q75_ms - self.q25_ms

    def __str__(self) -> str:
        return (
            f"{_fmt_ms(self.median_ms)} ms (median of {self.repeats}, "
            f"IQR {_fmt_ms(self.q25_ms)}–{_fmt_ms(self.q75_ms)} ms, "
            f"{self.threads} thread{'s' if self.threads != 1 else ''}, {self.device})"
        )


def measure_latency(
    fn: Callable[[], Any],
    *,
    warmup: int = 3,
    repeats: int = 10,
    device: str | torch.device | None = None,
) -> LatencyResult:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Each call is timed alone with ``time.perf_counter``; on CUDA the GPU is
    synchronized before and after it, since kernels run asynchronously and the timer
    would otherwise stop before they finish.  ``device`` is where ``fn`` runs
    (default: CUDA when present, else CPU).  Report the median: it shrugs off the odd
    slow call that the mean does not.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (e.g. lambda: model(x)), got {type(fn).__name__}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    dev = _resolve_device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        fn()
        _sync(dev)
        times.append((time.perf_counter() - start) * 1000.0)
    xs = sorted(times)
    return LatencyResult(
        median_ms=_quantile(xs, 0.5),
        q25_ms=_quantile(xs, 0.25),
        q75_ms=_quantile(xs, 0.75),
        p10_ms=_quantile(xs, 0.10),
        p90_ms=_quantile(xs, 0.90),
        mean_ms=statistics.fmean(xs),
        std_ms=statistics.stdev(xs) if len(xs) > 1 else 0.0,
        min_ms=xs[0],
        repeats=repeats,
        warmup=warmup,
        threads=torch.get_num_threads(),
        device=str(dev),
        times_ms=tuple(times),
    )


def interleaved_latency(variants: dict[Any, Callable[[], Any]], *, rounds: int = 7, warmup: int = 1,
                        device: str | torch.device | None = None,
                        shuffle: int | None = None) -> dict[Any, list[float]]:
    """Time several variants in interleaved rounds: ``{name: [ms of round 1, ms of round 2, ...]}``.

    Each round calls every variant once, so the variants of one round share the machine's state
    (a burst of background work hits a round, not a variant). ``warmup`` untimed calls of each
    variant come first. Compare variants per round (e.g. the median over rounds of the ratio of
    two variants' times), not by timing one variant after the other.

    By default every round runs the variants in the given order. With ``shuffle`` (an integer
    seed), every round runs them in a new random order drawn from ``random.Random(shuffle)``, so
    that no variant always runs at the same point of a round (right after the same neighbour, or
    always first after a pause): with many variants, a drift within each round otherwise adds a
    bias tied to the position. The lists stay in round order either way.
    """
    if not isinstance(variants, dict) or not variants:
        raise ValueError("variants must be a non-empty dict {name: callable}")
    bad = [name for name, fn in variants.items() if not callable(fn)]
    if bad:
        raise TypeError(f"variants must map names to callables; not callable: {bad}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if shuffle is not None and (isinstance(shuffle, bool) or not isinstance(shuffle, int)):
        raise TypeError(f"shuffle must be None or an integer seed, got {shuffle!r}")
    dev = _resolve_device(device)
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times: dict[Any, list[float]] = {name: [] for name in variants}
    order = list(variants)
    shuffler = random.Random(shuffle) if shuffle is not None else None
    for _ in range(rounds):
        if shuffler is not None:
            shuffler.shuffle(order)
        for name in order:
            fn = variants[name]
            _sync(dev)
            start = time.perf_counter()
            fn()
            _sync(dev)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


# --------------------------------------------------------------------------- memory
def peak_memory_bytes(fn: Callable[[], Any], device: str | torch.device | None = None) -> int:
    """Peak of the *extra* tensor memory PyTorch allocates while ``fn()`` runs, in bytes.

    What it means: the highest point reached by (bytes allocated by PyTorch's
    allocator − bytes freed) during the call, counted from zero when the call starts.
    So it covers activations, temporaries and outputs, but not the tensors that
    already existed (the weights: add ``tensor_bytes(model)`` for the total), nor
    memory outside PyTorch's allocator (Python objects, library workspaces, the
    allocator's own caching).

    * CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``,
      minus what was allocated before the call.
    * CPU: PyTorch has no peak counter, so the call runs under ``torch.profiler`` with
      ``profile_memory=True``, which records every allocation and free with a
      timestamp; the running sum's maximum is the peak.  Exact for tensor memory, but
      the profiler slows the call down, so do not time it at the same run.  (The
      process's resident set size was not used: it moves in pages, lags the
      allocator, and a sampler polling it misses short peaks.)
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (e.g. lambda: model(x)), got {type(fn).__name__}")
    dev = _resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        before = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        fn()
        torch.cuda.synchronize(dev)
        return max(0, int(torch.cuda.max_memory_allocated(dev) - before))
    if dev.type != "cpu":
        raise ValueError(f"peak_memory_bytes supports 'cpu' and 'cuda' devices, got {str(dev)!r}")
    return _cpu_peak_bytes(fn)


def _cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak net CPU tensor allocation during ``fn()``, from the profiler's memory events."""
    from torch.profiler import ProfilerActivity, profile

    # Kineto prints "profiler_start/stop" lines on stderr unless its log level is raised.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:  # pragma: no cover - depends on the torch version
        raise RuntimeError("this torch version's profiler does not expose its memory events")
    events = [
        e
        for e in results.events()
        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for e in events:
        current += e.nbytes()
        peak = max(peak, current)
    return int(peak)
