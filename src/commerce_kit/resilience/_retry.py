"""Retrying transient failures: capped exponential backoff with jitter, with every stop bounded.

A retried call stops at the first of: success, an error that does not match ``on``, the attempt
limit, a wait that would pass the deadline, a server hint longer than ``max_hint``, a missing
idempotency key, or an exhausted :class:`~commerce_kit.RetryBudget`.

One frozen :class:`RetryPolicy` holds the configuration, validated once; :func:`retry` and
:func:`retrying` build one from the same keyword options (:class:`RetryOptions`). The policy
drives the decision core (``_retry_core.FailedCall``) through three faces that only call, sleep
and re-raise: the sync wrapper, the async wrapper and the :class:`RetryLoop`. The success path
does no work beyond a ``try``: no clock read unless a deadline or hooks need one, no allocation,
no lock unless a budget counts the call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Literal, ParamSpec, TypedDict, TypeVar, cast

from commerce_kit._duration import to_finite, to_seconds
from commerce_kit._types import AsyncSleep, Clock, Sleep
from commerce_kit.resilience._matchers import (
    ExceptionMatcher,
    exception_matcher,
    is_async_callable,
)
from commerce_kit.resilience._retry_budget import RetryBudget
from commerce_kit.resilience._retry_core import FailedCall, Jitter, catch_of
from commerce_kit.resilience._retry_events import RetryHook

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Attempt",
    "RetryLoop",
    "RetryOptions",
    "RetryPolicy",
    "retry",
    "retry_after_hint",
    "retrying",
]

P = ParamSpec("P")
T = TypeVar("T")


def retry_after_hint(error: Exception) -> float | None:
    """Return the wait an error asks for through a numeric ``retry_after`` attribute.

    This is the default ``hint=`` of :class:`RetryPolicy`. :class:`~commerce_kit.CircuitOpenError`,
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
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range: a wait longer than any max_hint
            return math.inf if value > 0 else -math.inf
    return None


class RetryOptions(TypedDict, total=False):
    """The keyword options of :func:`~commerce_kit.retry` and :func:`~commerce_kit.retrying`.

    Every key is optional; :class:`~commerce_kit.RetryPolicy`, which takes them too, documents
    what each one means and its default. Use it to type your own function that passes options
    through::

        def resilient(**options: Unpack[RetryOptions]) -> RetryPolicy:
            return RetryPolicy(on=ConnectionError, **options)

    .. versionadded:: 0.2.0
    """

    attempts: int | None
    deadline: float | timedelta | None
    wait_initial: float | timedelta
    wait_max: float | timedelta
    wait_exp_base: float
    jitter: Jitter | Literal["full", "equal", "none", "decorrelated"]
    hint: Callable[[Exception], float | timedelta | None] | None
    max_hint: float | timedelta | None
    budget: RetryBudget | None
    idempotent: bool
    idempotency_key: Callable[..., object] | None
    hooks: Iterable[RetryHook]
    clock: Clock
    sleep: Sleep
    asleep: AsyncSleep
    random: Callable[[], float]


_OPTIONS = frozenset(RetryOptions.__annotations__)


def _callable(value: object, name: str, *, optional: bool = False) -> None:
    if not (callable(value) or (optional and value is None)):
        what = "a callable or None" if optional else "a callable"
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")


