"""The rate limiter's value types: a policy (:class:`RateLimit`) and a decision.

Both are immutable and plain: a policy is validated once, here, so that every strategy in
``_rate_limit_strategies`` can trust its numbers; a decision is a :class:`~typing.NamedTuple`
the strategies build on every hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Final, Literal, NamedTuple

# Re-exported: the rate limiter imports positive_int from here.
from commerce_kit._duration import positive_int, to_seconds
from commerce_kit._http_headers import rate_limit_headers

__all__ = [
    "MAX_LIMIT",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "RateLimit",
    "RateLimitDecision",
    "RateLimitStrategy",
    "positive_int",
]

#: The shortest window accepted: one microsecond. Shorter windows are below what a clock can
#: tell apart from the cost of a hit, and their reciprocals overflow the float arithmetic.
MIN_WINDOW: Final = 1e-6
#: The longest window accepted, in seconds (about 31.7 years).
MAX_WINDOW: Final = 1e9
#: The largest ``limit`` or ``burst`` accepted: 2**53, the last integer every count stays exact at
#: in float arithmetic.
MAX_LIMIT: Final = 2**53
#: The largest number of seconds written into a header: 2**31, what RFC 9111 (section 1.2.2) has
#: a recipient assume for any larger delta-seconds value.
HEADER_MAX_SECONDS: Final = 2**31


class RateLimitStrategy(str, Enum):
    """The algorithm a :class:`RateLimit` uses; each trades exactness, memory and smoothness.

    .. versionadded:: 0.1.0
    """

    #: A sliding log, exact. Over any interval ``(t - window, t]`` at most ``limit`` units are
    #: admitted, and a hit is never refused while fewer than ``limit`` are in that interval.
    #: ``retry_after`` is exact. Memory and time per key are O(limit).
    EXACT = "exact"
    #: Cloudflare's sliding-window counter, two fixed-window counts with the previous one weighted
    #: by how much of it still overlaps the sliding window. O(1) memory, approximate: never more
    #: than ``limit`` per aligned window, nor more than ``2 * limit - 1`` in any sliding one.
    SLIDING_COUNTER = "sliding_counter"
    #: The generic cell rate algorithm, a smooth rate of one unit per ``window / limit`` seconds
    #: with bursts of up to ``burst`` units. O(1) memory, exact with respect to its own model.
    GCRA = "gcra"


@dataclass(frozen=True, slots=True, init=False)
class RateLimit:
    """One rate-limit policy: at most ``limit`` units per ``window`` seconds, by ``strategy``.

    Args:
        limit: Units allowed per window (an ``int`` from 1 to ``2**53``).
        window: The window, as seconds or a :class:`~datetime.timedelta`, from one microsecond
            (``1e-6``) to ``1e9`` seconds (about 31.7 years).
        name: The policy's name in the ``RateLimit`` headers; printable ASCII.
        strategy: The algorithm, as a :class:`RateLimitStrategy` or its value.
        burst: ``gcra`` only: the most units admitted at once from rest (defaults to ``limit``;
            at most ``2**53``).

    Raises:
        TypeError: ``limit`` or ``burst`` is not an ``int``, or ``window`` is not a duration.
        ValueError: A value is out of range, the name is empty or not printable ASCII, the
            strategy is unknown, or ``burst`` is given for a strategy other than ``gcra``.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       ``window`` must lie between one microsecond and ``1e9`` seconds, and ``limit`` and
       ``burst`` be at most ``2**53``: outside that range the arithmetic overflowed or divided
       by zero on a later hit.
    """

    limit: int
    window: float
    name: str
    strategy: RateLimitStrategy
    burst: int | None

    def __init__(
        self,
        limit: int,
        window: float | timedelta,
        *,
        name: str = "default",
        strategy: RateLimitStrategy | Literal["exact", "sliding_counter", "gcra"] = (
            RateLimitStrategy.EXACT
        ),
        burst: int | None = None,
    ) -> None:
        limit = positive_int(limit, "limit", MAX_LIMIT)
        seconds = to_seconds(window, name="window")
        if not MIN_WINDOW <= seconds <= MAX_WINDOW:
            raise ValueError(
                f"window must be from {MIN_WINDOW:g} to {MAX_WINDOW:g} seconds, got {seconds!r}"
            )
        try:
            kind = RateLimitStrategy(strategy)
        except ValueError:
            known = ", ".join(repr(s.value) for s in RateLimitStrategy)
            raise ValueError(f"strategy must be one of {known}, got {strategy!r}") from None
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not name or not all(" " <= ch <= "~" for ch in name):
            raise ValueError(f"name must be non-empty printable ASCII, got {name!r}")
        if burst is not None:
            if kind is not RateLimitStrategy.GCRA:
                raise ValueError(f"burst applies to the 'gcra' strategy only, not {kind.value!r}")
            burst = positive_int(burst, "burst", MAX_LIMIT)
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "window", seconds)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "strategy", kind)
        object.__setattr__(self, "burst", burst)

    @property
    def capacity(self) -> int:
        """The largest cost one hit may have, which is ``burst`` for ``gcra`` and else ``limit``."""
        return self.limit if self.burst is None else self.burst

    @property
    def ttl(self) -> float:
        """Seconds after its last change beyond which a key's state no longer matters."""
        if self.strategy is RateLimitStrategy.SLIDING_COUNTER:
            return 2.0 * self.window
        if self.strategy is RateLimitStrategy.GCRA:
            return self.window * max(1.0, self.capacity / self.limit)
        return self.window


