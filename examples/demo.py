"""A flash sale in miniature: the rate limiter and the cache at work, on embedded defaults.

Run it with ``python examples/demo.py``. It needs nothing but commerce_kit itself: no server, no
database. Time is simulated with :class:`commerce_kit.testing.ManualClock`, so the two minutes of
traffic below take a fraction of a second.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from commerce_kit import RateLimiter, TTLCache
from commerce_kit.testing import ManualClock

PRODUCTS = [
    {"sku": "TEE-001", "title": "Rock 'n' Roll T-shirt", "price": "19.00", "stock": 100},
    {"sku": "MUG-002", "title": "Flash Sale Mug", "price": "9.50", "stock": 40},
]


def checkout_rate_limiting(clock: ManualClock) -> None:
    """Scenario A1: at most 5 checkouts per user per 60 s; the 6th gets a 429 with a retry hint."""
    limiter = RateLimiter(limit=5, window=60.0, clock=clock, name="checkout")
    print("== Checkout rate limit: 5 per user per 60 s ==")
    for attempt in range(1, 8):
        decision = limiter.hit("user:42")
        status = 200 if decision.allowed else 429
        print(f"  t={clock():5.1f}s  checkout #{attempt}: HTTP {status}  {decision.headers()}")
        clock.advance(2.0)
    wait = limiter.peek("user:42").retry_after
    print(f"  ... the user waits {wait:.1f}s as told by Retry-After")
    clock.advance(wait)
    print(f"  t={clock():5.1f}s  checkout again: allowed={limiter.hit('user:42').allowed}")
    other = limiter.hit("user:7")
    print(f"  another user is unaffected: allowed={other.allowed}, remaining={other.remaining}")


def cached_listing(clock: ManualClock) -> None:
    """Scenario P1: 1000 reads a second for 90 s with a 30 s TTL cause one query per window."""
    cache: TTLCache[str, list[dict[str, object]]] = TTLCache(ttl=30.0, maxsize=1_000, clock=clock)
    queries: Counter[int] = Counter()

    def load_listing() -> list[dict[str, object]]:
        queries[int(clock() // 30)] += 1  # stands in for the expensive database query
        return list(PRODUCTS)

    print("\n== Product listing cache: TTL 30 s, 1000 readers a second for 90 s ==")
    for _second in range(90):
        for _reader in range(1000):
            cache.get_or_load("flash:products", load_listing)
        clock.advance(1.0)
    stats = cache.stats
    print(
        f"  reads: {stats.hits + stats.misses:,}  loads: {stats.loads}  hit rate: "
        f"{stats.hit_rate:.4%}"
    )
    print(f"  database queries per 30 s window: {dict(sorted(queries.items()))}")


def single_flight() -> None:
    """Concurrent misses on one key cause exactly one load, on real threads and real time."""
    cache: TTLCache[str, str] = TTLCache(ttl=30.0)
    calls = Counter[str]()
    gate = threading.Event()

    def slow_load() -> str:
        calls["load"] += 1
        gate.wait(1.0)
        return "fresh listing"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_load("k", slow_load)))
        for _ in range(50)
    ]
    print("\n== Single-flight: 50 threads miss the same key at once ==")
    started = time.perf_counter()
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5.0
    while cache.stats.misses < len(threads) and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until every thread has missed and is waiting on the one load
    gate.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    print(f"  loader calls: {calls['load']}  answers: {len(results)}  in {elapsed * 1000:.0f} ms")


def main() -> None:
    """Run the three demonstrations."""
    checkout_rate_limiting(ManualClock())
    cached_listing(ManualClock())
    single_flight()


if __name__ == "__main__":
    main()