def _attempts(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise TypeError(f"attempts must be an int >= 1 or None, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"attempts must be an int >= 1 or None, got {value!r}")
    return value


def _jitter(value: object) -> Jitter:
    if isinstance(value, Jitter):
        return value
    choices = ", ".join(repr(j.value) for j in Jitter)
    if not isinstance(value, str):
        raise TypeError(f"jitter must be a Jitter or one of {choices}, got {type(value).__name__}")
    try:
        return Jitter(value)
    except ValueError:
        raise ValueError(f"jitter must be one of {choices}, got {value!r}") from None


def _hooks(value: object) -> tuple[RetryHook, ...]:
    if callable(value) or not isinstance(value, Iterable):
        raise TypeError(
            f"hooks must be an iterable of callables (put a single hook in a list), "
            f"got {type(value).__name__}"
        )
    hooks = tuple(value)
    for hook in hooks:
        _callable(hook, "each hook")
    return cast("tuple[RetryHook, ...]", hooks)


@dataclass(frozen=True, slots=True, init=False)
class RetryPolicy:
    """How to retry: which errors, how often, how long to wait, and what bounds the whole call.

    Build one when several functions or blocks share a policy, and apply it with
    :meth:`decorate` (a decorator) or :meth:`retrying` (a loop over a block); :func:`retry` and
    :func:`retrying` build one from the same options for a single use. Every argument is
    validated here, once, and kept normalised (durations in float seconds, ``jitter`` as a
    :class:`Jitter`, ``hooks`` as a tuple); the policy never changes afterwards.
    :func:`dataclasses.replace` derives a variant and validates it again.

    Args:
        on: The errors to retry: an :class:`Exception` subclass, a tuple of them, or a predicate
            ``(error) -> bool`` (see :data:`~commerce_kit.typing.ExceptionMatcher`). There is
            no default; say what is transient. Kept as a tuple of types, or as the predicate.
        attempts: The total number of calls, counting the first: ``3`` (the default) means one
            call and at most two retries. ``None`` means no limit, which needs a ``deadline``.
        deadline: Seconds (or a timedelta) from the start of the call after which no new attempt
            starts: a retry whose wait would end at or past it is not made, and the last error is
            raised at once instead of sleeping. An attempt in flight is not interrupted, so the
            call ends within ``deadline`` plus the duration of one attempt. ``None`` (the
            default) means none.
        wait_initial: The backoff cap before the first retry; ``0.1`` seconds by default.
        wait_max: The largest backoff wait; ``5.0`` seconds by default.
        wait_exp_base: The factor the backoff cap grows by per retry (at least 1); ``2.0``.
        jitter: How the backoff is randomised; see :class:`Jitter`. ``"full"`` by default.
        hint: Reads the wait an error asks for (by default :func:`retry_after_hint`), or
            ``None`` to ignore hints.
        max_hint: The longest hinted wait honoured; a longer hint gives up at once. ``None``
            (the default) means ``wait_max``.
        budget: A :class:`~commerce_kit.RetryBudget`, shared between functions calling the same
            service, that must allow each retry; every call is counted in it.
        idempotent: Whether calling twice is harmless (the default). With ``False`` a call is
            retried only if it carries an idempotency key, and otherwise raises
            :class:`~commerce_kit.NonIdempotentRetryError` instead of retrying. A block run by
            :meth:`retrying` has no arguments to carry a key, so it needs ``True``.
        idempotency_key: With ``idempotent=False``, a function of the call's arguments returning
            its key; by default the call's ``idempotency_key`` keyword argument. A key of
            ``None`` or ``""`` counts as missing.
        hooks: Callables receiving a :class:`~commerce_kit.RetryScheduled` before each wait and a
            :class:`~commerce_kit.RetryGaveUp` when retrying stops; what they raise is logged on
            the ``commerce_kit.retry`` logger, not propagated.
        clock: Monotonic seconds, read only when a deadline or hooks need the time.
        sleep: Waits between attempts of a plain function or a ``for`` loop.
        asleep: Waits between attempts of an ``async def`` function or an ``async for`` loop.
        random: Returns floats in ``[0, 1)`` for the jitter; inject a seeded one in tests.

    Raises:
        TypeError: An argument has the wrong type (``attempts="3"``, ``on`` naming something
            other than :class:`Exception` subclasses, a ``clock`` that is not callable), or an
            unknown option is given.
        ValueError: An argument is out of range, ``attempts=None`` lacks a deadline, or
            ``idempotency_key`` is given without ``idempotent=False``.

    Example:
        >>> from commerce_kit import RetryPolicy
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> psp = RetryPolicy(on=ConnectionError, jitter="none", clock=clock, sleep=clock.sleep)
        >>> replies = [ConnectionError("reset"), "charged"]
        >>> @psp.decorate
        ... def charge():
        ...     reply = replies.pop(0)
        ...     if isinstance(reply, Exception):
        ...         raise reply
        ...     return reply
        >>> charge(), clock.sleeps
        ('charged', [0.1])

    .. versionadded:: 0.2.0
    """

    on: tuple[type[Exception], ...] | Callable[[Exception], bool]
    attempts: int | None
    deadline: float | None
    wait_initial: float
    wait_max: float
    wait_exp_base: float
    jitter: Jitter
    hint: Callable[[Exception], float | timedelta | None] | None
    max_hint: float | None
    budget: RetryBudget | None
    idempotent: bool
    idempotency_key: Callable[..., object] | None
    hooks: tuple[RetryHook, ...]
    clock: Clock
    sleep: Sleep
    asleep: AsyncSleep
    random: Callable[[], float]

    def __init__(self, *, on: ExceptionMatcher, **options: Unpack[RetryOptions]) -> None:
        unknown = options.keys() - _OPTIONS
        if unknown:
            raise TypeError(f"unknown retry option {min(unknown)!r}")
        types, predicate = exception_matcher(on, name="on")
        deadline = options.get("deadline")
        deadline_s = None if deadline is None else to_seconds(deadline, name="deadline")
        attempts = _attempts(options.get("attempts", 3))
        if attempts is None and deadline_s is None:
            raise ValueError("attempts=None needs a deadline, or the retries never end")
        max_hint = options.get("max_hint")
        hint = options.get("hint", retry_after_hint)
        _callable(hint, "hint", optional=True)
        budget = options.get("budget")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, got {type(budget).__name__}")
        idempotent = options.get("idempotent", True)
        if type(idempotent) is not bool:
            raise TypeError(f"idempotent must be a bool, got {type(idempotent).__name__}")
        key = options.get("idempotency_key")
        _callable(key, "idempotency_key", optional=True)
        if key is not None and idempotent:
            raise ValueError("idempotency_key is only consulted with idempotent=False")
        clock = options.get("clock", time.monotonic)
        sleep = options.get("sleep", time.sleep)
        asleep = options.get("asleep", asyncio.sleep)
        random = options.get("random", _random.random)
        _callable(clock, "clock")
        _callable(sleep, "sleep")
        _callable(asleep, "asleep")
        _callable(random, "random")
        fields: dict[str, object] = {
            "on": types if predicate is None else predicate,
            "attempts": attempts,
            "deadline": deadline_s,
            "wait_initial": to_seconds(
                options.get("wait_initial", 0.1), name="wait_initial", allow_zero=True
            ),
            "wait_max": to_seconds(options.get("wait_max", 5.0), name="wait_max", allow_zero=True),
            "wait_exp_base": to_finite(
                options.get("wait_exp_base", 2.0), name="wait_exp_base", minimum=1
            ),
            "jitter": _jitter(options.get("jitter", Jitter.FULL)),
            "hint": hint,
            "max_hint": (
                None if max_hint is None else to_seconds(max_hint, name="max_hint", allow_zero=True)
            ),
            "budget": budget,
            "idempotent": idempotent,
            "idempotency_key": key,
            "hooks": _hooks(options.get("hooks", ())),
            "clock": clock,
            "sleep": sleep,
            "asleep": asleep,
            "random": random,
        }
        for field, value in fields.items():
            object.__setattr__(self, field, value)  # a frozen dataclass sets its fields so

    def decorate(self, fn: Callable[P, T], /, *, name: str | None = None) -> Callable[P, T]:
        """Return ``fn`` retried under this policy, with the same signature.

        Usable as a bare decorator (``@policy.decorate``). Plain functions are retried with
        ``sleep``; ``async def`` functions, and objects whose ``__call__`` is ``async def``, with
        ``asleep``. See :func:`retry` for what a retried call does.

        Args:
            fn: The function to retry.
            name: The name events and notes use; by default the function's module and qualified
                name.

        Returns:
            The retrying function.

        Raises:
            TypeError: ``fn`` is a generator function.

        .. versionadded:: 0.2.0
        """
        return _decorate(self, fn, name)

    def retrying(self, *, name: str = "<block>") -> RetryLoop:
        """Return a loop that retries a block of code under this policy; see :func:`retrying`.

        Args:
            name: The name events and notes use.

        Returns:
            A reusable iterable of :class:`Attempt`.

        Raises:
            ValueError: The policy says ``idempotent=False``: a block has no arguments to carry
                an idempotency key, so decide before the loop whether it may run twice.

        .. versionadded:: 0.2.0
        """
        if not self.idempotent:
            raise ValueError(
                "a retried block has no arguments to carry an idempotency key: use a policy "
                "with idempotent=True, and decide before the loop whether the block may run twice"
            )
        return RetryLoop._create(self, name)  # noqa: SLF001 - same module


def _function_name(fn: Callable[..., object]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    qualname: str | None = getattr(fn, "__qualname__", None)
    module: str | None
    if qualname is None:  # an instance with a __call__: name it by its class
        qualname = type(fn).__qualname__
        module = type(fn).__module__
    else:
        module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


def _decorate(policy: RetryPolicy, fn: Callable[P, T], name: str | None) -> Callable[P, T]:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            "retry cannot wrap a generator function: calling it only creates the generator, "
            "which never fails; retry the function that consumes it instead"
        )
    fn_name = name if name is not None else _function_name(fn)
    catch = catch_of(policy.on)
    budget = policy.budget
    timed = policy.deadline is not None or bool(policy.hooks)
    clock = policy.clock

    if is_async_callable(fn):
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
                call = FailedCall(policy, fn_name, start, args, kwargs)
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
                call.last = None  # see FailedCall.last

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
            call = FailedCall(policy, fn_name, start, args, kwargs)
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
            call.last = None  # see FailedCall.last

    return retry_sync


def retry(
    *, on: ExceptionMatcher, name: str | None = None, **options: Unpack[RetryOptions]
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Retry the decorated function when it raises a matching error, with jittered backoff.

    Works on plain and ``async def`` functions alike and keeps their signature. A call returns
    the first successful result. An error that does not match ``on`` is raised at once,
    untouched; so is any :class:`BaseException` that is not an :class:`Exception`
    (``KeyboardInterrupt``, ``asyncio.CancelledError``). A matching error is retried after a
    wait, until one of the limits stops it; then the **last error is re-raised as is**: the
    same object, with a note saying why retrying stopped (one per retried function: a later
    give-up on the same instance replaces it), and the previous attempt's error chained as its
    ``__context__`` so tracebacks show every attempt.

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

    ``retry(on=..., **options)`` is ``RetryPolicy(on=..., **options).decorate``: to share one
    policy between several functions, build the :class:`RetryPolicy` once.

    Args:
        on: The errors to retry: an :class:`Exception` subclass, a tuple of them, or a predicate
            ``(error) -> bool``. There is no default; say what is transient.
        name: The name events and notes use; by default the function's module and qualified name.
        **options: The rest of the policy
            (:class:`~commerce_kit.typing.RetryOptions`): ``attempts``, ``deadline``,
            ``wait_initial``, ``wait_max``, ``wait_exp_base``, ``jitter``, ``hint``,
            ``max_hint``, ``budget``, ``idempotent``, ``idempotency_key``, ``hooks``, ``clock``,
            ``sleep``, ``asleep`` and ``random``, as :class:`RetryPolicy` describes them.

    Returns:
        A decorator that returns the retrying function with the same signature.

    Raises:
        TypeError: An option has the wrong type or is unknown, ``on`` names something other
            than :class:`Exception` subclasses, or the decorated function is a generator
            function.
        ValueError: An option is out of range (see :class:`RetryPolicy`).

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
    .. versionchanged:: 0.2.0
       The options are one typed keyword set shared with :func:`retrying` and
       :class:`RetryPolicy`; a wrong type (``attempts="3"``) raises :class:`TypeError`; objects
       with an ``async def __call__`` are retried as async; repeated give-ups on one exception
       instance keep one note.
    """
    policy = RetryPolicy(on=on, **options)

    def decorator(fn: Callable[P, T]) -> Callable[P, T]:
        return _decorate(policy, fn, name)

    return decorator


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
    """The iterator behind :class:`RetryLoop`: both faces over one :class:`FailedCall`."""

    __slots__ = ("_call", "_catch", "_state", "_wait")

    def __init__(self, policy: RetryPolicy, name: str) -> None:
        if policy.budget is not None:
            policy.budget.deposit()
        timed = policy.deadline is not None or bool(policy.hooks)
        start = policy.clock() if timed else 0.0
        self._call = FailedCall(policy, name, start, (), {})
        self._catch = catch_of(policy.on)
        self._wait = 0.0
        self._state = 0  # 0: before the first attempt, 1: an attempt failed, 2: finished

    def ended(self, exc: BaseException | None) -> bool:
        """Record how an attempt ended; return whether to swallow its error."""
        wait = None
        if exc is not None and isinstance(exc, self._catch):
            wait = self._call.failed(exc)
        if wait is None:
            self._state = 2
            self._call.last = None  # see FailedCall.last
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
    _policy: RetryPolicy

    @classmethod
    def _create(cls, policy: RetryPolicy, name: str) -> RetryLoop:
        # Built by RetryPolicy.retrying() only: no public constructor to document or misuse.
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
    *, on: ExceptionMatcher, name: str = "<block>", **options: Unpack[RetryOptions]
) -> RetryLoop:
    """Retry a block of code rather than a whole function, with the same policy as :func:`retry`.

    Iterate over the result and run the block inside each :class:`Attempt`::

        for attempt in retrying(on=ConnectionError, deadline=5.0):
            with attempt:
                response = client.get(url)

    ``async for`` works the same way and waits with ``asleep``. The options mean what they mean
    for :func:`retry`, except that a block has no arguments and so no idempotency key: decide
    before the loop whether the block may run twice (``idempotent=False`` is refused).
    ``retrying(on=..., **options)`` is ``RetryPolicy(on=..., **options).retrying()``.

    Args:
        on: The errors to retry: an :class:`Exception` subclass, a tuple of them, or a predicate.
        name: The name events and notes use.
        **options: The rest of the policy
            (:class:`~commerce_kit.typing.RetryOptions`), as :class:`RetryPolicy` describes it.

    Returns:
        A reusable iterable of attempts.

    Raises:
        TypeError: An option has the wrong type or is unknown, or ``on`` names something other
            than :class:`Exception` subclasses.
        ValueError: An option is out of range, or ``idempotent=False`` is given.

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
    .. versionchanged:: 0.2.0
       The options are one typed keyword set shared with :func:`retry` and
       :class:`RetryPolicy`.
    """
    return RetryPolicy(on=on, **options).retrying(name=name)
