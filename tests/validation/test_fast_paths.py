"""Every shortcut against the slow path it skips: same detections, same text, same errors.

Validation takes shortcuts on ordinary text: a gate that proves no detection rule can match
before running the rules, markup that is already clean returned without parsing, byte-wise
checks of text below U+0100, common prices, stock levels and URLs read without the general
rule, and a memo of long texts within one validation. Each test here sets a shortcut against a
reference that has none (the rules run in full, nh3 itself, the character-wise search, the
general rule), on generated text built to reach the corners, and on the attack corpora.
"""

from __future__ import annotations

import html
import json
import typing
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pydantic_core import PydanticCustomError

from commerce_kit.validation import (
    Product,
    SanitizedHtml,
    SanitizedText,
    SecurityEvent,
    SecurityPolicy,
    Validator,
    _sanitize,
    _security,
    sanitize_html,
    sanitize_text,
)
from commerce_kit.validation._events import Memo, Scope
from commerce_kit.validation._fields import (
    _ASCII_URL,
    _PLAIN_URL,
    _MoneyRule,
    _StockRule,
    _TextRule,
)
from commerce_kit.validation._sanitize import (
    find_forbidden,
    forbidden_character,
    latin1,
    neutralize_formula,
    settled,
)
from commerce_kit.validation._security import inspect_field
from tests.validation._helpers import record

POLICIES = [
    SecurityPolicy(),
    SecurityPolicy(mode="strict"),
    SecurityPolicy(xss=False),
    SecurityPolicy(sql_injection=False),
    SecurityPolicy(sql_injection=False, xss=False),
]

# -- text built to reach the corners ---------------------------------------------------------------

# Pieces of attacks (each rule's trigger, its escapes and near misses), of product text, of
# markup, and characters that behave differently: typographic quotes, non-ASCII spaces and
# letters, characters above U+00FF, controls.
_PIECES = [
    # SQL
    "'", '"', "`", " ", "  ", "\t", "\n", ")", "(", ";", "--", "-", "#", "/*", "*/", "/**/", "+",
    "*", ",", "|", "||", "&&", "=", "<>", "!=", ">", "<", "%", "or", "OR", " or ", "and", "xor",
    "1", "1=1", "'1'='1", "true", "like", " like '%", "union", "UNION", "select", " select ",
    "from", "drop table x", "delete from", "insert into", "update t set", "exec", "execute",
    "xp_cmdshell", "sp_executesql", "dbms_lock.sleep", "utl_http.", "information_schema",
    "@@version", "sys.user$", "sysobjects", "v$version", "order by 1", "group by", " by ",
    "having", "waitfor delay '", "sleep(", "benchmark(", "load_file(", "floor(rand(",
    "extractvalue(", "randomblob(123456", "is null", "if(1=1,", "into outfile", "%00", "\x00",
    # XSS
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "onload=", "javascript:",
    "java\tscript:", "data:text/html,", "expression(", "@import", "-alert(1)", "document.",
    "<iframe", "<!doctype", "<?xml", "formaction=", "srcdoc=",
    # escapes
    "%27", "%3c", "%3C", "%20", "&lt;", "&#39;", "&amp;", "&quot;", "\\x3c", "\\u003c", "\\'",
    # markup a description carries
    "<p>", "</p>", "<br>", "<ul>", "</ul>", "<li>", "</li>", "<b>", "</b>", "<strong>",
    "</strong>", "<em>", "</em>", "<a href='https://x.org'>", "</a>",
    # product text and other characters
    "it's", "kids'", "men's", "Rock 'n' Roll", '27"', "100% cotton", "2-pack", "(unisex)",
    "Select Comfort", "Order by 12 December", "size: L", "#1", "30°C", "Café", "ÀÉÎ", "ß",
    "\u2019", "\u201c", "\u2013", "\u2122", "\u00a0", "\u2003", "\x1c", "\x85", "\u0130",
    "\u212a", "e\u0301", "\ufeff", "\r",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)), max_size=14).map("".join)
latin1_texts = st.lists(
    st.one_of(
        st.sampled_from([p for p in _PIECES if latin1(p) is not None]),
        st.text(st.characters(max_codepoint=0xFF), max_size=4),
    ),
    max_size=14,
).map("".join)

