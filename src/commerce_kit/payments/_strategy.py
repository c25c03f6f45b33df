"""A base class for payment methods written against a blocking provider SDK."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from decimal import Decimal

from commerce_kit.payments._models import PaymentRequest, PaymentResult, RefundResult

__all__ = ["SyncPaymentStrategy"]


class SyncPaymentStrategy(ABC):
    """Write the sync face of a payment method; the async face runs it in a worker thread.

    Most provider SDKs block, so a new payment method usually needs only :meth:`charge` and
    :meth:`refund`; :meth:`acharge` and :meth:`arefund` hand those to :func:`asyncio.to_thread`
    so an event loop is never blocked. Override the async pair too when the provider has a native
    async client. Subclasses set :attr:`name` and :attr:`display_name` as class attributes (or
    properties) and follow the :class:`~commerce_kit.payments.PaymentStrategy` contract.

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
