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
from collections.abc import Callable

import pytest

from commerce_kit.feeds import FeedRecord
from commerce_kit.validation import (
    ERROR_CODES,
    SecurityPolicy,
    Validator,
    sanitize_html,
    sanitize_text,
)
from tests.doubling import assert_linear_memory, assert_linear_time
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


# -- linear time and memory ------------------------------------------------------------------------
#
# Each check runs on an input of n and of 2n characters: CPU time and the tracemalloc peak may at
# most triple (a linear cost doubles, a quadratic one quadruples); see tests/doubling.py.

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "'<' then spaces": lambda n: "<" + " " * n,
    "runs of '<'": lambda n: "<" * n,
    "spaces then a letter": lambda n: " " * n + "x",
    "single quotes": lambda n: "'" * n,
    "double quotes": lambda n: '"' * n,
    "mixed quotes": lambda n: "' \"` " * (n // 5),
    "runs of '--'": lambda n: "--" * (n // 2),
    "comment openers": lambda n: "/*" * (n // 2),
    "nested tags": lambda n: "<b><i>" * (n // 12) + "</i></b>" * (n // 16),
    "broken script tags": lambda n: "<scr<script>ipt>" * (n // 16),
    "event handler names": lambda n: "on" * (n // 2) + "=",
    "long URL": lambda n: "https://shop.example.com/" + "a-b/" * (n // 4),
    "javascript URL": lambda n: "javascript:" + "a" * n,
    "SQL-ish prose": lambda n: (
        "Select the best from our range; order by size, or drop by anytime. " * (n // 68)
    ),
    "injections": lambda n: "' or 1=1 union select * from users where name = 'x' -- " * (n // 56),
    "names compared": lambda n: "' or a=b " * (n // 9),
    "calls compared": lambda n: "' or f(" + "(a)," * (n // 4),
    "entities": lambda n: "&#x3c;" * (n // 6),
    "percent escapes": lambda n: "%3c" * (n // 3),
    "script escapes": lambda n: "\\u003c" * (n // 6),
    "Latin-1 letters": lambda n: "é' or " * (n // 6),
    "other letters": lambda n: "中' or " * (n // 6),
}


def assert_linear(call: Callable[[str], object], make: Callable[[int], str], n: int) -> None:
    small, large = make(n), make(2 * n)
    assert_linear_time(lambda: call(small), lambda: call(large))
    assert_linear_memory(lambda: call(small), lambda: call(large))


STRICT_POLICY = SecurityPolicy(mode="strict")
FLAG_VALIDATOR = Validator()


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_the_detector_is_linear_in_the_text(name: str) -> None:
    assert_linear(STRICT_POLICY.inspect, ADVERSARIAL[name], 20_000)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_validating_a_record_is_linear_in_every_field(name: str) -> None:
    # Every field holds the text: the description is read in full (up to 20,000 characters),
    # the title is too long, and the strict fields inspect what they refuse.
    assert_linear(
        lambda text: FLAG_VALIDATOR.validate_one(dict.fromkeys(FIELDS, text)),
        ADVERSARIAL[name],
        6_000,
    )


@pytest.mark.parametrize("sanitize", [sanitize_text, sanitize_html])
@pytest.mark.parametrize(
    "name", ["'<' then spaces", "nested tags", "broken script tags", "entities", "comment openers"]
)
def test_the_sanitizers_are_linear(sanitize: Callable[[str], str], name: str) -> None:
    assert_linear(sanitize, ADVERSARIAL[name], 10_000)
