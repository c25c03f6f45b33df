"""Running the shop as a fleet: shared state on Redis, and metrics summed over the workers.

With ``REDIS_URL`` set, every worker process (``shop serve --workers N``, or shops on several
machines) shares, through Redis and the library's :mod:`commerce_kit.redis` backends:

- the per-user checkout limit (:class:`~commerce_kit.redis.RedisRateLimitStore`): one budget per
  user for the whole fleet, exact under contention;
- the product listing (:class:`~commerce_kit.redis.RedisCache` under each worker's own
  :class:`~commerce_kit.TTLCache`): one listing query per window for the whole fleet;
- the payment breakers (:class:`~commerce_kit.redis.RedisBreakerStore`): payments failing in one
  worker open the method's breaker in all of them;
- the partner API's per-key limit (the same limiter store);
- the webhook replay guard (:class:`~commerce_kit.redis.RedisReplayStore`): a delivery accepted
  by one worker is a replay for all of them.

One :class:`~commerce_kit.redis.RedisGuard` per worker watches the server for all of them. When
Redis fails, no request fails with it: the limiters limit each worker on its own, each worker
queries the listing through its own one-second tier, each breaker goes on with its worker's own
state, and each replay guard remembers its worker's deliveries (the job queue's unique key still
stops a copy sent to another worker), until Redis answers again. The guard logs one line when
Redis goes and one when it comes back. ``shop worker`` processes need no Redis: the job queue is
PostgreSQL's.

Without ``REDIS_URL`` each worker keeps that state in its own memory, as a single process does.

Metrics: ``shop serve --workers N`` (N > 1) points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start, so that prometheus-client writes every worker's counters and
histograms there and ``/metrics``, whichever worker answers, reports their sums
(:func:`metrics_registry`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
import redis.asyncio
from commerce_kit import CircuitBreaker, CircuitBreakerRegistry, RateLimiter, TTLCache
from commerce_kit.payments import PaymentUnavailableError
from commerce_kit.redis import (
    RedisBreakerStore,
    RedisCache,
    RedisGuard,
    RedisRateLimitStore,
    RedisReplayStore,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop.settings import Settings

__all__ = [
    "MULTIPROC_ENV",
    "BytesCodec",
    "Fleet",
    "connect",
    "fleet_metrics",
    "metrics_registry",
]

#: The environment variable prometheus-client reads, at import, to share metrics between
#: processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: How long a command may wait on Redis. A stopped server refuses at once; a hung one costs at
#: most this per call until the guard opens (three failures), after which calls skip Redis.
_REDIS_TIMEOUT = 0.25

#: The payment breakers' policy, the same as the gateway's own breakers (scenario A2): 3
#: consecutive failed payments within 60 s open a method's breaker for 30 s.
_BREAKER_THRESHOLD = 3
_BREAKER_WINDOW = 60.0
_BREAKER_RESET = 30.0
_TRANSIENT: tuple[type[Exception], ...] = (PaymentUnavailableError, ConnectionError, TimeoutError)

#: The longest a worker serves the listing from its own tier without asking Redis. The listing
#: is at most ``SHOP_LISTING_TTL`` plus this old.
_LOCAL_LISTING_TTL = 1.0


class BytesCodec:
    """Stores bytes as they are: the listing is cached as ready-made JSON bytes."""

    def encode(self, value: object) -> bytes:
        """Return ``value``, which must be bytes.

        Raises:
            TypeError: ``value`` is not bytes.
        """
        if not isinstance(value, bytes):
            raise TypeError(f"BytesCodec stores bytes, got {type(value).__name__}")
        return value

    def decode(self, data: bytes) -> bytes:
        """Return ``data`` unchanged."""
        return data


@dataclass(slots=True)
class Fleet:
    """The Redis clients and guard one worker shares its state through.

    Attributes:
        client: The sync client (the limiter's sync faces and the breakers).
        aclient: The asyncio client (the limiter's and the cache's ``a`` methods).
        guard: Decides, for every backend at once, whether Redis is up.
        prefix: Put in front of every key (``SHOP_REDIS_PREFIX``).
    """

    client: redis.Redis
    aclient: redis.asyncio.Redis
    guard: RedisGuard
    prefix: str

    def rate_limit_store(self) -> RedisRateLimitStore:
        """Return a limiter store on Redis; each worker limits on its own while Redis is down.

        Limiters on it share a key's budget only when their policies (name included) are equal.
        """
        return RedisRateLimitStore(
            self.client, aclient=self.aclient, prefix=self.prefix, guard=self.guard
        )

    def limiter(self, limit: int, window: float) -> RateLimiter:
        """Return the checkout limiter on Redis."""
        return RateLimiter(limit, window, store=self.rate_limit_store())

    def replay_store(self, namespace: str) -> RedisReplayStore:
        """Return a webhook replay guard on Redis for the deliveries of ``namespace``.

        While Redis is down each worker remembers the deliveries it accepted (a replay sent to
        another worker is then caught by the job queue's unique key instead).
        """
        return RedisReplayStore(
            self.client,
            aclient=self.aclient,
            prefix=f"{self.prefix}webhooks:{namespace}:",
            guard=self.guard,
        )

    def listing_cache(self, ttl: float) -> RedisCache[bytes]:
        """Return the listing's shared tier (``ttl`` in Redis) over a short in-process tier."""
        local: TTLCache[str, bytes] = TTLCache(ttl=min(ttl, _LOCAL_LISTING_TTL), maxsize=4)
        return RedisCache(
            aclient=self.aclient,
            name="listing",
            ttl=ttl,
            prefix=self.prefix,
            codec=BytesCodec(),
            local=local,
            guard=self.guard,
        )

    def breakers(self) -> CircuitBreakerRegistry:
        """Return the payment breakers, one per method, their state shared through Redis."""
        # Failure and opening times are compared across processes: a clock they agree on.
        store = RedisBreakerStore(self.client, prefix=self.prefix, guard=self.guard)

        def make(method: str) -> CircuitBreaker:
            return CircuitBreaker(
                f"payments.{method}",
                failure_threshold=_BREAKER_THRESHOLD,
                window=_BREAKER_WINDOW,
                reset_timeout=_BREAKER_RESET,
                consecutive=True,
                failure_on=_TRANSIENT,
                clock=time.time,
                store=store,
            )

        return CircuitBreakerRegistry(make)

    async def aclose(self) -> None:
        """Close both clients' connections."""
        await self.aclient.aclose()
        self.client.close()


def connect(settings: Settings) -> Fleet | None:
    """Return the worker's Redis clients for ``settings``, or ``None`` without ``REDIS_URL``.

    Nothing is sent to Redis here: a shop whose Redis is down starts, and falls back.
    """
    url = settings.redis_url
    if url is None:
        return None
    # Short timeouts and no retries with backoff: during an outage a call falls back at once
    # instead of after redis-py's own retries (seconds, by default).
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=_REDIS_TIMEOUT,
        socket_timeout=_REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
    )
    aclient = redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=_REDIS_TIMEOUT,
        socket_timeout=_REDIS_TIMEOUT,
        retry=AsyncRetry(NoBackoff(), 1),
    )
    return Fleet(client, aclient, RedisGuard("shop-redis"), settings.redis_prefix)


