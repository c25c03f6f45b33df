"""Partner feed ingestion: parse CSV, JSON, NDJSON, XML and Google Merchant Center feeds."""

from __future__ import annotations

from commerce_kit.feeds._record import FeedRecord

__all__ = ["FeedRecord"]
