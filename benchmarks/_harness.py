"""A small, dependency-free harness: time per operation, median of repeats, ratios to peers.

Each ``bench_*.py`` module defines ``cases() -> list[Case | MemoryCase]``. Every case in a group
does the same job; ``kind`` says whether it is ours, a peer's, or a hand-written floor.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["ours", "peer", "floor"]


@dataclass
class Case:
    """One implementation of one timed job.

    ``setup`` builds the state and returns the operation to time (a zero-argument callable, or a
    zero-argument coroutine function when ``is_async``); it runs once per repeat.
    """

    group: str
    impl: str
    kind: Kind
    setup: Callable[[], Callable[[], object]]
    number: int = 20_000
    is_async: bool = False


@dataclass
class MemoryCase:
    """Bytes per key: ``fill(n)`` creates n keys and returns what keeps them alive."""

    group: str
    impl: str
    kind: Kind
    fill: Callable[[int], object]
    keys: int = 20_000


@dataclass
class PeakMemoryCase:
    """Peak bytes allocated (tracemalloc) while the op ``setup()`` returns does its job once.

    ``setup`` runs before measuring, so the input it builds is not counted.
    """

    group: str
    impl: str
    kind: Kind
    setup: Callable[[], Callable[[], object]]


@dataclass
class Result:
    group: str
    impl: str
    kind: Kind
    value: float  # ns per op, or bytes per key
    unit: str
    samples: list[float] = field(default_factory=list)


def _time_sync(op: Callable[[], object], number: int) -> float:
    loop = range(number)
    start = time.perf_counter_ns()
    for _ in loop:
        op()
    return (time.perf_counter_ns() - start) / number


def _time_async(op: Callable[[], Awaitable[object]], number: int) -> float:
    async def run() -> float:
        loop = range(number)
        start = time.perf_counter_ns()
        for _ in loop:
            await op()
        return (time.perf_counter_ns() - start) / number

    return asyncio.run(run())


def _sample(case: Case) -> float:
    if SMOKE_NUMBER is not None:
        case = replace(case, number=min(case.number, SMOKE_NUMBER))
    op = case.setup()
    gc.collect()
    gc.disable()
    try:
        if case.is_async:
            return _time_async(op, case.number)  # type: ignore[arg-type]
        return _time_sync(op, case.number)
    finally:
        gc.enable()


#: Set by ``python -m benchmarks --smoke``: every case runs a few operations only, so CI proves
#: that each benchmark still runs (peers' APIs, our own) without spending minutes timing it.
SMOKE_NUMBER: int | None = None
SMOKE_KEYS = 200


def run_group(cases: list[Case], repeats: int) -> list[Result]:
    """Time the cases of one group in turn, round after round, and take each one's median.

    Interleaving the rounds means a drift in the machine's speed (another process, frequency
    scaling) touches every implementation alike, so the ratios within the group stay honest.
    """
    samples: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for case, bucket in zip(cases, samples, strict=True):
            bucket.append(_sample(case))
    return [
        Result(c.group, c.impl, c.kind, statistics.median(b), "ns", b)
        for c, b in zip(cases, samples, strict=True)
    ]


def run_peak(case: PeakMemoryCase) -> Result:
    op = case.setup()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        op()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Result(case.group, case.impl, case.kind, peak - base, "B peak")


def run_memory(case: MemoryCase) -> Result:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keys = case.keys if SMOKE_NUMBER is None else min(case.keys, SMOKE_KEYS)
        keep = case.fill(keys)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return Result(case.group, case.impl, case.kind, (after - before) / keys, "B/key")