_TEXT_PIECES = [
    "a", "Soft", " ", "  ", "\n", "\t", "'", '"', "x > y", "1 < 2", "&", "&amp;", "\u00a0",
    "\ufeff", "\r", "\x00", "é", "\u2019", "e\u0301",
]  # fmt: skip
_TAGS = [
    "<p>", "</p>", "<br>", "</br>", "<br/>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>",
    "<b>", "</b>", "<i>", "</i>", "<em>", "</em>", "<strong>", "</strong>", "<a>", "</a>",
    "<P>", "<p >", "<div>", "</div>", "<span>", "<script>", "</script>", "<!-- x -->",
]  # fmt: skip
markup = st.lists(st.sampled_from(_TEXT_PIECES + _TAGS), max_size=16).map("".join)


@st.composite
def nested_markup(draw: st.DrawFn, depth: int = 0, *, inline: bool = False) -> str:
    """Well-formed trees of the allow-listed tags, nested as HTML allows without implied tags.

    Paragraphs and inline elements hold inline content only; list items hold anything.
    """
    parts = []
    kinds = ["text", "br", "inline"]
    if not inline and depth < 4:
        kinds += ["p", "list"]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(kinds))
        if kind == "text":
            parts.append(draw(st.sampled_from(["Soft cotton", " ", "\n", "it's", "é", "1 2"])))
        elif kind == "br":
            parts.append("<br>")
        elif kind == "inline":
            tag = draw(st.sampled_from(["b", "i", "em", "strong"]))
            inner = draw(nested_markup(depth + 1, inline=True)) if depth < 4 else ""
            parts.append(f"<{tag}>{inner}</{tag}>")
        elif kind == "p":
            parts.append(f"<p>{draw(nested_markup(depth + 1, inline=True))}</p>")
        else:
            tag = draw(st.sampled_from(["ul", "ol"]))
            items = "".join(
                f"<li>{draw(nested_markup(depth + 1))}</li>" for _ in range(draw(st.integers(0, 2)))
            )
            parts.append(f"<{tag}>{items}</{tag}>")
    return "".join(parts)


@st.composite
def near_markup(draw: st.DrawFn) -> str:
    """Well-formed markup with a few pieces inserted or removed: the shortcut's borderline."""
    text = draw(nested_markup())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(_TEXT_PIECES + _TAGS)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 5)) :]
    return text


# -- the detection gate ----------------------------------------------------------------------------


def full_scan(policy: SecurityPolicy, text: str) -> tuple[Any, ...]:
    """Every rule, without the gate."""
    if not (policy.sql_injection or policy.xss):
        return ()
    return _security.scan(_security._view(text), sql_injection=policy.sql_injection, xss=policy.xss)


@settings(max_examples=200)
@given(texts, st.sampled_from(POLICIES))
@example("kids' - made", POLICIES[0])
@example("x' or 1=1", POLICIES[0])
def test_the_gate_never_hides_a_detection(text: str, policy: SecurityPolicy) -> None:
    assert full_scan(policy, text) == policy.inspect(text)


@settings(max_examples=200)
@given(st.one_of(texts, markup, near_markup()), st.sampled_from(POLICIES))
def test_a_field_inspects_as_the_public_method_does(text: str, policy: SecurityPolicy) -> None:
    assert policy.inspect(text) == inspect_field(policy, text, latin1(text))


@settings(max_examples=150)
@given(latin1_texts)
def test_lowering_latin1_bytes_gives_the_gate_the_same_answer(text: str) -> None:
    raw = latin1(text)
    assert raw is not None
    assert _security._quiet(text.lower()) == _security._quiet(raw.lower().decode("latin-1"))


def _corpus(vectors: Path) -> list[str]:
    found = []
    for path in sorted((vectors / "payloads").glob("*.txt")):
        found += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = json.loads((vectors / "payloads" / "owasp_xss_filter_evasion.json").read_text())
    found += [item["payload"] for item in items["items"]]
    found += json.loads((vectors / "payloads" / "blns.json").read_text(encoding="utf-8"))
    return found


def test_the_gate_agrees_with_the_rules_on_every_corpus_text(
    vectors: Path, legitimate_texts: list[str]
) -> None:
    disagree = [
        (text[:60], policy)
        for text in _corpus(vectors) + legitimate_texts
        for policy in POLICIES[:4]
        if full_scan(policy, text) != policy.inspect(text)
        or policy.inspect(text) != inspect_field(policy, text, latin1(text))
    ]
    assert [] == disagree


