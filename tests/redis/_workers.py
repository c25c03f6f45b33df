"""Code run in child processes by the multi-process tests (importable by name, for spawning)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
from collections.abc import Callable
from typing import Any

import redis

from commerce_kit import RateLimiter
from commerce_kit.redis import RedisRateLimitStore


def _child(
    target: Callable[..., object],
    args: tuple[Any, ...],
    gate: multiprocessing.synchronize.Barrier,
    out: multiprocessing.queues.SimpleQueue[object],
) -> None:
    out.put(target(gate, *args))


def run_processes(target: Callable[..., object], args: tuple[Any, ...], count: int) -> list[object]:
    """Run ``target(gate, *args)`` in ``count`` processes; return what each returned.

    ``gate`` is a barrier the targets wait on once set up, so their work overlaps. Processes come
    from a fork server that imported this module once (a spawned process spends seconds
    importing; a plain fork of the test process may copy another thread's held lock), else they
    are spawned.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context: multiprocessing.context.DefaultContext | Any = multiprocessing.get_context(
            "forkserver"
        )
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    gate = context.Barrier(count)
    out: multiprocessing.queues.SimpleQueue[object] = context.SimpleQueue()
    processes = [
        context.Process(target=_child, args=(target, args, gate, out)) for _ in range(count)
    ]
    for p in processes:
        p.start()
    results = [out.get() for _ in processes]
    for p in processes:
        p.join(timeout=30)
    return results


def hit_many(
    gate: multiprocessing.synchronize.Barrier, url: str, prefix: str, limit: int, hits: int
) -> dict[str, int]:
    """Hit one shared key ``hits`` times per strategy; return how many each admitted."""
    client = redis.Redis.from_url(url)
    store = RedisRateLimitStore(client, prefix=prefix)
    limiters = {
        s: RateLimiter(limit, 3600, strategy=s, store=store)
        for s in ("exact", "sliding_counter", "gcra")
    }
    gate.wait()
    admitted = dict.fromkeys(limiters, 0)
    for _ in range(hits):
        for strategy, limiter in limiters.items():
            admitted[strategy] += bool(limiter.hit(f"shared:{strategy}"))
    client.close()
    return admitted


def load_cold_key(gate: multiprocessing.synchronize.Barrier, url: str, prefix: str) -> object:
    """Miss one cold key through a shared cache; the load counts itself in Redis."""
    import time  # noqa: PLC0415 - only the children need it

    from commerce_kit.redis import RedisCache  # noqa: PLC0415 - same

    client = redis.Redis.from_url(url)

    def load() -> dict[str, int]:
        client.incr(prefix + "loads")
        time.sleep(0.2)  # a slow query: every other process misses while it runs
        return {"price": 42}

    cache: RedisCache[dict[str, int]] = RedisCache(client, prefix=prefix, ttl=60)
    gate.wait()
    value = cache.get_or_load("listing", load)
    client.close()
    return value
