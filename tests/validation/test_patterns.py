"""The detection patterns on RE2 mean what the same patterns mean to Python's ``re``."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from commerce_kit.validation._patterns import Pattern, project, translate

# Patterns whose meaning hangs on character classes, word boundaries and "$".
PATTERNS = [
    r"\w+",
    r"\s+",
    r"\d+",
    r"\W\S\D",
    r"[\w\s]{1,5}",
    r"[^\w'\"\n]{0,3}",
    r"[^,\s]+",
    r"x\b",
    r"\bx",
    r"[a-z_]\w{0,3}\b",
    r"\d+\b\s*(?:--|$)",
    r"x\s*$",
    r"x$",
    r"(?:^|\s)x",
    r".{0,3}y",
]
_CHARACTERS = [
    *"xy _-'\",\n\t\r\x0b\x1c\x85\xa0 09aB",
    *("\u00e9", "\u00df", "\u0661", "\u00b2", "\u2003", "\u3000", "\u4e2d", "\u0301"),
    *("\ud800", "\U0001d7d9"),
]
texts = st.text(st.sampled_from(_CHARACTERS), max_size=10)


@settings(max_examples=300)
@given(st.sampled_from(PATTERNS), texts, st.integers(0, 10))
@example(r"x$", "x\n", 0)
@example(r"\d+\b\s*(?:--|$)", "1--\n", 0)
@example(r"\bx", "\u0661x", 1)
def test_a_pattern_matches_the_projection_where_python_matches_the_text(
    pattern: str, text: str, pos: int
) -> None:
    pos = min(pos, len(text))
    expected = re.compile(pattern, re.DOTALL).match(text, pos)
    found = Pattern(pattern, "rule", verbose=False).match(project(text), pos)
    assert (None if expected is None else expected.span()) == (None if found is None else found[1:])


@given(st.text())
def test_the_projection_keeps_one_byte_a_character(text: str) -> None:
    data = project(text)
    assert (len(text), True) == (len(data), data.isascii())


@pytest.mark.parametrize("construct", ["(?=x)", "(?!x)", "(?<=x)", "(?<!x)", "(?P<a>x)(?P=a)"])
def test_what_re2_lacks_is_refused(construct: str) -> None:
    with pytest.raises(ValueError, match="RE2 has no"):
        translate(construct)


def test_a_hit_names_its_rule_and_leaves_a_final_line_feed_out() -> None:
    pattern = Pattern(r"(?:^|\W)(?P<_at>or\s*\d)$(?P<sql__tautology>)")
    assert ("sql.tautology", 1, 5) == pattern.find(project("'or 1\n"))
