"""Public attack corpora (SQL injection, XSS, naughty strings), read in place where they are.

Definitions used here:

* A *payload* is every non-empty line of a list, except the lists' ``# `` comment headers.
* A SQL-injection payload is *handled* when, in strict mode, the record carrying it in a
  title, a description or a SKU is either rejected, or accepted and stored as inert text: it
  goes into SQLite through query parameters, reads back exactly as validated, and leaves the
  schema and the other rows untouched. Every payload must be handled.
* The *detection rate* of a list is the share of its payloads the detector flags in free text;
  it is pinned per list below so a regression shows. Lines that are not attacks on their own
  (a lone ``'``, ``1``, prose from a cheat sheet) are not flagged, and need not be.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from commerce_kit.validation import (
    ERROR_CODES,
    SecurityPolicy,
    ThreatCategory,
    Validator,
)
from tests.validation._helpers import markup_problems, record

STRICT = Validator(policy=SecurityPolicy(mode="strict"))
FLAG = Validator()
DETECTOR = SecurityPolicy()

# Share of each list's payloads flagged as SQL injection in free text (measured, then pinned).
SQLI_DETECTION_FLOOR = {
    "sqli_patt_Auth_Bypass.txt": 0.87,
    "sqli_patt_Auth_Bypass2.txt": 0.97,
    "sqli_patt_FUZZDB_MSSQL.txt": 1.0,
    "sqli_patt_FUZZDB_MySQL-WHERE_Time.txt": 1.0,
    "sqli_patt_FUZZDB_Oracle.txt": 1.0,
    "sqli_patt_Generic_ErrorBased.txt": 1.0,
    "sqli_patt_Generic_Fuzz.txt": 0.5,
    "sqli_patt_Generic_TimeBased.txt": 0.99,
    "sqli_patt_Generic_UnionSelect.txt": 1.0,
    "sqli_patt_SQL-Injection.txt": 0.52,
    "sqli_patt_SQLi_Polyglots.txt": 1.0,
}
XSS_DETECTION_FLOOR = {
    "xss_patt_BRUTELOGIC-XSS-STRINGS.txt": 1.0,
    "xss_patt_IntrudersXSS.txt": 1.0,
    "xss_patt_JHADDIX_XSS.txt": 1.0,
    "xss_patt_MarioXSSVectors.txt": 0.64,  # multi-line vectors: many lines are fragments
    "xss_patt_RSNAKE_XSS.txt": 0.91,
    "xss_patt_XSS_Polyglots.txt": 1.0,
}


def payloads(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.rstrip("\r") for line in lines if line.strip() and not line.startswith("# ")]


def xss_payloads(vectors: Path) -> list[str]:
    found = []
    for name in XSS_DETECTION_FLOOR:
        found += payloads(vectors / "payloads" / name)
    items = json.loads((vectors / "payloads" / "owasp_xss_filter_evasion.json").read_text())[
        "items"
    ]
    return found + [item["payload"] for item in items]


def _rate(texts: list[str], category: ThreatCategory) -> float:
    flagged = sum(
        1 for text in texts if any(t.category is category for t in DETECTOR.inspect(text))
    )
    return round(flagged / len(texts), 3)


def test_the_sql_injection_detection_rate_of_each_list_holds(vectors: Path) -> None:
    rates = {
        name: _rate(payloads(vectors / "payloads" / name), ThreatCategory.SQL_INJECTION)
        for name in SQLI_DETECTION_FLOOR
    }
    assert {} == {name: rate for name, rate in rates.items() if rate < SQLI_DETECTION_FLOOR[name]}


def test_the_xss_detection_rate_of_each_list_holds(vectors: Path) -> None:
    rates = {
        name: _rate(payloads(vectors / "payloads" / name), ThreatCategory.XSS)
        for name in XSS_DETECTION_FLOOR
    }
    assert {} == {name: rate for name, rate in rates.items() if rate < XSS_DETECTION_FLOOR[name]}


@pytest.mark.parametrize("name", sorted(SQLI_DETECTION_FLOOR))
def test_every_sql_injection_payload_is_rejected_or_stored_inert_in_strict_mode(
    vectors: Path, name: str
) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE products (sku TEXT PRIMARY KEY, title TEXT, description TEXT)")
    db.execute("INSERT INTO products VALUES ('CANARY', 'canary', 'must survive')")
    stored = rejected = 0
    for number, payload in enumerate(payloads(vectors / "payloads" / name)):
        for field in ("title", "description", "sku"):
            data = record(**{"sku": f"P{number}-{field}", field: payload})
            result = STRICT.validate_one(data)
            if not result.ok:
                rejected += 1
                continue
            product = result.value
            assert product is not None
            db.execute(
                "INSERT INTO products (sku, title, description) VALUES (?, ?, ?)",
                (product.sku, product.title, product.description),
            )
            row = db.execute(
                "SELECT title, description FROM products WHERE sku = ?", (product.sku,)
            ).fetchone()
            assert (product.title, product.description) == row
            stored += 1
    tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert [("products",)] == tables
    assert ("canary", "must survive") == db.execute(
        "SELECT title, description FROM products WHERE sku = 'CANARY'"
    ).fetchone()
    assert stored + 1 == db.execute("SELECT count(*) FROM products").fetchone()[0]
    assert stored + rejected == 3 * len(payloads(vectors / "payloads" / name))


def test_every_xss_payload_leaves_nothing_executable_in_text_fields(vectors: Path) -> None:
    problems = []
    for payload in xss_payloads(vectors):
        result = FLAG.validate_one(record(title=payload, description=payload, brand=payload))
        product = result.value
        if product is None:
            # Rejected (empty after sanitizing, too long, control characters...): nothing stored.
            assert result.errors
            continue
        problems += [(payload[:60], p) for p in markup_problems(product.title, plain=True)]
        problems += [(payload[:60], p) for p in markup_problems(product.description, plain=False)]
        problems += [(payload[:60], p) for p in markup_problems(product.brand or "", plain=True)]
    assert [] == problems


def test_every_xss_payload_is_rejected_in_strict_mode_or_stored_inert(vectors: Path) -> None:
    outcomes = {"rejected": 0, "stored": 0}
    for payload in xss_payloads(vectors):
        result = STRICT.validate_one(record(description=payload))
        if result.value is None:
            outcomes["rejected"] += 1
        else:
            assert [] == markup_problems(result.value.description, plain=False)
            outcomes["stored"] += 1
    assert outcomes["rejected"] > outcomes["stored"]


def test_naughty_strings_are_accepted_or_rejected_with_a_clear_error(vectors: Path) -> None:
    strings = json.loads((vectors / "payloads" / "blns.json").read_text(encoding="utf-8"))
    fields = ("sku", "title", "description", "brand", "price", "currency", "stock", "url", "gtin")
    unclear = []
    outcomes = {"accepted": 0, "rejected": 0}
    for text in strings:
        for field in fields:
            result = FLAG.validate_one(record(**{field: text}))
            outcomes["accepted" if result.ok else "rejected"] += 1
            for error in result.errors:
                message = error.message
                if (
                    error.code not in ERROR_CODES
                    or "pydantic" in message
                    or "Value error" in message
                ):
                    unclear.append((field, text[:30], message))
    assert [] == unclear
    assert len(strings) * len(fields) == sum(outcomes.values())
