from __future__ import annotations

import copy
import pickle

import commerce_kit
import commerce_kit.typing
from commerce_kit import (
    CircuitOpenError,
    CommerceKitError,
    RateLimitExceeded,
    WebhookVerificationError,
)
from commerce_kit.feeds import FeedFormatError, UnknownFeedFormatError
from commerce_kit.http import user_message_for
from commerce_kit.payments import PaymentUnavailableError


def test_structured_fields_are_kept() -> None:
    limited = RateLimitExceeded("key user:1 over 5/60s", retry_after=12.0)
    opened = CircuitOpenError("card open", name="card", retry_after=30.0)
    assert (12.0, "card", 30.0) == (limited.retry_after, opened.name, opened.retry_after)


def test_technical_detail_stays_out_of_the_user_message() -> None:
    error = FeedFormatError("line 3: unexpected '<' at column 7")
    assert "line 3" in str(error)
    assert "line 3" not in user_message_for(error).message


def test_builtin_bases_keep_working() -> None:
    assert issubclass(FeedFormatError, ValueError)
    assert issubclass(UnknownFeedFormatError, LookupError)
    assert issubclass(FeedFormatError, CommerceKitError)


def test_submodules_load_lazily_from_the_root() -> None:
    assert commerce_kit.testing.ManualClock is not None
    assert "Clock" in commerce_kit.typing.__all__


def test_errors_with_keyword_only_fields_survive_pickling_and_copying() -> None:
    limited = RateLimitExceeded("key user:1 over 5/60s", retry_after=12.0)
    opened = CircuitOpenError("card open", name="card", retry_after=30.0)
    unavailable = PaymentUnavailableError("down", method="card", retry_after=2.0)
    refused = WebhookVerificationError("bad", reason="replayed")
    originals = (limited, opened, unavailable, refused)
    for again in (
        [pickle.loads(pickle.dumps(error)) for error in originals],
        [copy.copy(error) for error in originals],
    ):
        assert [(type(e), e.args, vars(e)) for e in originals] == [
            (type(e), e.args, vars(e)) for e in again
        ]
