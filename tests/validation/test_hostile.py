"""Hostile input: every value becomes a record error with a catalogue code, never a crash.

A partner feed is attacker-controlled. Integers too long to print, lone surrogates (text read
with ``errors="surrogateescape"``) and text built to make a detector backtrack must each give a
report, not an exception; the doubling tests at the end show that validating text costs time
and memory in proportion to its length.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from commerce_kit.feeds import FeedRecord
from commerce_kit.validation import (
    ERROR_CODES,
    SecurityPolicy,
    Validator,
    sanitize_html,
    sanitize_text,
)
from tests.validation._helpers import record

FIELDS = ("sku", "title", "description", "brand", "price", "currency", "stock", "url", "gtin")
POLICIES = [SecurityPolicy(), SecurityPolicy(mode="strict")]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [10**5000, -(10**5000)], ids=["positive", "negative"])
def test_an_integer_too_long_to_print_is_a_record_error(field: str, value: int) -> None:
    result = Validator().validate_one(record(**{field: value}), line=3)
    assert not result.ok
    assert [] == [e for e in result.errors if e.code not in ERROR_CODES]
    assert [field] == [e.field for e in result.errors]
    assert all("digits" in (e.value or "") for e in result.errors)


def test_a_huge_integer_sku_reads_as_a_wrong_pattern() -> None:
    result = Validator().validate_one(record(sku=10**5000))
    assert ["sku.pattern"] == [e.code for e in result.errors]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("policy", POLICIES, ids=["flag", "strict"])
@pytest.mark.parametrize(
    "text",
    [
        "Tee\udcff",
        "<b>Tee\udcff</b>",
        "' or 1=1 --\udcff",
        "<script>\udcff</script>",
        "https://x.example/\udcff",
        "\udcff15.00",
    ],
)
def test_a_lone_surrogate_is_a_record_error_in_every_field(
    field: str, policy: SecurityPolicy, text: str
) -> None:
    validator = Validator(policy=policy)
    result = validator.validate_one(record(**{field: text}), line=2)
    report = validator.validate([FeedRecord(record(**{field: text}), 2, 1)])
    assert not result.ok
    assert [] == [e for e in result.errors if e.code not in ERROR_CODES]
    assert result.errors == tuple(report.errors)


@pytest.mark.parametrize("text", ["x\udcff", "<b>x\udcff</b>", "&lt;b&gt;\udcff", "\ud800<p>"])
def test_the_sanitizers_replace_a_lone_surrogate(text: str) -> None:
    for sanitize in (sanitize_text, sanitize_html):
        clean = sanitize(text)
        assert "\ufffd" in clean
        assert clean.encode()  # valid Unicode: it encodes
        assert clean == sanitize(clean)


@pytest.mark.parametrize("text", ["\\ud800<script>", "%ed%a0%80' or 1=1", "&#xd800;onload="])
def test_the_detector_reads_escapes_of_surrogates(text: str) -> None:
    for policy in POLICIES:
        policy.inspect(text)  # no UnicodeError: the decoded view may hold a lone surrogate


def test_importing_validation_loads_neither_feeds_nor_defusedxml() -> None:
    code = textwrap.dedent(
        """
        import sys
        import commerce_kit
        third_party = sorted(
            name for name in sys.modules
            if name.split(".")[0] in {"pydantic", "pydantic_core", "nh3", "re2", "defusedxml"}
        )
        assert third_party == [], third_party
        import commerce_kit.validation
        loaded = sorted(
            name for name in sys.modules
            if name.startswith(("commerce_kit.feeds", "defusedxml"))
        )
        assert loaded == [], loaded
        assert "re2" in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert 0 == done.returncode, done.stderr
