"""The retry decorator against tenacity, backoff and stamina, with hand-written floors.

Every case in a group does the same job: call a function, retrying on one exception type, at most
3 attempts, no wait between attempts (and, in the deadline group, a 5 s limit on the whole call).
The floors are a bare call and a hand-written decorator (a ``for`` loop around ``try/except``).
The peers sleep ``time.sleep(0)`` (or ``asyncio.sleep(0)``) between attempts even with a zero
wait, as their sources show; that is part of what they cost for this job.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import backoff
import stamina
import tenacity

from benchmarks._harness import Case
from commerce_kit import retry


class TransientError(Exception):
    """The one exception type every implementation retries on."""


def _ok() -> int:
    return 1


async def _aok() -> int:
    return 1


def _flaky() -> Callable[[], int]:
    """A function failing twice, then succeeding, then again: each call through a retry succeeds."""
    count = 0

    def flaky() -> int:
        nonlocal count
        count += 1
        if count % 3:
            raise TransientError
        return 1

    return flaky


def _aflaky() -> Callable[[], Awaitable[int]]:
    count = 0

    async def aflaky() -> int:
        nonlocal count
        count += 1
        if count % 3:
            raise TransientError
        return 1

    return aflaky


# -- how each implementation is configured for the job -------------------------------------------


def _ours(fn: Any, deadline: float | None) -> Any:
    return retry(on=TransientError, attempts=3, wait_initial=0, wait_max=0, deadline=deadline)(fn)


def _tenacity(fn: Any, deadline: float | None) -> Any:
    stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(3)
    if deadline is not None:
        stop = stop | tenacity.stop_after_delay(deadline)
    return tenacity.retry(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=stop,
        wait=tenacity.wait_none(),
        reraise=True,
    )(fn)


def _backoff(fn: Any, deadline: float | None) -> Any:
    return backoff.on_exception(
        backoff.constant, TransientError, max_tries=3, max_time=deadline, interval=0, jitter=None
    )(fn)


def _stamina(fn: Any, deadline: float | None) -> Any:
    # No retry hooks: stamina's default logging hook would log every retry; ours logs nothing
    # unless a hook is registered. Waits are zeroed through the public parameters (set_testing
    # would also force the attempt count, a global switch rather than this configuration).
    stamina.instrumentation.set_on_retry_hooks([])
    return stamina.retry(
        on=TransientError, attempts=3, timeout=deadline, wait_initial=0, wait_max=0, wait_jitter=0
    )(fn)


def _handwritten(fn: Any, deadline: float | None) -> Any:
    del deadline  # the floor does not track time

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(3):
            try:
                return fn(*args, **kwargs)
            except TransientError:  # noqa: PERF203 - the loop is what this floor measures
                if attempt == 2:
                    raise
        raise AssertionError  # pragma: no cover

    return wrapper


def _ahandwritten(fn: Any, deadline: float | None) -> Any:
    del deadline

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(3):
            try:
                return await fn(*args, **kwargs)
            except TransientError:  # noqa: PERF203 - the loop is what this floor measures
                if attempt == 2:
                    raise
        raise AssertionError  # pragma: no cover

    return wrapper


def _bare(fn: Any, deadline: float | None) -> Any:
    del deadline
    return fn


_SYNC: list[tuple[str, str, Callable[[Any, float | None], Any]]] = [
    ("commerce_kit.retry", "ours", _ours),
    ("tenacity", "peer", _tenacity),
    ("backoff", "peer", _backoff),
    ("stamina", "peer", _stamina),
    ("hand-written for/try decorator", "floor", _handwritten),
]
_ASYNC = [*_SYNC[:4], ("hand-written for/try decorator", "floor", _ahandwritten)]


def _setup(
    wrap: Callable[[Any, float | None], Any], make: Callable[[], Any], deadline: float | None
) -> Callable[[], Callable[[], object]]:
    return lambda: wrap(make(), deadline)


def cases() -> list[Case]:
    """The timed jobs: success path and two failures then success, sync and async."""
    out: list[Case] = []
    jobs: list[tuple[str, Any, Callable[[], Any], bool, float | None, int]] = [
        ("retry: success path, sync", _SYNC, lambda: _ok, False, None, 20_000),
        ("retry: success path, async", _ASYNC, lambda: _aok, True, None, 20_000),
        ("retry: success path, 5 s deadline, sync", _SYNC, lambda: _ok, False, 5.0, 20_000),
        ("retry: 2 failures then success, zero wait, sync", _SYNC, _flaky, False, None, 500),
        ("retry: 2 failures then success, zero wait, async", _ASYNC, _aflaky, True, None, 500),
    ]
    for group, impls, make, is_async, deadline, peer_number in jobs:
        for impl, kind, wrap in impls:
            number = peer_number if kind == "peer" else 20_000
            setup = _setup(wrap, make, deadline)
            out.append(Case(group, impl, kind, setup, number, is_async=is_async))
        if "success path" in group:
            setup = _setup(_bare, make, None)
            out.append(Case(group, "bare call", "floor", setup, 20_000, is_async=is_async))
    return out
