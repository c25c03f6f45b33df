"""The circuit breaker's decisions, as pure functions of (record, event, now).

Nothing here reads a clock, takes a lock or calls user code: :class:`CircuitBreaker` reads the
clock, feeds the result to these functions and swaps the returned record into its store. Sync and
async callers go through the same functions, so they cannot disagree.

A record is replaced, never mutated. When a function has nothing to change it returns the record
it was given (the same object), so callers can skip the write with an identity check, and every
closed record without pending failures is the single :data:`IDLE` object, so the hot path tests
``record is IDLE`` and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from commerce_kit.resilience._waits import wait_until


class CircuitState(enum.Enum):
    """The state of a circuit breaker.

    .. versionadded:: 0.1.0
    """

    #: Calls go through; failures are counted.
    CLOSED = "closed"
    #: Calls fail fast with :class:`~commerce_kit.CircuitOpenError` until the reset timeout passes.
    OPEN = "open"
    #: A bounded number of trial calls go through; their outcome closes or re-opens the circuit.
    HALF_OPEN = "half_open"
    #: Held open by :meth:`CircuitBreaker.force_open`: calls fail fast until closed by hand.
    FORCED_OPEN = "forced_open"
    #: Switched off by :meth:`CircuitBreaker.disable`: every call goes through, none is counted.
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """The state of one breaker that a :class:`BreakerStore` keeps: small, immutable, serialisable.

    Every field is a plain number, a tuple of numbers or a :class:`CircuitState` (whose ``value``
    is a string), so a shared store can write it as JSON or a hash. Times are readings of the
    breaker's clock; breakers that share a record across processes need a clock they agree on
    (such as :func:`time.time`).

    Attributes:
        state: The stored state. An ``OPEN`` record whose reset timeout has passed is reported as
            half-open; the record itself changes on the next call or state read.
        opened_at: When the circuit last opened (``OPEN``, ``HALF_OPEN`` and ``FORCED_OPEN``);
            ``0.0`` while closed or disabled. It also tells one half-open round from the next.
        failures: In count mode, the times of the counted failures not yet known to be older than
            the window, oldest first; never longer than ``failure_threshold - 1``.
        trials: Half-open trial calls in flight.
        trial_successes: Successful trial calls in the current half-open round.

    .. versionadded:: 0.1.0
    """

    state: CircuitState = CircuitState.CLOSED
    opened_at: float = 0.0
    failures: tuple[float, ...] = ()
    trials: int = 0
    trial_successes: int = 0


#: The closed record with nothing pending. Functions return this very object for that state.
IDLE = BreakerRecord()


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings the pure functions need (validated by :class:`CircuitBreaker`).

    ``failure_threshold`` is ``None`` in failure-rate mode: failures are then judged by the
    breaker's rolling window, which reports a trip with :attr:`Event.TRIP`.
    """

    failure_threshold: int | None
    window: float
    reset_timeout: float
    half_open_max_calls: int
    success_threshold: int
    consecutive: bool


class Admission(enum.Enum):
    """What :func:`acquire` decided about a call."""

    NORMAL = "normal"
    TRIAL = "trial"
    REJECTED = "rejected"


class Event(enum.Enum):
    """What happened, fed to :func:`step`."""

    SUCCESS = "success"  # a call admitted as NORMAL returned
    FAILURE = "failure"  # a call admitted as NORMAL failed (count mode keeps its time)
    TRIAL_SUCCESS = "trial_success"
    TRIAL_FAILURE = "trial_failure"
    TRIAL_RELEASE = "trial_release"  # a trial ended with an outcome that is not counted
    TRIP = "trip"  # the failure-rate window crossed its threshold
    OBSERVE = "observe"  # a state read: only makes the lazy OPEN -> HALF_OPEN move
    OPEN = "open"
    FORCE_OPEN = "force_open"
    CLOSE = "close"
    DISABLE = "disable"


def _opened(now: float) -> BreakerRecord:
    return BreakerRecord(CircuitState.OPEN, now)


