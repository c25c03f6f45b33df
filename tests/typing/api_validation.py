"""Never executed: mypy checks that the validation API reads well from a user's side."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel
from typing_extensions import assert_type

from commerce_kit.feeds import FeedRecord, parse_feed
from commerce_kit.typing import ValidationEvent
from commerce_kit.validation import (
    CURRENCY_MINOR_UNITS,
    ERROR_CODES,
    CurrencyCode,
    Gtin,
    Money,
    Product,
    RecordError,
    RecordRejected,
    RecordResult,
    SafeHtml,
    SafeText,
    SanitizedHtml,
    SanitizedText,
    SecurityEvent,
    SecurityMode,
    SecurityPolicy,
    Sku,
    StockLevel,
    Threat,
    ThreatCategory,
    ValidationFinished,
    ValidationReport,
    Validator,
    WebUrl,
    excerpt,
    neutralize_formula,
    sanitize_html,
    sanitize_text,
)

# -- the default model ---------------------------------------------------------------------------
validator = Validator()
assert_type(validator, Validator[Product])
report = validator.validate(parse_feed(b"sku,title\nA1,Tee\n", format="csv"), feed_id="f1")
assert_type(report, ValidationReport[Product])
products: list[Product] = report.accepted
price: Decimal = products[0].price
stock: int | None = products[0].stock
error: RecordError = report.errors[0]
line: int | None = error.line
field: str | None = error.field
code: str = error.code
message: str = error.message
summary: dict[str, object] = report.to_dict()
events: list[SecurityEvent] = report.security_events
truncated: bool = report.errors_truncated

mixed = validator.validate([FeedRecord({"sku": "A1"}, 2, 1), {"sku": "A2"}], partner_id="p1")


# -- a custom model built from the field types ---------------------------------------------------
class Listing(BaseModel):
    sku: Sku
    title: Annotated[str, SanitizedText(max_length=80)]
    description: Annotated[str, SanitizedHtml(max_length=2000, neutralize_formulas=False)] = ""
    currency: CurrencyCode
    price: Money
    stock: StockLevel = 0
    url: WebUrl | None = None
    gtin: Gtin | None = None
    brand: SafeText | None = None
    notes: SafeHtml = ""


strict = SecurityPolicy(mode="strict", xss=True, sql_injection=True)
custom = Validator(model=Listing, policy=strict, max_errors=None, defaults={"currency": "USD"})
assert_type(custom, Validator[Listing])
listings: list[Listing] = custom.validate([{"sku": "A1"}]).accepted
for result in custom.iter_validate([{"sku": "A1"}]):
    assert_type(result, RecordResult[Listing])
    value: Listing | None = result.value
    ok: bool = result.ok
single = custom.validate_one({"sku": "A1"}, line=3, index=1)
assert_type(single, RecordResult[Listing])


# -- hooks, events and the policy ----------------------------------------------------------------
def on_event(event: ValidationEvent) -> None:
    if isinstance(event, SecurityEvent):
        category: ThreatCategory = event.category
        rejected: bool = event.rejected
        data: dict[str, object] = event.to_dict()
    elif isinstance(event, RecordRejected):
        errors: tuple[RecordError, ...] = event.errors
    elif isinstance(event, ValidationFinished):
        accepted: int = event.accepted


hooked = Validator(hooks=[on_event])
threats: tuple[Threat, ...] = SecurityPolicy().inspect("' OR 1=1 --")
threat_code: str = threats[0].code
mode: SecurityMode = SecurityPolicy(mode=SecurityMode.STRICT).mode

# -- the sanitizers and catalogues ---------------------------------------------------------------
html: str = sanitize_html("<p>Soft <b>cotton</b></p>")
text: str = sanitize_text("<b>Tee</b>")
cell: str = neutralize_formula("=1+2")
codes: Mapping[str, str] = ERROR_CODES
places: int = CURRENCY_MINOR_UNITS["JPY"]
shown: str | None = excerpt(b"\x00payload")
