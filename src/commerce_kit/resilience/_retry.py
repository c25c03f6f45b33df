"""Retrying transient failures: capped exponential backoff with jitter, with every stop bounded.

A retried call stops at the first of: success, an error that does not match ``on``, the attempt
limit, a wait that would pass the deadline, a server hint longer than ``max_hint``, a missing
idempotency key, or an exhausted :class:`~commerce_kit.RetryBudget`.

One core decides what follows a failed attempt (:meth:`_Call.failed`: wait this long, or give up),
from the attempt number, the error, the time and the deadline. Three faces drive it and only
call, sleep and re-raise: the sync wrapper, the async wrapper and the :func:`retrying` loop.
The success path does no work beyond a ``try``: no clock read unless a deadline or hooks need
one, no allocation, no lock unless a budget counts the call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import random as _random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from types import TracebackType
from typing import Literal, ParamSpec, TypeAlias, TypeVar, cast

from commerce_kit._duration import to_seconds
from commerce_kit._errors import NonIdempotentRetryError
from commerce_kit._hooks import emit
from commerce_kit._types import AsyncSleep, Clock, Sleep
from commerce_kit.resilience._retry_budget import RetryBudget

__all__ = [
    "Attempt",
    "GiveUpReason",
    "Jitter",
    "RetryEvent",
    "RetryGaveUp",
    "RetryHook",
    "RetryLoop",
    "RetryOn",
    "RetryScheduled",
    "retry",
    "retry_after_hint",
    "retrying",
]

P = ParamSpec("P")
T = TypeVar("T")

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


class GiveUpReason(Enum):
    """Why a retried call stopped retrying and re-raised.

    .. versionadded:: 0.1.0
    """

    #: The attempt limit was reached.
    ATTEMPTS = "attempts"
    #: The next wait would end at or after the deadline.
    DEADLINE = "deadline"
    #: The error asked for a wait longer than ``max_hint``.
    HINT_TOO_LONG = "hint_too_long"
    #: The shared :class:`~commerce_kit.RetryBudget` allowed no more retries.
    BUDGET = "budget"
    #: The call is not idempotent and carried no idempotency key.
    NOT_IDEMPOTENT = "not_idempotent"


_EXPLAIN = {
    GiveUpReason.ATTEMPTS: "the attempt limit was reached",
    GiveUpReason.DEADLINE: "the next wait would pass the deadline",
    GiveUpReason.HINT_TOO_LONG: "the error asked for a wait longer than max_hint",
    GiveUpReason.BUDGET: "the retry budget is exhausted",
    GiveUpReason.NOT_IDEMPOTENT: "the call is not idempotent and has no idempotency key",
}


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """Emitted after an attempt failed and before the wait that precedes the next one.

    Attributes:
        fn_name: The qualified name of the retried function (or the ``name=`` given).
        attempt: The number of the attempt that failed, from 1.
        wait: The seconds that will be waited before attempt ``attempt + 1``.
        error: The exception the attempt raised.
        elapsed: Seconds since the call started.
        hinted: Whether ``wait`` came from the error's hint (such as ``retry_after``) rather than
            from the backoff.

    .. versionadded:: 0.1.0
    """

    fn_name: str
    attempt: int
    wait: float
    error: Exception
    elapsed: float
    hinted: bool


@dataclass(frozen=True, slots=True)
class RetryGaveUp:
    """Emitted when a call stops retrying an error that matched ``on``; the error is then raised.

    Attributes:
        fn_name: The qualified name of the retried function (or the ``name=`` given).
        attempts: How many attempts were made, counting the first.
        error: The exception of the last attempt, the one raised (or chained, for
            :attr:`GiveUpReason.NOT_IDEMPOTENT`).
        elapsed: Seconds since the call started.
        reason: Why no further attempt was made.

    .. versionadded:: 0.1.0
    """

    fn_name: str
    attempts: int
    error: Exception
    elapsed: float
    reason: GiveUpReason


#: Either event a retry hook receives.
RetryEvent: TypeAlias = RetryScheduled | RetryGaveUp
#: A callable receiving retry events, for logging and metrics; what it raises is logged, never
#: propagated.
RetryHook: TypeAlias = Callable[[RetryEvent], None]
#: What to retry on: an exception type, a tuple of them, or a predicate on the exception.
RetryOn: TypeAlias = type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool]
_Hint: TypeAlias = Callable[[Exception], float | timedelta | None]


def retry_after_hint(error: Exception) -> float | None:
    """Return the wait an error asks for through a numeric ``retry_after`` attribute.

    This is the default ``hint=`` of :func:`retry`. :class:`~commerce_kit.CircuitOpenError`,
    :class:`~commerce_kit.RateLimitExceeded` and :class:`~commerce_kit.PaymentUnavailableError`
    carry one, and so can your own HTTP 429 or 503 wrapper.

    Args:
        error: The exception an attempt raised.

    Returns:
        The seconds to wait (a :class:`~datetime.timedelta` is converted), or ``None`` when the
        error has no numeric ``retry_after``.

    .. versionadded:: 0.1.0
    """
    value = getattr(error, "retry_after", None)
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class _Policy:
    """The normalised configuration shared by every call of one decorated function or loop.

    Never mutated after construction; a plain slotted class rather than a dataclass because it is
    built once per decorator and a dataclass costs import time for nothing here.
    """

    __slots__ = (
        "asleep",
        "attempts",
        "budget",
        "catch",
        "clock",
        "deadline",
        "hint",
        "hooks",
        "idempotent",
        "jitter",
        "key",
        "max_hint",
        "predicate",
        "random",
        "sleep",
        "timed",
        "wait_exp_base",
        "wait_initial",
        "wait_max",
    )

    def __init__(
        self,
        *,
        catch: tuple[type[Exception], ...],
        predicate: Callable[[Exception], bool] | None,
        attempts: int | None,
        deadline: float | None,
        wait_initial: float,
        wait_max: float,
        wait_exp_base: float,
        jitter: Jitter,
        max_hint: float,
        hint: _Hint | None,
        budget: RetryBudget | None,
        idempotent: bool,
        key: Callable[..., object] | None,
        hooks: tuple[RetryHook, ...],
        clock: Clock,
        sleep: Sleep,
        asleep: AsyncSleep,
        random: Callable[[], float],
        timed: bool,
    ) -> None:
        self.catch = catch
        self.predicate = predicate
        self.attempts = attempts
        self.deadline = deadline
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.wait_exp_base = wait_exp_base
        self.jitter = jitter
        self.max_hint = max_hint
        self.hint = hint
        self.budget = budget
        self.idempotent = idempotent
        self.key = key
        self.hooks = hooks
        self.clock = clock
        self.sleep = sleep
        self.asleep = asleep
        self.random = random
        self.timed = timed


def _make_policy(
    *,
    on: RetryOn,
    attempts: int | None,
    deadline: float | timedelta | None,
    wait_initial: float | timedelta,
    wait_max: float | timedelta,
    wait_exp_base: float,
    jitter: Jitter | str,
    max_hint: float | timedelta | None,
    hint: _Hint | None,
    budget: RetryBudget | None,
    idempotent: bool,
    idempotency_key: Callable[..., object] | None,
    hooks: Iterable[RetryHook],
    clock: Clock,
    sleep: Sleep,
    asleep: AsyncSleep,
    random: Callable[[], float],
) -> _Policy:
    catch, predicate = _normalise_on(on)
    deadline_s = None if deadline is None else to_seconds(deadline, name="deadline")
    if attempts is None:
        if deadline_s is None:
            raise ValueError("attempts=None needs a deadline, or the retries never end")
    elif type(attempts) is not int or attempts < 1:
        raise ValueError(f"attempts must be an int >= 1 or None, got {attempts!r}")
    initial = to_seconds(wait_initial, name="wait_initial", allow_zero=True)
    cap = to_seconds(wait_max, name="wait_max", allow_zero=True)
    if not (math.isfinite(wait_exp_base) and wait_exp_base >= 1):
        raise ValueError(f"wait_exp_base must be a finite number >= 1, got {wait_exp_base!r}")
    try:
        jitter_kind = Jitter(jitter)
    except ValueError:
        choices = ", ".join(repr(j.value) for j in Jitter)
        raise ValueError(f"jitter must be one of {choices}, got {jitter!r}") from None
    hint_cap = cap if max_hint is None else to_seconds(max_hint, name="max_hint", allow_zero=True)
    if idempotency_key is not None and idempotent:
        raise ValueError("idempotency_key is only consulted with idempotent=False")
    hook_tuple = tuple(hooks)
    return _Policy(
        catch=catch,
        predicate=predicate,
        attempts=attempts,
        deadline=deadline_s,
        wait_initial=initial,
        wait_max=cap,
        wait_exp_base=float(wait_exp_base),
        jitter=jitter_kind,
        max_hint=hint_cap,
        hint=hint,
        budget=budget,
        idempotent=idempotent,
        key=idempotency_key,
        hooks=hook_tuple,
        clock=clock,
        sleep=sleep,
        asleep=asleep,
        random=random,
        timed=deadline_s is not None or bool(hook_tuple),
    )


def _normalise_on(
    on: RetryOn,
) -> tuple[tuple[type[Exception], ...], Callable[[Exception], bool] | None]:
    if isinstance(on, type):
        candidates: tuple[object, ...] = (on,)
    elif isinstance(on, tuple):
        candidates = on
    elif callable(on):
        return (Exception,), on
    else:
        raise TypeError(f"on must be an exception type, a tuple of them or a predicate: {on!r}")
    if not candidates:
        raise ValueError("on must name at least one exception type")
    catch: list[type[Exception]] = []
    for kind in candidates:
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            raise TypeError(
                f"on must list Exception subclasses, got {kind!r}; BaseException-only types "
                "(KeyboardInterrupt, SystemExit, asyncio.CancelledError) are never retried"
            )
        catch.append(kind)
    return tuple(catch), None


def _emit(hooks: tuple[RetryHook, ...], event: RetryEvent) -> None:
    emit(hooks, event, _log)


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


class _Call:
    """The state of one call once its first attempt has failed: the core every face drives."""

    __slots__ = ("args", "attempt", "kwargs", "last", "name", "policy", "previous_wait", "start")

    def __init__(
        self,
        policy: _Policy,
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
        if policy.predicate is not None and not policy.predicate(error):
            return None
        if self.last is not None:
            _chain(error, self.last)
            self.last = None
        now = policy.clock() if policy.timed else self.start

        wait = 0.0
        hinted = False
        reason: GiveUpReason | None = None
        limit = policy.attempts
        if limit is not None and attempt >= limit:
            reason = GiveUpReason.ATTEMPTS
        else:
            wait, hinted = self._next_wait(attempt, error)
            if hinted and wait > policy.max_hint:
                reason = GiveUpReason.HINT_TOO_LONG
            elif policy.deadline is not None and now + wait >= self.start + policy.deadline:
                reason = GiveUpReason.DEADLINE
            elif not policy.idempotent and not self._keyed():
                reason = GiveUpReason.NOT_IDEMPOTENT
            elif policy.budget is not None and not policy.budget.try_withdraw():
                reason = GiveUpReason.BUDGET

        if reason is None:
            if policy.hooks:
                _emit(
                    policy.hooks,
                    RetryScheduled(self.name, attempt, wait, error, now - self.start, hinted),
                )
            self.last = error
            return wait
        if policy.hooks:
            _emit(policy.hooks, RetryGaveUp(self.name, attempt, error, now - self.start, reason))
        if reason is GiveUpReason.NOT_IDEMPOTENT:
            raise NonIdempotentRetryError(
                f"{self.name} failed with {type(error).__name__} and is marked idempotent=False, "
                "but the call carries no idempotency key, so it is not retried"
            ) from error
        if sys.version_info >= (3, 11):  # pragma: no branch - 3.10 has no exception notes
            plural = "" if attempt == 1 else "s"
            error.add_note(
                f"commerce_kit.retry: gave up on {self.name} after {attempt} attempt{plural}: "
                f"{_EXPLAIN[reason]}"
            )
        return None

    def _next_wait(self, attempt: int, error: Exception) -> tuple[float, bool]:
        """Return the wait after failed attempt ``attempt``, and whether the error hinted it."""
        policy = self.policy
        hint = policy.hint(error) if policy.hint is not None else None
        if isinstance(hint, timedelta):
            hint = hint.total_seconds()
        if hint is None or math.isnan(hint):
            return self._backoff(attempt), False
        return (hint if hint > 0 else 0.0), True

    def _backoff(self, attempt: int) -> float:
        """Return the jittered exponential backoff that follows failed attempt ``attempt``."""
        # Module-level aliases of the enum members and no min(): on this path an enum attribute
        # or a builtin call costs more than the arithmetic.
        policy = self.policy
        jitter = policy.jitter
        cap = policy.wait_max
        if jitter is _DECORRELATED:
            low = policy.wait_initial
            wait = low + (3 * self.previous_wait - low) * policy.random()
            if wait > cap:  # noqa: PLR1730 - a builtin call costs more than the branch here
                wait = cap
            self.previous_wait = wait
            return wait
        try:
            grown = policy.wait_initial * policy.wait_exp_base ** (attempt - 1)
        except OverflowError:
            grown = cap
        if grown < cap:  # noqa: PLR1730 - same
            cap = grown
        if jitter is _FULL:
            return cap * policy.random()
        if jitter is _EQUAL:
            half = cap / 2
            return half + half * policy.random()
        return cap

    def _keyed(self) -> bool:
        key_of = self.policy.key
        if key_of is None:
            key = self.kwargs.get("idempotency_key")
        else:
            key = key_of(*self.args, **self.kwargs)
        return key is not None and key != ""


def _function_name(fn: Callable[..., object]) -> str:
    qualname = getattr(fn, "__qualname__", None)
    if qualname is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


def _decorate(policy: _Policy, fn: Callable[P, T], name: str | None) -> Callable[P, T]:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            "retry cannot wrap a generator function: calling it only creates the generator, "
            "which never fails; retry the function that consumes it instead"
        )
    fn_name = name if name is not None else _function_name(fn)
    catch = policy.catch
    budget = policy.budget
    timed = policy.timed
    clock = policy.clock

    if inspect.iscoroutinefunction(fn):
        asleep = policy.asleep
        afn = cast("Callable[P, Awaitable[object]]", fn)

        @functools.wraps(fn)
        async def retry_async(*args: P.args, **kwargs: P.kwargs) -> object:
            if budget is not None:
                budget.deposit()
            start = clock() if timed else 0.0
            try:
                return await afn(*args, **kwargs)
            except catch as error:
                call = _Call(policy, fn_name, start, args, kwargs)
                wait = call.failed(error)
                if wait is None:
                    raise
            try:
                while True:
                    if wait:
                        await asleep(wait)
                    try:
                        return await afn(*args, **kwargs)
                    except catch as error:
                        wait = call.failed(error)
                        if wait is None:
                            raise
            finally:
                call.last = None  # see _Call.last

        return cast("Callable[P, T]", retry_async)

    sleep = policy.sleep

    @functools.wraps(fn)
    def retry_sync(*args: P.args, **kwargs: P.kwargs) -> T:
        if budget is not None:
            budget.deposit()
        start = clock() if timed else 0.0
        try:
            return fn(*args, **kwargs)
        except catch as error:
            call = _Call(policy, fn_name, start, args, kwargs)
            wait = call.failed(error)
            if wait is None:
                raise
        try:
            while True:
                if wait:
                    sleep(wait)
                try:
                    return fn(*args, **kwargs)
                except catch as error:
                    wait = call.failed(error)
                    if wait is None:
                        raise
        finally:
            call.last = None  # see _Call.last

    return retry_sync


def retry(
    *,
    on: RetryOn,
    attempts: int | None = 3,
    deadline: float | timedelta | None = None,
    wait_initial: float | timedelta = 0.1,
    wait_max: float | timedelta = 5.0,
    wait_exp_base: float = 2.0,
    jitter: Jitter | Literal["full", "equal", "none", "decorrelated"] = "full",
    hint: Callable[[Exception], float | timedelta | None] | None = retry_after_hint,
    max_hint: float | timedelta | None = None,
    budget: RetryBudget | None = None,
    idempotent: bool = True,
    idempotency_key: Callable[..., object] | None = None,
    hooks: Iterable[RetryHook] = (),
    name: str | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    asleep: AsyncSleep = asyncio.sleep,
    random: Callable[[], float] = _random.random,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Retry the decorated function when it raises a matching error, with jittered backoff.

    Works on plain and ``async def`` functions alike and keeps their signature. A call returns
    the first successful result. An error that does not match ``on`` is raised at once,
    untouched; so is any :class:`BaseException` that is not an :class:`Exception`
    (``KeyboardInterrupt``, ``asyncio.CancelledError``). A matching error is retried after a
    wait, until one of the limits below stops it; then the **last error is re-raised as is**: the
    same object, with a note saying why retrying stopped, and the previous attempt's error
    chained as its ``__context__`` so tracebacks show every attempt.

    The wait before retry ``n`` (``n = 1`` after the first failure) is the capped exponential
    ``min(wait_max, wait_initial * wait_exp_base ** (n - 1))``, randomised by ``jitter``. The
    default full jitter draws uniformly in ``[0, cap]``: of the schemes compared in the AWS
    Architecture Blog's "Exponential Backoff and Jitter", it spreads clients that failed together
    the most and does the least total work. A zero wait does not sleep at all.

    If the error carries a hint (by default a numeric ``retry_after`` attribute, as an open
    :class:`~commerce_kit.CircuitBreaker` or a rate limiter sets), the hint replaces the backoff
    as the next wait, without jitter: waiting less would only fail again. So a retry stacked over
    a breaker (``@retry`` above ``@breaker``, with :class:`~commerce_kit.CircuitOpenError` in
    ``on``) waits exactly until the breaker lets a trial through, or gives up at once if that is
    past ``max_hint`` or the deadline.

    Args:
        on: The errors to retry: an :class:`Exception` subclass, a tuple of them, or a predicate
            ``(error) -> bool``. There is no default; say what is transient.
        attempts: The total number of calls, counting the first: ``3`` means one call and at
            most two retries. ``None`` means no limit, which needs a ``deadline``.
        deadline: Seconds (or a timedelta) from the start of the call after which no new attempt
            starts: a retry whose wait would end at or past it is not made, and the last error is
            raised at once instead of sleeping. An attempt in flight is not interrupted, so the
            call ends within ``deadline`` plus the duration of one attempt.
        wait_initial: The backoff cap before the first retry.
        wait_max: The largest backoff wait.
        wait_exp_base: The factor the backoff cap grows by per retry (at least 1).
        jitter: How the backoff is randomised; see :class:`Jitter`.
        hint: Reads the wait an error asks for, or ``None`` for none; ``None`` here ignores hints.
        max_hint: The longest hinted wait honoured; a longer hint gives up at once. ``None``
            means ``wait_max``.
        budget: A :class:`~commerce_kit.RetryBudget`, shared between functions calling the same
            service, that must allow each retry; every call is counted in it.
        idempotent: Whether calling twice is harmless. With ``False`` a call is retried only if
            it carries an idempotency key, and otherwise raises
            :class:`~commerce_kit.NonIdempotentRetryError` instead of retrying.
        idempotency_key: With ``idempotent=False``, a function of the call's arguments returning
            its key; by default the call's ``idempotency_key`` keyword argument. A key of
            ``None`` or ``""`` counts as missing.
        hooks: Callables receiving a :class:`RetryScheduled` before each wait and a
            :class:`RetryGaveUp` when retrying stops; what they raise is logged, not propagated.
        name: The name events and notes use; by default the function's module and qualified name.
        clock: Monotonic seconds, read only when a deadline or hooks need the time.
        sleep: Waits between attempts of a plain function.
        asleep: Waits between attempts of an ``async def`` function.
        random: Returns floats in ``[0, 1)`` for the jitter; inject a seeded one in tests.

    Returns:
        A decorator that returns the retrying function with the same signature.

    Raises:
        TypeError: ``on`` names something other than :class:`Exception` subclasses, or the
            decorated function is a generator function.
        ValueError: An argument is out of range (see each), ``attempts=None`` lacks a deadline,
            or ``idempotency_key`` is given without ``idempotent=False``.

    Example:
        >>> from commerce_kit import retry
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> outcomes = [ConnectionError("reset"), ConnectionError("reset"), "charged"]
        >>> @retry(on=ConnectionError, attempts=3, jitter="none", clock=clock, sleep=clock.sleep)
        ... def charge():
        ...     outcome = outcomes.pop(0)
        ...     if isinstance(outcome, Exception):
        ...         raise outcome
        ...     return outcome
        >>> charge(), clock.sleeps
        ('charged', [0.1, 0.2])

    .. versionadded:: 0.1.0
    """
    policy = _make_policy(
        on=on,
        attempts=attempts,
        deadline=deadline,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_exp_base=wait_exp_base,
        jitter=jitter,
        max_hint=max_hint,
        hint=hint,
        budget=budget,
        idempotent=idempotent,
        idempotency_key=idempotency_key,
        hooks=hooks,
        clock=clock,
        sleep=sleep,
        asleep=asleep,
        random=random,
    )

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        return _decorate(policy, fn, name)

    return decorate


