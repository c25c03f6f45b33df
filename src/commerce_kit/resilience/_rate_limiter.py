"""Per-key rate limiting: the :class:`RateLimiter` that callers hold, and its hook event.

The decisions are pure functions (``_rate_limit_strategies``) of a key's state and one clock
reading; the state lives in a store (``_rate_limit_store``). :class:`RateLimiter` only reads the
clock, picks the operation and emits events, for sync and asyncio callers alike.

The limiter's hot path is :meth:`MemoryRateLimitStore.hit_function`, which runs ``apply`` on a
known key's state with the clock read and the lock in one frame; measured costs are in
``benchmarks/bench_rate_limit.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from commerce_kit._errors import RateLimitExceeded
from commerce_kit._hooks import emit
from commerce_kit.resilience._rate_limit_policy import (
    RateLimit,
    RateLimitDecision,
    RateLimitStrategy,
    positive_int,
)
from commerce_kit.resilience._rate_limit_store import MemoryRateLimitStore, Op
from commerce_kit.resilience._rate_limit_strategies import ops_for

if TYPE_CHECKING:
    from commerce_kit._types import Clock
    from commerce_kit.resilience._rate_limit_store import RateLimitStore

__all__ = ["DEFAULT_MAXSIZE", "HitDenied", "RateLimiter"]

_logger = logging.getLogger("commerce_kit.rate_limiter")

#: The default bound on distinct keys held in memory by one limiter.
DEFAULT_MAXSIZE: Final = 100_000

# ``cost is _ONE`` is the fast path for the common call; any other value, including ``True``, is
# validated in full.
_ONE: Final = 1


@dataclass(frozen=True, slots=True)
class HitDenied:
    """Event: a hit was refused. Hooks receive it; it never carries more than the key.

    Attributes:
        key: The key that was refused.
        policy: The policy that refused it (the one with the longest wait, for several).
        cost: The cost of the refused hit.
        retry_after: Seconds until a hit of that cost would be admitted.

    .. versionadded:: 0.2.0
       Replaces ``LimitExceeded`` (same fields), which was too easily confused with the
       :class:`~commerce_kit.RateLimitExceeded` exception.
    """

    key: str
    policy: RateLimit
    cost: int
    retry_after: float


# -- the limiter -----------------------------------------------------------------------------------


class RateLimiter:
    """Limit how often each key (a user, an API key, an IP) may do something.

    ``hit(key)`` consumes one unit and returns a :class:`RateLimitDecision`: whether it was
    allowed, what remains, when to retry, and the HTTP headers to send. Denied hits consume
    nothing. One limiter serves threads and asyncio tasks alike (``ahit`` and friends never block
    the event loop with the in-memory store).

    Args:
        limit: Units allowed per window (an ``int`` from 1 to ``2**53``).
        window: The window, as seconds or a :class:`~datetime.timedelta`, from one microsecond
            to ``1e9`` seconds.
        strategy: ``"exact"`` (default, a sliding log), ``"sliding_counter"`` or ``"gcra"``; see
            :class:`RateLimitStrategy`.
        name: The policy name shown in the ``RateLimit`` headers.
        burst: ``gcra`` only: the most units admitted at once from rest (default ``limit``).
        clock: Monotonic seconds; read once per call. Use
            :class:`~commerce_kit.testing.ManualClock` in tests.
        hooks: Callables receiving a :class:`HitDenied` event for every refused hit. A hook
            that raises is logged on ``commerce_kit.rate_limiter`` and otherwise ignored.
        store: Where per-key state lives (a :class:`~commerce_kit.typing.RateLimitStore`);
            default: in process memory, bounded by ``maxsize``.
        maxsize: For the default store, the most keys held at once. When more distinct keys
            arrive, the least recently used are forgotten: their budget starts afresh (fails
            open). Ignored when ``store`` is given.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range.

    Example:
        >>> from commerce_kit import RateLimiter
        >>> from commerce_kit.testing import ManualClock
        >>> limiter = RateLimiter(limit=2, window=60.0, clock=ManualClock())
        >>> [limiter.hit("user:42").allowed for _ in range(3)]
        [True, True, False]

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       ``max_keys=`` is now ``maxsize=``; hooks receive :class:`HitDenied` (was
       ``LimitExceeded``); failing hooks are logged on ``commerce_kit.rate_limiter`` (was
       ``commerce_kit.rate_limit``).
    """

    _clock: Clock
    _hit: Op
    _hooks: tuple[Callable[[HitDenied], None], ...]
    _peek: Op
    _policies: tuple[RateLimit, ...]
    _refund: Op
    _store: RateLimitStore
    _update: Callable[[str, Op, float, int], RateLimitDecision]

    def __init__(
        self,
        limit: int,
        window: float | timedelta,
        *,
        strategy: RateLimitStrategy | Literal["exact", "sliding_counter", "gcra"] = (
            RateLimitStrategy.EXACT
        ),
        name: str = "default",
        burst: int | None = None,
        clock: Clock = time.monotonic,
        hooks: Iterable[Callable[[HitDenied], None]] = (),
        store: RateLimitStore | None = None,
        maxsize: int = DEFAULT_MAXSIZE,
    ) -> None:
        policy = RateLimit(limit, window, name=name, strategy=strategy, burst=burst)
        self._setup((policy,), clock, hooks, store, maxsize)

    @classmethod
    def multi(
        cls,
        *policies: RateLimit,
        clock: Clock = time.monotonic,
        hooks: Iterable[Callable[[HitDenied], None]] = (),
        store: RateLimitStore | None = None,
        maxsize: int = DEFAULT_MAXSIZE,
    ) -> RateLimiter:
        """Build a limiter that enforces several policies on every key at once.

        A hit is allowed only if every policy allows it, and a refused hit consumes nothing from
        any policy. The decision reports the most restrictive policy (the longest wait when
        refused, the fewest units left when allowed) and lists every policy in its headers.

        Args:
            *policies: The policies, such as ``RateLimit(5, 60, name="minute")`` and
                ``RateLimit(100, 86400, name="day")``; names must differ.
            clock: As for :class:`RateLimiter`.
            hooks: As for :class:`RateLimiter`.
            store: As for :class:`RateLimiter`.
            maxsize: As for :class:`RateLimiter`.

        Returns:
            A new limiter.

        Raises:
            TypeError: A policy is not a :class:`RateLimit`.
            ValueError: No policy is given, or two share a name.

        .. versionadded:: 0.1.0

        .. versionchanged:: 0.2.0
           ``max_keys=`` is now ``maxsize=``.
        """
        if not policies:
            raise ValueError("multi() needs at least one RateLimit")
        for policy in policies:
            if not isinstance(policy, RateLimit):
                raise TypeError(f"policies must be RateLimit objects, got {type(policy).__name__}")
        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must differ, got {names!r}")
        self = cls.__new__(cls)  # an alternate constructor: __init__ takes one policy's fields
        self._setup(policies, clock, hooks, store, maxsize)
        return self

    def _setup(
        self,
        policies: tuple[RateLimit, ...],
        clock: Clock,
        hooks: Iterable[Callable[[HitDenied], None]],
        store: RateLimitStore | None,
        maxsize: int,
    ) -> None:
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {type(clock).__name__}")
        self._hooks = tuple(hooks)
        for hook in self._hooks:
            if not callable(hook):
                raise TypeError(f"hooks must be callables, got {type(hook).__name__}")
        if store is None:
            store = MemoryRateLimitStore(ttl=max(p.ttl for p in policies), maxsize=maxsize)
        ops = ops_for(policies)
        step = ops.step

        def peek(state: Any, now: float, _cost: int) -> tuple[Any, RateLimitDecision]:
            return step(state, now, 0, commit=False)

        self._hit = step
        self._peek = peek
        self._refund = ops.refund
        self._policies = policies
        self._clock = clock
        self._store = store
        self._update = store.update
        if isinstance(store, MemoryRateLimitStore):
            # The in-memory store fuses the clock read, the lock and the decision into one frame
            # around ``apply``, set as the instance's ``hit`` (any other store goes through the
            # method below): 70-90 ns (12%) a hit less than a method calling it, which keeps
            # "RateLimiter.hit allowed, 1 key [sliding_counter]" over 3x the fastest peer.
            gcra = len(policies) == 1 and policies[0].strategy is RateLimitStrategy.GCRA
            fast = store.hit_function(
                step,
                ops.apply,
                clock=clock,
                check_cost=self._check_cost,
                on_refused=self._emit if self._hooks else None,
                unit=1.0 if gcra else 1,
            )
            fast.__doc__ = RateLimiter.hit.__doc__
            fast.__qualname__ = RateLimiter.hit.__qualname__
            object.__setattr__(self, "hit", fast)

    @property
    def policies(self) -> tuple[RateLimit, ...]:
        """The policies this limiter enforces, in order."""
        return self._policies

    @property
    def store(self) -> RateLimitStore:
        """The store holding per-key state."""
        return self._store

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{p.name}={p.limit}/{p.window:g}s {p.strategy.value}" for p in self._policies
        )
        return f"<RateLimiter {inner}>"

    # -- the business calls ----------------------------------------------------------------------

    def hit(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Consume ``cost`` units for ``key`` if the limit allows it, all or nothing.

        Args:
            key: Who is limited, such as ``"user:42"``; a ``str``.
            cost: Units to consume (an ``int`` from 1 to the policy's capacity).

        Returns:
            The decision. A refused hit consumes nothing.

        Raises:
            TypeError: ``key`` is not a ``str`` or ``cost`` not an ``int``.
            ValueError: ``cost`` is below 1 or above what the limit could ever admit.
        """
        if cost is not _ONE:
            self._check_cost(cost)
        decision = self._update(_checked_key(key), self._hit, self._clock(), cost)
        if not decision[0] and self._hooks:
            self._emit(key, cost, decision)
        return decision

    async def ahit(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`hit`: the same decision, without blocking the event loop."""
        if cost is not _ONE:
            self._check_cost(cost)
        decision = await self._store.aupdate(_checked_key(key), self._hit, self._clock(), cost)
        if not decision[0] and self._hooks:
            self._emit(key, cost, decision)
        return decision

    def check(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Like :meth:`hit`, but raise when the hit is refused.

        Args:
            key: As for :meth:`hit`.
            cost: As for :meth:`hit`.

        Returns:
            The decision, which is always allowed.

        Raises:
            RateLimitExceeded: The hit was refused; ``retry_after`` says for how long.
            TypeError: As for :meth:`hit`.
            ValueError: As for :meth:`hit`.
        """
        decision = self.hit(key, cost)
        if not decision[0]:
            raise _exceeded(decision)
        return decision

    async def acheck(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`check`."""
        decision = await self.ahit(key, cost)
        if not decision[0]:
            raise _exceeded(decision)
        return decision

    def peek(self, key: str) -> RateLimitDecision:
        """Report ``key``'s state without consuming anything.

        Args:
            key: As for :meth:`hit`.

        Returns:
            A decision whose ``allowed`` and ``retry_after`` are for a hit of cost 1, and whose
            ``remaining`` is what could be consumed right now.

        Raises:
            TypeError: ``key`` is not a ``str``.
        """
        return self._update(_checked_key(key), self._peek, self._clock(), 0)

    async def apeek(self, key: str) -> RateLimitDecision:
        """Async face of :meth:`peek`."""
        return await self._store.aupdate(_checked_key(key), self._peek, self._clock(), 0)

    def refund(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Give back up to ``cost`` units that ``key`` consumed, for work that never happened.

        The newest units go back first and only units that still count are returned, so a
        refund never leaves more than the full quota: ``exact`` removes the newest entries still
        in the window; ``sliding_counter`` takes from the current window's count, then the
        previous one's; ``gcra`` moves the theoretical arrival time back, but not before now.

        Args:
            key: As for :meth:`hit`.
            cost: Units to give back (an ``int`` >= 1).

        Returns:
            The state after the refund, as :meth:`peek` reports it.

        Raises:
            TypeError: ``key`` is not a ``str`` or ``cost`` not an ``int``.
            ValueError: ``cost`` is below 1.
        """
        positive_int(cost, "cost")
        return self._update(_checked_key(key), self._refund, self._clock(), cost)

    async def arefund(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`refund`."""
        positive_int(cost, "cost")
        return await self._store.aupdate(_checked_key(key), self._refund, self._clock(), cost)

    def reset(self, key: str) -> None:
        """Forget everything about ``key``, so its full quota is available again.

        Args:
            key: As for :meth:`hit`.

        Raises:
            TypeError: ``key`` is not a ``str``.

        .. versionchanged:: 0.2.0
           A key that is not a ``str`` raises :class:`TypeError`, as for :meth:`hit`; it was
           silently ignored.
        """
        self._store.delete(_checked_key(key))

    async def areset(self, key: str) -> None:
        """Async face of :meth:`reset`."""
        await self._store.adelete(_checked_key(key))

    # -- helpers ---------------------------------------------------------------------------------

    def _check_cost(self, cost: int) -> None:
        positive_int(cost, "cost")
        capacity = min(p.capacity for p in self._policies)
        if cost > capacity:
            raise ValueError(f"cost must be <= {capacity} (it could never be admitted), got {cost}")

    def _emit(self, key: str, cost: int, decision: RateLimitDecision) -> None:
        event = HitDenied(key=key, policy=decision[4], cost=cost, retry_after=decision[2])
        emit(self._hooks, event, _logger)


def _checked_key(key: object) -> str:
    """Return ``key`` if it is a ``str``, the only key type a store is promised."""
    if not isinstance(key, str):
        raise TypeError(f"rate limit keys must be str, got {type(key).__name__}")
    return key


def _exceeded(decision: RateLimitDecision) -> RateLimitExceeded:
    policy = decision[4]
    return RateLimitExceeded(
        f"rate limit {policy.name!r} ({policy.limit} per {policy.window:g} s) exceeded; "
        f"retry in {decision[2]:.3f} s",
        retry_after=decision[2],
    )
