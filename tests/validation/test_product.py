"""The default Product schema, checked against a reference model with generated records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from commerce_kit.validation import CURRENCY_MINOR_UNITS, Product, Validator
from tests.validation._helpers import expected_plain, record, valid_records

VALIDATOR = Validator()


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@settings(max_examples=150)
@given(valid_records())
def test_a_valid_record_is_accepted_as_the_reference_model_says(data: dict[str, object]) -> None:
    result = VALIDATOR.validate_one(data)
    assert () == result.errors
    product = result.value
    assert product is not None
    currency = str(data["currency"]).upper()
    places = CURRENCY_MINOR_UNITS[currency]
    assert str(data["sku"]) == product.sku
    assert expected_plain(str(data["title"])) == product.title
    assert currency == product.currency
    assert Decimal(str(data["price"])).quantize(Decimal(1).scaleb(-places)) == product.price
    for name in ("stock", "url", "image_url", "gtin"):
        value = data.get(name)
        assert (None if _blank(value) else type(getattr(product, name))(value)) == getattr(
            product, name
        )
    brand = data.get("brand")
    assert (None if _blank(brand) else expected_plain(str(brand))) == product.brand


@settings(max_examples=150)
@given(valid_records())
def test_a_product_round_trips_through_its_json_form(data: dict[str, object]) -> None:
    product = VALIDATOR.validate_one(data).value
    assert product is not None
    assert product == Product.model_validate(product.model_dump(mode="json"))
    assert product == Product.model_validate(product.model_dump())


# One invalid value per field, with the code it must be reported under.
_MUTATIONS: dict[str, list[tuple[object, str]]] = {
    "sku": [("bad sku!", "sku.pattern"), ("-1", "sku.pattern"), ("x" * 65, "sku.pattern")],
    "title": [
        ("", "field.missing"),
        ("Tee\x00", "text.control_chars"),
        ("x" * 151, "text.too_long"),
        ("\u202eTee", "text.bidi_control"),
    ],
    "description": [("a\x01", "text.control_chars"), (5, "text.type")],
    "price": [
        ("-1", "price.not_positive"),
        ("0", "price.not_positive"),
        ("abc", "price.format"),
        ("1e3", "price.format"),
    ],
    "currency": [("XYZ", "currency.unknown"), ("dollars", "currency.format")],
    "stock": [("12.5", "stock.not_integer"), ("-1", "stock.negative"), (True, "stock.not_integer")],
    "url": [
        ("javascript:alert(1)", "url.scheme"),
        ("https://u:p@x.org/", "url.credentials"),
        ("x.org", "url.format"),
    ],
    "image_url": [("data:image/png;base64,AA==", "url.scheme")],
    "gtin": [("12345678", "gtin.check_digit"), ("ABC", "gtin.format")],
}


@settings(max_examples=200)
@given(valid_records(), st.sampled_from(sorted(_MUTATIONS)), st.data())
def test_one_invalid_field_is_reported_alone_with_its_code(
    data: dict[str, object], field: str, draw: st.DataObject
) -> None:
    value, code = draw.draw(st.sampled_from(_MUTATIONS[field]))
    data[field] = value
    errors = VALIDATOR.validate_one(data).errors
    assert [(field, code)] == [(error.field, error.code) for error in errors]


class TestBlankAndExtraFields:
    def test_blank_optional_fields_take_their_defaults(self) -> None:
        product = VALIDATOR.validate_one(
            record(description="", stock="  ", url=None, image_url="")
        ).value
        assert product is not None
        assert ("", None, None, None) == (
            product.description,
            product.stock,
            product.url,
            product.image_url,
        )

    def test_unknown_fields_such_as_availability_are_ignored(self) -> None:
        product = VALIDATOR.validate_one(record(availability="in stock", color="red")).value
        assert product is not None
        assert "availability" not in product.model_dump()

    def test_a_product_is_immutable(self) -> None:
        product = Product.model_validate(record())
        with pytest.raises(ValidationError):
            product.title = "changed"

    def test_a_product_built_directly_applies_every_rule(self) -> None:
        product = Product(
            sku="A1",
            title="<b>Tee</b>",
            currency="usd",
            price="9.5",  # type: ignore[arg-type]
        )
        assert ("Tee", "USD", Decimal("9.50")) == (product.title, product.currency, product.price)
