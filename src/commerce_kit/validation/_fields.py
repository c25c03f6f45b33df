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
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from commerce_kit.validation._catalogue import fail
from commerce_kit.validation._currencies import MINOR_UNITS
from commerce_kit.validation._events import Scope, note_threats, policy_of
from commerce_kit.validation._sanitize import (
    FORMULA_PREFIXES,
    clean_html,
    find_forbidden,
    forbidden_character,
    latin1,
    sanitize_html,
    sanitize_text,
    settled,
)
from commerce_kit.validation._security import (
    DEFAULT_POLICY,
    SecurityPolicy,
    Threat,
    inspect_field,
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


def _digits(value: int) -> str | int:
    """The digits of an integer short enough to be an identifier; a longer one as it is.

    Converting a huge integer to text is slow and may exceed the interpreter's digit limit.
    """
    return str(value) if -(10**64) < value < 10**64 else value


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
            value = _digits(value)
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
            value = _digits(value)
        if not isinstance(value, str):
            raise fail("gtin.format")
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) in {8, 12, 13, 14}):
            raise _refuse(fail("gtin.format"), value, info)
        if not _gtin_check_digit_ok(digits):
            raise fail("gtin.check_digit")
        return digits


# -- money and quantities ------------------------------------------------------------------------

# Matched on the stripped text: around an optional sign, two runs of spaces would make the
# engine try every split of a long run of spaces (quadratic time).
_PRICE = re.compile(r"(-?)\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]{3})?")
# Most prices in a feed: up to nine ASCII digits, a point and two decimals.
_COMMON_PRICE = re.compile(r"[0-9]{1,9}\.[0-9]{2}")
_MINOR_UNITS = dict(MINOR_UNITS)
_PRICE_LIMIT = Decimal(1_000_000_000)
_DEFAULT_PLACES = 2
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(5)}


def currency_in_price(value: object) -> str | None:
    """The currency code written after a price such as ``"15.00 USD"``, upper-cased, if any."""
    if isinstance(value, str):
        match = _PRICE.fullmatch(value.strip())
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
        if type(value) is str and _COMMON_PRICE.fullmatch(value) is not None:
            # The usual "15.00": positive unless zero, below the limit, with the two places
            # of most currencies, so :meth:`check` would give it back as it is.
            amount = Decimal(value)
            if amount:
                data = info.data
                currency = data.get("currency") if data else None
                if not currency or _MINOR_UNITS.get(currency, _DEFAULT_PLACES) == _DEFAULT_PLACES:
                    return amount
        return self.check(value, info)

    def check(self, value: object, info: core_schema.ValidationInfo) -> Decimal:
        """Apply every rule to any value (:meth:`validate` first takes the common case)."""
        given = None
        if isinstance(value, str):
            match = _PRICE.fullmatch(value.strip())
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
        if type(value) is str and value.isdigit() and value.isascii() and len(value) <= 10:
            # The usual "12", which :meth:`check` would read the same way.
            count = int(value)
            if count <= _STOCK_LIMIT:
                return count
        return self.check(value, info)

    def check(self, value: object, info: core_schema.ValidationInfo) -> int:
        """Apply every rule to any value (:meth:`validate` first takes the common case)."""
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