def test_the_gate_lets_ordinary_product_text_through(legitimate_texts: list[str]) -> None:
    quiet = [text for text in legitimate_texts if _security._quiet(_security._view(text))]
    assert len(quiet) > 0.8 * len(legitimate_texts)


# -- clean markup returned without parsing ---------------------------------------------------------


@settings(max_examples=200)
@given(st.one_of(markup, nested_markup(), near_markup()))
@example("<ul><li>a<li>b</li></ul>")
@example("<p><ul><li>x</li></ul></p>")
@example("<b><b><b><b>x</b></b></b></b>")
@example("\ufeff<b>x</b>")
def test_markup_called_settled_comes_out_of_nh3_unchanged(text: str) -> None:
    if settled(text):
        assert text == _sanitize._HTML_CLEANER.clean(text)


@settings(max_examples=200)
@given(nested_markup())
def test_well_formed_allow_listed_markup_is_settled(text: str) -> None:
    assert settled(text) or "<" not in text


def test_markup_nested_deeper_than_the_bound_is_left_to_the_parser() -> None:
    deep = "<b>" * 33 + "x" + "</b>" * 33
    assert (False, True) == (settled(deep), settled("<b>" * 32 + "x" + "</b>" * 32))


def test_a_layout_is_remembered_and_the_memory_stays_bounded() -> None:
    _sanitize._LAYOUTS.clear()
    for count in range(_sanitize._LAYOUTS_SIZE + 5):
        assert settled("<br>" * count + "x")
    assert len(_sanitize._LAYOUTS) <= _sanitize._LAYOUTS_SIZE
    assert settled("<p>" + "<br>" * 300 + "</p>")
    assert "<p>" + "<br>" * 300 + "</p>" not in _sanitize._LAYOUTS


def reference_sanitize_html(value: str) -> str:
    """sanitize_html as nh3 alone gives it: clean until nothing changes."""

    def nfc(text: str) -> str:
        return unicodedata.normalize("NFC", text)

    text = nfc(value)
    for _ in range(_sanitize._MAX_PASSES):
        if "<" not in text and "&" not in text:
            return text
        cleaned = nfc(_sanitize._HTML_CLEANER.clean(text))
        if cleaned == text:
            return text
        text = cleaned
    return html.escape(sanitize_text(text), quote=False)


@settings(max_examples=200)
@given(st.one_of(markup, near_markup(), texts))
def test_sanitize_html_gives_what_nh3_alone_gives(text: str) -> None:
    # nh3 cannot take a lone surrogate: the sanitizer replaces it first.
    valid = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    assert reference_sanitize_html(valid) == sanitize_html(text)


def test_clean_markup_with_a_lone_surrogate_is_not_returned_as_it_is() -> None:
    assert "<b>x\ufffd</b>" == sanitize_html("<b>x\ud800</b>")


# -- refused characters, byte-wise -----------------------------------------------------------------


def reference_forbidden(text: str, multiline: bool) -> tuple[str, int] | None:
    pattern = _sanitize._FORBIDDEN_MULTILINE if multiline else _sanitize._FORBIDDEN_SINGLE_LINE
    match = pattern.search(text)
    if match is None:
        return None
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "text.invalid_unicode", match.start()
    return ("text.bidi_control" if code >= 0x202A else "text.control_chars"), match.start()


@settings(max_examples=200)
@given(st.one_of(texts, st.text()), st.booleans())
def test_byte_wise_checks_find_what_the_search_finds(text: str, multiline: bool) -> None:
    expected = reference_forbidden(text, multiline)
    assert expected == forbidden_character(text, multiline=multiline)
    assert expected == find_forbidden(text, multiline, latin1(text))


# -- a text field's outcome ------------------------------------------------------------------------

RULES: list[_TextRule] = [
    SanitizedText(),
    SanitizedText(min_length=0, max_length=12, neutralize_formulas=False),
    SanitizedHtml(),
    SanitizedHtml(min_length=3, max_length=40),
]


