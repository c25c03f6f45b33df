"""The sanitizers: plain text, allow-listed HTML, spreadsheet formulas, refused characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from commerce_kit.validation import _sanitize, neutralize_formula, sanitize_html, sanitize_text
from commerce_kit.validation._sanitize import forbidden_character
from tests.validation._helpers import markup_problems

# Text built to hit the sanitizer's corners: markup, entities (double-encoded too), quotes.
_MARKUP_PIECES = st.sampled_from(
    [
        "<", ">", "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&#60;", "&#x3c;", "&quot;", "&nbsp;",
        "<b>", "</b>", "<p>", "</p>", "<a href='https://x.org'>", "<a href='javascript:x'>",
        "</a>", "<script>", "</script>", "<img src=x onerror=alert(1)>", "<!--", "-->",
        "<svg onload=alert(1)>", "<style>", "</style>", "<textarea>", "<br/>", "<ul><li>",
        "'", '"', "=", " ", "\n", "x", "é", "e\u0301", "\u00a0", "onclick=",
    ]
)  # fmt: skip
markup_texts = st.lists(st.one_of(_MARKUP_PIECES, st.text(max_size=5)), max_size=12).map("".join)
plain_without_markup = st.text(st.characters(codec="utf-8", exclude_characters="<>&"), max_size=80)


class TestSanitizeText:
    def test_removes_tags_and_keeps_their_text(self) -> None:
        assert "Soft cotton tee" == sanitize_text("<b>Soft</b> <i>cotton</i> tee")

    def test_removes_script_with_its_content(self) -> None:
        assert "Tee" == sanitize_text("<script>alert(1)</script>Tee")

    def test_decodes_entities_into_plain_text(self) -> None:
        assert "Fish & Chips \u00a9" == sanitize_text("Fish &amp; Chips &copy;")

    def test_removes_markup_that_was_entity_encoded(self) -> None:
        assert "Tee" == sanitize_text("&lt;script&gt;alert(1)&lt;/script&gt;Tee")

    def test_removes_markup_encoded_twice(self) -> None:
        assert "Tee" == sanitize_text("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Tee")

    def test_keeps_a_less_than_sign_that_starts_no_tag(self) -> None:
        assert "1 < 2 > 0" == sanitize_text("1 < 2 > 0")

    def test_normalizes_to_nfc(self) -> None:
        assert "caf\u00e9" == sanitize_text("cafe\u0301")

    def test_drops_markup_characters_when_encodings_nest_too_deep(self) -> None:
        nested = "&lt;b&gt;x"
        for _ in range(8):
            nested = nested.replace("&", "&amp;")
        assert "amp;amp;lt;bamp;amp;gt;x" == sanitize_text(nested)

    @settings(max_examples=300)
    @given(markup_texts)
    def test_is_idempotent(self, text: str) -> None:
        once = sanitize_text(text)
        assert once == sanitize_text(once)

    @settings(max_examples=300)
    @given(markup_texts)
    def test_never_leaves_markup(self, text: str) -> None:
        assert [] == markup_problems(sanitize_text(text), plain=True)

    @settings(max_examples=200)
    @given(plain_without_markup)
    @example("Rock 'n' Roll \"Tee\" = 100% cotton")
    def test_leaves_text_without_markup_characters_unchanged_but_nfc(self, text: str) -> None:
        assert unicodedata.normalize("NFC", text) == sanitize_text(text)


class TestSanitizeHtml:
    def test_keeps_allow_listed_tags(self) -> None:
        html = "<p>Soft <strong>cotton</strong>, <em>light</em></p><ul><li>a<br>b</li></ul>"
        assert html == sanitize_html(html)

    def test_removes_tags_outside_the_allow_list_but_keeps_their_text(self) -> None:
        assert "<p>Soft cotton</p>" == sanitize_html(
            '<div class="x"><p>Soft <span>cotton</span></p></div>'
        )

    def test_removes_event_handlers_and_styles(self) -> None:
        assert "<p>Hi</p>" == sanitize_html(
            '<p onclick="steal()" style="color:red" title="t">Hi</p>'
        )

    def test_keeps_http_links_with_noopener_nofollow(self) -> None:
        assert (
            '<a href="https://example.com/size" rel="noopener nofollow">Sizes</a>'
            == sanitize_html('<a href="https://example.com/size" target="_blank">Sizes</a>')
        )

    @pytest.mark.parametrize(
        "href",
        [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "data:text/html,<b>x</b>",
            "/relative",
            "mailto:a@b.c",
            "ftp://x.org",
        ],
    )
    def test_removes_links_that_are_not_absolute_http(self, href: str) -> None:
        assert '<a rel="noopener nofollow">x</a>' == sanitize_html(f'<a href="{href}">x</a>')

    def test_removes_script_and_style_with_their_content(self) -> None:
        assert "<p>ok</p>" == sanitize_html("<p>ok<script>alert(1)</script><style>p{}</style></p>")

    def test_escapes_stray_markup_characters(self) -> None:
        assert "1 &lt; 2 &amp;&amp; 3 &gt; 2" == sanitize_html("1 < 2 && 3 > 2")

    def test_leaves_plain_text_as_is(self) -> None:
        assert '100% cotton, "Classic" fit\nwash at 30' == sanitize_html(
            '100% cotton, "Classic" fit\nwash at 30'
        )

    def test_falls_back_to_escaped_text_when_cleaning_does_not_settle(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_sanitize, "_MAX_PASSES", 1)
        assert "ab" == sanitize_html("<p>a<p>b")

    @settings(max_examples=300)
    @given(markup_texts)
    def test_is_idempotent(self, text: str) -> None:
        once = sanitize_html(text)
        assert once == sanitize_html(once)

    @settings(max_examples=300)
    @given(markup_texts)
    def test_never_leaves_executable_markup(self, text: str) -> None:
        assert [] == markup_problems(sanitize_html(text), plain=False)


class TestNeutralizeFormula:
    @pytest.mark.parametrize(
        "text", ["=1+2", "+1 charger", "-20% dress", "@home", "\t=cmd", "\r=cmd", "\uff1dSUM(A1)"]
    )
    def test_prefixes_a_quote_to_text_a_spreadsheet_would_run(self, text: str) -> None:
        assert "'" + text == neutralize_formula(text)

    @pytest.mark.parametrize("text", ["Tee = 100% cotton", "'=already safe", "", "1 + 1"])
    def test_leaves_other_text_unchanged(self, text: str) -> None:
        assert text == neutralize_formula(text)

    @given(st.text(max_size=20))
    def test_is_idempotent(self, text: str) -> None:
        once = neutralize_formula(text)
        assert once == neutralize_formula(once)


class TestForbiddenCharacter:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("a\x00b", ("text.control_chars", 1)),
            ("a\x7f", ("text.control_chars", 1)),
            ("\x85x", ("text.control_chars", 0)),
            ("ab\u202ecd", ("text.bidi_control", 2)),
            ("\u2066x\u2069", ("text.bidi_control", 0)),
            ("x\ud800", ("text.invalid_unicode", 1)),
            ("tab\there", ("text.control_chars", 3)),
        ],
    )
    def test_finds_the_first_refused_character_in_single_line_text(
        self, text: str, expected: tuple[str, int]
    ) -> None:
        assert expected == forbidden_character(text, multiline=False)

    def test_allows_tab_and_line_breaks_in_multiline_text(self) -> None:
        assert None is forbidden_character("a\tb\nc\r\nd", multiline=True)

    def test_still_refuses_nul_in_multiline_text(self) -> None:
        assert ("text.control_chars", 1) == forbidden_character("a\x00", multiline=True)

    def test_accepts_ordinary_unicode(self) -> None:
        assert None is forbidden_character("Café 😀 — 日本 \u200b", multiline=False)