class Attempt:
    """One attempt of a block retried by :func:`retrying`; enter it with ``with attempt:``.

    A matching error raised in the block is swallowed when a retry follows, and the loop then
    waits and yields the next attempt; when retrying stops, the error propagates out of the
    ``with`` statement unchanged. Leaving the block normally ends the loop.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_loop", "number")

    _loop: _AttemptLoop
    #: The number of this attempt, from 1.
    number: int

    @classmethod
    def _create(cls, loop: _AttemptLoop, number: int) -> Attempt:
        # Built by the loop only: no public constructor to document or misuse.
        attempt = cls.__new__(cls)
        attempt._loop = loop  # noqa: SLF001 - initialising our own instance
        attempt.number = number
        return attempt

    def __repr__(self) -> str:
        return f"<Attempt number={self.number}>"

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return self._loop.ended(exc)


class _AttemptLoop:
    """The iterator behind :class:`RetryLoop`: both faces over one :class:`_Call`."""

    __slots__ = ("_call", "_state", "_wait")

    def __init__(self, policy: _Policy, name: str) -> None:
        if policy.budget is not None:
            policy.budget.deposit()
        start = policy.clock() if policy.timed else 0.0
        self._call = _Call(policy, name, start, (), {})
        self._wait = 0.0
        self._state = 0  # 0: before the first attempt, 1: an attempt failed, 2: finished

    def ended(self, exc: BaseException | None) -> bool:
        """Record how an attempt ended; return whether to swallow its error."""
        wait = None
        if exc is not None and isinstance(exc, self._call.policy.catch):
            wait = self._call.failed(exc)
        if wait is None:
            self._state = 2
            self._call.last = None  # see _Call.last
            return False
        self._wait = wait
        self._state = 1
        return True

    def _next_wait(self) -> float | None:
        """Return the wait before the next attempt, or ``None`` when the loop is over."""
        if self._state == 0:
            self._state = 2  # until an attempt fails, there is no next one
            return 0.0
        if self._state == 1:
            self._state = 2
            return self._wait
        return None

    def __iter__(self) -> _AttemptLoop:
        return self

    def __next__(self) -> Attempt:
        wait = self._next_wait()
        if wait is None:
            raise StopIteration
        if wait:
            self._call.policy.sleep(wait)
        return Attempt._create(self, self._call.attempt + 1)  # noqa: SLF001 - same module

    def __aiter__(self) -> _AttemptLoop:
        return self

    async def __anext__(self) -> Attempt:
        wait = self._next_wait()
        if wait is None:
            raise StopAsyncIteration
        if wait:
            await self._call.policy.asleep(wait)
        return Attempt._create(self, self._call.attempt + 1)  # noqa: SLF001 - same module


class RetryLoop:
    """Retries a block of code: ``for attempt in loop: with attempt: ...``, or ``async for``.

    Returned by :func:`retrying`. Each iteration over it is an independent call with its own
    attempts and deadline, so one loop object can be kept and reused.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_name", "_policy")

    _name: str
    _policy: _Policy

    @classmethod
    def _create(cls, policy: _Policy, name: str) -> RetryLoop:
        # Built by retrying() only: no public constructor to document or misuse.
        loop = cls.__new__(cls)
        loop._policy = policy  # noqa: SLF001 - initialising our own instance
        loop._name = name  # noqa: SLF001 - same
        return loop

    def __repr__(self) -> str:
        return f"<RetryLoop {self._name}>"

    def __iter__(self) -> Iterator[Attempt]:
        return _AttemptLoop(self._policy, self._name)

    def __aiter__(self) -> AsyncIterator[Attempt]:
        return _AttemptLoop(self._policy, self._name)


