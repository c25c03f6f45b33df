"""What a retried call tells its hooks: one event before each wait, one when retrying stops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

__all__ = ["GiveUpReason", "RetryEvent", "RetryGaveUp", "RetryHook", "RetryScheduled"]


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
