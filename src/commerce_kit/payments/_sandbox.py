"""Sandbox payment providers: realistic fakes with failure injection, for tests and demos.

Each sandbox behaves like a real provider's test mode: it deduplicates by idempotency key, keeps a
ledger of the money it moved, honours magic test instruments that always decline, and can be told
to fail (an outage switch, a seeded random failure rate) or to be slow (a latency that passes
through an injectable sleep, so a :class:`~commerce_kit.testing.ManualClock` makes it instant).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import ClassVar, TypeVar

from commerce_kit._duration import to_seconds
from commerce_kit._errors import PaymentDeclinedError, PaymentError, PaymentUnavailableError
from commerce_kit._types import AsyncSleep, Sleep
from commerce_kit.payments._models import (
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    check_amount,
)

__all__ = [
    "LedgerEntry",
    "LedgerKind",
    "SandboxCard",
    "SandboxCrypto",
    "SandboxProvider",
    "SandboxWallet",
]


class LedgerKind(Enum):
    """Which way money moved in a sandbox ledger entry.

    .. versionadded:: 0.1.0
    """

    CHARGE = "charge"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement of money a sandbox made, for assertions in tests.

    Attributes:
        kind: A charge or a refund.
        entry_id: The payment id of a charge, the refund id of a refund.
        payment_id: The payment the entry belongs to (equal to :attr:`entry_id` for a charge).
        amount: The amount moved (positive for both kinds).
        currency: The ISO 4217 code of :attr:`amount`.
        idempotency_key: The key the operation was made under.
        order_id: The order the payment is for.

    .. versionadded:: 0.1.0
    """

    kind: LedgerKind
    entry_id: str
    payment_id: str
    amount: Decimal
    currency: str
    idempotency_key: str
    order_id: str


@dataclass(frozen=True, slots=True)
class _Declined:
    """A remembered decline, replayed as a fresh exception on a repeated idempotency key."""

    message: str
    decline_code: str


ResultT = TypeVar("ResultT", PaymentResult, RefundResult)


