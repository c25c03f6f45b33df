"""The resilient payment pipeline: every payment method behind the same timeout, retry and breaker.

A payment goes through three layers, the same for every method, so a new method inherits them:

1. a **circuit breaker** per method (from a :class:`~commerce_kit.CircuitBreakerRegistry`), which
   fails fast with :class:`~commerce_kit.CircuitOpenError` while the method's provider is down;
2. inside it, **retries** (:func:`~commerce_kit.retry`) of transient failures with jittered
   exponential backoff, all within one overall deadline, reusing the request's idempotency key;
3. inside each attempt, a **timeout**: :func:`asyncio.wait_for` for the async face, a worker
   thread from a bounded pool for the sync face.

The breaker wraps the retries, not each attempt, so it counts *payments* that failed after every
retry. Counting attempts would let the specified threshold (3 failures) trip on ordinary noise: at
a 30% transient failure rate, 2.7% of payments fail three attempts in a row, and each such run
would shut the method for 30 seconds. Counting payments, noise almost never trips it
(0.027³ for three failed payments in a row), while an outage opens it after three payments.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import random as _random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeAlias, cast

from commerce_kit._duration import to_seconds
from commerce_kit._errors import (
    CircuitOpenError,
    PaymentDeclinedError,
    PaymentUnavailableError,
)
from commerce_kit._hooks import emit
from commerce_kit._types import AsyncSleep, Clock, Sleep
from commerce_kit.payments._models import (
    PaymentRequest,
    PaymentResult,
    RefundResult,
    check_refund,
)
from commerce_kit.payments._registry import PaymentMethodInfo, PaymentMethodRegistry, registry
from commerce_kit.payments._strategy import PaymentStrategy
from commerce_kit.resilience._circuit_breaker import CircuitBreaker
from commerce_kit.resilience._circuit_breaker_machine import CircuitState
from commerce_kit.resilience._circuit_breaker_registry import CircuitBreakerRegistry
from commerce_kit.resilience._retry import RetryPolicy
from commerce_kit.resilience._retry_core import Jitter

__all__ = [
    "PaymentAttempted",
    "PaymentEvent",
    "PaymentFinished",
    "PaymentGateway",
    "PaymentHook",
    "PaymentOperation",
    "PaymentOutcome",
]

_LOG = logging.getLogger("commerce_kit.payments")

#: What a provider raises when trying again may help.
_TRANSIENT: tuple[type[Exception], ...] = (PaymentUnavailableError, ConnectionError, TimeoutError)
_CLOSED_FOR_TRAFFIC = (CircuitState.OPEN, CircuitState.FORCED_OPEN)


class PaymentOperation(Enum):
    """Which operation of a payment method an event is about.

    .. versionadded:: 0.1.0
    """

    CHARGE = "charge"
    REFUND = "refund"


class PaymentOutcome(Enum):
    """How an attempt, or a whole payment operation, ended.

    .. versionadded:: 0.1.0
    """

    #: The provider charged (or refunded).
    SUCCEEDED = "succeeded"
    #: The provider declined; a business outcome, neither retried nor counted as a failure.
    DECLINED = "declined"
    #: A transient failure (the provider down, a 5xx) or an unexpected error.
    FAILED = "failed"
    #: The attempt ran past its timeout; its late answer, if any, is ignored.
    TIMED_OUT = "timed_out"
    #: The method's circuit breaker is open, so nothing was sent to the provider.
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PaymentAttempted:
    """Emitted after each attempt to reach a provider.

    Attributes:
        method: The payment method's name.
        operation: Charge or refund.
        attempt: The attempt's number, from 1.
        outcome: How the attempt ended.
        duration: Seconds the attempt took, by the gateway's clock.
        error: The name of the exception's type when the attempt failed; never its message,
            which may carry provider detail.

    .. versionadded:: 0.1.0
    """

    method: str
    operation: PaymentOperation
    attempt: int
    outcome: PaymentOutcome
    duration: float
    error: str | None


@dataclass(frozen=True, slots=True)
class PaymentFinished:
    """Emitted once per charge or refund, with its final outcome.

    Attributes:
        method: The payment method's name.
        operation: Charge or refund.
        outcome: How the operation ended; :attr:`PaymentOutcome.REJECTED` when the breaker
            was open.
        attempts: How many attempts reached for the provider (0 when rejected).
        duration: Seconds from the call to its answer, by the gateway's clock.
        error: The name of the raised exception's type, if one was raised.

    .. versionadded:: 0.1.0
    """

    method: str
    operation: PaymentOperation
    outcome: PaymentOutcome
    attempts: int
    duration: float
    error: str | None


#: Either event a payment hook receives.
PaymentEvent: TypeAlias = PaymentAttempted | PaymentFinished
#: A callable receiving payment events; what it raises is logged, never propagated.
PaymentHook: TypeAlias = Callable[[PaymentEvent], None]


class _Call:
    """The state of one charge or refund across its attempts."""

    __slots__ = ("args", "attempt", "fn", "key", "kwargs", "method", "operation", "start")

    def __init__(
        self,
        method: str,
        operation: PaymentOperation,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        kwargs: dict[str, Any],
        key: str,
    ) -> None:
        self.method = method
        self.operation = operation
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.key = key
        self.attempt = 0
        self.start: float | None = None


@dataclass(frozen=True, slots=True)
class _Declined:
    """A decline carried out of the breaker as a value: the provider answered, so it is healthy."""

    error: PaymentDeclinedError


def _key_of(call: _Call) -> str:
    return call.key


class PaymentGateway:
    """Charge and refund through any payment method, behind one timeout, retry and breaker policy.

    Every method, built in or plugged in, gets the same treatment: each attempt is bounded by
    ``attempt_timeout`` (and by what remains of ``deadline``); transient failures
    (:class:`~commerce_kit.payments.PaymentUnavailableError`, :class:`ConnectionError`,
    :class:`TimeoutError`) are retried up to ``attempts`` times with jittered exponential backoff
    while the deadline allows; and a circuit breaker per method opens after
    ``failure_threshold`` consecutive failed payments within ``window`` seconds, failing fast with
    :class:`~commerce_kit.CircuitOpenError` until ``reset_timeout`` has passed. A decline is a
    business answer: it is raised at once, never retried, and counts as a healthy response.

    Every attempt sends the same request, so the same idempotency key: a provider that
    deduplicates by key charges at most once, however many attempts were made. This is also what
    makes timeouts safe. A timed-out sync attempt keeps running in its worker thread (a thread
    cannot be interrupted); its late result is ignored, and if it charged, the next attempt with
    the same key receives that charge instead of making a second one. An attempt still queued for
    a worker when its timeout passes is cancelled before it starts.

    The sync face (:meth:`charge`, :meth:`refund`) runs attempts on a bounded pool of
    ``max_workers`` threads, started on first use and released by :meth:`close`; the async face
    (:meth:`acharge`, :meth:`arefund`) awaits the strategy's coroutine under
    :func:`asyncio.wait_for`. Both follow one policy and share the breakers. With a manual clock,
    an attempt that returns after more than its timeout has elapsed on that clock counts as timed
    out too, so tests see the timeout without waiting for it.

    Args:
        methods: Where payment method names are looked up; the default :data:`registry`.
        attempts: Attempts per charge or refund, counting the first (default 3).
        deadline: Seconds (or a timedelta) within which a charge or refund answers, retries
            included (default 5).
        attempt_timeout: Seconds (or a timedelta) one attempt may take (default 2), or ``None``
            to call the strategy inline with no timeout (the provider SDK's own timeout then
            bounds it).
        wait_initial: The backoff before the first retry (default 0.1 s).
        wait_max: The longest backoff (default 1 s).
        jitter: How backoff waits are randomised (see :class:`~commerce_kit.resilience.Jitter`).
        failure_threshold: Consecutive failed payments that open a method's breaker (default 3).
        window: Seconds (or a timedelta) within which those failures count (default 60).
        reset_timeout: Seconds (or a timedelta) a breaker stays open before a trial (default 30).
        breakers: A breaker registry to use instead of the gateway's own, for example one shared
            with other gateways; ``failure_threshold``, ``window`` and ``reset_timeout`` are then
            not used.
        max_workers: The size of the thread pool the sync face runs attempts on.
        hooks: Callables receiving :data:`PaymentEvent` objects; a hook that raises is logged.
        clock: Monotonic seconds; :class:`~commerce_kit.testing.ManualClock` in tests.
        sleep: Waits between sync attempts.
        asleep: Waits between async attempts.
        random: Floats in [0, 1) for the backoff jitter; pass a seeded generator's ``random``
            for reproducible waits.

    Raises:
        ValueError: A duration is not positive, or ``attempts``, ``failure_threshold`` or
            ``max_workers`` is below 1.

    Example:
        >>> from decimal import Decimal
        >>> from commerce_kit.payments import PaymentGateway, PaymentMethodRegistry, PaymentRequest
        >>> from commerce_kit.testing import ManualClock, SandboxCard
        >>> clock = ManualClock()
        >>> methods = PaymentMethodRegistry(entry_point_group=None)
        >>> card = methods.register(SandboxCard(failure_rate=0.5, seed=3))
        >>> with PaymentGateway(methods, clock=clock, sleep=clock.sleep) as gateway:
        ...     result = gateway.charge("card", PaymentRequest(Decimal("19.99"), "EUR", "o-1"))
        >>> result.amount, len(card.charges)
        (Decimal('19.99'), 1)

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``async_sleep=`` is renamed ``asleep=``, the name every component uses.
    """

    def __init__(
        self,
        methods: PaymentMethodRegistry = registry,
        *,
        attempts: int = 3,
        deadline: float | timedelta = 5.0,
        attempt_timeout: float | timedelta | None = 2.0,
        wait_initial: float | timedelta = 0.1,
        wait_max: float | timedelta = 1.0,
        jitter: Jitter | Literal["full", "equal", "none", "decorrelated"] = "full",
        failure_threshold: int = 3,
        window: float | timedelta = 60.0,
        reset_timeout: float | timedelta = 30.0,
        breakers: CircuitBreakerRegistry | None = None,
        max_workers: int = 16,
        hooks: Iterable[PaymentHook] = (),
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        asleep: AsyncSleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
        self._methods = methods
        self._deadline = to_seconds(deadline, name="deadline")
        self._attempt_timeout = (
            None if attempt_timeout is None else to_seconds(attempt_timeout, name="attempt_timeout")
        )
        if breakers is None:
            make_breaker = functools.partial(
                CircuitBreaker,
                failure_threshold=failure_threshold,
                window=window,
                reset_timeout=reset_timeout,
                consecutive=True,
                failure_on=_TRANSIENT,
                clock=clock,
            )
            # Breakers are made on first use of a method: build one now so a bad threshold,
            # window or reset timeout is refused here, not on every charge.
            make_breaker("commerce_kit.payments")
            breakers = CircuitBreakerRegistry(make_breaker)
        self._breakers = breakers
        self._hooks = tuple(hooks)
        self._clock = clock
        self._max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # One policy for both faces: the same decorator wraps the sync and the async attempt.
        # idempotent=False makes the retry refuse to repeat a call that carries no key.
        policy = RetryPolicy(
            on=_TRANSIENT,
            attempts=attempts,
            deadline=self._deadline,
            wait_initial=wait_initial,
            wait_max=wait_max,
            jitter=jitter,
            idempotent=False,
            idempotency_key=_key_of,
            clock=clock,
            sleep=sleep,
            asleep=asleep,
            random=random,
        )
        self._retried_sync = policy.decorate(self._attempt_sync, name="commerce_kit.payments")
        self._retried_async = policy.decorate(self._attempt_async, name="commerce_kit.payments")

    def __repr__(self) -> str:
        return (
            f"PaymentGateway(deadline={self._deadline!r}, "
            f"attempt_timeout={self._attempt_timeout!r})"
        )

    # -- the public faces ------------------------------------------------------------------------
    def charge(self, method: str | PaymentStrategy, request: PaymentRequest) -> PaymentResult:
        """Charge ``request`` through ``method`` with timeout, retries and the method's breaker.

        Args:
            method: A registered method's name, or a strategy object.
            request: What to charge; its idempotency key is sent on every attempt.

        Returns:
            The provider's answer.

        Raises:
            PaymentDeclinedError: The provider declined.
            PaymentUnavailableError: Every attempt failed transiently or timed out, or the
                deadline passed.
            CircuitOpenError: The method's breaker is open; nothing was sent.
            UnknownPaymentMethodError: ``method`` is not registered.
        """
        strategy = self._strategy(method)
        call = _Call(
            strategy.name,
            PaymentOperation.CHARGE,
            strategy.charge,
            (request,),
            kwargs={},
            key=request.idempotency_key,
        )
        return cast("PaymentResult", self._run(call))

    async def acharge(
        self, method: str | PaymentStrategy, request: PaymentRequest
    ) -> PaymentResult:
        """Async face of :meth:`charge`: the same policy, awaiting the strategy's ``acharge``.

        Args:
            method: A registered method's name, or a strategy object.
            request: What to charge.

        Returns:
            The provider's answer.
        """
        strategy = self._strategy(method)
        call = _Call(
            strategy.name,
            PaymentOperation.CHARGE,
            strategy.acharge,
            (request,),
            kwargs={},
            key=request.idempotency_key,
        )
        return cast("PaymentResult", await self._arun(call))

    def refund(
        self,
        method: str | PaymentStrategy,
        payment_id: str,
        amount: Decimal,
        *,
        idempotency_key: str,
    ) -> RefundResult:
        """Refund ``amount`` of ``payment_id`` with timeout, retries and the method's breaker.

        Args:
            method: The method the payment was made with (a name, or a strategy object).
            payment_id: The payment to refund.
            amount: How much to return.
            idempotency_key: Sent on every attempt, so the refund happens at most once.

        Returns:
            The provider's answer.

        Raises:
            PaymentDeclinedError: The provider refused the refund.
            PaymentUnavailableError: Every attempt failed transiently or timed out.
            CircuitOpenError: The method's breaker is open; nothing was sent.
            UnknownPaymentMethodError: ``method`` is not registered.
            TypeError: ``amount`` is not a Decimal; nothing was sent.
            ValueError: ``amount`` is not positive, or ``payment_id`` or ``idempotency_key`` is
                empty; nothing was sent.
        """
        check_refund(payment_id, amount, idempotency_key)
        strategy = self._strategy(method)
        call = _Call(
            strategy.name,
            PaymentOperation.REFUND,
            strategy.refund,
            (payment_id, amount),
            kwargs={"idempotency_key": idempotency_key},
            key=idempotency_key,
        )
        return cast("RefundResult", self._run(call))

    async def arefund(
        self,
        method: str | PaymentStrategy,
        payment_id: str,
        amount: Decimal,
        *,
        idempotency_key: str,
    ) -> RefundResult:
        """Async face of :meth:`refund`: the same policy, awaiting the strategy's ``arefund``.

        Args:
            method: The method the payment was made with.
            payment_id: The payment to refund.
            amount: How much to return.
            idempotency_key: Sent on every attempt.

        Returns:
            The provider's answer.

        Raises:
            The same errors as :meth:`refund`.
        """
        check_refund(payment_id, amount, idempotency_key)
        strategy = self._strategy(method)
        call = _Call(
            strategy.name,
            PaymentOperation.REFUND,
            strategy.arefund,
            (payment_id, amount),
            kwargs={"idempotency_key": idempotency_key},
            key=idempotency_key,
        )
        return cast("RefundResult", await self._arun(call))

    def breaker(self, method: str) -> CircuitBreaker:
        """Return the circuit breaker guarding ``method``, for inspection or manual control.

        Args:
            method: A payment method's name.

        Returns:
            The method's breaker (made on first use).
        """
        return self._breakers.get(method)

    def available(self) -> tuple[PaymentMethodInfo, ...]:
        """Return the registered methods a checkout should offer now: those not failing fast.

        A method whose breaker is open is left out until its reset timeout passes; it comes
        back, half-open, in time for a trial payment.

        Returns:
            ``(name, display_name)`` of each method, in registration order.
        """
        breakers = self._breakers
        return tuple(
            info
            for info in self._methods.available()
            if breakers.get(info.name).state not in _CLOSED_FOR_TRAFFIC
        )

    def close(self) -> None:
        """Release the worker threads of the sync face; a later sync call starts new ones.

        Attempts still running are not interrupted; queued ones are cancelled.
        """
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> PaymentGateway:  # noqa: PYI034 - typing.Self is Python 3.11+
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one policy, two faces -------------------------------------------------------------------
    def _strategy(self, method: str | PaymentStrategy) -> PaymentStrategy:
        return self._methods.get(method) if isinstance(method, str) else method

    def _run(self, call: _Call) -> object:
        try:
            outcome = self._breakers.get(call.method).call(self._retried_sync, call)
        except Exception as error:
            failure = self._failed(call, error)
            if failure is error:
                raise
            raise failure from error
        return self._succeeded(call, outcome)

    async def _arun(self, call: _Call) -> object:
        try:
            outcome = await self._breakers.get(call.method).acall(self._retried_async, call)
        except Exception as error:
            failure = self._failed(call, error)
            if failure is error:
                raise
            raise failure from error
        return self._succeeded(call, outcome)

    def _attempt_sync(self, call: _Call) -> object:
        started, timeout = self._begin(call)
        try:
            if timeout is None:
                result = call.fn(*call.args, **call.kwargs)
            else:
                result = self._in_worker(call, timeout)
        except PaymentDeclinedError as error:
            # Returned, not raised: the retry has nothing to do with it and the breaker sees a
            # provider that answered. _succeeded raises it once outside both.
            self._attempt_failed(call, started, error)
            return _Declined(error)
        except Exception as error:
            self._attempt_failed(call, started, error)
            raise
        return self._attempt_ended(call, started, timeout, result)

    async def _attempt_async(self, call: _Call) -> object:
        started, timeout = self._begin(call)
        try:
            if timeout is None:
                result = await call.fn(*call.args, **call.kwargs)
            else:
                try:
                    result = await asyncio.wait_for(call.fn(*call.args, **call.kwargs), timeout)
                except asyncio.TimeoutError:
                    # Python 3.10's asyncio.TimeoutError is not the builtin one; retries expect it.
                    raise TimeoutError(
                        f"{call.method} {call.operation.value} attempt {call.attempt} "
                        f"timed out after {timeout:.3f}s"
                    ) from None
        except PaymentDeclinedError as error:
            self._attempt_failed(call, started, error)
            return _Declined(error)
        except Exception as error:
            self._attempt_failed(call, started, error)
            raise
        return self._attempt_ended(call, started, timeout, result)

    def _begin(self, call: _Call) -> tuple[float, float | None]:
        """Number the attempt and return when it starts and how long it may take."""
        call.attempt += 1
        limit = self._attempt_timeout
        if limit is None and not self._hooks:
            return 0.0, None  # nothing will read the time: spare the clock
        now = self._clock()
        if call.start is None:
            call.start = now
        if limit is None:
            return now, None
        # Never past the deadline: a hung provider must not hold the caller beyond it.
        remaining = self._deadline - (now - call.start)
        return now, min(limit, max(remaining, 0.0))

    def _in_worker(self, call: _Call, timeout: float) -> object:
        pool = self._pool
        if pool is None:
            pool = self._start_pool()
        context = contextvars.copy_context()
        future = pool.submit(context.run, call.fn, *call.args, **call.kwargs)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            # Abandon the attempt: a queued one never starts; a running one finishes on its own
            # and its result is dropped. The retry reuses the key, so a late charge is not doubled.
            future.cancel()
            raise TimeoutError(
                f"{call.method} {call.operation.value} attempt {call.attempt} "
                f"timed out after {timeout:.3f}s"
            ) from None

    def _start_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="commerce_kit-payments"
                )
            return self._pool

    def _attempt_ended(
        self, call: _Call, started: float, timeout: float | None, result: object
    ) -> object:
        if timeout is not None or self._hooks:
            duration = self._clock() - started
            if timeout is not None and duration > timeout:
                # Seen only with a clock that is not wall time (a ManualClock in tests): the
                # answer came after the timeout, so it is dropped as a real timeout would drop it.
                error = TimeoutError(
                    f"{call.method} {call.operation.value} attempt {call.attempt} "
                    f"answered after {duration:.3f}s, past its {timeout:.3f}s timeout"
                )
                self._attempt_failed(call, started, error)
                raise error
            if self._hooks:
                self._emit(
                    PaymentAttempted(
                        call.method,
                        call.operation,
                        call.attempt,
                        PaymentOutcome.SUCCEEDED,
                        duration,
                        None,
                    )
                )
        return result

    def _attempt_failed(self, call: _Call, started: float, error: Exception) -> None:
        outcome = _outcome_of(error)
        if outcome is PaymentOutcome.DECLINED:
            _LOG.info(
                "payment %s via %r declined on attempt %d",
                call.operation.value,
                call.method,
                call.attempt,
            )
        else:
            _LOG.warning(
                "payment %s via %r attempt %d %s (%s)",
                call.operation.value,
                call.method,
                call.attempt,
                outcome.value,
                type(error).__name__,
            )
        if self._hooks:
            self._emit(
                PaymentAttempted(
                    call.method,
                    call.operation,
                    call.attempt,
                    outcome,
                    self._clock() - started,
                    type(error).__name__,
                )
            )

    def _succeeded(self, call: _Call, outcome: object) -> object:
        if isinstance(outcome, _Declined):
            raise self._failed(call, outcome.error)
        if self._hooks:
            self._finished(call, PaymentOutcome.SUCCEEDED, None)
        return outcome

    def _failed(self, call: _Call, error: Exception) -> Exception:
        """Return the exception the caller sees for ``error``, after reporting it."""
        if isinstance(error, CircuitOpenError):
            _LOG.warning(
                "payment %s via %r rejected: circuit open for %.1fs more",
                call.operation.value,
                call.method,
                error.retry_after,
            )
            outcome = PaymentOutcome.REJECTED
        else:
            outcome = _outcome_of(error)
        if self._hooks:
            self._finished(call, outcome, error)
        if isinstance(error, (ConnectionError, TimeoutError)):
            # Callers catch PaymentError; the builtin stays chained as the cause, for logs.
            return PaymentUnavailableError(
                f"{call.method} {call.operation.value} failed after {call.attempt} attempt(s): "
                f"{type(error).__name__}",
                method=call.method,
            )
        if isinstance(error, (PaymentUnavailableError, PaymentDeclinedError)) and not error.method:
            error.method = call.method
        return error

    def _finished(self, call: _Call, outcome: PaymentOutcome, error: Exception | None) -> None:
        start = call.start
        duration = 0.0 if start is None else self._clock() - start
        self._emit(
            PaymentFinished(
                call.method,
                call.operation,
                outcome,
                call.attempt,
                duration,
                None if error is None else type(error).__name__,
            )
        )

    def _emit(self, event: PaymentEvent) -> None:
        emit(self._hooks, event, _LOG)


def _outcome_of(error: Exception) -> PaymentOutcome:
    if isinstance(error, PaymentDeclinedError):
        return PaymentOutcome.DECLINED
    if isinstance(error, TimeoutError):
        return PaymentOutcome.TIMED_OUT
    return PaymentOutcome.FAILED
