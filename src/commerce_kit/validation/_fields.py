"""Reusable field types for product schemas: identifiers, money, stock, links and safe text.

Each type is an ``Annotated`` alias whose metadata validates the value with our own rules and
wording (see :data:`~commerce_kit.validation.ERROR_CODES`), so a custom model built from them
reports the same codes and messages as :class:`~commerce_kit.validation.Product`::

    class Listing(BaseModel):
        sku: Sku
        title: Annotated[str, SanitizedText(max_length=80)]
        price: Money

Strict fields (``Sku``, ``CurrencyCode``, ``Money``, ``StockLevel``, ``WebUrl``, ``Gtin``) accept
only their exact shape, so SQL or markup cannot pass through them at all. Free-text fields
(``SafeText``, ``SafeHtml``) accept any text, refuse control and bidirectional-override
characters, sanitize markup, neutralize spreadsheet formulas, and are inspected by the
:class:`~commerce_kit.validation.SecurityPolicy`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from commerce_kit.validation._catalogue import fail
from commerce_kit.validation._currencies import MINOR_UNITS
from commerce_kit.validation._events import note_threats, policy_of
from commerce_kit.validation._sanitize import (
    FORMULA_PREFIXES,
    forbidden_character,
    neutralize_formula,
    sanitize_html,
    sanitize_text,
)

__all__ = [
    "CurrencyCode",
    "Gtin",
    "Money",
    "SafeHtml",
    "SafeText",
    "SanitizedHtml",
    "SanitizedText",
    "Sku",
    "StockLevel",
    "WebUrl",
]


class _Rule:
    """Base of the metadata classes: a plain validator with access to the validation context.

    The repr is the public name of the type, so signatures (``Annotated[str, Sku]``) read well.
    """

    __slots__ = ()
    public_name = ""

    def __repr__(self) -> str:
        return self.public_name or type(self).__name__

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.json_schema()

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def validate(self, value: object, info: core_schema.ValidationInfo) -> Any:
        raise NotImplementedError


def _refuse(
    error: PydanticCustomError, value: object, info: core_schema.ValidationInfo
) -> PydanticCustomError:
    """Report attacks hidden in a value a strict field refused, then return the error to raise."""
    if isinstance(value, str) and value:
        threats = policy_of(info.context).inspect(value)
        if threats:
            note_threats(info.context, info.field_name, threats, rejected=True)
    return error


# -- identifiers ---------------------------------------------------------------------------------

_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class _SkuRule(_Rule):
    __slots__ = ()
    public_name = "Sku"

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
            "minLength": 1,
            "maxLength": 64,
        }

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if type(value) is int:
            value = str(value)
        if isinstance(value, str):
            text = value.strip()
            if _SKU.fullmatch(text):
                return text
        raise _refuse(fail("sku.pattern"), value, info)


def _gtin_check_digit_ok(digits: str) -> bool:
    # GS1 mod-10: from the right, excluding the check digit, weights alternate 3, 1, 3...
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


class _GtinRule(_Rule):
    __slots__ = ()
    public_name = "Gtin"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^(?:\\d{8}|\\d{12,14})$"}

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if type(value) is int:
            value = str(value)
        if not isinstance(value, str):
            raise fail("gtin.format")
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) in {8, 12, 13, 14}):
            raise _refuse(fail("gtin.format"), value, info)
        if not _gtin_check_digit_ok(digits):
            raise fail("gtin.check_digit")
        return digits


# -- money and quantities ------------------------------------------------------------------------

_PRICE = re.compile(r"\s*(-?)\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]{3})?\s*")
_PRICE_LIMIT = Decimal(1_000_000_000)
_DEFAULT_PLACES = 2
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(5)}


def currency_in_price(value: object) -> str | None:
    """The currency code written after a price such as ``"15.00 USD"``, upper-cased, if any."""
    if isinstance(value, str):
        match = _PRICE.fullmatch(value)
        if match is not None and match.group(3):
            return match.group(3).upper()
    return None


class _MoneyRule(_Rule):
    __slots__ = ()
    public_name = "Money"

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": "^\\d+(\\.\\d+)?( ?[A-Z]{3})?$",
                    "examples": ["15.00"],
                },
                {"type": "number", "exclusiveMinimum": 0},
            ]
        }

    def validate(self, value: object, info: core_schema.ValidationInfo) -> Decimal:
        given = None
        if isinstance(value, str):
            match = _PRICE.fullmatch(value)
            if match is None:
                raise _refuse(fail("price.format"), value, info)
            sign, number, given = match.groups()
            if sign:
                raise fail("price.not_positive")
            amount = Decimal(number)
        elif type(value) is int:
            amount = Decimal(value)
        elif type(value) is float and math.isfinite(value):
            amount = Decimal(repr(value))
        elif type(value) is Decimal and value.is_finite():
            amount = value
        else:
            raise fail("price.format")
        if amount <= 0:
            raise fail("price.not_positive")
        if amount >= _PRICE_LIMIT:
            raise fail("price.too_large")
        data = info.data  # None outside a model
        currency = data.get("currency") if data else None
        if given is not None:
            given = given.upper()
            if given not in MINOR_UNITS:
                raise fail("currency.unknown")
            if currency is None:
                currency = given
            elif given != currency:
                raise fail("price.currency_mismatch", given=given, currency=currency)
        places = MINOR_UNITS.get(currency, _DEFAULT_PLACES) if currency else _DEFAULT_PLACES
        try:
            exact = amount.quantize(_QUANTUM[places])
        except InvalidOperation:  # pragma: no cover - amounts are bounded above, so this fits
            raise fail("price.too_large") from None
        if exact != amount:
            raise fail("price.precision", places=places, currency=currency or "this currency")
        return exact


class _CurrencyRule(_Rule):
    __slots__ = ()
    public_name = "CurrencyCode"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["USD"]}

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if isinstance(value, str):
            code = value.strip()
            if len(code) == 3 and code.isascii() and code.isalpha():
                code = code.upper()
                if code in MINOR_UNITS:
                    return code
                raise fail("currency.unknown")
        raise _refuse(fail("currency.format"), value, info)


_STOCK = re.compile(r"\s*(-?)(\d+)(?:\.0+)?\s*")
_STOCK_LIMIT = 2_147_483_647


class _StockRule(_Rule):
    __slots__ = ()
    public_name = "StockLevel"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": _STOCK_LIMIT}

    def validate(self, value: object, info: core_schema.ValidationInfo) -> int:
        if type(value) is int:
            count = value
        elif type(value) is float and value.is_integer():
            count = int(value)
        elif isinstance(value, str) and (match := _STOCK.fullmatch(value)) is not None:
            sign, digits = match.groups()
            # Checked on the digits, so a thousand-digit text is never converted to an int.
            count = _STOCK_LIMIT + 1 if len(digits) > 10 else int(digits)
            if sign and count:
                raise fail("stock.negative")
        else:
            raise _refuse(fail("stock.not_integer"), value, info)
        if count < 0:
            raise fail("stock.negative")
        if count > _STOCK_LIMIT:
            raise fail("stock.too_large")
        return count


# -- links ---------------------------------------------------------------------------------------

_URL_LIMIT = 2048
# Characters RFC 3986 never allows unencoded, plus controls, spaces and invisible formatting.
_URL_FORBIDDEN = re.compile(
    '[\x00-\x20\x7f-\x9f"<>\\\\^`{|}\u00a0\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f'
    "\ufeff\ud800-\udfff]"
)
_HOST_PATTERN = r"[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*\.?"
_HOST = re.compile(_HOST_PATTERN)
_IPV6 = re.compile(r"[0-9a-f:.]+")
# The common case in one match: scheme, host, optional port, then allowed characters only. A URL
# that does not match goes through urlsplit to find out exactly what is wrong with it.
_PLAIN_URL = re.compile(
    rf"""https?://{_HOST_PATTERN}(?::[1-9][0-9]{{0,3}})?
    (?:[/?\#][^\x00-\x20\x7f-\x9f"<>\\^`{{|}}\u00a0\u061c\u180e\u200b-\u200f\u2028-\u202e
    \u2060-\u206f\ufeff\ud800-\udfff]*)?""",
    re.VERBOSE | re.IGNORECASE,
)


class _UrlRule(_Rule):
    __slots__ = ()
    public_name = "WebUrl"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": _URL_LIMIT}

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if not isinstance(value, str):
            raise fail("url.format")
        url = value.strip()
        if len(url) > _URL_LIMIT:
            raise fail("url.too_long")
        if _PLAIN_URL.fullmatch(url):
            return url
        if _URL_FORBIDDEN.search(url):
            raise _refuse(fail("url.format"), value, info)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise fail("url.format") from None
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"}:
            error = fail("url.scheme") if scheme and ":" in url else fail("url.format")
            raise _refuse(error, value, info)
        if parts.username is not None or parts.password is not None:
            raise fail("url.credentials")
        host = parts.hostname or ""
        valid_host = _IPV6.fullmatch(host) if ":" in host else _HOST.fullmatch(host)
        if not valid_host or port == 0:
            raise fail("url.format")
        return url


# -- free text -----------------------------------------------------------------------------------


class _TextRule(_Rule):
    __slots__ = ("max_length", "min_length", "multiline", "neutralize_formulas")

    def __init__(
        self, *, min_length: int, max_length: int, multiline: bool, neutralize_formulas: bool
    ) -> None:
        if min_length < 0 or max_length < max(min_length, 1):
            raise ValueError(
                "need 0 <= min_length <= max_length and max_length >= 1, "
                f"got min_length={min_length}, max_length={max_length}"
            )
        self.min_length = min_length
        self.max_length = max_length
        self.multiline = multiline
        self.neutralize_formulas = neutralize_formulas

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": self.min_length, "maxLength": self.max_length}

    def sanitize(self, text: str) -> str:
        raise NotImplementedError

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if not isinstance(value, str):
            raise fail("text.type")
        # Markup may legitimately inflate a text a few times over; far beyond that, refuse
        # before spending time on parsing.
        if len(value) > 4 * self.max_length + 1024:
            raise fail("text.too_long", max_length=self.max_length)
        found = forbidden_character(value, multiline=self.multiline)
        if found is not None:
            raise fail(found[0])
        if value:
            policy = policy_of(info.context)
            threats = policy.inspect(value)
            if threats:
                note_threats(info.context, info.field_name, threats, rejected=policy.strict)
                if policy.strict:
                    raise fail(threats[0].code, rule=threats[0].rule)
        text = self.sanitize(value).strip()
        if text is not value:
            # Decoded entities such as &#x202e; come back as characters: check them again.
            found = forbidden_character(text, multiline=self.multiline)
            if found is not None:
                raise fail(found[0])
        if len(text) < self.min_length:
            raise fail("text.too_short", min_length=self.min_length) if text else fail("text.empty")
        if self.neutralize_formulas:
            text = neutralize_formula(text)
        if _length(text) > self.max_length:
            raise fail("text.too_long", max_length=self.max_length)
        return text


def _length(text: str) -> int:
    # The quote that neutralizes a formula is not the partner's text and does not count.
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        return len(text) - 1
    return len(text)


class SanitizedText(_TextRule):
    """Plain-text rules for an ``Annotated[str, ...]`` field, such as a title or a brand.

    The value must be text without control characters (tab and line breaks included),
    bidirectional controls or lone surrogates. It is inspected by the security policy, stripped
    of every tag (:func:`~commerce_kit.validation.sanitize_text`), trimmed, checked for length
    and, unless turned off, protected against spreadsheet formulas
    (:func:`~commerce_kit.validation.neutralize_formula`).

    Args:
        min_length: The fewest characters allowed after sanitizing (0 allows empty text).
        max_length: The most characters allowed after sanitizing.
        neutralize_formulas: Whether to prefix a ``'`` to text a spreadsheet would run.

    Raises:
        ValueError: If the lengths are inconsistent.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def __init__(
        self, *, min_length: int = 1, max_length: int = 150, neutralize_formulas: bool = True
    ) -> None:
        super().__init__(
            min_length=min_length,
            max_length=max_length,
            multiline=False,
            neutralize_formulas=neutralize_formulas,
        )

    def sanitize(self, text: str) -> str:
        """Return ``text`` as plain text (see :func:`sanitize_text`)."""
        return sanitize_text(text)


