"""The doubling check shared by every linear-time test: cost of n against cost of 2n.

A linear cost doubles when the input doubles, a quadratic one quadruples, so a ratio under three
tells them apart with room for noise. Time is CPU time (other processes do not count), the best
of several rounds taken in turns (a busy machine slows both sizes alike), and a measure over the
ratio is taken again up to ``tries`` times: noise passes on a retry, while a quadratic cost shows
its ratio of four every time.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable

__all__ = ["RATIO", "assert_linear_memory", "assert_linear_time", "cpu_seconds", "peak_bytes"]

#: The largest cost ratio of 2n to n that still reads as linear.
RATIO = 3.0
#: Each measured run is repeated until it takes at least this many CPU seconds.
MIN_RUN = 0.005


def cpu_seconds(run: Callable[[], object], repeat: int = 1) -> float:
    """Return the CPU seconds ``repeat`` calls of ``run`` take."""
    started = time.process_time()
    for _ in range(repeat):
        run()
    return time.process_time() - started


def peak_bytes(run: Callable[[], object]) -> int:
    """Return the tracemalloc peak of one call of ``run``."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_linear_time(
    small: Callable[[], object],
    large: Callable[[], object],
    *,
    rounds: int = 3,
    tries: int = 3,
) -> None:
    """Assert that ``large`` (the input of 2n) costs less than :data:`RATIO` times ``small``."""
    once = min(cpu_seconds(small) for _ in range(2))  # the first call may build caches
    repeat = max(1, min(1000, math.ceil(MIN_RUN / max(once, 1e-6))))
    for _ in range(tries):
        best_small = best_large = math.inf
        for _ in range(rounds):
            best_small = min(best_small, cpu_seconds(small, repeat))
            best_large = min(best_large, cpu_seconds(large, repeat))
        if best_large < RATIO * max(best_small, 1e-4):
            return
    raise AssertionError(f"n: {best_small:.5f} s, 2n: {best_large:.5f} s (x{repeat})")


def assert_linear_memory(
    small: Callable[[], object], large: Callable[[], object], *, floor: int = 64 * 1024
) -> None:
    """Assert that the peak of ``large`` is under :data:`RATIO` times that of ``small``."""
    peak_small, peak_large = peak_bytes(small), peak_bytes(large)
    assert peak_large < RATIO * max(peak_small, floor), (peak_small, peak_large)
