"""The Redis backends: RateLimiter on Redis against limits on its Redis storage, with a floor.

Every case talks to the Redis server at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``)
through the same kind of client, one connection, no pipelining:

- *allowed, 1 key*: a hit on one key under a limit so high (10**9 per hour) that every hit
  passes. *denied, 1 key*: a hit on a key that has spent its 5 per hour.
- Peers: limits' ``MovingWindowRateLimiter`` (a sliding log, like ``exact``) and
  ``SlidingWindowCounterRateLimiter`` over ``limits.storage.RedisStorage``; both run a Lua
  script per hit too. limits has no GCRA, so the ``gcra`` groups compare with both.
- The floor: one raw ``EVALSHA`` of ``return 1`` through the same client, the least one
  round trip to a script can cost.
- *CircuitBreaker.call closed*: a breaker on :class:`~commerce_kit.redis.RedisBreakerStore`
  against one on the in-memory store (the floor): the closed path reads a local view.

:func:`extra_lines` adds what a time per hit does not show: round trips per decision (counted
on the connection) and over-admission when 4 threads hammer one key, for ours and for limits. It
also times the rate-limit groups again in short interleaved rounds (every implementation in
turn, a few hundred hits each, the order rotating) and gives each ratio as the median of its
per-round ratios: on a shared machine whose speed swings for seconds at a time, a swing then
touches every implementation of a round alike.
Without a Redis server the module runs no case and says why; under ``CI`` that is an error.
"""

from __future__ import annotations

import gc
import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import limits
import limits.storage
import limits.strategies
import redis
import redis.connection

from benchmarks._harness import Case, Kind, MemoryCase
from commerce_kit import CircuitBreaker, RateLimiter
from commerce_kit.redis import RedisBreakerStore, RedisRateLimitStore

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = "commerce_kit-bench:"
LIMITS_PREFIX = "LIMITS-bench"
HIGH = 10**9
LOW = 5
HOUR = 3600
NUMBER = 2_000  # a hit is a round trip: tens of microseconds, so fewer of them per repeat
ROUNDS = 30  # the interleaved timing: rounds, and hits per implementation in each
PER_ROUND = 200
STRATEGIES = ("exact", "sliding_counter", "gcra")

Hit = Callable[[str], object]
_fresh = itertools.count()


