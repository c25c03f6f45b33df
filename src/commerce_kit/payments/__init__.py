"""Payments: one protocol for every payment method, a registry, sandboxes and a resilient gateway.

A payment method is a :class:`PaymentStrategy`; methods live in a :class:`PaymentMethodRegistry`
(third-party packages add theirs through the ``commerce_kit.payment_methods`` entry-point group);
the sandboxes fake real providers with failure injection; :func:`user_message_for` turns any
failure into the words an end user sees.
"""

from __future__ import annotations

from commerce_kit.payments._gateway import (
    PaymentAttempted,
    PaymentEvent,
    PaymentFinished,
    PaymentGateway,
    PaymentHook,
    PaymentOperation,
    PaymentOutcome,
)
from commerce_kit.payments._messages import HTTP_STATUS, UserMessage, user_message_for
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
from commerce_kit.payments._sandbox import (
    LedgerEntry,
    LedgerKind,
    SandboxCard,
    SandboxCrypto,
    SandboxProvider,
    SandboxWallet,
)
from commerce_kit.payments._strategy import SyncPaymentStrategy
from commerce_kit.typing import PaymentStrategy

__all__ = [
    "ENTRY_POINT_GROUP",
    "HTTP_STATUS",
    "LedgerEntry",
    "LedgerKind",
    "PaymentAttempted",
    "PaymentEvent",
    "PaymentFinished",
    "PaymentGateway",
    "PaymentHook",
    "PaymentMethodInfo",
    "PaymentMethodRegistry",
    "PaymentOperation",
    "PaymentOutcome",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "PaymentStrategy",
    "RefundResult",
    "SandboxCard",
    "SandboxCrypto",
    "SandboxProvider",
    "SandboxWallet",
    "SyncPaymentStrategy",
    "UserMessage",
    "minor_units",
    "registry",
    "user_message_for",
]
