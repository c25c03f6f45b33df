"""The Validator: partial imports, error reports, security events, logs, hooks, custom models."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, field_validator

from commerce_kit.feeds import FeedRecord
from commerce_kit.typing import ValidationEvent
from commerce_kit.validation import (
    Money,
    Product,
    RecordError,
    RecordRejected,
    RecordResult,
    SafeText,
    SecurityEvent,
    SecurityPolicy,
    Sku,
    ThreatCategory,
    ValidationFinished,
    ValidationReport,
    Validator,
)
from tests.validation._helpers import record

STRICT = SecurityPolicy(mode="strict")


def feed(*records: dict[str, object], first_line: int = 2) -> list[FeedRecord]:
    return [FeedRecord(data, first_line + i, i + 1) for i, data in enumerate(records)]


class TestPartialImport:
    def test_accepts_the_good_records_and_reports_each_error_of_the_bad_ones(self) -> None:
        report = Validator().validate(
            feed(record(sku="A1"), record(price="-3.5", stock="x"), record(sku="A3"))
        )
        assert ["A1", "A3"] == [product.sku for product in report.accepted]
        assert (3, 1, 2, False) == (report.records, report.rejected, report.error_count, report.ok)
        assert [
            "line 3, price: must be greater than 0, got '-3.5'",
            "line 3, stock: must be a whole number, got 'x'",
        ] == [str(error) for error in report.errors]

    def test_numbers_plain_mappings_by_position_without_a_line(self) -> None:
        report = Validator().validate([record(), record(sku="?")])
        assert [
            RecordError(None, 2, "sku", "sku.pattern", report.errors[0].rule, "?")
        ] == report.errors
        assert report.errors[0].message.startswith("record 2, sku: ")

    def test_rejects_a_record_that_is_not_a_mapping(self) -> None:
        report = Validator().validate([record(), ["not", "a", "record"]])  # type: ignore[list-item]
        assert [
            (
                "record.type",
                None,
                "record 2: must be a mapping of field names to values, got '<list of 3 items>'",
            )
        ] == [(e.code, e.field, e.message) for e in report.errors]

    def test_rejects_a_record_the_feed_could_not_read_with_the_reason(self) -> None:
        broken = FeedRecord({"sku": "A1"}, 7, 3, error="7 values but the header has 8 columns")
        report = Validator().validate([broken])
        assert ["line 7: could not be read: 7 values but the header has 8 columns"] == [
            e.message for e in report.errors
        ]
        assert ("record.unreadable", None, None) == (
            report.errors[0].code,
            report.errors[0].field,
            report.errors[0].value,
        )

    def test_an_empty_feed_gives_an_empty_report(self) -> None:
        report = Validator().validate([])
        assert (0, [], 0, [], 0, True) == (
            report.records,
            report.accepted,
            report.rejected,
            report.errors,
            report.error_count,
            report.ok,
        )


class TestMaxErrors:
    def test_keeps_the_first_errors_and_counts_the_rest(self) -> None:
        bad = [record(price="-1", stock="x") for _ in range(3)]
        report = Validator(max_errors=3).validate(bad)
        assert (3, 6, True) == (len(report.errors), report.error_count, report.errors_truncated)
        assert [1, 1, 2] == [error.index for error in report.errors]

    def test_none_keeps_every_error(self) -> None:
        report = Validator(max_errors=None).validate([record(price="-1")] * 5)
        assert (5, 5, False) == (len(report.errors), report.error_count, report.errors_truncated)

    def test_zero_keeps_only_counts(self) -> None:
        report = Validator(max_errors=0).validate([record(price="-1")] * 2)
        assert ([], 2, 2) == (report.errors, report.error_count, report.rejected)

    def test_refuses_a_negative_bound(self) -> None:
        with pytest.raises(ValueError, match="max_errors must be >= 0 or None, got -1"):
            Validator(max_errors=-1)


def test_to_dict_gives_the_json_shape_an_api_returns() -> None:
    report = Validator().validate(feed(record(), record(price="0")), feed_id="f1")
    assert {
        "records": 2,
        "accepted": 1,
        "rejected": 1,
        "errors": [
            {
                "line": 3,
                "index": 2,
                "field": "price",
                "code": "price.not_positive",
                "rule": "must be greater than 0",
                "message": "line 3, price: must be greater than 0, got '0'",
                "value": "0",
            }
        ],
        "error_count": 1,
        "errors_truncated": False,
        "security_events": [],
        "security_event_count": 0,
    } == report.to_dict()


class TestSecurity:
    def test_flag_mode_keeps_the_record_and_reports_the_event(self) -> None:
        report = Validator().validate(
            feed(record(title="Tee' UNION SELECT password FROM users--")),
            feed_id="f1",
            partner_id="p9",
        )
        assert 1 == len(report.accepted)
        assert [
            SecurityEvent(
                ThreatCategory.SQL_INJECTION,
                "sql.union_select",
                "title",
                "union select",
                False,
                2,
                1,
                "f1",
                "p9",
            )
        ] == report.security_events

    def test_strict_mode_rejects_the_field(self) -> None:
        report = Validator(policy=STRICT).validate(
            feed(record(description="<img src=x onerror=alert(1)>"))
        )
        assert [
            (
                "description",
                "security.xss",
                "line 2, description: looks like a cross-site scripting attempt "
                "(xss.event_handler), got '<img src=x onerror=alert(1)>'",
            )
        ] == [(e.field, e.code, e.message) for e in report.errors]
        assert [True] == [event.rejected for event in report.security_events]

    def test_strict_mode_rejects_sql_injection_in_free_text(self) -> None:
        report = Validator(policy=STRICT).validate([record(title="x' OR 1=1 --")])
        assert [
            "record 1, title: looks like an SQL injection attempt (sql.tautology), "
            "got 'x' OR 1=1 --'"
        ] == [e.message for e in report.errors]

    def test_an_attack_in_a_strict_field_is_refused_and_logged_as_an_event(self) -> None:
        report = Validator().validate(feed(record(sku="1' OR '1'='1")))
        assert ["sku.pattern"] == [error.code for error in report.errors]
        assert [("sku", "sql.tautology", True)] == [
            (e.field, e.rule, e.rejected) for e in report.security_events
        ]

    def test_events_are_logged_on_the_security_logger_with_structured_fields(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="commerce_kit.security"):
            Validator().validate(
                feed(record(title="<script>alert(1)</script>Tee")), feed_id="f1", partner_id="p9"
            )
        (entry,) = [r for r in caplog.records if r.name == "commerce_kit.security"]
        assert (
            "xss",
            "xss.script_tag",
            "title",
            "<script",
            "flagged",
            2,
            1,
            "f1",
            "p9",
        ) == (
            entry.security_category,  # type: ignore[attr-defined]
            entry.security_rule,  # type: ignore[attr-defined]
            entry.field,  # type: ignore[attr-defined]
            entry.excerpt,  # type: ignore[attr-defined]
            entry.action,  # type: ignore[attr-defined]
            entry.line,  # type: ignore[attr-defined]
            entry.record_index,  # type: ignore[attr-defined]
            entry.feed_id,  # type: ignore[attr-defined]
            entry.partner_id,  # type: ignore[attr-defined]
        )
        assert logging.WARNING == entry.levelno

    def test_a_huge_payload_is_never_logged_in_full(self, caplog: pytest.LogCaptureFixture) -> None:
        payload = "' UNION SELECT " + "A" * 10_000
        with caplog.at_level(logging.INFO):
            Validator(policy=STRICT).validate([record(description=payload)])
        assert all(len(r.getMessage()) < 500 for r in caplog.records)
        assert all(len(str(getattr(r, "excerpt", ""))) <= 41 for r in caplog.records)

    def test_events_beyond_max_errors_are_counted_not_kept(self) -> None:
        report = Validator(max_errors=1).validate([record(title="' or 1=1--")] * 3)
        assert (1, 3) == (len(report.security_events), report.security_event_count)

    def test_a_model_built_directly_logs_its_events_without_a_position(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="commerce_kit.security"):
            Product.model_validate(record(title="' or 1=1--"))
        (entry,) = caplog.records
        assert ("title", None, None) == (entry.field, entry.line, entry.record_index)  # type: ignore[attr-defined]

    def test_an_event_converts_to_json_ready_data(self) -> None:
        event = SecurityEvent(ThreatCategory.XSS, "xss.script_tag", "title", "<script", True)
        assert {
            "category": "xss",
            "rule": "xss.script_tag",
            "field": "title",
            "excerpt": "<script",
            "rejected": True,
            "line": None,
            "index": None,
            "feed_id": None,
            "partner_id": None,
        } == event.to_dict()


class TestLogsAndHooks:
    def test_rejections_and_a_summary_are_logged_at_info(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="commerce_kit.validation"):
            Validator().validate(feed(record(), record(price="0")), feed_id="f1")
        rejected, summary = caplog.records
        assert (
            "record rejected: line 3, price: must be greater than 0, got '0'"
            == rejected.getMessage()
        )
        assert (3, 2, ["price.not_positive"], ["price"], "f1") == (
            rejected.line,  # type: ignore[attr-defined]
            rejected.record_index,  # type: ignore[attr-defined]
            rejected.codes,  # type: ignore[attr-defined]
            rejected.fields,  # type: ignore[attr-defined]
            rejected.feed_id,  # type: ignore[attr-defined]
        )
        assert (
            "validated 2 records: 1 accepted, 1 rejected, 1 errors, 0 security events"
            == summary.getMessage()
        )

    def test_rejections_beyond_max_errors_are_not_logged_one_by_one(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="commerce_kit.validation"):
            Validator(max_errors=1).validate([record(price="0")] * 4)
        assert 2 == len(caplog.records)

    def test_hooks_receive_every_event_in_order(self) -> None:
        seen: list[ValidationEvent] = []
        Validator(hooks=[seen.append]).validate(
            feed(record(title="' or 1=1--"), record(price="0")), partner_id="p"
        )
        assert [SecurityEvent, RecordRejected, ValidationFinished] == [
            type(event) for event in seen
        ]
        assert ValidationFinished(2, 1, 1, 1, 1, None, "p") == seen[-1]
        rejected = seen[1]
        assert isinstance(rejected, RecordRejected)
        assert (3, 2, ("price.not_positive",)) == (
            rejected.line,
            rejected.index,
            tuple(e.code for e in rejected.errors),
        )

    def test_a_failing_hook_is_logged_and_does_not_stop_validation(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        seen: list[ValidationEvent] = []

        def broken(event: ValidationEvent) -> None:
            raise RuntimeError("instrumentation down")

        with caplog.at_level(logging.ERROR, logger="commerce_kit.validation"):
            report = Validator(hooks=[broken, seen.append]).validate([record(price="0")])
        assert (1, 2) == (report.rejected, len(seen))
        assert 2 == len([r for r in caplog.records if f"hook {broken!r} failed" in r.getMessage()])


class TestDefaults:
    def test_fill_fields_the_feed_leaves_out_or_blank(self) -> None:
        report = Validator(defaults={"currency": "EUR", "stock": ""}).validate(
            [record(currency=...), record(currency="")]
        )
        assert [("EUR", 12), ("EUR", 12)] == [(p.currency, p.stock) for p in report.accepted]

    def test_a_currency_written_in_the_price_wins_over_the_default(self) -> None:
        report = Validator(defaults={"currency": "EUR"}).validate(
            [record(currency=..., price="9.99 USD")]
        )
        assert ["USD"] == [p.currency for p in report.accepted]

    def test_a_record_value_wins_over_the_default(self) -> None:
        report = Validator(defaults={"currency": "EUR"}).validate([record(currency="GBP")])
        assert ["GBP"] == [p.currency for p in report.accepted]


class Variant(BaseModel):
    sku: Sku
    price: Money


class Listing(BaseModel):
    sku: Sku
    title: SafeText
    condition: Literal["new", "used"]
    quantity: Annotated[int, Field(ge=1)]
    variants: list[Variant] = []

    @field_validator("title")
    @classmethod
    def _no_shouting(cls, value: str) -> str:
        if value.isupper():
            raise ValueError("must not be all capitals")
        return value


class Later(BaseModel):
    sku: Sku
    part: PartDefinedLater


# Built while Later still names a class that does not exist yet, as a module may do.
LATER = Validator(model=Later)


class PartDefinedLater(BaseModel):
    price: Money


Later.model_rebuild()


class TestCustomModel:
    def test_takes_a_model_completed_after_the_validator_was_built(self) -> None:
        report = LATER.validate([{"sku": "A1", "part": {"price": "2"}}, {"sku": "A2", "part": {}}])
        assert (1, ["record 2, part.price: is required"]) == (
            len(report.accepted),
            [error.message for error in report.errors],
        )

    def test_validates_with_the_given_model_and_our_wording(self) -> None:
        validator = Validator(model=Listing)
        report = validator.validate(
            [
                {"sku": "L1", "title": "Lamp", "condition": "new", "quantity": "2"},
                {
                    "sku": "L2",
                    "title": "LAMP",
                    "condition": "broken",
                    "quantity": 0,
                    "variants": [{"sku": "V1", "price": "-1"}],
                    "colour": "red",
                },
            ]
        )
        assert [Listing(sku="L1", title="Lamp", condition="new", quantity=2)] == report.accepted
        assert [
            ("title", "value.invalid", "record 2, title: must not be all capitals, got 'LAMP'"),
            (
                "condition",
                "value.choice",
                "record 2, condition: must be one of 'new' or 'used', got 'broken'",
            ),
            (
                "quantity",
                "value.too_small_or_equal",
                "record 2, quantity: must be at least 1, got '0'",
            ),
            (
                "variants.0.price",
                "price.not_positive",
                "record 2, variants.0.price: must be greater than 0, got '-1'",
            ),
        ] == [(e.field, e.code, e.message) for e in report.errors]

    def test_applies_defaults_itself_for_a_custom_model(self) -> None:
        result = Validator(model=Variant, defaults={"price": "5"}).validate_one(
            {"sku": "V1", "price": " "}
        )
        assert Variant(sku="V1", price=Decimal("5.00")) == result.value

    def test_takes_any_type_pydantic_validates(self) -> None:
        report = Validator(model=dict[str, int]).validate([{"a": "1"}, {"b": "x"}])
        assert ([{"a": 1}], ["record 2, b: must be a whole number, got 'x'"]) == (
            report.accepted,
            [e.message for e in report.errors],
        )

    def test_repr_names_the_model(self) -> None:
        assert (
            "Validator(model=Listing, policy=SecurityPolicy(mode='flag', sql_injection=True, "
            "xss=True), max_errors=1000)" == repr(Validator(model=Listing))
        )


class TestStreaming:
    def test_iter_validate_yields_each_outcome_in_order(self) -> None:
        seen: list[ValidationEvent] = []
        results = list(
            Validator(hooks=[seen.append]).iter_validate(feed(record(), record(sku="?")))
        )
        assert [True, False] == [result.ok for result in results]
        assert [(2, 1), (3, 2)] == [(result.line, result.index) for result in results]
        assert [RecordRejected] == [type(event) for event in seen]

    def test_validate_one_checks_a_single_record(self) -> None:
        result: RecordResult[Product] = Validator().validate_one(record(price="0"), index=4)
        assert (None, 4, None) == (result.line, result.index, result.value)
        assert ["record 4, price: must be greater than 0, got '0'"] == [
            e.message for e in result.errors
        ]

    def test_validate_one_names_the_line_when_given(self) -> None:
        result = Validator().validate_one(record(price="0"), line=9, index=4)
        assert ["line 9, price: must be greater than 0, got '0'"] == [
            e.message for e in result.errors
        ]

    def test_validate_one_passes_a_rejection_to_the_hooks(self) -> None:
        seen: list[ValidationEvent] = []
        Validator(hooks=[seen.append]).validate_one(record(price="0"))
        assert [RecordRejected] == [type(event) for event in seen]


def test_a_report_is_ok_when_every_record_is_accepted() -> None:
    report: ValidationReport[Product] = Validator().validate([record()])
    assert (True, False) == (report.ok, report.errors_truncated)