class SandboxProvider:
    """Base of the sandbox providers; subclass it to fake another kind of payment method.

    Every charge and refund runs one decision step under a lock (outage, idempotency replay,
    injected failure, declines, bookkeeping), then waits the configured latency through the
    injected sleep, then answers; the sync and async faces differ only in how they wait. A
    repeated idempotency key replays the first answer (a success or a decline) without moving
    money again, even while the first call is still "in flight".

    Every sandbox declines an amount equal to :attr:`DECLINE_AMOUNT` (402.00, after HTTP 402
    Payment Required) with ``decline_code="do_not_honor"``; subclasses add magic instruments.

    Args:
        name: The registry key; defaults to the class's :attr:`default_name`.
        display_name: The checkout label; defaults to the class's :attr:`default_display_name`.
        failure_rate: Probability in [0, 1] that a call fails transiently
            (:class:`~commerce_kit.payments.PaymentUnavailableError`) before any money moves.
        seed: Seeds the failure draws, so a run is reproducible.
        latency: How long each call takes, as seconds or a timedelta; waited through ``sleep``
            or ``asleep``.
        outage: Start with the provider down: every call fails transiently.
        sleep: Blocking sleep used by the sync face (pass ``ManualClock.sleep`` in tests).
        asleep: Awaitable sleep used by the async face (pass ``ManualClock.asleep``).

    Raises:
        ValueError: ``failure_rate`` is outside [0, 1] or ``latency`` is negative.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``async_sleep=`` is renamed ``asleep=``, the name every component uses.
    """

    #: The registry key used when no ``name`` is given.
    default_name: ClassVar[str] = "sandbox"
    #: The checkout label used when no ``display_name`` is given.
    default_display_name: ClassVar[str] = "Sandbox payment"
    #: An amount every sandbox declines.
    DECLINE_AMOUNT: ClassVar[Decimal] = Decimal("402.00")
    _id_prefix: ClassVar[str] = "sbx_"

    def __init__(
        self,
        *,
        name: str | None = None,
        display_name: str | None = None,
        failure_rate: float = 0.0,
        seed: int | None = None,
        latency: float | timedelta = 0.0,
        outage: bool = False,
        sleep: Sleep = time.sleep,
        asleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        #: The registry key.
        self.name = name or self.default_name
        #: The checkout label.
        self.display_name = display_name or self.default_display_name
        #: While true, every call fails transiently, as when the provider is down.
        self.outage = outage
        self.failure_rate = failure_rate
        self.latency = latency
        self._sleep = sleep
        self._asleep = asleep
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._calls = 0
        self._ledger: list[LedgerEntry] = []
        self._payments: dict[str, PaymentResult] = {}
        self._refunded: dict[str, Decimal] = {}
        self._charge_replies: dict[str, tuple[tuple[object, ...], PaymentResult | _Declined]] = {}
        self._refund_replies: dict[str, tuple[tuple[object, ...], RefundResult | _Declined]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- configuration ---------------------------------------------------------------------------
    @property
    def failure_rate(self) -> float:
        """Probability in [0, 1] that a call fails transiently; settable."""
        return self._failure_rate

    @failure_rate.setter
    def failure_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"failure_rate must be within [0, 1], got {value!r}")
        self._failure_rate = float(value)

    @property
    def latency(self) -> float:
        """Seconds each call takes; settable (as seconds or a timedelta)."""
        return self._latency

    @latency.setter
    def latency(self, value: float | timedelta) -> None:
        self._latency = to_seconds(value, name="latency", allow_zero=True)

    # -- what tests assert on --------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """How many charge and refund calls reached the provider, failed ones included."""
        return self._calls

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """Every charge and refund made, in order."""
        with self._lock:
            return tuple(self._ledger)

    @property
    def charges(self) -> tuple[LedgerEntry, ...]:
        """The charge entries of :attr:`ledger`."""
        return tuple(e for e in self.ledger if e.kind is LedgerKind.CHARGE)

    @property
    def refunds(self) -> tuple[LedgerEntry, ...]:
        """The refund entries of :attr:`ledger`."""
        return tuple(e for e in self.ledger if e.kind is LedgerKind.REFUND)

    def refunded(self, payment_id: str) -> Decimal:
        """Return how much of ``payment_id`` has been refunded so far (zero if none)."""
        with self._lock:
            return self._refunded.get(payment_id, Decimal(0))

    # -- the two faces ---------------------------------------------------------------------------
    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Charge ``request`` once per idempotency key, after the configured latency.

        Args:
            request: What to charge.

        Returns:
            The charge, or the first answer given to the same idempotency key.

        Raises:
            PaymentDeclinedError: A magic declining instrument or amount, or the idempotency key
                was reused for a different request.
            PaymentUnavailableError: The outage switch is on, or an injected failure.
        """
        outcome = self._charge_step(request)
        if self._latency:
            self._sleep(self._latency)
        return _unwrap(outcome)

    async def acharge(self, request: PaymentRequest) -> PaymentResult:
        """Async face of :meth:`charge`: the same decision, waiting through ``asleep``.

        Args:
            request: What to charge.

        Returns:
            The charge, or the first answer given to the same idempotency key.
        """
        outcome = self._charge_step(request)
        if self._latency:
            await self._asleep(self._latency)
        return _unwrap(outcome)

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        """Return ``amount`` of ``payment_id`` once per idempotency key, after the latency.

        Args:
            payment_id: A payment this sandbox charged.
            amount: How much to return; at most what remains unrefunded.
            idempotency_key: Deduplicates the refund.

        Returns:
            The refund, or the first answer given to the same idempotency key.

        Raises:
            PaymentDeclinedError: Unknown payment, more than remains, or a reused key.
            PaymentUnavailableError: The outage switch is on, or an injected failure.
            TypeError: ``amount`` is not a Decimal.
            ValueError: ``amount`` is not positive or too precise for the payment's currency.
        """
        outcome = self._refund_step(payment_id, amount, idempotency_key)
        if self._latency:
            self._sleep(self._latency)
        return _unwrap(outcome)

    async def arefund(
        self, payment_id: str, amount: Decimal, *, idempotency_key: str
    ) -> RefundResult:
        """Async face of :meth:`refund`: the same decision, waiting through ``asleep``.

        Args:
            payment_id: A payment this sandbox charged.
            amount: How much to return.
            idempotency_key: Deduplicates the refund.

        Returns:
            The refund, or the first answer given to the same idempotency key.
        """
        outcome = self._refund_step(payment_id, amount, idempotency_key)
        if self._latency:
            await self._asleep(self._latency)
        return _unwrap(outcome)

    # -- the one core ----------------------------------------------------------------------------
    def _check_request(self, request: PaymentRequest) -> PaymentError | None:
        """Return the decline (or transient failure) a magic instrument or amount causes."""
        if request.amount == self.DECLINE_AMOUNT:
            return self._decline("the issuer declined the amount", "do_not_honor")
        return None

    def _reference(self, idempotency_key: str) -> str:
        """Return the provider's reference for an operation, derived from its key."""
        return hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]

    def _decline(self, message: str, decline_code: str) -> PaymentDeclinedError:
        return PaymentDeclinedError(
            f"{self.name} sandbox: {message}", method=self.name, decline_code=decline_code
        )

    def _transient(self) -> PaymentError | None:
        """Return the failure an outage or an injected fault causes; call under the lock."""
        if self.outage:
            return PaymentUnavailableError(
                f"{self.name} sandbox: provider outage", method=self.name
            )
        if self._failure_rate and self._random.random() < self._failure_rate:
            return PaymentUnavailableError(
                f"{self.name} sandbox: injected transient failure", method=self.name
            )
        return None

    def _replay(
        self,
        replies: Mapping[str, tuple[tuple[object, ...], ResultT | _Declined]],
        key: str,
        fingerprint: tuple[object, ...],
    ) -> ResultT | PaymentError | None:
        """Return the first answer given to ``key``, or None if the key is new."""
        seen = replies.get(key)
        if seen is None:
            return None
        first_fingerprint, reply = seen
        if first_fingerprint != fingerprint:
            return self._decline(
                "the idempotency key was already used for a different request",
                "idempotency_key_reused",
            )
        if isinstance(reply, _Declined):
            return PaymentDeclinedError(
                reply.message, method=self.name, decline_code=reply.decline_code
            )
        return reply

    def _charge_step(self, request: PaymentRequest) -> PaymentResult | PaymentError:
        key = request.idempotency_key
        fingerprint = (request.amount, request.currency, request.order_id, request.source)
        with self._lock:
            self._calls += 1
            failure = self._transient()
            if failure is not None:
                return failure
            replay = self._replay(self._charge_replies, key, fingerprint)
            if replay is not None:
                return replay
            problem = self._check_request(request)
            if isinstance(problem, PaymentDeclinedError):
                self._charge_replies[key] = (
                    fingerprint,
                    _Declined(str(problem), problem.decline_code),
                )
            if problem is not None:
                return problem
            payment_id = f"{self._id_prefix}{next(self._ids):06d}"
            result = PaymentResult(
                payment_id=payment_id,
                status=PaymentStatus.SUCCEEDED,
                amount=request.amount,
                currency=request.currency,
                method=self.name,
                idempotency_key=key,
                order_id=request.order_id,
                provider_reference=self._reference(key),
            )
            self._charge_replies[key] = (fingerprint, result)
            self._payments[payment_id] = result
            self._ledger.append(
                LedgerEntry(
                    LedgerKind.CHARGE,
                    payment_id,
                    payment_id,
                    request.amount,
                    request.currency,
                    key,
                    request.order_id,
                )
            )
            return result

    def _refund_step(
        self, payment_id: str, amount: Decimal, key: str
    ) -> RefundResult | PaymentError:
        check_amount(amount, None)
        fingerprint = (payment_id, amount)
        with self._lock:
            self._calls += 1
            failure = self._transient()
            if failure is not None:
                return failure
            replay = self._replay(self._refund_replies, key, fingerprint)
            if replay is not None:
                return replay
            payment = self._payments.get(payment_id)
            if payment is None:
                decline = self._decline(f"no payment {payment_id!r}", "unknown_payment")
            else:
                check_amount(amount, payment.currency)
                refunded = self._refunded.get(payment_id, Decimal(0))
                if refunded + amount <= payment.amount:
                    return self._record_refund(payment, amount, refunded, key)
                decline = self._decline(
                    f"refund of {amount} exceeds the {payment.amount - refunded} that remains",
                    "amount_exceeds_remaining",
                )
            self._refund_replies[key] = (
                fingerprint,
                _Declined(str(decline), decline.decline_code),
            )
            return decline

    def _record_refund(
        self, payment: PaymentResult, amount: Decimal, refunded: Decimal, key: str
    ) -> RefundResult:
        refund_id = f"{self._id_prefix}re_{next(self._ids):06d}"
        result = RefundResult(
            refund_id=refund_id,
            payment_id=payment.payment_id,
            amount=amount,
            currency=payment.currency,
            method=self.name,
            idempotency_key=key,
            provider_reference=self._reference(key),
        )
        self._refunded[payment.payment_id] = refunded + amount
        self._refund_replies[key] = ((payment.payment_id, amount), result)
        self._ledger.append(
            LedgerEntry(
                LedgerKind.REFUND,
                refund_id,
                payment.payment_id,
                amount,
                payment.currency,
                key,
                payment.order_id,
            )
        )
        return result