def reference_outcome(rule: _TextRule, value: str, policy: SecurityPolicy) -> tuple[Any, ...]:
    """The field's rules as the public functions give them, one after the other."""
    if len(value) > 4 * rule.max_length + 1024:
        return "", (), ("text.too_long", {"max_length": rule.max_length})
    found = forbidden_character(value, multiline=rule.multiline)
    if found is not None:
        return "", (), (found[0], {})
    threats = policy.inspect(value) if value else ()
    if threats and policy.strict:
        return "", threats, (threats[0].code, {"rule": threats[0].rule})
    text = rule.sanitize(value).strip()
    found = forbidden_character(text, multiline=rule.multiline)
    if found is not None:
        return "", threats, (found[0], {})
    if len(text) < rule.min_length:
        code, context = ("text.too_short", {"min_length": rule.min_length})
        return "", threats, (code, context) if text else ("text.empty", {})
    if rule.neutralize_formulas:
        text = neutralize_formula(text)
    if _sanitize_length(text) > rule.max_length:
        return "", threats, ("text.too_long", {"max_length": rule.max_length})
    return text, threats, None


def _sanitize_length(text: str) -> int:
    if len(text) > 1 and text[0] == "'" and text[1] in _sanitize.FORMULA_PREFIXES:
        return len(text) - 1
    return len(text)


@settings(max_examples=200)
@given(
    st.one_of(texts, markup, near_markup()),
    st.sampled_from(RULES),
    st.sampled_from(POLICIES),
)
@example("<p>=1+1</p>", RULES[2], POLICIES[0])
@example("  <b>x</b>  ", RULES[2], POLICIES[0])
@example("cafe\u0301 <b>x</b>", RULES[2], POLICIES[0])
@example("x" * 5000, RULES[1], POLICIES[0])
@example("<p>a\r\nb\rc</p>", RULES[2], POLICIES[0])
def test_a_text_field_gives_what_its_public_steps_give(
    value: str, rule: _TextRule, policy: SecurityPolicy
) -> None:
    assert reference_outcome(rule, value, policy) == rule._outcome(value, policy)


# -- strict fields: the common case against the general rule --------------------------------------


class _Info:
    """The two things a field rule reads from pydantic's ValidationInfo."""

    def __init__(self, data: dict[str, object] | None) -> None:
        self.data = data
        self.context = None
        self.field_name = "x"


def _either(call: typing.Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", call()
    except PydanticCustomError as error:
        return "error", (error.type, error.message())


@settings(max_examples=150)
@given(
    st.one_of(
        st.from_regex(r"[0-9]{1,10}\.[0-9]{1,3}", fullmatch=True),
        st.sampled_from(["0.00", "000000000.00", "999999999.99", "1.5", "12.30", " 1.00"]),
    ),
    st.sampled_from([None, {}, {"currency": "USD"}, {"currency": "JPY"}, {"currency": "KWD"}]),
)
def test_a_common_price_reads_as_the_general_rule_reads_it(
    price: str, data: dict[str, object] | None
) -> None:
    rule = _MoneyRule()
    info: Any = _Info(data)
    expected = _either(lambda: rule.check(price, info))
    actual = _either(lambda: rule.validate(price, info))
    assert expected == actual
    if expected[0] == "ok":
        assert str(expected[1]) == str(actual[1])  # the same places, not only the same value


@settings(max_examples=200)
@given(
    st.one_of(
        st.from_regex(r"[0-9]{1,12}", fullmatch=True),
        st.sampled_from(["2147483647", "2147483648", "9999999999", "0", "007", "\u0661\u0662"]),
    )
)
def test_a_plain_stock_level_reads_as_the_general_rule_reads_it(stock: str) -> None:
    rule = _StockRule()
    info: Any = _Info(None)
    assert _either(lambda: rule.check(stock, info)) == _either(lambda: rule.validate(stock, info))


@settings(max_examples=150)
@given(
    st.one_of(
        st.from_regex(
            r"[hH][tT]{2}[pP][sS]?://[A-Za-z0-9_.-]{1,20}(:[0-9]{1,5})?([/?#][ -~]{0,20})?",
            fullmatch=True,
        ),
        st.text(max_size=30),
    )
)
def test_the_ascii_url_pattern_accepts_nothing_the_full_pattern_refuses(url: str) -> None:
    if _ASCII_URL.fullmatch(url):
        assert _PLAIN_URL.fullmatch(url)


# -- the product's blank fields --------------------------------------------------------------------

_BLANKS = st.sampled_from(["", " ", "\t\n", None, "x", "15.00", "15.00 EUR", 3, Decimal("2.5")])


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["sku", "title", "price", "currency", "stock"]), _BLANKS))
def test_blank_values_are_dropped_as_before(data: dict[str, object]) -> None:
    expected = {
        key: value
        for key, value in data.items()
        if not (value is None or (isinstance(value, str) and not value.strip()))
    }
    if "currency" not in expected and isinstance(expected.get("price"), str):
        parts = str(expected["price"]).split()
        if len(parts) == 2:
            expected["currency"] = parts[1].upper()

    class Info:
        context = None

    before: Any = Product._blank_fields_and_price_currency
    actual = before(dict(data), Info())
    assert expected == actual


