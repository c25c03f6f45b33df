"""Circuit breaker records on Redis, so failures seen by one process open the breaker for all.

Each breaker name is one Redis string, ``{prefix}breaker:{name}``, holding the encoded
:class:`~commerce_kit.resilience.BreakerRecord` (no key at all is the idle closed record). A cell
keeps a local view of it for ``refresh`` seconds, so the breaker's per-call read costs no round
trip; every change is a compare-and-set script that also hands back the current record when it
loses, so the breaker decides again from fresh state without another round trip.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from datetime import timedelta

import redis

from commerce_kit._duration import to_seconds
from commerce_kit._types import Clock
from commerce_kit.redis._guard import RedisGuard
from commerce_kit.redis._script import Script, check_prefix
from commerce_kit.resilience._circuit_breaker_machine import IDLE, BreakerRecord, CircuitState

__all__ = ["RedisBreakerCell", "RedisBreakerStore"]

# KEYS[1] the record; ARGV[1] the expected encoding ('' for idle), ARGV[2] the new one, ARGV[3]
# the expiry in ms. Replies {1, new} when swapped, {0, current} when another caller came first.
_COMPARE_AND_SET = Script(
    """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return {0, current} end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return {1, ARGV[2]}
"""
)

_STATES = {state.value: state for state in CircuitState}


def encode(record: BreakerRecord) -> str:
    """Return the text stored for ``record``: ``''`` for the idle record, else five fields."""
    if record is IDLE or record == IDLE:
        return ""
    failures = ",".join(repr(t) for t in record.failures)
    return (
        f"{record.state.value}|{record.opened_at!r}|{failures}|"
        f"{record.trials}|{record.trial_successes}"
    )


def decode(text: str | bytes | None) -> BreakerRecord:
    """Return the record ``text`` encodes; the idle record for ``''`` or ``None``."""
    if not text:
        return IDLE
    if isinstance(text, bytes):
        text = text.decode()
    state, opened_at, failures, trials, successes = text.split("|")
    record = BreakerRecord(
        _STATES[state],
        float(opened_at),
        tuple(float(t) for t in failures.split(",")) if failures else (),
        int(trials),
        int(successes),
    )
    return IDLE if record == IDLE else record


class RedisBreakerCell:
    """One breaker's record in Redis, read through a local view that lives ``refresh`` seconds.

    .. versionadded:: 0.2.0
    """

    __slots__ = (
        "__weakref__",
        "_client",
        "_clock",
        "_fresh_until",
        "_guard",
        "_key",
        "_lock",
        "_record",
        "_refresh",
        "_ttl_ms",
    )

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        *,
        refresh: float,
        ttl_ms: int,
        guard: RedisGuard,
        clock: Clock,
    ) -> None:
        self._client = client
        self._key = key
        self._refresh = refresh
        self._ttl_ms = ttl_ms
        self._guard = guard
        self._clock = clock
        self._record: BreakerRecord = IDLE
        self._fresh_until = -math.inf
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisBreakerCell({self._key!r}, {self._record!r})"

    @property
    def record(self) -> BreakerRecord:
        """The current record, from the local view; read again from Redis once ``refresh`` old."""
        if self._clock() < self._fresh_until:
            return self._record
        return self._reload()

    def _reload(self) -> BreakerRecord:
        client = self._client
        key = self._key
        record = self._guard.run(lambda: decode(client.get(key)), lambda: self._record)
        self._record = record
        self._fresh_until = self._clock() + self._refresh
        return record

    def compare_and_set(self, expected: BreakerRecord, new: BreakerRecord) -> bool:
        """Replace the record with ``new`` in Redis if it still encodes as ``expected``.

        While Redis is down (see :class:`RedisGuard`) the swap happens on the local view alone:
        the breaker keeps working on this process's state.

        Args:
            expected: The record the caller read.
            new: The record to store.

        Returns:
            Whether the record was replaced. When it was not, the local view already holds the
            record that won, so the caller's next read decides from it.
        """
        keys = [self._key]
        args = [encode(expected), encode(new), self._ttl_ms]

        def command() -> bool:
            swapped, current = _COMPARE_AND_SET(self._client, keys, args)
            with self._lock:
                self._record = new if swapped else decode(current)
                self._fresh_until = self._clock() + self._refresh
            return bool(swapped)

        return self._guard.run(command, lambda: self._swap_locally(expected, new))

    def _swap_locally(self, expected: BreakerRecord, new: BreakerRecord) -> bool:
        with self._lock:
            if self._record != expected:
                return False
            self._record = new
            return True


class RedisBreakerStore:
    """A :class:`~commerce_kit.typing.BreakerStore` on Redis: breakers with one name share a state.

    Give every process's breaker the same name, this store and a clock they agree on
    (:func:`time.time`), since failure and opening times are compared across processes.

    On the closed path the breaker reads a local view of the record, which costs no round trip:
    a process sees the record another one wrote at most ``refresh`` seconds later. Every change
    (a counted failure, opening, a trial) is one compare-and-set script, one round trip. A record
    untouched for ``record_ttl`` seconds vanishes, which closes the breaker; keep it well above
    ``reset_timeout`` and ``window``. It also frees a half-open trial slot held by a process
    that died mid-call.

    The store talks to Redis with a sync client, in :meth:`~commerce_kit.CircuitBreaker.acall`
    too: the closed path never waits on it, but each change of state (and each read of an aged
    view) blocks the event loop for one round trip.

    When Redis fails (see :class:`RedisGuard`), each breaker goes on with its local view as
    its own state, as an in-memory breaker would, and reads the shared record again once Redis
    answers.

    Args:
        client: A sync :class:`redis.Redis` client.
        prefix: Put in front of every key (no braces).
        refresh: Seconds (or a timedelta) a local view is trusted before it is read again.
        record_ttl: Seconds (or a timedelta) after its last change that a record expires.
        guard: The guard deciding when Redis is down; by default one of the store's own.
        clock: Monotonic seconds timing the local views.

    Raises:
        TypeError: ``prefix`` is not a ``str``, or a duration is not a number.
        ValueError: ``prefix`` contains a brace, or a duration is out of range.

    Example:
        >>> import time, redis
        >>> from commerce_kit import CircuitBreaker
        >>> from commerce_kit.redis import RedisBreakerStore
        >>> store = RedisBreakerStore(redis.Redis(), prefix="doctest:")
        >>> breaker = CircuitBreaker("psp", store=store, clock=time.time)
        >>> breaker.state
        <CircuitState.CLOSED: 'closed'>

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_cells", "_client", "_clock", "_guard", "_lock", "_prefix", "_refresh", "_ttl")

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "commerce_kit:",
        refresh: float | timedelta = 1.0,
        record_ttl: float | timedelta = 600.0,
        guard: RedisGuard | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = check_prefix(prefix) + "breaker:"
        self._refresh = to_seconds(refresh, name="refresh")
        self._ttl = max(1, math.ceil(to_seconds(record_ttl, name="record_ttl") * 1000))
        self._guard = RedisGuard("redis") if guard is None else guard
        self._guard.describe("circuit breakers", "keep a local state per process")
        self._clock = clock
        self._cells: weakref.WeakValueDictionary[str, RedisBreakerCell] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisBreakerStore(prefix={self._prefix[: -len('breaker:')]!r})"

    @property
    def guard(self) -> RedisGuard:
        """The guard deciding when Redis is down."""
        return self._guard

    def cell(self, name: str) -> RedisBreakerCell:
        """Return the cell for ``name``, the same one for as long as a breaker holds it.

        Args:
            name: The breaker's name.

        Returns:
            The cell; breakers with this name on any store with the same prefix share its record.
        """
        with self._lock:
            cell = self._cells.get(name)
            if cell is None:
                cell = self._cells[name] = RedisBreakerCell(
                    self._client,
                    self._prefix + name,
                    refresh=self._refresh,
                    ttl_ms=self._ttl,
                    guard=self._guard,
                    clock=self._clock,
                )
            return cell
