"""The error catalogue, pydantic's errors in our words, excerpts, and the public surface."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field

from commerce_kit import validation
from commerce_kit.validation import ERROR_CODES, Validator, excerpt
from commerce_kit.validation._catalogue import translate


class Plain(BaseModel):
    """A model built from pydantic's own types only, to reach every generic translation."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=2, max_length=4, pattern="^[a-z]+$")] = "ab"
    count: int = 0
    ratio: float = 0.0
    amount: Annotated[Decimal, Field(decimal_places=1, lt=10, le=9)] = Decimal(1)
    big: Annotated[int, Field(gt=0)] = 1
    flag: bool = False
    tags: Annotated[list[str], Field(min_length=1, max_length=2)] = ["a"]
    day: dt.date = dt.date(2024, 1, 1)
    when: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    meta: dict[str, str] = {}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": 5}, ("name", "value.type", "must be text")),
        ({"name": "a"}, ("name", "value.too_short", "must be at least 2 characters")),
        ({"name": "abcde"}, ("name", "value.too_long", "must be at most 4 characters")),
        ({"name": "AB"}, ("name", "value.pattern", "must match the pattern ^[a-z]+$")),
        ({"count": "x"}, ("count", "value.not_integer", "must be a whole number")),
        ({"count": 1.5}, ("count", "value.not_integer", "must be a whole number")),
        ({"ratio": "x"}, ("ratio", "value.not_number", "must be a number")),
        ({"amount": "1.25"}, ("amount", "value.precision", "must have at most 1 decimal places")),
        ({"amount": "9.5"}, ("amount", "value.too_large_or_equal", "must be at most 9")),
        ({"amount": "x"}, ("amount", "value.not_number", "must be a number")),
        ({"big": 0}, ("big", "value.too_small", "must be greater than 0")),
        ({"flag": "maybe"}, ("flag", "value.not_boolean", "must be true or false")),
        ({"tags": []}, ("tags", "value.too_few", "must have at least 1 items")),
        ({"tags": ["a", "b", "c"]}, ("tags", "value.too_many", "must have at most 2 items")),
        ({"tags": "a"}, ("tags", "value.type", "must be a list")),
        ({"day": "tuesday"}, ("day", "value.not_date", "must be a date")),
        ({"when": "noon"}, ("when", "value.not_datetime", "must be a date and time")),
        ({"meta": []}, ("meta", "value.type", "must be a mapping")),
        ({"colour": "red"}, ("colour", "field.unknown", "is not an accepted field")),
    ],
)
def test_pydantic_errors_are_reported_in_our_words(
    data: dict[str, object], expected: tuple[str, str, str]
) -> None:
    (error,) = Validator(model=Plain).validate_one(data).errors
    assert expected == (error.field, error.code, error.rule)


def test_no_message_leaks_pydantic_wording_or_links() -> None:
    report = Validator(model=Plain).validate(
        [{"name": 5, "count": "x", "day": "y", "tags": "z", "colour": 1}, "not a record"]  # type: ignore[list-item]
    )
    messages = " ".join(error.message for error in report.errors)
    assert not re.search(r"pydantic|errors\.pydantic\.dev|Input should|Value error", messages)


@pytest.mark.parametrize(
    ("error_type", "context", "expected"),
    [
        ("greater_than_equal", {"ge": 3}, ("value.too_small_or_equal", "must be at least 3")),
        ("less_than", {"lt": 5}, ("value.too_large", "must be less than 5")),
        ("url_parsing", {}, ("value.url", "must be a valid URL")),
        ("some_future_error", None, ("value.invalid", "is not valid")),
        ("value_error", {"error": ValueError("odd")}, ("value.invalid", "odd")),
        ("assertion_error", {"error": AssertionError("nope")}, ("value.invalid", "nope")),
        ("value_error", None, ("value.invalid", "is not valid")),
        ("shop.closed", None, ("shop.closed", "the shop's own words")),
        (
            "model_type",
            {"class_name": "X"},
            ("record.type", "must be a mapping of field names to values"),
        ),
    ],
)
def test_translate_maps_each_kind_of_error(
    error_type: str, context: dict[str, object] | None, expected: tuple[str, str]
) -> None:
    assert expected == translate(
        error_type, "the shop's own words", context, at_root=error_type == "model_type"
    )


def test_every_code_reads_family_dot_rule_and_has_wording() -> None:
    assert [] == [
        code
        for code, rule in ERROR_CODES.items()
        if not re.fullmatch(r"[a-z]+\.[a-z_]+", code) or not rule
    ]


class TestExcerpt:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, None),
            ("short", "short"),
            ("x" * 41, "x" * 40 + "…"),
            ("a\x00b\u202ec\ud800", "a\\x00b\\u202ec\\ud800"),
            (-3.5, "-3.5"),
            (Decimal("1.50"), "1.50"),
            (True, "True"),
            (b"\x00ab", "b'\\x00ab'"),
            ({"a": 1}, "<mapping of 1 fields>"),
            ((1, 2), "<tuple of 2 items>"),
            (object(), "<object>"),
        ],
    )
    def test_is_short_printable_and_never_expands_containers(
        self, value: object, expected: str | None
    ) -> None:
        assert expected == excerpt(value)

    @pytest.mark.parametrize(
        "value", [10**5000, -(10**5000), 2**20000], ids=["10e5000", "-10e5000", "2e20000"]
    )
    def test_summarises_an_integer_too_long_to_convert_to_text(self, value: int) -> None:
        assert re.fullmatch(r"<int of about \d+ digits>", excerpt(value) or "")

    def test_shows_an_integer_of_a_few_thousand_digits_cut_like_text(self) -> None:
        assert "1" + "0" * 39 + "…" == excerpt(10**3000)


def test_all_is_sorted_constants_classes_functions_and_names_what_the_package_exports() -> None:
    def group(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2), name

    assert sorted(validation.__all__, key=group) == validation.__all__
    assert [] == [name for name in validation.__all__ if not hasattr(validation, name)]


def test_the_package_root_loads_validation_lazily() -> None:
    import commerce_kit  # noqa: PLC0415 - the lazy attribute is what is tested

    assert validation is commerce_kit.validation