# The same in ASCII, host labels without "_": what nearly every URL is, matched without the
# Unicode classes and case folding that make _PLAIN_URL slower. It accepts nothing _PLAIN_URL
# refuses.
_ASCII_URL = re.compile(
    r"""[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*(?:\.[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*)*
    \.?(?::[1-9][0-9]{0,3})?(?:[/?\#][!\#-;=?-\[\]_a-z~]*)?""",
    re.VERBOSE,
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
        if _ASCII_URL.fullmatch(url) or _PLAIN_URL.fullmatch(url):
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

# A text field's outcome: the stored text, the detections, and the error code and its context.
_Outcome = tuple[str, tuple[Threat, ...], tuple[str, dict[str, Any]] | None]

# Within one validation, texts of this many characters are remembered with their outcome: feeds
# repeat long descriptions across the variants of a product, and sanitizing and inspecting them
# again would give the same result. Short texts cost less to check than to remember; the upper
# bound keeps the memory a memo holds small (MEMO_SIZE texts of at most this many characters).
_MEMO_MIN_LENGTH = 64
_MEMO_MAX_LENGTH = 4096


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

    def _sanitize(self, text: str) -> str:
        """:meth:`sanitize` for text already known to hold valid Unicode."""
        raise NotImplementedError

    def validate(self, value: object, info: core_schema.ValidationInfo) -> str:
        if not isinstance(value, str):
            raise fail("text.type")
        context = info.context
        outcome: _Outcome | None
        if type(context) is Scope:
            policy = context.policy
            memo = context.memo
            if memo is not None and _MEMO_MIN_LENGTH <= len(value) <= _MEMO_MAX_LENGTH:
                key = (self, value)
                outcome = memo.get(key)
                if outcome is None:
                    outcome = self._outcome(value, policy)
                    memo.put(key, outcome)
            else:
                outcome = self._outcome(value, policy)
        else:
            policy = DEFAULT_POLICY
            outcome = self._outcome(value, policy)
        text, threats, error = outcome
        if threats:
            note_threats(context, info.field_name, threats, rejected=policy.strict)
        if error is not None:
            raise fail(error[0], **error[1])
        return text

    def _outcome(self, value: str, policy: SecurityPolicy) -> _Outcome:
        """What validating ``value`` gives: a pure function of the value, the rule and the policy.

        Returns ``(text, threats, error)``: the stored text, the detections to report, and the
        error to raise (a code and its context), if any. Each step is the public function of
        the same name (:func:`forbidden_character`, :meth:`SecurityPolicy.inspect`,
        :meth:`sanitize`) fed with what the earlier steps found out, so the text is read as few
        times as possible.
        """
        # Markup may legitimately inflate a text a few times over; far beyond that, refuse
        # before spending time on parsing.
        if len(value) > 4 * self.max_length + 1024:
            return "", (), ("text.too_long", {"max_length": self.max_length})
        raw = value.encode() if value.isascii() else latin1(value)
        found = find_forbidden(value, self.multiline, raw)
        if found is not None:
            return "", (), (found[0], {})
        # Allow-listed markup written plainly comes out of the HTML sanitizer unchanged.
        markup = self.multiline and "<" in value and settled(value)
        threats = inspect_field(policy, value, raw) if value else ()
        if threats and policy.strict:
            return "", threats, (threats[0].code, {"rule": threats[0].rule})
        if (
            (markup or ("<" not in value and "&" not in value))
            and "\r" not in value
            and (raw is not None or unicodedata.is_normalized("NFC", value))
        ):
            # What the sanitizers give back unchanged: text in NFC without markup characters,
            # or allow-listed markup written plainly.
            text = value.strip()
        else:
            text = self._sanitize(value).strip()
        if text is not value:
            # Decoded entities such as &#x202e; come back as characters: check them again.
            found = forbidden_character(text, multiline=self.multiline)
            if found is not None:
                return "", threats, (found[0], {})
        if len(text) < self.min_length:
            if text:
                return "", threats, ("text.too_short", {"min_length": self.min_length})
            return "", threats, ("text.empty", {})
        if self.neutralize_formulas and text and text[0] in FORMULA_PREFIXES:
            # neutralize_formula, and the quote it adds does not count towards the length.
            text = "'" + text
            length = len(text) - 1
        else:
            length = _length(text)
        if length > self.max_length:
            return "", threats, ("text.too_long", {"max_length": self.max_length})
        return text, threats, None


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

    _sanitize = sanitize


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

    def _sanitize(self, text: str) -> str:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return clean_html(text, valid_unicode=True)


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
