"""Validate partner records against a schema: sanitize text, refuse bad values, flag attacks.

:class:`Validator` checks every record of a feed against :class:`Product` (or a model built
from the field types here), keeps the good records, and explains each error with its line,
field, a stable code and plain words. Free text is sanitized (nh3) and inspected for SQL
injection and XSS by a :class:`SecurityPolicy`; detections are logged as security events.
"""

from __future__ import annotations

from commerce_kit.validation._catalogue import ERROR_CODES
from commerce_kit.validation._currencies import MINOR_UNITS as CURRENCY_MINOR_UNITS
from commerce_kit.validation._events import RecordRejected, SecurityEvent, ValidationFinished
from commerce_kit.validation._excerpt import excerpt
from commerce_kit.validation._fields import (
    CurrencyCode,
    Gtin,
    Money,
    SafeHtml,
    SafeText,
    SanitizedHtml,
    SanitizedText,
    Sku,
    StockLevel,
    WebUrl,
)
from commerce_kit.validation._product import Product
from commerce_kit.validation._record_error import RecordError
from commerce_kit.validation._report import RecordResult, ValidationReport
from commerce_kit.validation._sanitize import neutralize_formula, sanitize_html, sanitize_text
from commerce_kit.validation._security import SecurityMode, SecurityPolicy, Threat, ThreatCategory
from commerce_kit.validation._validator import Validator

__all__ = [
    "CURRENCY_MINOR_UNITS",
    "ERROR_CODES",
    "CurrencyCode",
    "Gtin",
    "Money",
    "Product",
    "RecordError",
    "RecordRejected",
    "RecordResult",
    "SafeHtml",
    "SafeText",
    "SanitizedHtml",
    "SanitizedText",
    "SecurityEvent",
    "SecurityMode",
    "SecurityPolicy",
    "Sku",
    "StockLevel",
    "Threat",
    "ThreatCategory",
    "ValidationFinished",
    "ValidationReport",
    "Validator",
    "WebUrl",
    "excerpt",
    "neutralize_formula",
    "sanitize_html",
    "sanitize_text",
]
