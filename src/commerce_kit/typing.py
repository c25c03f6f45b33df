"""Public types and protocols shared across commerce_kit.

Import them for annotations in your own code; they never change behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from decimal import Decimal

    from commerce_kit.feeds._limits import FeedLimits
    from commerce_kit.feeds._record import FeedRecord
    from commerce_kit.payments._models import PaymentRequest, PaymentResult, RefundResult
    from commerce_kit.resilience._rate_limit_policy import RateLimitDecision

__all__ = [
    "AsyncSleep",
    "Clock",
    "FeedAdapter",
    "FeedSource",
    "PaymentStrategy",
    "RateLimitStore",
    "Sleep",
]

#: A zero-argument callable returning monotonic seconds, such as :func:`time.monotonic` or
#: :class:`commerce_kit.testing.ManualClock`.
Clock: TypeAlias = Callable[[], float]

#: A callable that blocks for the given number of seconds, such as :func:`time.sleep`.
Sleep: TypeAlias = Callable[[float], None]

#: An awaitable sleep, such as :func:`asyncio.sleep`.
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]


# -- payments ------------------------------------------------------------------------------------
@runtime_checkable
class PaymentStrategy(Protocol):
    """A payment method a checkout can charge through: a card processor, a wallet, crypto.

    A strategy offers the same operations to sync and asyncio callers. Write only the sync face by
    subclassing :class:`commerce_kit.payments.SyncPaymentStrategy` (the async face then runs it in
    a worker thread), or implement all four methods natively.

    Contract:

    * :attr:`name` is the registry key (``"card"``); :attr:`display_name` is what a checkout page
      shows (``"Credit or debit card"``). Both are fixed for the strategy's lifetime.
    * A charge or refund repeated with the same idempotency key must not move money twice: the
      provider (or the strategy) answers the repeat with the first outcome. Retries rely on it.
    * A decline, a business outcome that retrying cannot change, raises
      :class:`~commerce_kit.PaymentDeclinedError`.
    * A transient failure (provider down, timeout, 5xx) raises
      :class:`~commerce_kit.PaymentUnavailableError`, or the builtin :class:`ConnectionError` or
      :class:`TimeoutError`; these are retried.
    * Nothing raised or logged carries a card number or a secret.

    .. versionadded:: 0.1.0
    """

    @property
    def name(self) -> str:
        """The registry key, such as ``"card"``."""
        ...

    @property
    def display_name(self) -> str:
        """The label a checkout page shows, such as ``"Credit or debit card"``."""
        ...

    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Charge ``request.amount`` to ``request.source``, once per idempotency key.

        Raises:
            PaymentDeclinedError: The provider declined.
            PaymentUnavailableError: A transient failure; retrying may help.
        """
        ...

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        """Return ``amount`` of the payment ``payment_id``, once per idempotency key.

        Raises:
            PaymentDeclinedError: The refund was refused (unknown payment, more than remains).
            PaymentUnavailableError: A transient failure; retrying may help.
        """
        ...

    async def acharge(self, request: PaymentRequest) -> PaymentResult:
        """Async face of :meth:`charge`, with the same contract."""
        ...

    async def arefund(
        self, payment_id: str, amount: Decimal, *, idempotency_key: str
    ) -> RefundResult:
        """Async face of :meth:`refund`, with the same contract."""
        ...


# -- feeds ---------------------------------------------------------------------------------------
class _SupportsRead(Protocol):
    def read(self, size: int, /) -> bytes | str: ...


#: What :func:`commerce_kit.feeds.parse_feed` reads: a path (``str`` or :class:`os.PathLike`),
#: the feed's content as ``bytes``, or a file object open in binary (or text) mode.
FeedSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | _SupportsRead
)


@runtime_checkable
class FeedAdapter(Protocol):
    """Reads one feed format into :class:`~commerce_kit.feeds.FeedRecord` objects.

    Register an adapter with :data:`commerce_kit.feeds.registry` (or publish it under the entry
    point group ``commerce_kit.feed_adapters``) and :func:`commerce_kit.feeds.parse_feed` reads
    its format, chosen by name, content type, file extension or sniffing.

    Contract:

    * :attr:`name` is the format's registry key (``"csv"``); :attr:`content_types` and
      :attr:`extensions` (lower case, with the dot: ``".csv"``) are what select it.
    * :meth:`parse` yields records lazily, in feed order, numbering them from 1 and giving the
      physical line each starts on; it reads the stream incrementally and never closes it.
    * It stays within ``limits`` (field size, record size, depth) and raises
      :class:`~commerce_kit.FeedLimitError` when the feed does not;
      :func:`~commerce_kit.feeds.parse_feed` itself enforces ``max_bytes`` and ``max_records``.
    * A record that cannot be read whole but leaves the rest readable is yielded with
      :attr:`~commerce_kit.feeds.FeedRecord.error` set; a feed that cannot be read on raises
      :class:`~commerce_kit.FeedFormatError`.
    * Optionally, a method ``sniff(head: bytes) -> float`` rates how sure the adapter is, from
      the feed's first bytes (up to 8 KiB), that the feed is in its format: ``0.0`` for no,
      ``1.0`` for certain. Formats are detected with it when nothing else says which to use.

    .. versionadded:: 0.1.0
    """

    @property
    def name(self) -> str:
        """The format's registry key, such as ``"csv"``."""
        ...

    @property
    def content_types(self) -> tuple[str, ...]:
        """The media types that select this format, such as ``("text/csv",)``."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """The file extensions that select this format, such as ``(".csv",)``."""
        ...

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield the feed's records, reading ``stream`` incrementally within ``limits``.

        Raises:
            FeedFormatError: The feed cannot be read on.
            FeedLimitError: The feed exceeds one of ``limits``.
        """
        ...


# -- rate limiting -------------------------------------------------------------------------------
class RateLimitStore(Protocol):
    """Where a :class:`~commerce_kit.RateLimiter` keeps per-key state.

    A store runs one operation per key atomically: it reads the key's state (``None`` when the
    key is unknown), calls ``op(state, now, cost)``, writes back the new state it returns (unless
    it is the very same object) and returns the decision. The operations are pure functions the
    limiter supplies; states are a float, a short tuple of numbers or a sorted list of floats, so
    a store in another process (a Redis Lua script) can run the same arithmetic. A store may drop
    a state whose ``reset_after`` has passed.

    A store that runs the decision elsewhere does not call ``op``: it reads ``op.action``
    (``"hit"``, ``"peek"`` or ``"refund"``) and ``op.policies`` (the limiter's
    :class:`~commerce_kit.RateLimit` tuple), which every operation the limiter passes carries,
    and runs the same step there, as :class:`~commerce_kit.redis.RedisRateLimitStore` does.

    The default store keeps state in process memory; see :class:`~commerce_kit.RateLimiter`.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       Operations carry ``action`` and ``policies``, so a store can map them onto a script.
    """

    def update(
        self,
        key: str,
        op: Callable[[Any, float, int], tuple[Any, RateLimitDecision]],
        now: float,
        cost: int,
        /,
    ) -> RateLimitDecision:
        """Run ``op`` on ``key``'s state atomically, store the result, return the decision."""
        ...

    async def aupdate(
        self,
        key: str,
        op: Callable[[Any, float, int], tuple[Any, RateLimitDecision]],
        now: float,
        cost: int,
        /,
    ) -> RateLimitDecision:
        """Async face of :meth:`update`."""
        ...

    def delete(self, key: str, /) -> None:
        """Forget ``key``."""
        ...

    async def adelete(self, key: str, /) -> None:
        """Async face of :meth:`delete`."""
        ...
