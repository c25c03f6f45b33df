"""What follows a failed attempt: wait this long, or give up. The core every retry face drives.

:class:`FailedCall` holds the state of one call once its first attempt has failed and decides,
from the attempt number, the error, the time and the policy, whether to wait and retry or to stop.
The faces (the sync and async wrappers of :func:`~commerce_kit.retry`, the
:func:`~commerce_kit.retrying` loop) only call, sleep and re-raise.
"""

from __future__ import annotations

import logging
import math
import sys
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from commerce_kit._errors import NonIdempotentRetryError
from commerce_kit._hooks import emit
from commerce_kit.resilience._retry_events import GiveUpReason, RetryGaveUp, RetryScheduled

if TYPE_CHECKING:
    from collections.abc import Callable

    from commerce_kit._types import AsyncSleep, Clock, Sleep
    from commerce_kit.resilience._retry_budget import RetryBudget
    from commerce_kit.resilience._retry_events import RetryHook

__all__ = ["FailedCall", "Jitter", "PolicyView", "catch_of"]

_log = logging.getLogger("commerce_kit.retry")


class Jitter(Enum):
    """How a backoff wait is randomised, so that clients that failed together do not retry together.

    With ``cap = min(wait_max, wait_initial * wait_exp_base ** (n - 1))`` before retry ``n``:

    .. versionadded:: 0.1.0
    """

    #: Uniform in ``[0, cap]``: the least contention and the least total work (the default).
    FULL = "full"
    #: ``cap / 2`` plus uniform in ``[0, cap / 2]``: never much shorter than the plain backoff.
    EQUAL = "equal"
    #: Exactly ``cap``: deterministic, for tests and for a single client.
    NONE = "none"
    #: ``min(wait_max, uniform(wait_initial, 3 * previous wait))``, starting from
    #: ``wait_initial``; grows from the previous wait rather than from the attempt number.
    DECORRELATED = "decorrelated"


_FULL = Jitter.FULL
_EQUAL = Jitter.EQUAL
_DECORRELATED = Jitter.DECORRELATED

_EXPLAIN = {
    GiveUpReason.ATTEMPTS: "the attempt limit was reached",
    GiveUpReason.DEADLINE: "the next wait would pass the deadline",
    GiveUpReason.HINT_TOO_LONG: "the error asked for a wait longer than max_hint",
    GiveUpReason.BUDGET: "the retry budget is exhausted",
    GiveUpReason.NOT_IDEMPOTENT: "the call is not idempotent and has no idempotency key",
}


def catch_of(
    on: tuple[type[Exception], ...] | Callable[[Exception], bool],
) -> tuple[type[Exception], ...]:
    """Return the exception types an ``except`` clause catches for a policy's normalised ``on``."""
    return on if isinstance(on, tuple) else (Exception,)


def _chain(error: Exception, earlier: Exception) -> None:
    """Make the previous attempt's error reachable as ``error.__context__``, as a loop would."""
    if error.__context__ is not None:
        return
    seen: BaseException | None = earlier
    for _ in range(64):  # a bounded walk: never link an error into its own chain
        if seen is None:
            break
        if seen is error:
            return
        seen = seen.__context__
    error.__context__ = earlier


def _note(error: Exception, name: str, attempts: int, reason: GiveUpReason) -> None:
    """Say on ``error`` why retrying ``name`` stopped, replacing what an earlier give-up said.

    A function may raise one cached instance again and again; each give-up replaces the note of
    the last one for the same ``name``, so notes never pile up on the instance.
    """
    if sys.version_info >= (3, 11):  # pragma: no branch - 3.10 has no exception notes
        notes = getattr(error, "__notes__", None)
        if notes is not None and not isinstance(notes, list):
            return  # add_note() would raise TypeError and hide the error being re-raised
        prefix = f"commerce_kit.retry: gave up on {name} after "
        if notes:
            notes[:] = [note for note in notes if not str(note).startswith(prefix)]
        plural = "" if attempts == 1 else "s"
        error.add_note(f"{prefix}{attempts} attempt{plural}: {_EXPLAIN[reason]}")


def _seconds(hint: object) -> float | None:
    """Return a hint as float seconds, or ``None`` when it is not a number or a timedelta.

    A hook's mistake or a hostile ``Retry-After`` must not replace the error being retried: an
    int too large for a float becomes an infinite wait (and so a give-up), anything else that
    is not a number is ignored.
    """
    if isinstance(hint, timedelta):
        return hint.total_seconds()
    if not isinstance(hint, (int, float)) or isinstance(hint, bool):
        return None
    try:
        return float(hint)
    except OverflowError:  # an int beyond the float range
        return math.inf if hint > 0 else -math.inf


