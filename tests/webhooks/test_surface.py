"""The public surface of commerce_kit.webhooks."""

from __future__ import annotations

import pickle

import commerce_kit
import commerce_kit.webhooks
from commerce_kit import WebhookVerificationError


def test_all_is_sorted_unique_and_complete() -> None:
    names = commerce_kit.webhooks.__all__
    missing = [name for name in names if not hasattr(commerce_kit.webhooks, name)]
    assert (sorted(set(names)), []) == (names, missing)


def test_the_area_loads_lazily_from_the_package_root() -> None:
    assert commerce_kit.webhooks.Webhook is commerce_kit.webhooks._standard.Webhook


def test_the_error_has_one_home_the_package_root() -> None:
    assert not hasattr(commerce_kit.webhooks, "WebhookVerificationError")


def test_the_error_reason_defaults_to_invalid_for_other_raisers() -> None:
    assert "invalid" == WebhookVerificationError("signature did not verify").reason


def test_the_error_keeps_its_reason_through_pickling() -> None:
    error = WebhookVerificationError("replayed delivery", reason="replayed")
    copy = pickle.loads(pickle.dumps(error))
    assert (("replayed delivery",), "replayed") == (copy.args, copy.reason)
