"""Every public protocol and type alias of commerce_kit, in one place for your annotations.

This module only hands names on: each protocol is defined with the area whose types it speaks of
(the stores with the resilience core, :class:`FeedAdapter` with the feeds, :class:`PaymentStrategy`
with the payments). Importing it stays cheap: the names of the pydantic-based areas load on first
use. The names never change behaviour.

* Time: :data:`Clock`, :data:`Sleep`, :data:`AsyncSleep`.
* Resilience: :data:`ExceptionMatcher`, :class:`RateLimitStore`, :class:`BreakerStore`,
  :class:`BreakerCell`, and the hook events :data:`BreakerEvent`, :data:`CacheEvent`,
  :data:`RetryEvent` with :data:`RetryHook`, and :class:`RetryOptions`, the keyword options of
  :func:`~commerce_kit.retry`.
* Feeds: :class:`FeedAdapter`, :data:`FeedSource` with :class:`FeedFile`, :data:`FeedEvent`,
  :data:`FeedHook`.
* Validation: :class:`SourceRecord`, :data:`ValidationEvent`.
* Payments: :class:`PaymentStrategy`, :data:`PaymentEvent`, :data:`PaymentHook`.
* Webhooks: :class:`ReplayStore`, :data:`WebhookEvent`, :data:`WebhookHook`.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   The one home of every protocol and alias: the areas no longer export them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from commerce_kit._types import AsyncSleep, Clock, Sleep
from commerce_kit.resilience._cache import CacheEvent
from commerce_kit.resilience._circuit_breaker import BreakerEvent
from commerce_kit.resilience._circuit_breaker_store import BreakerCell, BreakerStore
from commerce_kit.resilience._matchers import ExceptionMatcher
from commerce_kit.resilience._rate_limit_store import RateLimitStore
from commerce_kit.resilience._retry import RetryOptions
from commerce_kit.resilience._retry_events import RetryEvent, RetryHook

if TYPE_CHECKING:
    from commerce_kit.feeds._adapter import FeedAdapter, FeedFile, FeedSource
    from commerce_kit.feeds._parse import FeedEvent, FeedHook
    from commerce_kit.payments._gateway import PaymentEvent, PaymentHook
    from commerce_kit.payments._strategy import PaymentStrategy
    from commerce_kit.validation._events import ValidationEvent
    from commerce_kit.validation._record import SourceRecord
    from commerce_kit.webhooks._events import WebhookEvent, WebhookHook
    from commerce_kit.webhooks._replay import ReplayStore

__all__ = [
    "AsyncSleep",
    "BreakerCell",
    "BreakerEvent",
    "BreakerStore",
    "CacheEvent",
    "Clock",
    "ExceptionMatcher",
    "FeedAdapter",
    "FeedEvent",
    "FeedFile",
    "FeedHook",
    "FeedSource",
    "PaymentEvent",
    "PaymentHook",
    "PaymentStrategy",
    "RateLimitStore",
    "ReplayStore",
    "RetryEvent",
    "RetryHook",
    "RetryOptions",
    "Sleep",
    "SourceRecord",
    "ValidationEvent",
    "WebhookEvent",
    "WebhookHook",
]

# The names of the pydantic-based areas, and the private module each is defined in.
_LAZY = {
    "FeedAdapter": "commerce_kit.feeds._adapter",
    "FeedEvent": "commerce_kit.feeds._parse",
    "FeedHook": "commerce_kit.feeds._parse",
    "FeedFile": "commerce_kit.feeds._adapter",
    "FeedSource": "commerce_kit.feeds._adapter",
    "PaymentEvent": "commerce_kit.payments._gateway",
    "PaymentHook": "commerce_kit.payments._gateway",
    "PaymentStrategy": "commerce_kit.payments._strategy",
    "ReplayStore": "commerce_kit.webhooks._replay",
    "SourceRecord": "commerce_kit.validation._record",
    "ValidationEvent": "commerce_kit.validation._events",
    "WebhookEvent": "commerce_kit.webhooks._events",
    "WebhookHook": "commerce_kit.webhooks._events",
}


if not TYPE_CHECKING:
    # Hidden from type checkers, which read the names from the imports above; an unknown name
    # is then a type error rather than a silent Any.

    def __getattr__(name: str) -> Any:
        home = _LAZY.get(name)
        if home is None:
            raise AttributeError(f"module 'commerce_kit.typing' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