class PolicyView(Protocol):
    """What the core reads of a policy: :class:`~commerce_kit.RetryPolicy` has all of it.

    Spelled out here so the decisions depend on the fields they read, not on the module that
    builds the policy and its decorators.
    """

    @property
    def on(self) -> tuple[type[Exception], ...] | Callable[[Exception], bool]: ...
    @property
    def attempts(self) -> int | None: ...
    @property
    def deadline(self) -> float | None: ...
    @property
    def wait_initial(self) -> float: ...
    @property
    def wait_max(self) -> float: ...
    @property
    def wait_exp_base(self) -> float: ...
    @property
    def jitter(self) -> Jitter: ...
    @property
    def hint(self) -> Callable[[Exception], float | timedelta | None] | None: ...
    @property
    def max_hint(self) -> float | None: ...
    @property
    def budget(self) -> RetryBudget | None: ...
    @property
    def idempotent(self) -> bool: ...
    @property
    def idempotency_key(self) -> Callable[..., object] | None: ...
    @property
    def hooks(self) -> tuple[RetryHook, ...]: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def random(self) -> Callable[[], float]: ...
    @property
    def sleep(self) -> Sleep: ...
    @property
    def asleep(self) -> AsyncSleep: ...


class FailedCall:
    """The state of one call once its first attempt has failed: the core every face drives."""

    __slots__ = ("args", "attempt", "kwargs", "last", "name", "policy", "previous_wait", "start")

    def __init__(
        self,
        policy: PolicyView,
        name: str,
        start: float,
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> None:
        self.policy = policy
        self.name = name
        self.start = start
        self.args = args
        self.kwargs = kwargs
        self.attempt = 0
        self.previous_wait = policy.wait_initial
        # The error of the attempt before, kept only while a retry is pending so the next error
        # can chain it. Its traceback holds the caller's frame, which holds this object: the
        # faces drop it as soon as the call ends, or the cycle would wait for the garbage
        # collector.
        self.last: Exception | None = None

    def failed(self, error: Exception) -> float | None:
        """Decide what follows a failed attempt.

        Returns:
            The seconds to wait before the next attempt, or ``None`` when the caller must
            re-raise ``error`` as it is.

        Raises:
            NonIdempotentRetryError: A retry was due but the call carries no idempotency key.
        """
        policy = self.policy
        self.attempt = attempt = self.attempt + 1
        on = policy.on
        if not isinstance(on, tuple) and not on(error):
            return None
        if self.last is not None:
            _chain(error, self.last)
            self.last = None
        hooks = policy.hooks
        deadline = policy.deadline
        now = policy.clock() if hooks or deadline is not None else self.start

        wait = 0.0
        hinted = False
        reason: GiveUpReason | None = None
        limit = policy.attempts
        if limit is not None and attempt >= limit:
            reason = GiveUpReason.ATTEMPTS
        else:
            wait, hinted = self._next_wait(attempt, error)
            if hinted and wait > (policy.wait_max if policy.max_hint is None else policy.max_hint):
                reason = GiveUpReason.HINT_TOO_LONG
            elif deadline is not None and now + wait >= self.start + deadline:
                reason = GiveUpReason.DEADLINE
            elif not policy.idempotent and not self._keyed():
                reason = GiveUpReason.NOT_IDEMPOTENT
            elif policy.budget is not None and not policy.budget.try_withdraw():
                reason = GiveUpReason.BUDGET

        if reason is None:
            if hooks:
                emit(
                    hooks,
                    RetryScheduled(self.name, attempt, wait, error, now - self.start, hinted),
                    _log,
                )
            self.last = error
            return wait
        if hooks:
            emit(hooks, RetryGaveUp(self.name, attempt, error, now - self.start, reason), _log)
        if reason is GiveUpReason.NOT_IDEMPOTENT:
            raise NonIdempotentRetryError(
                f"{self.name} failed with {type(error).__name__} and is marked idempotent=False, "
                "but the call carries no idempotency key, so it is not retried"
            ) from error
        _note(error, self.name, attempt, reason)
        return None

    def _next_wait(self, attempt: int, error: Exception) -> tuple[float, bool]:
        """Return the wait after failed attempt ``attempt``, and whether the error hinted it."""
        policy = self.policy
        hint = policy.hint(error) if policy.hint is not None else None
        if hint is None:
            return self._backoff(attempt), False
        seconds = _seconds(hint)
        if seconds is None or math.isnan(seconds):
            return self._backoff(attempt), False
        return (seconds if seconds > 0 else 0.0), True

    def _backoff(self, attempt: int) -> float:
        """Return the jittered exponential backoff that follows failed attempt ``attempt``."""
        # Enum members read through module aliases, and a branch instead of min(): measured
        # 2.7 us against 3.3 us (-19%) on the bench_retry row "2 failures then success, sync".
        policy = self.policy
        jitter = policy.jitter
        cap = policy.wait_max
        if jitter is _DECORRELATED:
            low = policy.wait_initial
            wait = low + (3 * self.previous_wait - low) * policy.random()
            if wait > cap:  # noqa: PLR1730 - see above
                wait = cap
            self.previous_wait = wait
            return wait
        try:
            grown = policy.wait_initial * policy.wait_exp_base ** (attempt - 1)
        except OverflowError:
            grown = cap
        if grown < cap:  # noqa: PLR1730 - see above
            cap = grown
        if jitter is _FULL:
            return cap * policy.random()
        if jitter is _EQUAL:
            half = cap / 2
            wait = half + half * policy.random()
            # A subnormal cap halves with rounding, and the sum can then pass it by one step.
            return min(wait, cap)
        return cap

    def _keyed(self) -> bool:
        key_of = self.policy.idempotency_key
        if key_of is None:
            key = self.kwargs.get("idempotency_key")
        else:
            key = key_of(*self.args, **self.kwargs)
        return key is not None and key != ""