def retrying(
    *,
    on: RetryOn,
    attempts: int | None = 3,
    deadline: float | timedelta | None = None,
    wait_initial: float | timedelta = 0.1,
    wait_max: float | timedelta = 5.0,
    wait_exp_base: float = 2.0,
    jitter: Jitter | Literal["full", "equal", "none", "decorrelated"] = "full",
    hint: Callable[[Exception], float | timedelta | None] | None = retry_after_hint,
    max_hint: float | timedelta | None = None,
    budget: RetryBudget | None = None,
    hooks: Iterable[RetryHook] = (),
    name: str = "<block>",
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    asleep: AsyncSleep = asyncio.sleep,
    random: Callable[[], float] = _random.random,
) -> RetryLoop:
    """Retry a block of code rather than a whole function, with the same policy as :func:`retry`.

    Iterate over the result and run the block inside each :class:`Attempt`::

        for attempt in retrying(on=ConnectionError, deadline=5.0):
            with attempt:
                response = client.get(url)

    ``async for`` works the same way and waits with ``asleep``. The arguments mean what they mean
    for :func:`retry`; a block has no arguments, so there is no idempotency check: decide before
    the loop whether the block may run twice.

    Args:
        on: The errors to retry: an :class:`Exception` subclass, a tuple of them, or a predicate.
        attempts: The total number of attempts, counting the first; ``None`` needs a deadline.
        deadline: Seconds from the start of the loop after which no new attempt starts.
        wait_initial: The backoff cap before the first retry.
        wait_max: The largest backoff wait.
        wait_exp_base: The factor the backoff cap grows by per retry.
        jitter: How the backoff is randomised; see :class:`Jitter`.
        hint: Reads the wait an error asks for; ``None`` ignores hints.
        max_hint: The longest hinted wait honoured; ``None`` means ``wait_max``.
        budget: A shared :class:`~commerce_kit.RetryBudget` that must allow each retry.
        hooks: Callables receiving :class:`RetryScheduled` and :class:`RetryGaveUp` events.
        name: The name events and notes use.
        clock: Monotonic seconds, read only when a deadline or hooks need the time.
        sleep: Waits between attempts of a ``for`` loop.
        asleep: Waits between attempts of an ``async for`` loop.
        random: Returns floats in ``[0, 1)`` for the jitter.

    Returns:
        A reusable iterable of attempts.

    Raises:
        TypeError: ``on`` names something other than :class:`Exception` subclasses.
        ValueError: An argument is out of range or ``attempts=None`` lacks a deadline.

    Example:
        >>> from commerce_kit import retrying
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> replies = [TimeoutError(), "stock: 7"]
        >>> for attempt in retrying(on=TimeoutError, jitter="none", sleep=clock.sleep):
        ...     with attempt:
        ...         reply = replies.pop(0)
        ...         if isinstance(reply, Exception):
        ...             raise reply
        >>> reply, attempt.number, clock.sleeps
        ('stock: 7', 2, [0.1])

    .. versionadded:: 0.1.0
    """
    policy = _make_policy(
        on=on,
        attempts=attempts,
        deadline=deadline,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_exp_base=wait_exp_base,
        jitter=jitter,
        max_hint=max_hint,
        hint=hint,
        budget=budget,
        idempotent=True,
        idempotency_key=None,
        hooks=hooks,
        clock=clock,
        sleep=sleep,
        asleep=asleep,
        random=random,
    )
    return RetryLoop._create(policy, name)  # noqa: SLF001 - same module
