"""What a payment method is: the protocol, and a base class for methods on a blocking SDK."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Protocol, runtime_checkable

from commerce_kit.payments._models import PaymentRequest, PaymentResult, RefundResult

__all__ = ["PaymentStrategy", "SyncPaymentStrategy"]


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
      :class:`~commerce_kit.payments.PaymentDeclinedError`.
    * A transient failure (provider down, timeout, 5xx) raises
      :class:`~commerce_kit.payments.PaymentUnavailableError`, or the builtin
      :class:`ConnectionError` or :class:`TimeoutError`; these are retried.
    * Nothing raised or logged carries a card number or a secret.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Importable from :mod:`commerce_kit.typing` only.
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


class SyncPaymentStrategy(ABC):
    """Write the sync face of a payment method; the async face runs it in a worker thread.

    Most provider SDKs block, so a new payment method usually needs only :meth:`charge` and
    :meth:`refund`; :meth:`acharge` and :meth:`arefund` hand those to :func:`asyncio.to_thread`
    so an event loop is never blocked. Override the async pair too when the provider has a native
    async client. Subclasses set :attr:`name` and :attr:`display_name` as class attributes (or
    properties) and follow the :class:`~commerce_kit.typing.PaymentStrategy` contract.

    Example:
        >>> from decimal import Decimal
        >>> from commerce_kit.payments import (
        ...     PaymentRequest, PaymentResult, PaymentStatus, RefundResult, SyncPaymentStrategy,
        ... )
        >>> class Invoice(SyncPaymentStrategy):
        ...     name = "invoice"
        ...     display_name = "Pay by invoice"
        ...     def charge(self, request):
        ...         return PaymentResult(
        ...             payment_id=f"inv-{request.order_id}", status=PaymentStatus.PENDING,
        ...             amount=request.amount, currency=request.currency, method=self.name,
        ...             idempotency_key=request.idempotency_key, order_id=request.order_id,
        ...             provider_reference="",
        ...         )
        ...     def refund(self, payment_id, amount, *, idempotency_key):
        ...         raise NotImplementedError
        >>> Invoice().charge(PaymentRequest(Decimal("5"), "EUR", "o-1")).status
        <PaymentStatus.PENDING: 'pending'>

    .. versionadded:: 0.1.0
    """

    #: The registry key, such as ``"card"``.
    name: str
    #: The label a checkout page shows.
    display_name: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @abstractmethod
    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Charge ``request.amount`` to ``request.source``, once per idempotency key.

        Args:
            request: What to charge.

        Returns:
            The provider's answer.

        Raises:
            PaymentDeclinedError: The provider declined.
            PaymentUnavailableError: A transient failure; retrying may help.
        """

    @abstractmethod
    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        """Return ``amount`` of the payment ``payment_id``, once per idempotency key.

        Args:
            payment_id: The :attr:`~commerce_kit.payments.PaymentResult.payment_id` to refund.
            amount: How much to return, in the payment's currency.
            idempotency_key: Deduplicates the refund at the provider.

        Returns:
            The provider's answer.

        Raises:
            PaymentDeclinedError: The refund was refused.
            PaymentUnavailableError: A transient failure; retrying may help.
        """

    async def acharge(self, request: PaymentRequest) -> PaymentResult:
        """Run :meth:`charge` in a worker thread and return its result.

        Args:
            request: What to charge.

        Returns:
            The provider's answer.
        """
        return await asyncio.to_thread(self.charge, request)

    async def arefund(
        self, payment_id: str, amount: Decimal, *, idempotency_key: str
    ) -> RefundResult:
        """Run :meth:`refund` in a worker thread and return its result.

        Args:
            payment_id: The payment to refund.
            amount: How much to return.
            idempotency_key: Deduplicates the refund at the provider.

        Returns:
            The provider's answer.
        """
        return await asyncio.to_thread(
            self.refund, payment_id, amount, idempotency_key=idempotency_key
        )
