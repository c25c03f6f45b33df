"""The default product schema partner records are validated against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from commerce_kit.validation._events import Scope
from commerce_kit.validation._fields import (
    CurrencyCode,
    Gtin,
    Money,
    SafeHtml,
    SafeText,
    SanitizedText,
    Sku,
    StockLevel,
    WebUrl,
    currency_in_price,
)

__all__ = ["Product"]


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


class Product(BaseModel):
    """A validated, sanitized product, safe to store and to render.

    Field names are those feed adapters yield (Google Merchant Center's ``id``, ``link`` and
    ``image_link`` arrive as ``sku``, ``url`` and ``image_url``). Blank values (``""``, spaces,
    ``null``) count as absent, so an empty CSV cell leaves an optional field at its default and
    makes a required one "is required". The currency may come from the price (``"15.00 USD"``).
    Fields the model does not know, such as ``availability``, are ignored without an error.
    Instances are immutable.

    Attributes:
        sku: The partner's stock-keeping unit (see :obj:`Sku`).
        title: Plain text, 1 to 150 characters, tags removed (see :obj:`SafeText`).
        description: Allow-listed HTML, at most 5000 characters (see :obj:`SafeHtml`).
        currency: An active ISO 4217 code (see :obj:`CurrencyCode`).
        price: Greater than 0, with at most the currency's decimal places (see :obj:`Money`).
        stock: Units in stock, or None when the feed does not say (see :obj:`StockLevel`).
        url: The product page (see :obj:`WebUrl`).
        image_url: The main image (see :obj:`WebUrl`).
        brand: Plain text, 1 to 70 characters.
        gtin: The product's GTIN/EAN/UPC (see :obj:`Gtin`).

    .. versionadded:: 0.1.0
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    title: SafeText
    description: SafeHtml = ""
    currency: CurrencyCode
    price: Money
    stock: StockLevel | None = None
    url: WebUrl | None = None
    image_url: WebUrl | None = None
    brand: Annotated[str, SanitizedText(max_length=70)] | None = None
    gtin: Gtin | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_fields_and_price_currency(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        try:
            # One C loop over the values: a blank text strips to "", and a value that is not
            # text (None among them) raises.
            blank = not all(map(str.strip, data.values()))
        except TypeError:
            blank = True
        if blank or type(data) is not dict:
            record = {key: value for key, value in data.items() if not _is_blank(value)}
        else:
            record = data  # copied below before any change: the caller's dict is left alone
        if "currency" not in record:
            currency = currency_in_price(record.get("price"))
            if currency is not None:
                record = {**record, "currency": currency}
        scope = info.context
        if isinstance(scope, Scope) and scope.defaults:
            record = {**scope.defaults, **record}
        return record