def acquire(record: BreakerRecord, now: float, policy: Policy) -> tuple[BreakerRecord, Admission]:
    """Decide whether a call may start now, and return the record that results.

    Args:
        record: The current record.
        now: The clock reading.
        policy: The breaker's settings.

    Returns:
        The new record (``record`` itself when unchanged) and the admission.
    """
    state = record.state
    if state is CircuitState.CLOSED or state is CircuitState.DISABLED:
        return record, Admission.NORMAL
    if state is CircuitState.OPEN:
        if now >= record.opened_at + policy.reset_timeout:
            return BreakerRecord(CircuitState.HALF_OPEN, record.opened_at, (), 1), Admission.TRIAL
        return record, Admission.REJECTED
    if state is CircuitState.HALF_OPEN and record.trials < policy.half_open_max_calls:
        new = BreakerRecord(
            CircuitState.HALF_OPEN, record.opened_at, (), record.trials + 1, record.trial_successes
        )
        return new, Admission.TRIAL
    return record, Admission.REJECTED


def step(
    record: BreakerRecord,
    event: Event,
    now: float,
    policy: Policy,
    epoch: float = 0.0,
) -> BreakerRecord:
    """Return the record after ``event`` happened at ``now``.

    Args:
        record: The current record.
        event: What happened.
        now: The clock reading.
        policy: The breaker's settings.
        epoch: For trial events, the ``opened_at`` of the half-open round that admitted the
            trial; outcomes of an earlier round are ignored.

    Returns:
        The new record, or ``record`` itself when nothing changes.
    """
    state = record.state
    if event is Event.SUCCESS:
        if state is CircuitState.CLOSED and record.failures:
            if policy.consecutive:
                return IDLE
            return _keep_recent(record, now, policy.window)
        return record
    if event is Event.FAILURE:
        threshold = policy.failure_threshold
        if state is not CircuitState.CLOSED or threshold is None:
            return record
        window = policy.window
        recent = (*(t for t in record.failures if now < t + window), now)
        if len(recent) >= threshold:
            return _opened(now)
        return BreakerRecord(CircuitState.CLOSED, 0.0, recent)
    if event is Event.TRIP:
        return _opened(now) if state is CircuitState.CLOSED else record
    if event is Event.OBSERVE:
        if state is CircuitState.OPEN and now >= record.opened_at + policy.reset_timeout:
            return BreakerRecord(CircuitState.HALF_OPEN, record.opened_at)
        return record
    if event is Event.TRIAL_SUCCESS or event is Event.TRIAL_FAILURE or event is Event.TRIAL_RELEASE:
        if state is not CircuitState.HALF_OPEN or record.opened_at != epoch:
            return record  # the round that admitted this trial is over
        if event is Event.TRIAL_FAILURE:
            return _opened(now)
        trials = record.trials - 1
        successes = record.trial_successes
        if event is Event.TRIAL_SUCCESS:
            successes += 1
            if successes >= policy.success_threshold:
                return IDLE
        return BreakerRecord(CircuitState.HALF_OPEN, record.opened_at, (), trials, successes)
    if event is Event.OPEN:
        return _opened(now)
    if event is Event.FORCE_OPEN:
        return BreakerRecord(CircuitState.FORCED_OPEN, now)
    if event is Event.CLOSE:
        return IDLE
    return BreakerRecord(CircuitState.DISABLED)  # Event.DISABLE


def _keep_recent(record: BreakerRecord, now: float, window: float) -> BreakerRecord:
    recent = tuple(t for t in record.failures if now < t + window)
    if len(recent) == len(record.failures):
        return record
    return BreakerRecord(CircuitState.CLOSED, 0.0, recent) if recent else IDLE


def failures_in_window(record: BreakerRecord, now: float, policy: Policy) -> int:
    """Return how many of the record's counted failures are still inside the window at ``now``."""
    window = policy.window
    return sum(1 for t in record.failures if now < t + window)


def retry_after(record: BreakerRecord, now: float, policy: Policy) -> float:
    """Return the seconds until a call would be admitted, judged from ``record`` at ``now``.

    ``0.0`` when a call would be admitted now. Open: the time left until the reset timeout ends,
    such that ``now + retry_after`` is at or past it (see :func:`wait_until`).
    Half-open with every trial slot taken: ``reset_timeout``, the wait if the trial in flight
    fails now (it is shorter if the trial succeeds). Forced open: infinity.
    """
    state = record.state
    if state is CircuitState.OPEN:
        return wait_until(now, record.opened_at + policy.reset_timeout)
    if state is CircuitState.HALF_OPEN:
        return 0.0 if record.trials < policy.half_open_max_calls else policy.reset_timeout
    if state is CircuitState.FORCED_OPEN:
        return float("inf")
    return 0.0