@contextlib.contextmanager
def fleet_metrics(workers: int) -> Iterator[Path | None]:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory while several workers serve.

    Enter it before the workers start (they read the variable when they import
    prometheus-client). A directory the variable already names is used, emptied of a previous
    run's files and kept; otherwise a fresh temporary one is made and removed on exit.

    Yields:
        The directory, or ``None`` for a single worker (its own memory is the whole fleet).
    """
    if workers <= 1:
        yield None
        return
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        directory = Path(named)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="shop-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


class _FleetCollector(Collector):
    """Every worker's counters and histograms summed, then this worker's scrape-time families."""

    def __init__(self, own: CollectorRegistry, directory: str) -> None:
        self._own = own
        self._files = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        summed = list(self._files.collect())  # type: ignore[no-untyped-call]
        names = {family.name for family in summed}
        yield from summed
        yield from (family for family in self._own.collect() if family.name not in names)


def metrics_registry(own: CollectorRegistry) -> CollectorRegistry:
    """Return the registry ``/metrics`` reads: the worker's own, or the fleet's sums.

    Under ``PROMETHEUS_MULTIPROC_DIR``, counters and histograms are summed over every worker
    that ran since the directory was emptied; the families computed at scrape time (breaker
    states, the listing cache's local-tier events) are the answering worker's.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return own
    fleet = CollectorRegistry(auto_describe=False)
    fleet.register(_FleetCollector(own, directory))
    return fleet
