"""Never executed: mypy checks that commerce_kit.webhooks reads well from a user's side."""

from __future__ import annotations

from datetime import timedelta

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.typing import ReplayStore, WebhookEvent, WebhookHook
from commerce_kit.webhooks import (
    FailureReason,
    MemoryReplayStore,
    StripeWebhook,
    Webhook,
    WebhookRejected,
    WebhookVerified,
    generate_secret,
)


class RedisLikeStore:
    """A user's own store satisfies the protocol structurally."""

    def seen_or_add(self, key: str, expires_at: float) -> bool:
        return False


def log_rejections(event: WebhookEvent) -> None:
    if isinstance(event, WebhookRejected):
        reason: FailureReason = event.reason
        msg_id: str | None = event.msg_id
    elif isinstance(event, WebhookVerified):
        timestamp: int = event.timestamp


hook: WebhookHook = log_rejections
store: ReplayStore = MemoryReplayStore(maxsize=10_000, clock=ManualClock(1_700_000_000))
custom: ReplayStore = RedisLikeStore()

sender = Webhook(generate_secret())
receiver = Webhook(
    [generate_secret(), b"raw key bytes"],
    tolerance=timedelta(minutes=2),
    clock=ManualClock(1_700_000_000),
    replay_store=custom,
    hooks=[log_rejections],
)
no_guard = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", replay_store=None)

value: str = sender.sign("msg_1", 1_700_000_000, b"{}")
headers: dict[str, str] = sender.sign_headers("msg_1", None, '{"a": 1}')
body: bytes = receiver.verify(b"{}", headers)
from_text: bytes = receiver.verify("{}", headers)
either: bytes = receiver.verify(b"{}" if value else "{}", headers)
tolerance: float | None = receiver.tolerance
guard: ReplayStore | None = receiver.replay_store

stripe = StripeWebhook("whsec_test", tolerance=None, replay_store=None)
stripe_header: str = stripe.sign(1_700_000_000, b"{}")
stripe_body: bytes = stripe.verify(b"{}", {"Stripe-Signature": stripe_header})
stripe_text: bytes = stripe.verify("{}", stripe_header)

try:
    receiver.verify(b"{}", {})
except WebhookVerificationError as error:
    why: str = error.reason
    replayed: bool = error.reason == FailureReason.REPLAYED
    code: str = error.code
