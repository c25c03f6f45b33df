"""Payments: one protocol for every payment method, a registry and a resilient gateway.

A payment method is a :class:`~commerce_kit.typing.PaymentStrategy`; methods live in a
:class:`PaymentMethodRegistry` (third-party packages add theirs through the
``commerce_kit.payment_methods`` entry-point group);
a :class:`PaymentGateway` charges through them with retries and a circuit breaker. A failure
raises one of the errors here, all under :class:`~commerce_kit.PaymentError`; the words an end
user sees come from :mod:`commerce_kit.http`.

.. versionchanged:: 0.2.0
   The leaf payment errors are imported from here; the sandboxes from :mod:`commerce_kit.testing`;
   ``PaymentStrategy``, ``PaymentEvent`` and ``PaymentHook`` from :mod:`commerce_kit.typing`;
   ``user_message_for``, ``UserMessage`` and ``HTTP_STATUS`` from :mod:`commerce_kit.http`.
"""

from __future__ import annotations

from commerce_kit._errors import (
    PaymentDeclinedError,
    PaymentUnavailableError,
    UnknownPaymentMethodError,
)
from commerce_kit.payments._gateway import (
    PaymentAttempted,
    PaymentFinished,
    PaymentGateway,
    PaymentOperation,
    PaymentOutcome,
)
from commerce_kit.payments._models import (
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    minor_units,
)
from commerce_kit.payments._registry import (
    ENTRY_POINT_GROUP,
    PaymentMethodInfo,
    PaymentMethodRegistry,
    registry,
)
from commerce_kit.payments._strategy import SyncPaymentStrategy

__all__ = [
    "ENTRY_POINT_GROUP",
    "PaymentAttempted",
    "PaymentDeclinedError",
    "PaymentFinished",
    "PaymentGateway",
    "PaymentMethodInfo",
    "PaymentMethodRegistry",
    "PaymentOperation",
    "PaymentOutcome",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "PaymentUnavailableError",
    "RefundResult",
    "SyncPaymentStrategy",
    "UnknownPaymentMethodError",
    "minor_units",
    "registry",
]
