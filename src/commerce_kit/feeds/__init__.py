"""Partner feed ingestion: parse CSV, JSON, NDJSON, XML and Google Merchant Center feeds.

:func:`parse_feed` streams any supported feed as :class:`FeedRecord` objects; the format is named,
or told by content type, file extension or the feed's first bytes. A :class:`FieldMap` (or a
preset of :data:`FIELD_MAPS`: Shopify, WooCommerce, Magento) turns a shop's export columns into
product fields. New formats plug in through :data:`registry` or the
``commerce_kit.feed_adapters`` entry point group. A feed that cannot be read raises one of the
errors here, all under :class:`~commerce_kit.FeedError`.

.. versionchanged:: 0.2.0
   The leaf feed errors are imported from here; ``FeedAdapter`` and ``FeedEvent`` from
   :mod:`commerce_kit.typing`.
"""

from __future__ import annotations

from commerce_kit._errors import (
    FeedFormatError,
    FeedLimitError,
    UnknownFeedFormatError,
    UnsafeFeedError,
)
from commerce_kit.feeds._columns import FIELD_MAPS, FieldMap, detect_field_map
from commerce_kit.feeds._csv import CsvAdapter, TsvAdapter
from commerce_kit.feeds._json import JsonAdapter, NdjsonAdapter
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._merchant import GoogleMerchantAdapter
from commerce_kit.feeds._parse import (
    FeedFinished,
    FeedProgress,
    RecordSkipped,
    parse_feed,
    parse_feed_text,
)
from commerce_kit.feeds._record import FeedRecord
from commerce_kit.feeds._registry import FeedAdapterRegistry, registry
from commerce_kit.feeds._xml import XmlAdapter

# Public classes say they live where users import them from (docs, reprs, pickles agree).
for _public in (
    CsvAdapter,
    FeedAdapterRegistry,
    FeedFinished,
    FeedLimits,
    FeedProgress,
    FeedRecord,
    FieldMap,
    GoogleMerchantAdapter,
    JsonAdapter,
    NdjsonAdapter,
    RecordSkipped,
    TsvAdapter,
    XmlAdapter,
    detect_field_map,
    parse_feed,
    parse_feed_text,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "FIELD_MAPS",
    "CsvAdapter",
    "FeedAdapterRegistry",
    "FeedFinished",
    "FeedFormatError",
    "FeedLimitError",
    "FeedLimits",
    "FeedProgress",
    "FeedRecord",
    "FieldMap",
    "GoogleMerchantAdapter",
    "JsonAdapter",
    "NdjsonAdapter",
    "RecordSkipped",
    "TsvAdapter",
    "UnknownFeedFormatError",
    "UnsafeFeedError",
    "XmlAdapter",
    "detect_field_map",
    "parse_feed",
    "parse_feed_text",
    "registry",
]
