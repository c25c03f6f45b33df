"""How long to wait for a clock reading: one answer for the rate limiter and the circuit breaker.

Both tell a refused caller when to come back (``retry_after``). A caller that waits that long
reads ``now + retry_after`` on its clock, so the hint must reach the due instant *in float
arithmetic*, which ``due - now`` alone does not promise.
"""

from __future__ import annotations

import math

__all__ = ["wait_until"]


def wait_until(now: float, due: float) -> float:
    """Return the shortest wait ``w >= 0`` such that ``now + w >= due`` in float arithmetic.

    ``due - now`` is exact when ``due <= 2 * now``. Otherwise it may round down, so that a caller
    who waits exactly that long reads one float step short of ``due`` (``0.2 + (0.9 - 0.2) <
    0.9``); each step up adds at least an ulp of ``now`` back, so the loop runs once or twice.
    When no wait reaches ``due`` exactly (a tie), the reading just after it is the answer.

    Args:
        now: The clock reading at which the caller was refused.
        due: The first reading at which it would be admitted.

    Returns:
        The wait, in seconds; ``0.0`` when ``due`` is not after ``now``.
    """
    wait = due - now
    if wait <= 0.0:
        return 0.0
    while now + wait < due:
        wait = math.nextafter(wait, math.inf)
    return wait