class SanitizedHtml(_TextRule):
    """Rich-text rules for an ``Annotated[str, ...]`` field, such as a description.

    Like :class:`SanitizedText`, but tab and line breaks are allowed (CR LF and a lone CR become
    LF) and markup is kept to the allow-list of
    :func:`~commerce_kit.validation.sanitize_html`.

    Args:
        min_length: The fewest characters allowed after sanitizing (0 allows empty text).
        max_length: The most characters allowed after sanitizing, markup included.
        neutralize_formulas: Whether to prefix a ``'`` to text a spreadsheet would run.

    Raises:
        ValueError: If the lengths are inconsistent.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def __init__(
        self, *, min_length: int = 0, max_length: int = 5000, neutralize_formulas: bool = True
    ) -> None:
        super().__init__(
            min_length=min_length,
            max_length=max_length,
            multiline=True,
            neutralize_formulas=neutralize_formulas,
        )

    def sanitize(self, text: str) -> str:
        """Return ``text`` as allow-listed HTML (see :func:`sanitize_html`)."""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return sanitize_html(text)


#: A stock-keeping unit: 1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or
#: digit (a leading ``-`` would read as a formula in a spreadsheet). Surrounding spaces are
#: trimmed; a JSON integer is accepted as its digits.
Sku = Annotated[str, _SkuRule()]

#: A GTIN (EAN/UPC): 8, 12, 13 or 14 digits with a valid GS1 check digit.
Gtin = Annotated[str, _GtinRule()]

#: An active ISO 4217 currency code such as ``USD``; lower case is accepted and upper-cased.
CurrencyCode = Annotated[str, _CurrencyRule()]

#: A price greater than 0 and below one billion: a decimal string such as ``"15.00"`` (optionally
#: followed by a currency code, ``"15.00 USD"``), or a JSON number. Booleans, exponents,
#: thousands separators and non-finite numbers are refused. When the model has a ``currency``
#: field declared before the price, the amount may carry at most that currency's ISO 4217
#: minor-unit places (2 for USD, 0 for JPY, 3 for KWD; 2 otherwise) and a currency code written
#: in the price must match it. The value is kept at exactly that many places (``15`` becomes
#: ``15.00``); trailing zeros beyond them are accepted (``40.000`` is ``40.00``).
Money = Annotated[Decimal, _MoneyRule()]

#: A stock level: a whole number from 0 to 2147483647, as a JSON integer or text such as
#: ``"12"`` (``"12.0"`` is accepted; ``"12.5"``, ``"-1"`` and booleans are not).
StockLevel = Annotated[int, _StockRule()]

#: An absolute ``http`` or ``https`` URL of at most 2048 characters with a valid host, without
#: user name or password, spaces or control characters. Other schemes (``javascript:``,
#: ``data:``, ``file:``, ``ftp:``...) are refused. The URL is kept as given, trimmed.
WebUrl = Annotated[str, _UrlRule()]

#: Plain text of 1 to 150 characters (see :class:`SanitizedText`).
SafeText = Annotated[str, SanitizedText()]

#: Rich text of at most 5000 characters, possibly empty (see :class:`SanitizedHtml`).
SafeHtml = Annotated[str, SanitizedHtml()]
