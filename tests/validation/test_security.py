"""The detector: each rule on a payload of its kind, and silence on ordinary product text."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_kit.validation import SecurityMode, SecurityPolicy, Threat, ThreatCategory

POLICY = SecurityPolicy()


def rules(text: str) -> list[str]:
    return [threat.rule for threat in POLICY.inspect(text)]


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        # comparisons of constants after a boolean operator, and their relatives
        ("' OR 1=1 --", "sql.tautology"),
        ('" or "x"="x', "sql.tautology"),
        (" AND 7506=9091", "sql.tautology"),
        ("' or a=a--", "sql.tautology"),
        ("' or uid like '%", "sql.tautology"),
        ("' and substring(password/text(),1,1)='7", "sql.tautology"),
        ("IF(7423=7424) SELECT 7423", "sql.tautology"),
        ("' or true--", "sql.tautology"),
        ("' or ''-'", "sql.tautology"),
        ("' AND id IS NULL; --", "sql.tautology"),
        ("' OR '1", "sql.tautology"),
        ("or true--", "sql.tautology"),
        ("AND 1", "sql.tautology"),
        ("'=0--+", "sql.tautology"),
        (" like '%'", "sql.tautology"),
        ("\u2019 or \u20181\u2019=\u20191", "sql.tautology"),
        ("1'+or+1=1", "sql.tautology"),
        ("1'%20or%201=1", "sql.tautology"),
        ("1 or/*x*/1=1", "sql.tautology"),
        # whole statements and queries
        ("1 UNION ALL SELECT 1,2,3--", "sql.union_select"),
        ("x'; DROP TABLE users; --", "sql.stacked_query"),
        ("'create user name identified by 'pass123' --", "sql.stacked_query"),
        ("great tee; drop table products", "sql.stacked_query"),
        ("'; select password from users", "sql.stacked_query"),
        ("' select password from users", "sql.subquery"),
        ("SELECT 1,2 FROM t", "sql.subquery"),
        ("1 AND (SELECT * FROM users) = 1", "sql.subquery"),
        ("1 in (select name from users)", "sql.subquery"),
        ("x in (select min(name) from sysobjects)", "sql.schema_probe"),
        # comments that cut a query short
        ("admin'--", "sql.comment_after_quote"),
        ("admin' #", "sql.comment_after_quote"),
        ('admin")/*', "sql.comment_after_quote"),
        ("admin' \u2013", "sql.comment_after_quote"),
        # timing and dangerous functions, catalogue probes
        ("sleep(5)#", "sql.time_delay"),
        ("1 or benchmark(10000000,MD5(1))#", "sql.time_delay"),
        ("randomblob(500000000)", "sql.time_delay"),
        ("waitfor delay '0:0:5'", "sql.time_delay"),
        ("dbms_lock.sleep(5)", "sql.time_delay"),
        ("xp_cmdshell 'dir'", "sql.dangerous_function"),
        ("load_file('/etc/passwd')", "sql.dangerous_function"),
        ("utl_http.request('http://x')", "sql.dangerous_function"),
        ("@@version", "sql.schema_probe"),
        ("information_schema.tables", "sql.schema_probe"),
        ("sys.user$", "sql.schema_probe"),
        (" ORDER BY 3", "sql.column_probe"),
        ("1' ORDER BY 1--+", "sql.column_probe"),
        ("x group by a having b", "sql.column_probe"),
        ("1/*!1111'*/", "sql.obfuscation"),
        ("union/**/select", "sql.obfuscation"),
        ("1'||'asd'||'", "sql.obfuscation"),
    ],
)
def test_flags_sql_injection_by_the_rule_it_breaks(payload: str, rule: str) -> None:
    assert [rule] == rules(payload)


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        ("<script>alert(1)</script>", "xss.script_tag"),
        ("<ScRiPt SRC=//x.js>", "xss.script_tag"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "xss.script_tag"),
        ("%3Cscript%3Ealert(1)%3C/script%3E", "xss.script_tag"),
        ("\\x3cscript\\x3e", "xss.script_tag"),
        ("\\u003cscript\\u{3e}", "xss.script_tag"),
        ("<iframe src=//x>", "xss.dangerous_tag"),
        ("<!DOCTYPE x [<!ENTITY y 'z'>]>", "xss.dangerous_tag"),
        ("<?xml version='1.0'?>", "xss.dangerous_tag"),
        ("<img src=x onerror=alert(1)>", "xss.event_handler"),
        ('" onmouseover=alert(1) x="', "xss.event_handler"),
        ("<a datasrc=#x>", "xss.dangerous_attribute"),
        ('<a href="data:text/html,<b>x</b>">', "xss.data_url"),
        ("data:text/html;base64,PHN2Zz4=", "xss.data_url"),
        ('<a href="javascript:alert(1)">', "xss.javascript_url"),
        ('<a href="jav&#x09;ascript:alert(1)">', "xss.javascript_url"),
        ("javascript:alert(1)", "xss.javascript_url"),
        ("'-alert(1)-'", "xss.script_breakout"),
        ('";document.location=1//', "xss.script_breakout"),
        ("width: expression(alert(1))", "xss.css_expression"),
        ("@import 'http://x/x.css'", "xss.css_expression"),
    ],
)
def test_flags_xss_by_the_rule_it_breaks(payload: str, rule: str) -> None:
    found = POLICY.inspect(payload)
    assert rule in [threat.rule for threat in found if threat.category is ThreatCategory.XSS]


def test_reports_both_categories_sql_first() -> None:
    threats = POLICY.inspect("<script>x</script>' OR 1=1 --")
    assert [ThreatCategory.SQL_INJECTION, ThreatCategory.XSS] == [t.category for t in threats]


def test_a_threat_carries_a_short_escaped_excerpt_and_its_code() -> None:
    (threat,) = POLICY.inspect("x' UNION SELECT password FROM users WHERE 1\x00 " + "a" * 100)
    assert Threat(ThreatCategory.SQL_INJECTION, "sql.union_select", "union select") == threat
    assert "security.sql_injection" == threat.code


@pytest.mark.parametrize(
    "text",
    [
        "JavaScript: The Good Parts",
        'Monitor 27" -- IPS panel',
        "6' -- tall ladder",
        "Kids' #1 Bestseller",
        "Stocking filler for girls' #12",
        "Available in 3 sizes; select one at checkout.",
        'Hoodie "SELECT * FROM coffee"',
        "Order by 12 December for Christmas delivery",
        "Sleep (8 hours) mask",
        "Choose 'red' or 'blue'",
        "Data: 12/24 months, unlimited",
        "union jack; drop-leaf table",
        "1=1 puzzle",
    ],
)
def test_stays_silent_on_tricky_product_text(text: str) -> None:
    assert () == POLICY.inspect(text)


def test_stays_silent_on_the_legitimate_product_text_corpus(legitimate_texts: list[str]) -> None:
    flagged = {text: POLICY.inspect(text) for text in legitimate_texts}
    assert len(legitimate_texts) >= 200
    assert {} == {text: threats for text, threats in flagged.items() if threats}


def _feed_texts(vectors: Path) -> Iterator[str]:
    feeds = vectors / "feeds"
    for path in sorted(feeds.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                yield from (cell for cell in row if cell)
    for element in ET.parse(feeds / "google_merchant_example_feed_rss.xml").iter():
        if element.text and element.text.strip():
            yield element.text

    def strings(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    yield from strings(json.loads((feeds / "saleor_populatedb_products_subset.json").read_text()))


def test_stays_silent_on_every_text_of_the_real_sample_feeds(vectors: Path) -> None:
    texts = list(_feed_texts(vectors))
    assert len(texts) > 4000
    assert [] == [(text[:60], POLICY.inspect(text)) for text in texts if POLICY.inspect(text)]


class TestPolicy:
    def test_defaults_to_flagging(self) -> None:
        assert (SecurityMode.FLAG, False) == (POLICY.mode, POLICY.strict)

    def test_strict_mode_from_a_string(self) -> None:
        policy = SecurityPolicy(mode="strict")
        assert (SecurityMode.STRICT, True) == (policy.mode, policy.strict)

    def test_refuses_an_unknown_mode(self) -> None:
        with pytest.raises(ValueError, match="mode must be 'flag' or 'strict', not 'loud'"):
            SecurityPolicy(mode="loud")

    def test_can_look_for_sql_injection_only(self) -> None:
        policy = SecurityPolicy(xss=False)
        assert ["sql.tautology"] == [t.rule for t in policy.inspect("<script>' or 1=1--")]

    def test_can_look_for_xss_only(self) -> None:
        policy = SecurityPolicy(sql_injection=False)
        threats = policy.inspect("' or 1=1-- '-alert(1)-' <b>")
        assert ["xss.script_breakout"] == [t.rule for t in threats]

    def test_finds_a_css_expression_when_only_xss_is_wanted(self) -> None:
        policy = SecurityPolicy(sql_injection=False)
        assert ["xss.css_expression"] == [t.rule for t in policy.inspect("x:expression(alert(1))")]

    def test_with_nothing_to_look_for_finds_nothing(self) -> None:
        assert () == SecurityPolicy(sql_injection=False, xss=False).inspect("' or 1=1--<script>")

    def test_repr_names_the_settings(self) -> None:
        assert "SecurityPolicy(mode='strict', sql_injection=True, xss=False)" == repr(
            SecurityPolicy(mode=SecurityMode.STRICT, xss=False)
        )

    def test_ignores_escapes_outside_unicode(self) -> None:
        assert () == POLICY.inspect("\\u{110000} tee")
