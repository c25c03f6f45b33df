"""Deliveries, replays, forgeries and passing time against a model of the verifier's rules."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.webhooks import FailureReason, StripeWebhook, Webhook
from commerce_kit.webhooks._verifier import REPLAY_MARGIN

TOLERANCE = 300
START = 1_700_000_000


class VerifierModel:
    """The rules written plainly: window check, signature, ids remembered until ts+tol+margin."""

    def __init__(self) -> None:
        self.remembered: dict[str, float] = {}

    def outcome(self, key: str, ts: int, now: float, authentic: bool) -> FailureReason | None:
        if now - ts > TOLERANCE:
            return FailureReason.TIMESTAMP_TOO_OLD
        if ts - now > TOLERANCE:
            return FailureReason.TIMESTAMP_TOO_NEW
        if not authentic:
            return FailureReason.NO_MATCHING_SIGNATURE
        expiry = self.remembered.get(key)
        if expiry is not None and expiry >= now:
            self.remembered[key] = max(expiry, ts + TOLERANCE + REPLAY_MARGIN)
            return FailureReason.REPLAYED
        self.remembered[key] = ts + TOLERANCE + REPLAY_MARGIN
        return None


def actual(verify: object) -> FailureReason | None:
    try:
        verify()  # type: ignore[operator]
    except WebhookVerificationError as error:
        assert isinstance(error.reason, FailureReason)
        return error.reason
    return None


class StandardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.hook = Webhook(b"k" * 32, clock=self.clock)
        self.model = VerifierModel()
        self.sent: list[tuple[str, int]] = []

    def _verify(self, msg_id: str, ts: int, authentic: bool) -> None:
        hdrs = self.hook.sign_headers(msg_id, ts, b"{}")
        if not authentic:
            hdrs["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        expected = self.model.outcome(msg_id, ts, self.clock(), authentic)
        assert expected == actual(lambda: self.hook.verify(b"{}", hdrs))

    @rule(msg_id=st.sampled_from(["a", "b", "c"]), offset=st.integers(-400, 400))
    def deliver(self, msg_id: str, offset: int) -> None:
        ts = int(self.clock()) + offset
        self.sent.append((msg_id, ts))
        self._verify(msg_id, ts, authentic=True)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if self.sent:
            msg_id, ts = data.draw(st.sampled_from(self.sent))
            self._verify(msg_id, ts, authentic=True)

    @rule(msg_id=st.sampled_from(["a", "b", "c"]), offset=st.integers(-10, 10))
    def forge(self, msg_id: str, offset: int) -> None:
        self._verify(msg_id, int(self.clock()) + offset, authentic=False)

    @rule(seconds=st.sampled_from([1, 60, 299, 300, 301, 700]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)


class StripeMachine(RuleBasedStateMachine):
    """Stripe keys a delivery by its MAC, so the same (t, body) is the same delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.hook = StripeWebhook("whsec_k", clock=self.clock)
        self.model = VerifierModel()

    @rule(body=st.sampled_from([b"a", b"b"]), offset=st.integers(-400, 400), forged=st.booleans())
    def deliver(self, body: bytes, offset: int, forged: bool) -> None:
        ts = int(self.clock()) + offset
        header = self.hook.sign(ts, body)
        if forged:
            header = f"t={ts},v1={'0' * 64}"
        expected = self.model.outcome(f"{ts}.{body!r}", ts, self.clock(), authentic=not forged)
        assert expected == actual(lambda: self.hook.verify(body, header))

    @rule(seconds=st.sampled_from([1, 60, 300, 301]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)


_SETTINGS = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestStandardMachine = StandardMachine.TestCase
TestStandardMachine.settings = _SETTINGS
TestStripeMachine = StripeMachine.TestCase
TestStripeMachine.settings = _SETTINGS
