"""Every validation rule's stable code and its wording, and the mapping from pydantic's errors.

Codes read ``<family>.<rule>``: the family names the kind of value (``price``, ``text``, ``url``,
``security``...), the rule what went wrong. The wording completes a sentence that starts with
the field's name ("price: must be greater than 0"); it never mentions pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic_core import PydanticCustomError

_RULES: dict[str, str] = {
    # the record as a whole
    "record.type": "must be a mapping of field names to values",
    "record.unreadable": "could not be read: {reason}",
    "field.missing": "is required",
    "field.unknown": "is not an accepted field",
    # identifiers
    "sku.pattern": (
        "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    ),
    "gtin.format": "must be 8, 12, 13 or 14 digits",
    "gtin.check_digit": "has a wrong check digit",
    # money and quantities
    "price.format": (
        "must be a decimal number such as 15.00, optionally followed by a currency code"
    ),
    "price.not_positive": "must be greater than 0",
    "price.too_large": "must be less than 1000000000",
    "price.precision": "must have at most {places} decimal places for {currency}",
    "price.currency_mismatch": "is in {given} but the currency is {currency}",
    "currency.format": "must be a three-letter ISO 4217 currency code such as USD",
    "currency.unknown": "must be an active ISO 4217 currency code",
    "stock.not_integer": "must be a whole number",
    "stock.negative": "must be 0 or more",
    "stock.too_large": "must be at most 2147483647",
    # links
    "url.format": "must be an absolute http or https URL",
    "url.scheme": "must use http or https",
    "url.credentials": "must not contain a user name or password",
    "url.too_long": "must be at most 2048 characters",
    # free text
    "text.type": "must be text",
    "text.empty": "must not be empty",
    "text.too_short": "must be at least {min_length} characters",
    "text.too_long": "must be at most {max_length} characters",
    "text.control_chars": "must not contain control characters",
    "text.bidi_control": "must not contain bidirectional control characters",
    "text.invalid_unicode": "must be valid Unicode text",
    # attacks
    "security.sql_injection": "looks like an SQL injection attempt ({rule})",
    "security.xss": "looks like a cross-site scripting attempt ({rule})",
    # generic rules, for custom models built with plain pydantic types
    "value.type": "must be {expected}",
    "value.not_integer": "must be a whole number",
    "value.not_number": "must be a number",
    "value.not_boolean": "must be true or false",
    "value.not_date": "must be a date",
    "value.not_datetime": "must be a date and time",
    "value.too_short": "must be at least {min_length} characters",
    "value.too_long": "must be at most {max_length} characters",
    "value.too_few": "must have at least {min_length} items",
    "value.too_many": "must have at most {max_length} items",
    "value.pattern": "must match the pattern {pattern}",
    "value.too_small": "must be greater than {limit}",
    "value.too_small_or_equal": "must be at least {limit}",
    "value.too_large": "must be less than {limit}",
    "value.too_large_or_equal": "must be at most {limit}",
    "value.precision": "must have at most {decimal_places} decimal places",
    "value.choice": "must be one of {expected}",
    "value.url": "must be a valid URL",
    "value.invalid": "is not valid",
}

#: Every error code a validation can report, with the wording of its rule. Placeholders in
#: braces are filled from the error's context.
ERROR_CODES: Mapping[str, str] = MappingProxyType(_RULES)


def fail(code: str, **context: Any) -> PydanticCustomError:
    """Build the error a field validator raises for ``code``, worded from the catalogue."""
    return PydanticCustomError(code, _RULES[code], context or None)


# pydantic error type -> (our code, the context keys our wording needs from pydantic's context)
_PYDANTIC: dict[str, tuple[str, dict[str, str]]] = {
    "missing": ("field.missing", {}),
    "extra_forbidden": ("field.unknown", {}),
    "string_type": ("value.type", {"expected": "=text"}),
    "string_unicode": ("text.invalid_unicode", {}),
    "string_too_short": ("value.too_short", {"min_length": "min_length"}),
    "string_too_long": ("value.too_long", {"max_length": "max_length"}),
    "string_pattern_mismatch": ("value.pattern", {"pattern": "pattern"}),
    "int_type": ("value.not_integer", {}),
    "int_parsing": ("value.not_integer", {}),
    "int_from_float": ("value.not_integer", {}),
    "int_parsing_size": ("value.not_integer", {}),
    "float_type": ("value.not_number", {}),
    "float_parsing": ("value.not_number", {}),
    "finite_number": ("value.not_number", {}),
    "decimal_type": ("value.not_number", {}),
    "decimal_parsing": ("value.not_number", {}),
    "decimal_max_places": ("value.precision", {"decimal_places": "decimal_places"}),
    "bool_type": ("value.not_boolean", {}),
    "bool_parsing": ("value.not_boolean", {}),
    "greater_than": ("value.too_small", {"limit": "gt"}),
    "greater_than_equal": ("value.too_small_or_equal", {"limit": "ge"}),
    "less_than": ("value.too_large", {"limit": "lt"}),
    "less_than_equal": ("value.too_large_or_equal", {"limit": "le"}),
    "too_short": ("value.too_few", {"min_length": "min_length"}),
    "too_long": ("value.too_many", {"max_length": "max_length"}),
    "literal_error": ("value.choice", {"expected": "expected"}),
    "enum": ("value.choice", {"expected": "expected"}),
    "date_type": ("value.not_date", {}),
    "date_parsing": ("value.not_date", {}),
    "date_from_datetime_parsing": ("value.not_date", {}),
    "datetime_type": ("value.not_datetime", {}),
    "datetime_parsing": ("value.not_datetime", {}),
    "datetime_from_date_parsing": ("value.not_datetime", {}),
    "url_type": ("value.url", {}),
    "url_parsing": ("value.url", {}),
    "url_scheme": ("value.url", {}),
    "url_syntax_violation": ("value.url", {}),
    "url_too_long": ("value.url", {}),
    "list_type": ("value.type", {"expected": "=a list"}),
    "tuple_type": ("value.type", {"expected": "=a list"}),
    "set_type": ("value.type", {"expected": "=a list"}),
    "dict_type": ("value.type", {"expected": "=a mapping"}),
    "model_type": ("value.type", {"expected": "=a mapping"}),
    "model_attributes_type": ("value.type", {"expected": "=a mapping"}),
    "dataclass_type": ("value.type", {"expected": "=a mapping"}),
    "typed_dict_type": ("value.type", {"expected": "=a mapping"}),
}


def translate(
    error_type: str, message: str, context: Mapping[str, Any] | None, *, at_root: bool
) -> tuple[str, str]:
    """Turn one pydantic error into our ``(code, rule wording)``.

    Our own validators raise errors whose type already is a catalogue code (or a dotted code of
    the user's own), and their message is kept. A ``ValueError`` or ``AssertionError`` raised in
    a user's validator keeps the user's words. Every other pydantic error is mapped to a generic
    rule; unknown ones read "is not valid", so pydantic's own wording and links never leak. A
    type error about the whole record (``at_root``) becomes ``record.type``.
    """
    if "." in error_type:
        return error_type, message
    ctx = context or {}
    if error_type in {"value_error", "assertion_error"} and "error" in ctx:
        return "value.invalid", str(ctx["error"])
    code, wanted = _PYDANTIC.get(error_type, ("value.invalid", {}))
    if at_root and code == "value.type":
        return "record.type", _RULES["record.type"]
    values = {
        key: source[1:] if source.startswith("=") else ctx.get(source, "?")
        for key, source in wanted.items()
    }
    return code, _RULES[code].format(**values)