def test_the_records_dict_is_never_changed() -> None:
    data: dict[str, object] = {"sku": "A1", "title": "Tee", "price": "1.00 USD"}
    Validator(defaults={"stock": "3"}).validate([data])
    assert {"sku": "A1", "title": "Tee", "price": "1.00 USD"} == data


# -- the memo of long texts ----------------------------------------------------------------------


class MemoMachine(RuleBasedStateMachine):
    """The memo against a list kept in least-recently-used order."""

    def __init__(self) -> None:
        super().__init__()
        self.memo = Memo(3)
        self.model: list[tuple[int, int]] = []

    @rule(key=st.integers(0, 5))
    def get(self, key: int) -> None:
        expected = next((value for k, value in self.model if k == key), None)
        if expected is not None:
            self.model = [(k, v) for k, v in self.model if k != key] + [(key, expected)]
        assert expected == self.memo.get(key)

    @rule(key=st.integers(0, 5), value=st.integers(1, 100))
    def put(self, key: int, value: int) -> None:
        if any(k == key for k, _ in self.model):
            return  # put is for keys the memo does not hold
        if len(self.model) >= 3:
            self.model.pop(0)
        self.model.append((key, value))
        self.memo.put(key, value)

    @invariant()
    def holds_at_most_its_size(self) -> None:
        assert len(self.model) == len(self.memo) <= 3


TestMemo = MemoMachine.TestCase
TestMemo.settings = settings(max_examples=60, stateful_step_count=30)


def test_a_repeated_description_is_reported_each_time_it_is_seen() -> None:
    description = "<p>Soft cotton tee</p><script>alert(1)</script>" + " plain words" * 8
    records = [record(sku=f"V{i}", description=description) for i in range(4)]
    report = Validator().validate(records)
    once = [Validator().validate_one(r, index=i + 1) for i, r in enumerate(records)]
    assert [r.value for r in once] == report.accepted
    assert [(e.field, e.rule, e.index) for e in report.security_events] == [
        ("description", "xss.script_tag", i) for i in range(1, 5)
    ]


def test_a_repeated_text_is_checked_once_per_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    outcome = _TextRule._outcome

    def counting(self: _TextRule, value: str, policy: SecurityPolicy) -> Any:
        calls.append(value)
        return outcome(self, value, policy)

    monkeypatch.setattr(_TextRule, "_outcome", counting)
    long_text = "Soft cotton " * 10
    Validator().validate([record(sku=f"V{i}", description=long_text) for i in range(5)])
    assert 1 == calls.count(long_text)


def test_a_repeated_error_is_raised_afresh_each_time() -> None:
    bad = "x" * 100 + "\x00"
    report = Validator().validate([record(sku=f"V{i}", description=bad) for i in range(3)])
    assert ["text.control_chars"] * 3 == [error.code for error in report.errors]


def test_strict_mode_rejects_a_repeated_attack_each_time() -> None:
    attack = "Great tee' UNION SELECT password FROM users -- " + "x" * 60
    report = Validator(policy=SecurityPolicy(mode="strict")).validate(
        [record(sku=f"V{i}", description=attack) for i in range(2)]
    )
    assert (2, [True, True]) == (
        report.rejected,
        [event.rejected for event in report.security_events],
    )


def test_an_event_from_the_memo_names_its_own_field_and_record() -> None:
    text = "<script>alert(1)</script> " + "words " * 12

    class Twice(Product):
        notes: typing.Annotated[str, SanitizedHtml()] = ""

    events: list[SecurityEvent] = []
    policy = SecurityPolicy()
    scope = Scope(policy, events.append, memo=Memo(8))
    data = record(description=text, notes=text)
    Twice.model_validate(data, context=scope)
    assert [("description", "xss.script_tag"), ("notes", "xss.script_tag")] == [
        (event.field, event.rule) for event in events
    ]
