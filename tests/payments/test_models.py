"""PaymentRequest validation, currencies and minor units."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit.payments import PaymentRequest, PaymentResult, PaymentStatus, minor_units
from commerce_kit.payments._models import _MINOR_UNITS

CURRENCIES = sorted(_MINOR_UNITS)


def test_common_currencies_have_their_minor_units() -> None:
    assert {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "CLF": 4} == {
        c: minor_units(c) for c in ("EUR", "USD", "JPY", "KWD", "CLF")
    }


@pytest.mark.parametrize("code", ["eur", "XAU", "BTC", "", "EURO", None, 978])
def test_unknown_or_lowercase_currency_is_refused(code: object) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        minor_units(code)  # type: ignore[arg-type]


def test_every_code_is_three_upper_case_letters() -> None:
    assert [] == [c for c in CURRENCIES if not (len(c) == 3 and c.isalpha() and c.isupper())]


@given(
    currency=st.sampled_from(CURRENCIES),
    units=st.integers(min_value=1, max_value=10**12),
    places=st.integers(min_value=0, max_value=5),
)
def test_amount_precision_matches_a_reference_model(currency: str, units: int, places: int) -> None:
    # Reference: an amount is acceptable when it is a whole number of the currency's minor units.
    amount = Decimal(units).scaleb(-places)
    expected_ok = (amount * 10 ** minor_units(currency)) % 1 == 0
    try:
        PaymentRequest(amount, currency, "order-1")
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert expected_ok == accepted


def test_trailing_zeros_do_not_count_as_precision() -> None:
    assert Decimal("100.000") == PaymentRequest(Decimal("100.000"), "JPY", "o").amount


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-1.00"), Decimal("NaN"), Decimal("Inf")])
def test_non_positive_or_non_finite_amount_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        PaymentRequest(amount, "EUR", "order-1")


@pytest.mark.parametrize("amount", [19.99, 20, "19.99", None])
def test_amount_must_be_a_decimal(amount: object) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        PaymentRequest(amount, "EUR", "order-1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("order_id", "", "order_id"),
        ("idempotency_key", "", "idempotency_key"),
        ("idempotency_key", "k" * 256, "at most 255"),
    ],
)
def test_required_strings_are_checked(field: str, value: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PaymentRequest(Decimal(1), "EUR", **{"order_id": "o", field: value})  # type: ignore[arg-type]


def test_idempotency_key_defaults_to_a_fresh_uuid4() -> None:
    first = PaymentRequest(Decimal(1), "EUR", "o")
    second = PaymentRequest(Decimal(1), "EUR", "o")
    assert 4 == uuid.UUID(first.idempotency_key).version
    assert first.idempotency_key != second.idempotency_key


def test_metadata_is_a_read_only_copy() -> None:
    given_metadata = {"campaign": "flash"}
    request = PaymentRequest(Decimal(1), "EUR", "o", metadata=given_metadata)
    given_metadata["campaign"] = "changed"
    assert {"campaign": "flash"} == dict(request.metadata)
    with pytest.raises(TypeError):
        request.metadata["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("metadata", [{"n": 1}, {1: "n"}, {"n": None}])
def test_metadata_must_map_strings_to_strings(metadata: dict[object, object]) -> None:
    with pytest.raises(TypeError, match="metadata"):
        PaymentRequest(Decimal(1), "EUR", "o", metadata=metadata)  # type: ignore[arg-type]


def test_source_stays_out_of_repr() -> None:
    request = PaymentRequest(Decimal(1), "EUR", "o", source="4242424242424242")
    assert "4242" not in repr(request)


def test_requests_are_hashable_and_compare_by_value() -> None:
    a = PaymentRequest(Decimal("1.50"), "EUR", "o", metadata={"a": "b"}, idempotency_key="k")
    b = PaymentRequest(Decimal("1.5"), "EUR", "o", metadata={"a": "b"}, idempotency_key="k")
    assert a == b
    assert hash(a) == hash(b)


def test_results_are_frozen() -> None:
    result = PaymentResult("p", PaymentStatus.SUCCEEDED, Decimal(1), "EUR", "card", "k", "o", "r")
    with pytest.raises(AttributeError):
        result.amount = Decimal(2)  # type: ignore[misc]
