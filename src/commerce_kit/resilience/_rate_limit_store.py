"""The in-memory store a :class:`~commerce_kit.RateLimiter` keeps per-key state in.

A store runs one *operation* atomically per key: a pure function ``op(state, now, cost) ->
(new_state, decision)`` supplied by the limiter. The store knows nothing about algorithms; it
only looks a key up, calls the operation under its lock and writes the new state back when it
changed. The same operations can run anywhere that offers per-key atomicity (a Redis Lua script
ports them directly: every state is a short list of numbers, a sorted list of floats, or for
several policies a tuple of those). For a key it already holds, the fast path
(:meth:`MemoryRateLimitStore.hit_function`) calls the operation's in-place form, ``apply(state,
now, cost) -> decision``: the same decision logic, without a new state to write back.

Memory is bounded two ways, both amortised O(1) per call:

- **Expiry.** Keys live in two generations, *young* and *old*. When a new key arrives at least
  ``ttl`` seconds after the last rotation, the old generation is dropped and the young one
  becomes old. A key that is used again moves back to the young generation, so the keys dropped
  are exactly those not written for at least ``ttl`` seconds, whose state no longer matters
  (``ttl`` is the longest time a state stays meaningful after its last write, which the limiter
  computes from its policies). Only new keys make memory grow, so only they need to check.
- **Capacity.** When the young generation holds ``maxsize // 2`` keys and a new key arrives, the
  generations rotate early: the old generation (the least recently used keys) is dropped even if
  some of its keys have not expired. Those keys are forgotten, so their budget starts afresh: the
  store fails open for them. At most ``maxsize`` keys are ever held.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from commerce_kit.resilience._rate_limit_policy import RateLimitDecision

__all__ = ["MemoryRateLimitStore", "Op", "RateLimitStore"]

#: A pure per-key operation: ``(state or None, now, cost) -> (new_state, decision)``. Returning
#: the very same state object means "nothing to write".
Op = Callable[[Any, float, int], "tuple[Any, RateLimitDecision]"]


class RateLimitStore(Protocol):
    """Where a :class:`~commerce_kit.RateLimiter` keeps per-key state.

    A store runs one operation per key atomically: it reads the key's state (``None`` when the
    key is unknown), calls ``op(state, now, cost)``, writes back the new state it returns (unless
    it is the very same object) and returns the decision. The operations are pure functions the
    limiter supplies; states are a float, a short tuple of numbers or a sorted list of floats, so
    a store in another process (a Redis Lua script) can run the same arithmetic. A store may drop
    a state whose ``reset_after`` has passed.

    The default store keeps state in process memory; see :class:`~commerce_kit.RateLimiter`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Importable from :mod:`commerce_kit.typing` only.
    """

    def update(
        self,
        key: str,
        op: Callable[[Any, float, int], tuple[Any, RateLimitDecision]],
        now: float,
        cost: int,
        /,
    ) -> RateLimitDecision:
        """Run ``op`` on ``key``'s state atomically, store the result, return the decision."""
        ...

    async def aupdate(
        self,
        key: str,
        op: Callable[[Any, float, int], tuple[Any, RateLimitDecision]],
        now: float,
        cost: int,
        /,
    ) -> RateLimitDecision:
        """Async face of :meth:`update`."""
        ...

    def delete(self, key: str, /) -> None:
        """Forget ``key``."""
        ...

    async def adelete(self, key: str, /) -> None:
        """Async face of :meth:`delete`."""
        ...


# ``cost is _ONE`` is the fast path for the common call; any other value, including ``True``, is
# validated in full.
_ONE = 1


