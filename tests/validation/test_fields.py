"""Every rule of every field type, with its exact code and message."""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter

from commerce_kit.validation import (
    ERROR_CODES,
    CurrencyCode,
    Gtin,
    Money,
    Product,
    SafeHtml,
    SafeText,
    SanitizedHtml,
    SanitizedText,
    Sku,
    StockLevel,
    Validator,
    WebUrl,
)
from tests.validation._helpers import record

VALIDATOR = Validator()


def errors_of(**changes: object) -> list[tuple[str | None, str, str]]:
    result = VALIDATOR.validate_one(record(**changes), line=14)
    return [(error.field, error.code, error.message) for error in result.errors]


def accepted(**changes: object) -> Product:
    result = VALIDATOR.validate_one(record(**changes))
    assert () == result.errors
    assert result.value is not None
    return result.value


SKU_RULE = "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
PRICE_FORMAT = "must be a decimal number such as 15.00, optionally followed by a currency code"
CURRENCY_FORMAT = "must be a three-letter ISO 4217 currency code such as USD"
URL_FORMAT = "must be an absolute http or https URL"
BIDI = "must not contain bidirectional control characters"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # identifiers
        (
            {"sku": ..., "title": ...},
            [
                ("sku", "field.missing", "line 14, sku: is required"),
                ("title", "field.missing", "line 14, title: is required"),
            ],
        ),
        (
            {"sku": "bad sku!"},
            [("sku", "sku.pattern", f"line 14, sku: {SKU_RULE}, got 'bad sku!'")],
        ),
        (
            {"sku": "-LEADING"},
            [("sku", "sku.pattern", f"line 14, sku: {SKU_RULE}, got '-LEADING'")],
        ),
        (
            {"sku": "A" * 65},
            [("sku", "sku.pattern", f"line 14, sku: {SKU_RULE}, got '{'A' * 40}…'")],
        ),
        ({"sku": True}, [("sku", "sku.pattern", f"line 14, sku: {SKU_RULE}, got 'True'")]),
        (
            {"gtin": "4006381333932"},
            [
                (
                    "gtin",
                    "gtin.check_digit",
                    "line 14, gtin: has a wrong check digit, got '4006381333932'",
                )
            ],
        ),
        (
            {"gtin": "3.65275E+11"},
            [
                (
                    "gtin",
                    "gtin.format",
                    "line 14, gtin: must be 8, 12, 13 or 14 digits, got '3.65275E+11'",
                )
            ],
        ),
        (
            {"gtin": 12.5},
            [("gtin", "gtin.format", "line 14, gtin: must be 8, 12, 13 or 14 digits, got '12.5'")],
        ),
        # money
        (
            {"price": "-3.5"},
            [("price", "price.not_positive", "line 14, price: must be greater than 0, got '-3.5'")],
        ),
        (
            {"price": 0},
            [("price", "price.not_positive", "line 14, price: must be greater than 0, got '0'")],
        ),
        (
            {"price": "abc"},
            [
                (
                    "price",
                    "price.format",
                    f"line 14, price: {PRICE_FORMAT}, got 'abc'",
                )
            ],
        ),
        (
            {"price": "1,299.00"},
            [
                (
                    "price",
                    "price.format",
                    f"line 14, price: {PRICE_FORMAT}, got '1,299.00'",
                )
            ],
        ),
        (
            {"price": "1E2"},
            [
                (
                    "price",
                    "price.format",
                    f"line 14, price: {PRICE_FORMAT}, got '1E2'",
                )
            ],
        ),
        (
            {"price": True},
            [
                (
                    "price",
                    "price.format",
                    f"line 14, price: {PRICE_FORMAT}, got 'True'",
                )
            ],
        ),
        (
            {"price": float("nan")},
            [
                (
                    "price",
                    "price.format",
                    f"line 14, price: {PRICE_FORMAT}, got 'nan'",
                )
            ],
        ),
        (
            {"price": "1000000000"},
            [
                (
                    "price",
                    "price.too_large",
                    "line 14, price: must be less than 1000000000, got '1000000000'",
                )
            ],
        ),
        (
            {"price": "15.001"},
            [
                (
                    "price",
                    "price.precision",
                    "line 14, price: must have at most 2 decimal places for USD, got '15.001'",
                )
            ],
        ),
        (
            {"price": "1500.5", "currency": "JPY"},
            [
                (
                    "price",
                    "price.precision",
                    "line 14, price: must have at most 0 decimal places for JPY, got '1500.5'",
                )
            ],
        ),
        (
            {"price": "15.00 EUR"},
            [
                (
                    "price",
                    "price.currency_mismatch",
                    "line 14, price: is in EUR but the currency is USD, got '15.00 EUR'",
                )
            ],
        ),
        (
            {"price": "15.00 XYZ", "currency": ...},
            [
                (
                    "currency",
                    "currency.unknown",
                    "line 14, currency: must be an active ISO 4217 currency code, got 'XYZ'",
                ),
                (
                    "price",
                    "currency.unknown",
                    "line 14, price: must be an active ISO 4217 currency code, got '15.00 XYZ'",
                ),
            ],
        ),
        (
            {"price": 7, "currency": ...},
            [("currency", "field.missing", "line 14, currency: is required")],
        ),
        (
            {"currency": "XYZ"},
            [
                (
                    "currency",
                    "currency.unknown",
                    "line 14, currency: must be an active ISO 4217 currency code, got 'XYZ'",
                )
            ],
        ),
        (
            {"currency": "US Dollar"},
            [
                (
                    "currency",
                    "currency.format",
                    f"line 14, currency: {CURRENCY_FORMAT}, got 'US Dollar'",
                )
            ],
        ),
        (
            {"currency": 840},
            [
                (
                    "currency",
                    "currency.format",
                    f"line 14, currency: {CURRENCY_FORMAT}, got '840'",
                )
            ],
        ),
        # stock
        (
            {"stock": "12.5"},
            [("stock", "stock.not_integer", "line 14, stock: must be a whole number, got '12.5'")],
        ),
        (
            {"stock": 12.5},
            [("stock", "stock.not_integer", "line 14, stock: must be a whole number, got '12.5'")],
        ),
        (
            {"stock": False},
            [("stock", "stock.not_integer", "line 14, stock: must be a whole number, got 'False'")],
        ),
        (
            {"stock": "-1"},
            [("stock", "stock.negative", "line 14, stock: must be 0 or more, got '-1'")],
        ),
        (
            {"stock": -1},
            [("stock", "stock.negative", "line 14, stock: must be 0 or more, got '-1'")],
        ),
        (
            {"stock": "2147483648"},
            [
                (
                    "stock",
                    "stock.too_large",
                    "line 14, stock: must be at most 2147483647, got '2147483648'",
                )
            ],
        ),
        (
            {"stock": "9" * 5000},
            [
                (
                    "stock",
                    "stock.too_large",
                    f"line 14, stock: must be at most 2147483647, got '{'9' * 40}…'",
                )
            ],
        ),
        # links
        (
            {"url": "javascript:alert(1)"},
            [
                (
                    "url",
                    "url.scheme",
                    "line 14, url: must use http or https, got 'javascript:alert(1)'",
                )
            ],
        ),
        (
            {"url": "data:text/html,x"},
            [("url", "url.scheme", "line 14, url: must use http or https, got 'data:text/html,x'")],
        ),
        (
            {"image_url": "file:///etc/passwd"},
            [
                (
                    "image_url",
                    "url.scheme",
                    "line 14, image_url: must use http or https, got 'file:///etc/passwd'",
                )
            ],
        ),
        (
            {"url": "https://user:secret@shop.example.com/"},
            [
                (
                    "url",
                    "url.credentials",
                    "line 14, url: must not contain a user name or password, got 'https://user:secret@shop.example.com/'",
                )
            ],
        ),
        (
            {"url": "shop.example.com/p/1"},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got 'shop.example.com/p/1'",
                )
            ],
        ),
        (
            {"url": "https://shop.example.com/a b"},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got 'https://shop.example.com/a b'",
                )
            ],
        ),
        (
            {"url": "https://-shop.example.com/"},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got 'https://-shop.example.com/'",
                )
            ],
        ),
        (
            {"url": "https://[::1/"},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got 'https://[::1/'",
                )
            ],
        ),
        (
            {"url": "https://shop.example.com:0/"},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got 'https://shop.example.com:0/'",
                )
            ],
        ),
        (
            {"url": "https://x.org/" + "a" * 2040},
            [
                (
                    "url",
                    "url.too_long",
                    "line 14, url: must be at most 2048 characters, "
                    f"got 'https://x.org/{'a' * 26}…'",
                )
            ],
        ),
        (
            {"url": 42},
            [
                (
                    "url",
                    "url.format",
                    f"line 14, url: {URL_FORMAT}, got '42'",
                )
            ],
        ),
        # free text
        ({"title": 42}, [("title", "text.type", "line 14, title: must be text, got '42'")]),
        (
            {"title": "<b></b>"},
            [("title", "text.empty", "line 14, title: must not be empty, got '<b></b>'")],
        ),
        (
            {"title": "x" * 151},
            [
                (
                    "title",
                    "text.too_long",
                    f"line 14, title: must be at most 150 characters, got '{'x' * 40}…'",
                )
            ],
        ),
        (
            {"title": "x" * 2000},
            [
                (
                    "title",
                    "text.too_long",
                    f"line 14, title: must be at most 150 characters, got '{'x' * 40}…'",
                )
            ],
        ),
        (
            {"title": "Tee\x00"},
            [
                (
                    "title",
                    "text.control_chars",
                    "line 14, title: must not contain control characters, got 'Tee\\x00'",
                )
            ],
        ),
        (
            {"title": "Tee\tshirt"},
            [
                (
                    "title",
                    "text.control_chars",
                    "line 14, title: must not contain control characters, got 'Tee\\x09shirt'",
                )
            ],
        ),
        (
            {"title": "Tee\u202egnp.exe"},
            [
                (
                    "title",
                    "text.bidi_control",
                    f"line 14, title: {BIDI}, got 'Tee\\u202egnp.exe'",
                )
            ],
        ),
        (
            {"title": "Tee &#x202e;gnp.exe"},
            [
                (
                    "title",
                    "text.bidi_control",
                    f"line 14, title: {BIDI}, got 'Tee &#x202e;gnp.exe'",
                )
            ],
        ),
        (
            {"title": "Tee\ud800"},
            [
                (
                    "title",
                    "text.invalid_unicode",
                    "line 14, title: must be valid Unicode text, got 'Tee\\ud800'",
                )
            ],
        ),
        (
            {"description": "a\x0bb"},
            [
                (
                    "description",
                    "text.control_chars",
                    "line 14, description: must not contain control characters, got 'a\\x0bb'",
                )
            ],
        ),
        (
            {"description": "<p>" + "x" * 5000 + "</p>"},
            [
                (
                    "description",
                    "text.too_long",
                    f"line 14, description: must be at most 5000 characters, got '<p>{'x' * 37}…'",
                )
            ],
        ),
        (
            {"brand": "b" * 71},
            [
                (
                    "brand",
                    "text.too_long",
                    f"line 14, brand: must be at most 70 characters, got '{'b' * 40}…'",
                )
            ],
        ),
        # the record as a whole
        (
            {"title": ["a"]},
            [("title", "text.type", "line 14, title: must be text, got '<list of 1 items>'")],
        ),
    ],
)
def test_reports_each_rule_with_its_code_and_exact_message(
    changes: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    assert expected == errors_of(**changes)


def test_every_reported_code_is_in_the_catalogue() -> None:
    assert all(code.count(".") == 1 for code in ERROR_CODES)


class TestAcceptedValues:
    def test_sku_is_trimmed_and_an_integer_is_taken_as_its_digits(self) -> None:
        assert ("TEE-1", "12345") == (accepted(sku="  TEE-1 ").sku, accepted(sku=12345).sku)

    def test_currency_is_upper_cased(self) -> None:
        assert "EUR" == accepted(currency=" eur ").currency

    @pytest.mark.parametrize(
        ("price", "currency", "expected"),
        [
            ("15", "USD", Decimal("15.00")),
            ("40.000", "USD", Decimal("40.00")),
            (".5", "USD", Decimal("0.50")),
            (19.99, "USD", Decimal("19.99")),
            (7, "USD", Decimal("7.00")),
            (Decimal("2.5"), "USD", Decimal("2.50")),
            ("1500", "JPY", Decimal(1500)),
            ("1.234", "KWD", Decimal("1.234")),
            ("0.0001", "CLF", Decimal("0.0001")),
            ("15.00 usd", "USD", Decimal("15.00")),
            ("15.00USD", "USD", Decimal("15.00")),
        ],
    )
    def test_price_is_kept_at_the_currency_minor_unit(
        self, price: object, currency: str, expected: Decimal
    ) -> None:
        product = accepted(price=price, currency=currency)
        assert (expected, str(expected)) == (product.price, str(product.price))

    def test_currency_comes_from_the_price_when_the_record_has_none(self) -> None:
        product = accepted(price="1.234 KWD", currency=...)
        assert ("KWD", Decimal("1.234")) == (product.currency, product.price)

    @pytest.mark.parametrize(
        ("stock", "expected"), [("12", 12), (" 7 ", 7), ("12.0", 12), (3.0, 3), (0, 0), ("-0", 0)]
    )
    def test_stock_accepts_whole_numbers_as_numbers_or_text(
        self, stock: object, expected: int
    ) -> None:
        assert expected == accepted(stock=stock).stock

    @pytest.mark.parametrize(
        "url",
        [
            "https://shop.example.com/p/1?c=red#top",
            "HTTP://SHOP.EXAMPLE.COM",
            "https://xn--caf-dma.example/caf\u00e9",
            "https://[2001:db8::1]:8443/p",
            "http://shop.example.com:65535/",
            "https://shop.example.com./p",
        ],
    )
    def test_url_accepts_absolute_http_urls_as_given(self, url: str) -> None:
        assert url == accepted(url=url).url

    def test_title_is_plain_text_trimmed_and_formula_safe(self) -> None:
        assert "'=SUM(A1) tee" == accepted(title="  <b>=SUM(A1)</b> tee ").title

    def test_a_formula_prefix_does_not_count_towards_the_length(self) -> None:
        title = "=" + "x" * 149
        assert "'" + title == accepted(title=title).title

    def test_description_keeps_allowed_markup_and_normalizes_line_breaks(self) -> None:
        assert (
            "<p>a</p>\n<p>b</p>"
            == accepted(description="<p>a</p>\r\n<p onclick='x'>b</p>").description
        )

    def test_gtin_accepts_every_gs1_length(self) -> None:
        assert ["96385074", "036000291452", "4006381333931", "10614141000415"] == [
            accepted(gtin=code).gtin
            for code in ["96385074", "036000291452", 4006381333931, "10614141000415"]
        ]


class TestCustomLengths:
    def test_sanitized_text_takes_its_own_limits(self) -> None:
        adapter = TypeAdapter(Annotated[str, SanitizedText(min_length=3, max_length=5)])
        assert "abcd" == adapter.validate_python("abcd")

    def test_too_short_text_is_reported_with_the_minimum(self) -> None:
        class Label(BaseModel):
            name: Annotated[str, SanitizedText(min_length=3, max_length=5)]

        result = Validator(model=Label).validate_one({"name": "ab"})
        assert ["record 1, name: must be at least 3 characters, got 'ab'"] == [
            e.message for e in result.errors
        ]

    def test_empty_text_is_accepted_when_the_minimum_is_zero(self) -> None:
        assert "" == TypeAdapter(Annotated[str, SanitizedText(min_length=0)]).validate_python("")

    def test_formula_neutralization_can_be_turned_off(self) -> None:
        adapter = TypeAdapter(Annotated[str, SanitizedHtml(neutralize_formulas=False)])
        assert "-20%" == adapter.validate_python("-20%")

    @pytest.mark.parametrize(("low", "high"), [(-1, 5), (6, 5), (0, 0)])
    def test_refuses_inconsistent_lengths(self, low: int, high: int) -> None:
        with pytest.raises(ValueError, match="min_length"):
            SanitizedText(min_length=low, max_length=high)

    def test_reprs_are_the_public_names_so_signatures_read_well(self) -> None:
        assert "Annotated[str, Sku]" == repr(Sku).replace("typing.", "")
        assert ["SanitizedHtml", "Money"] == [
            repr(SanitizedHtml(max_length=9)),
            repr(typing.get_args(Money)[1]),
        ]


class TestOutsideAModel:
    def test_money_without_a_currency_field_allows_two_places(self) -> None:
        adapter: TypeAdapter[Decimal] = TypeAdapter(Money)
        assert Decimal("2.50") == adapter.validate_python("2.5")

    def test_money_reads_its_currency_from_the_price_alone(self) -> None:
        assert Decimal(3) == TypeAdapter(Money).validate_python("3 JPY")

    def test_plain_types_validate_in_a_type_adapter(self) -> None:
        values = [
            TypeAdapter(Sku).validate_python("A1"),
            TypeAdapter(CurrencyCode).validate_python("usd"),
            TypeAdapter(StockLevel).validate_python("3"),
            TypeAdapter(WebUrl).validate_python("https://x.org"),
            TypeAdapter(Gtin).validate_python("96385074"),
            TypeAdapter(SafeText).validate_python("<i>Hi</i>"),
            TypeAdapter(SafeHtml).validate_python("<i>Hi</i>"),
        ]
        assert ["A1", "USD", 3, "https://x.org", "96385074", "Hi", "<i>Hi</i>"] == values

    def test_the_product_json_schema_describes_every_field(self) -> None:
        schema = Product.model_json_schema()
        properties = schema["properties"]
        assert {"sku", "title", "currency", "price"} == set(schema["required"])
        assert "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" == properties["sku"]["pattern"]
        assert (1, 150) == (properties["title"]["minLength"], properties["title"]["maxLength"])
        assert "uri" == properties["url"]["anyOf"][0]["format"]
        assert {"type": "integer", "minimum": 0, "maximum": 2147483647} == properties["stock"][
            "anyOf"
        ][0]
        assert "number" == properties["price"]["anyOf"][1]["type"]
        assert "^[A-Z]{3}$" == properties["currency"]["pattern"]
        assert "^(?:\\d{8}|\\d{12,14})$" == properties["gtin"]["anyOf"][0]["pattern"]
