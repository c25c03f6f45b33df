"""Signed webhooks: Standard Webhooks signing and verification, Stripe verification, replay guard.

Standard library only, but for ed25519 keys (the ``commerce-kit[ed25519]`` extra).
:class:`Webhook` implements the `Standard Webhooks`_ scheme, HMAC-SHA256 (``v1``) and ed25519
(``v1a``), for both ends; :class:`StripeWebhook` verifies ``Stripe-Signature`` headers. Both
refuse a delivery with :class:`~commerce_kit.WebhookVerificationError`, whose ``reason`` is a
:class:`FailureReason`.

.. _Standard Webhooks: https://www.standardwebhooks.com/

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   ``WebhookVerificationError`` is imported from the package root only; ``ReplayStore``,
   ``WebhookEvent`` and ``WebhookHook`` from :mod:`commerce_kit.typing`.
"""

from __future__ import annotations

from commerce_kit.webhooks._events import FailureReason, WebhookRejected, WebhookVerified
from commerce_kit.webhooks._replay import MemoryReplayStore
from commerce_kit.webhooks._standard import Webhook, generate_secret
from commerce_kit.webhooks._stripe import StripeWebhook

__all__ = [
    "FailureReason",
    "MemoryReplayStore",
    "StripeWebhook",
    "Webhook",
    "WebhookRejected",
    "WebhookVerified",
    "generate_secret",
]