class _DecisionFields(NamedTuple):
    #: Whether the hit was admitted; for a peek, whether a hit of cost 1 would be.
    allowed: bool
    remaining: float
    #: Seconds until a hit of the same cost would be admitted; ``0.0`` when allowed.
    retry_after: float
    #: Seconds until the full quota is available again, if nothing else is hit.
    reset_after: float
    #: The policy these numbers describe (the most restrictive one, for several).
    policy: RateLimit
    parts: tuple[RateLimitDecision, ...] | None = None


class RateLimitDecision(_DecisionFields):
    """The outcome of one hit, peek or refund: allowed or not, what is left, when to retry.

    Immutable (a :class:`~typing.NamedTuple`). It is truthy exactly when :attr:`allowed` is true,
    so ``if limiter.hit(key):`` reads as expected.

    Args:
        allowed: Whether the hit was admitted.
        remaining: Units that could still be consumed right now, after this decision.
        retry_after: Seconds until a hit of the same cost would be admitted (``0.0`` if allowed).
        reset_after: Seconds until the full quota is available again, if nothing else is hit.
        policy: The policy the numbers describe (for several policies, the most restrictive).
        parts: For several policies, one decision per policy, in the limiter's order.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       A :class:`~typing.NamedTuple`; ``parts`` may be passed by position too.
    """

    __slots__ = ()

    @property
    def remaining(self) -> int:
        """Units that could still be consumed right now, after this decision."""
        # The counting strategies carry it as a float; flooring waits until someone asks.
        return int(self[1])

    @property
    def limit(self) -> int:
        """The quota of :attr:`policy`: units per window."""
        return self[4].limit

    @property
    def parts(self) -> tuple[RateLimitDecision, ...]:
        """One decision per policy, in the limiter's order (just ``(self,)`` for one policy)."""
        parts = self[5]
        return (self,) if parts is None else parts

    def __bool__(self) -> bool:
        return self[0]

    def __repr__(self) -> str:
        return (
            f"RateLimitDecision(allowed={self[0]!r}, limit={self[4].limit!r}, "
            f"remaining={int(self[1])!r}, retry_after={self[2]!r}, reset_after={self[3]!r}, "
            f"policy={self[4].name!r})"
        )

    def headers(self, *, legacy: bool = False) -> dict[str, str]:
        """Return the HTTP response headers describing this decision.

        Always ``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi draft, one list member per
        policy); ``Retry-After`` (whole seconds, rounded up) when the hit was refused. Every
        number of seconds is capped at ``2**31``, the value RFC 9111 has a recipient assume for
        anything larger, so a header stays short whatever the policy.

        Args:
            legacy: Also add ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
                ``X-RateLimit-Reset`` (delta-seconds) for the most restrictive policy.

        Returns:
            A new ``dict`` of header names to values.

        .. versionchanged:: 0.2.0
           ``remaining`` is written as a whole number for every strategy (it read ``3.0`` for
           ``sliding_counter`` and ``gcra``), and seconds are capped at ``2**31``.
        """
        top = HEADER_MAX_SECONDS
        return rate_limit_headers(
            [(p[4].name, p[4].limit, p[4].window, int(p[1]), min(p[3], top)) for p in self.parts],
            retry_after=None if self[0] else min(self[2], top),
            legacy=(self[4].limit, int(self[1]), min(self[3], top)) if legacy else None,
        )