class CountingConnection(redis.connection.Connection):
    """A connection that counts what it sends: one send is one round trip (no pipelining)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def _pool() -> redis.ConnectionPool:
    return redis.ConnectionPool.from_url(URL, connection_class=CountingConnection)


def _key() -> str:
    return f"user:{next(_fresh)}:{time.time_ns()}"


def _ours(strategy: str) -> Callable[[int], Hit]:
    def make(limit: int) -> Hit:
        store = RedisRateLimitStore(redis.Redis(connection_pool=_pool()), prefix=PREFIX)
        return RateLimiter(limit, HOUR, strategy=strategy, store=store).hit  # type: ignore[arg-type]

    return make


def _limits(kind: str) -> Callable[[int], Hit]:
    strategies = {
        "moving": limits.strategies.MovingWindowRateLimiter,
        "sliding": limits.strategies.SlidingWindowCounterRateLimiter,
    }

    def make(limit: int) -> Hit:
        storage = limits.storage.RedisStorage(
            URL, connection_pool=_pool(), key_prefix=LIMITS_PREFIX
        )
        limiter = strategies[kind](storage)
        item = limits.RateLimitItemPerHour(limit)
        return lambda key: limiter.hit(item, key)

    return make


def _floor(_limit: int) -> Hit:
    client = redis.Redis(connection_pool=_pool())
    sha = client.script_load("return 1")
    return lambda _key: client.evalsha(sha, 0)


_PEERS: list[tuple[str, Kind, Callable[[int], Hit]]] = [
    ("limits MovingWindowRateLimiter (RedisStorage)", "peer", _limits("moving")),
    ("limits SlidingWindowCounterRateLimiter (RedisStorage)", "peer", _limits("sliding")),
    ("EVALSHA of 'return 1' (floor)", "floor", _floor),
]


def _allowed(make: Callable[[int], Hit]) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        hit = make(HIGH)
        key = _key()
        hit(key)
        return lambda: hit(key)

    return setup


def _denied(make: Callable[[int], Hit]) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        hit = make(LOW)
        key = _key()
        for _ in range(LOW):
            hit(key)
        return lambda: hit(key)

    return setup


def _breaker(store: RedisBreakerStore | None) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        breaker = CircuitBreaker(f"bench-{next(_fresh)}", store=store, clock=time.time)
        call = breaker.call
        fn = int
        call(fn)
        return lambda: call(fn)

    return setup


def _available() -> bool:
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        if os.environ.get("CI"):
            raise RuntimeError(
                f"no Redis server answers at {URL}; CI must run bench_redis"
            ) from error
        print(f"bench_redis: skipped, no Redis server answers at {URL} ({error})")
        return False
    return True


def cases() -> list[Case | MemoryCase]:
    if not _available():
        return []
    out: list[Case | MemoryCase] = []
    for strategy in STRATEGIES:
        impls: list[tuple[str, Kind, Callable[[int], Hit]]] = [
            (f"commerce_kit RedisRateLimitStore [{strategy}]", "ours", _ours(strategy)),
            *_PEERS,
        ]
        for impl, kind, make in impls:
            group = f"Redis RateLimiter.hit allowed, 1 key [{strategy}]"
            out.append(Case(group, impl, kind, _allowed(make), number=NUMBER))
        for impl, kind, make in impls:
            group = f"Redis RateLimiter.hit denied, 1 key [{strategy}]"
            out.append(Case(group, impl, kind, _denied(make), number=NUMBER))
    store = RedisBreakerStore(redis.Redis.from_url(URL), prefix=PREFIX)
    group = "CircuitBreaker.call closed, state shared on Redis"
    out.append(Case(group, "commerce_kit RedisBreakerStore", "ours", _breaker(store)))
    out.append(Case(group, "commerce_kit MemoryBreakerStore (floor)", "floor", _breaker(None)))
    return out


# -- interleaved rounds ----------------------------------------------------------------------------


def _time_round(op: Callable[[], object], hits: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(hits):
        op()
    return (time.perf_counter_ns() - start) / hits


def _interleaved(smoke: bool) -> list[str]:
    """Each rate-limit group timed in interleaved rounds, with per-round ratios, as Markdown."""
    rounds, hits = (2, 5) if smoke else (ROUNDS, PER_ROUND)
    lines = [
        "#### Redis RateLimiter.hit, 1 key: interleaved rounds",
        "",
        f"{rounds} rounds; in each, every implementation makes {hits} hits in turn (the order "
        "rotating). Times are the median over rounds; each ratio is the median of the ratios "
        "within a round.",
        "",
        "| group | commerce_kit ns | limits moving ns | limits counter ns | floor ns "
        "| fastest limits / commerce_kit | commerce_kit / floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for strategy in STRATEGIES:
        for mode, setup in (("allowed", _allowed), ("denied", _denied)):
            makes = [_ours(strategy), *(make for _, _, make in _PEERS)]
            ops = [setup(make)() for make in makes]  # ours, moving, counter, floor
            samples: list[list[float]] = [[] for _ in ops]
            gc.collect()
            gc.disable()
            try:
                for r in range(rounds):
                    for i in [*range(r % len(ops), len(ops)), *range(r % len(ops))]:
                        samples[i].append(_time_round(ops[i], hits))
            finally:
                gc.enable()
            ours, moving, counter, floor = samples
            vs_peer = [min(m, c) / o for o, m, c in zip(ours, moving, counter, strict=True)]
            vs_floor = [o / f for o, f in zip(ours, floor, strict=True)]
            times = " | ".join(f"{statistics.median(s):,.0f}" for s in samples)
            lines.append(
                f"| {strategy}, {mode} | {times} | {statistics.median(vs_peer):.2f}x "
                f"| {statistics.median(vs_floor):.2f}x |"
            )
    lines.append("")
    return lines


# -- round trips and over-admission ----------------------------------------------------------------


def _round_trips(make: Callable[[int], Hit], hits: int) -> float:
    hit = make(HIGH)
    key = _key()
    hit(key)  # loads scripts, opens the connection
    before = CountingConnection.sent
    for _ in range(hits):
        hit(key)
    return (CountingConnection.sent - before) / hits


def _over_admission(make: Callable[[int], Hit], limit: int, threads: int, each: int) -> int:
    key = _key()
    hits = [make(limit) for _ in range(threads)]  # a client (and connection) per thread
    admitted = [0] * threads
    gate = threading.Barrier(threads)

    def run(i: int) -> None:
        gate.wait()
        admitted[i] = sum(1 for _ in range(each) if hits[i](key))

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(admitted) - limit


def extra_lines(smoke: bool) -> list[str]:
    """Round trips per decision and over-admission under contention, as Markdown lines."""
    if not _available():
        return []
    hits = 20 if smoke else 500
    limit, threads, each = (20, 4, 10) if smoke else (200, 4, 100)
    impls: list[tuple[str, Callable[[int], Hit]]] = [
        (f"commerce_kit [{s}]", _ours(s)) for s in STRATEGIES
    ]
    impls += [(name, make) for name, kind, make in _PEERS if kind == "peer"]
    lines = [
        "#### Redis: round trips per decision and over-admission under contention",
        "",
        f"{threads} threads, each with its own connection, hit one fresh key {each} times under a "
        f"limit of {limit}: over-admission is the units admitted beyond the limit.",
        "",
        "| implementation | round trips per decision | over-admission |",
        "|---|---:|---:|",
    ]
    for name, make in impls:
        trips = _round_trips(make, hits)
        over = _over_admission(make, limit, threads, each)
        lines.append(f"| {name} | {trips:.2f} | {over} |")
    lines.append("")
    lines += _interleaved(smoke)
    for line in lines:
        print(line)
    _cleanup()
    return lines


def _cleanup() -> None:
    """Delete every key the cases wrote (they would otherwise expire within two hours)."""
    client = redis.Redis.from_url(URL)
    for pattern in (PREFIX + "*", LIMITS_PREFIX + "*"):
        batch = list(client.scan_iter(match=pattern, count=1000))
        if batch:
            client.delete(*batch)
    client.close()