class MemoryRateLimitStore:
    """Per-key rate-limit state in a process-local dict, bounded in keys and in time.

    Thread-safe: every operation runs under one lock, held only for a dictionary lookup, the
    operation itself (O(1), or O(limit) for the exact strategy) and the write back. The async
    methods do no I/O and never wait on anything but that lock, so they never block an event loop
    for longer than a sync call would.

    Args:
        ttl: Seconds after its last write beyond which a key's state no longer matters.
        maxsize: The most keys held at once (at least 2).

    Raises:
        ValueError: ``maxsize`` is below 2 or ``ttl`` is not a positive finite number.
        TypeError: ``maxsize`` is not an ``int``.
    """

    __slots__ = ("_half", "_lock", "_maxsize", "_old", "_rotate_at", "_ttl", "_young")

    def __init__(self, *, ttl: float, maxsize: int = 100_000) -> None:
        checked: object = maxsize
        if not isinstance(checked, int) or isinstance(checked, bool):
            raise TypeError(f"maxsize must be an int, got {type(checked).__name__}")
        if maxsize < 2:
            raise ValueError(f"maxsize must be >= 2, got {maxsize!r}")
        if not (0.0 < ttl < math.inf):
            raise ValueError(f"ttl must be a positive finite number of seconds, got {ttl!r}")
        self._maxsize = maxsize
        self._half = maxsize // 2
        self._ttl = float(ttl)
        self._young: dict[str, Any] = {}
        self._old: dict[str, Any] = {}
        self._rotate_at = -math.inf
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        """The most keys held at once."""
        return self._maxsize

    def __len__(self) -> int:
        """Return how many keys are held now (some may have expired but not been dropped yet)."""
        return len(self._young) + len(self._old)

    def update(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        """Run ``op`` on ``key``'s state atomically and store the state it returns.

        Args:
            key: The key, a ``str``.
            op: The operation; see :data:`Op`.
            now: The caller's clock reading for this operation.
            cost: Passed through to ``op``.

        Returns:
            The decision ``op`` returned.

        Raises:
            TypeError: ``key`` is not a ``str``.
        """
        lock = self._lock
        lock.acquire()
        try:
            young = self._young
            try:
                state = young[key]
            except KeyError:
                return self._update_missing(key, op, now, cost)
            new_state, decision = op(state, now, cost)
            if new_state is not state:
                young[key] = new_state
            return decision
        finally:
            lock.release()

    def hit_function(
        self,
        op: Callable[[Any, float, int], tuple[Any, RateLimitDecision]],
        apply: Callable[[Any, float, Any], RateLimitDecision],
        *,
        clock: Callable[[], float],
        check_cost: Callable[[int], object],
        on_refused: Callable[[str, int, RateLimitDecision], object] | None,
        unit: float = 1,
    ) -> Callable[[str, int], RateLimitDecision]:
        """Return ``hit(key, cost=1)``: read ``clock``, then decide as :meth:`update` does.

        This is :class:`~commerce_kit.RateLimiter`'s fast path: one Python frame around the
        decision itself for the call every request makes, with the same locking and the same
        slow paths. A known key's state is handed to ``apply``, which must decide exactly as
        ``op`` does and update the state in place instead of returning a new one; an unknown key
        goes through ``op``, as in :meth:`update`.

        Args:
            op: The operation to run for an unknown key.
            apply: ``apply(state, now, cost) -> decision`` for a known key's (live) state.
            clock: Read once per call, after ``cost`` is checked.
            check_cost: Called with any ``cost`` other than 1; it raises for a bad one.
            on_refused: Called with ``(key, cost, decision)`` after a refused hit, outside the
                lock; ``None`` for nothing.
            unit: What ``apply`` receives for a cost of 1: ``1.0`` for an operation whose
                arithmetic is all float, which the interpreter runs faster unmixed with ints.
        """
        lock = self._lock
        acquire = lock.acquire
        release = lock.release
        store = self
        missing = self._update_missing

        def hit(key: str, cost: int = 1) -> RateLimitDecision:
            units: Any
            if cost is _ONE:
                units = unit
            else:
                check_cost(cost)
                units = cost
            now = clock()
            acquire()
            try:
                try:
                    state = store._young[key]
                except KeyError:
                    return missing(key, op, now, units)
                return apply(state, now, units)
            finally:
                release()

        if on_refused is None:
            return hit

        def hit_and_report(key: str, cost: int = 1) -> RateLimitDecision:
            decision = hit(key, cost)
            if not decision[0]:
                on_refused(key, cost, decision)
            return decision

        return hit_and_report

    async def aupdate(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        """Async face of :meth:`update`; it does no I/O and never yields to the event loop."""
        return self.update(key, op, now, cost)

    def delete(self, key: str, /) -> None:
        """Forget ``key`` (a no-op when it is unknown)."""
        with self._lock:
            self._young.pop(key, None)
            self._old.pop(key, None)

    async def adelete(self, key: str, /) -> None:
        """Async face of :meth:`delete`."""
        self.delete(key)

    # -- the slow paths, kept out of update() so its common case stays short ---------------------

    def _rotate(self, now: float) -> None:
        # Everything in the old generation was last written before the young one began, at least
        # ttl ago when this runs on time: it has all expired. Run early (at capacity), it drops
        # the least recently used keys.
        self._old = self._young
        self._young = {}
        self._rotate_at = now + self._ttl

    def _update_missing(self, key: str, op: Op, now: float, cost: int) -> RateLimitDecision:
        # Under the lock, for a key not in the young generation. Rotation is checked only here:
        # memory grows only when keys are added, so this is where the bound must be kept.
        if not isinstance(key, str):
            raise TypeError(f"rate limit keys must be str, got {type(key).__name__}")
        if now >= self._rotate_at:
            self._rotate(now)
        state = self._old.pop(key, None)
        if state is not None:
            self._insert(key, state, now)
        new_state, decision = op(state, now, cost)
        if new_state is not state:
            self._insert(key, new_state, now)
        return decision

    def _insert(self, key: str, state: Any, now: float) -> None:
        if key not in self._young and len(self._young) >= self._half:
            # Capacity forces an early rotation. It restarts the time budget too, so the keys
            # moved to the old generation now are not dropped before ttl from now, unless
            # capacity forces it again.
            self._rotate(now)
        self._young[key] = state