def _unwrap(outcome: ResultT | PaymentError) -> ResultT:
    if isinstance(outcome, PaymentError):
        raise outcome
    return outcome


def _luhn_valid(digits: str) -> bool:
    """Return whether a card number passes the Luhn checksum every real card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class SandboxCard(SandboxProvider):
    """A card processor's test mode; ``request.source`` is a card token or a test card number.

    Test card numbers (spaces and dashes are ignored), in the style of real processors:

    =========================  ==================================================
    ``4242 4242 4242 4242``    succeeds, like any token that is not a number
    ``4000 0000 0000 0002``    declined: ``card_declined``
    ``4000 0000 0000 9995``    declined: ``insufficient_funds``
    ``4000 0000 0000 0069``    declined: ``expired_card``
    ``4000 0000 0000 0119``    fails transiently on every attempt (processing error)
    a number failing Luhn      declined: ``incorrect_number``
    =========================  ==================================================

    No message or log line ever contains the card number. Takes the arguments of
    :class:`SandboxProvider`.

    .. versionadded:: 0.1.0
    """

    default_name = "card"
    default_display_name = "Credit or debit card"
    _id_prefix = "ch_sbx_"

    #: Test card numbers that always decline, with their decline codes.
    DECLINING_CARDS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "4000000000000002": "card_declined",
            "4000000000009995": "insufficient_funds",
            "4000000000000069": "expired_card",
        }
    )
    #: A test card number whose every charge fails transiently.
    FAILING_CARD: ClassVar[str] = "4000000000000119"

    def _check_request(self, request: PaymentRequest) -> PaymentError | None:
        source = request.source
        if source is not None:
            digits = source.replace(" ", "").replace("-", "")
            if digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19:
                if not _luhn_valid(digits):
                    return self._decline("the card number is invalid", "incorrect_number")
                code = self.DECLINING_CARDS.get(digits)
                if code is not None:
                    return self._decline("the issuer declined the card", code)
                if digits == self.FAILING_CARD:
                    return PaymentUnavailableError(
                        f"{self.name} sandbox: processing error at the issuer", method=self.name
                    )
        return super()._check_request(request)

    def _reference(self, idempotency_key: str) -> str:
        # An authorisation code, as card networks return.
        return "auth_" + super()._reference(idempotency_key)[:6].upper()


class SandboxWallet(SandboxProvider):
    """A PayPal-style wallet's test mode; ``request.source`` is the payer's account (an email).

    Payer accounts whose local part (before ``@``) is one of these always decline:

    ================  ============================
    ``declined``      ``instrument_declined``
    ``insufficient``  ``insufficient_funds``
    ``restricted``    ``payer_account_restricted``
    ================  ============================

    Takes the arguments of :class:`SandboxProvider`.

    .. versionadded:: 0.1.0
    """

    default_name = "wallet"
    default_display_name = "PayPal-style wallet"
    _id_prefix = "PAYID-SBX-"

    #: Payer account local parts that always decline, with their decline codes.
    DECLINING_ACCOUNTS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "declined": "instrument_declined",
            "insufficient": "insufficient_funds",
            "restricted": "payer_account_restricted",
        }
    )

    def _check_request(self, request: PaymentRequest) -> PaymentError | None:
        if request.source is not None:
            code = self.DECLINING_ACCOUNTS.get(request.source.partition("@")[0].lower())
            if code is not None:
                return self._decline("the wallet declined the payer's funding", code)
        return super()._check_request(request)

    def _reference(self, idempotency_key: str) -> str:
        return "PAY-" + super()._reference(idempotency_key).upper()


class SandboxCrypto(SandboxProvider):
    """A crypto payment processor's test mode; ``request.source`` is the payer's address.

    The order is priced in a fiat currency and settled on chain; the provider reference is a
    transaction hash. An address ending in ``dead`` (any case) fails the processor's screening
    and declines with ``address_blocked``. Takes the arguments of :class:`SandboxProvider`.

    .. versionadded:: 0.1.0
    """

    default_name = "crypto"
    default_display_name = "Cryptocurrency"
    _id_prefix = "cc_sbx_"

    def _check_request(self, request: PaymentRequest) -> PaymentError | None:
        if request.source is not None and request.source.lower().endswith("dead"):
            return self._decline("the paying address failed screening", "address_blocked")
        return super()._check_request(request)

    def _reference(self, idempotency_key: str) -> str:
        return "0x" + hashlib.sha256(idempotency_key.encode()).hexdigest()
