"""Sanitizers for free text: plain text, allow-listed HTML, spreadsheet formulas, characters.

Markup goes through nh3 (the Rust ``ammonia`` sanitizer, an HTML5 parser), never through
regular expressions. Each sanitizer runs to a fixed point, so its output sanitizes to itself:
markup that was entity-encoded once or twice (``&lt;script&gt;``) is decoded and removed on a
later pass instead of surviving as text that turns into a tag when a page decodes it.
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3

__all__ = [
    "DESCRIPTION_TAGS",
    "FORMULA_PREFIXES",
    "forbidden_character",
    "neutralize_formula",
    "sanitize_html",
    "sanitize_text",
]

#: The tags kept in rich-text fields; every other tag is removed and its text kept.
DESCRIPTION_TAGS = frozenset({"a", "b", "br", "em", "i", "li", "ol", "p", "strong", "ul"})

# Elements whose content is code or is parsed as raw text: removed together with their content.
_DROPPED_WITH_CONTENT = frozenset(
    {
        "iframe",
        "noembed",
        "noframes",
        "noscript",
        "object",
        "script",
        "select",
        "style",
        "template",
        "textarea",
        "title",
        "xmp",
    }
)

_TEXT_CLEANER = nh3.Cleaner(
    tags=set(),
    clean_content_tags=set(_DROPPED_WITH_CONTENT),
    attributes={"*": set()},
    link_rel=None,
    strip_comments=True,
)
_HTML_CLEANER = nh3.Cleaner(
    tags=set(DESCRIPTION_TAGS),
    clean_content_tags=set(_DROPPED_WITH_CONTENT),
    attributes={"*": set(), "a": {"href"}},
    url_schemes={"http", "https"},
    url_relative="deny",
    link_rel="noopener nofollow",
    strip_comments=True,
)

# A pass either reaches the fixed point or removes something; inputs nested deeper than this
# are adversarial, and their remaining markup characters are dropped (see the functions below).
_MAX_PASSES = 6

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
#: with the full-width forms some spreadsheet locales also accept.
FORMULA_PREFIXES = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

_NEEDS_HTML = re.compile("[<&]")


def _nfc(text: str) -> str:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def sanitize_text(value: str) -> str:
    """Return ``value`` as plain text: every tag removed, entities decoded, NFC normalized.

    Text without ``<`` or ``&`` only goes through NFC normalization. Otherwise the text is parsed
    as HTML, every tag and comment is removed (``script``, ``style`` and other code-carrying
    elements with their content), entities are decoded, and this repeats until nothing changes.
    The result never contains a tag, so it is safe even where it is inserted into a page
    without escaping, and ``sanitize_text(sanitize_text(x)) == sanitize_text(x)``.

    Args:
        value: The received text.

    Returns:
        The plain text.

    .. versionadded:: 0.1.0
    """
    text = _nfc(value)
    for _ in range(_MAX_PASSES):
        if _NEEDS_HTML.search(text) is None:
            return text
        cleaned = _nfc(html.unescape(_TEXT_CLEANER.clean(text)))
        if cleaned == text:
            return text
        text = cleaned
    # Still changing after this many decode-and-strip passes: the input is layered encodings
    # built to outlast a sanitizer, so the characters that could form markup are dropped.
    return _NEEDS_HTML.sub("", text)


def sanitize_html(value: str) -> str:
    """Return ``value`` as HTML restricted to an allow-list of tags and safe links.

    Kept: ``p``, ``br``, ``ul``, ``ol``, ``li``, ``strong``, ``em``, ``b``, ``i`` and ``a`` with an
    ``http``/``https`` ``href`` only (relative, ``javascript:``, ``data:`` and every other URL is
    removed) and ``rel="noopener nofollow"`` added. Every other tag is removed and its text kept,
    except code-carrying elements (``script``, ``style``, ``iframe``, ``template``...), removed
    with their content; every other attribute, event handlers included, is removed. Text is
    NFC normalized, and the cleaning repeats until the output cleans to itself.

    Args:
        value: The received HTML fragment.

    Returns:
        The sanitized fragment; ``sanitize_html(sanitize_html(x)) == sanitize_html(x)``.

    .. versionadded:: 0.1.0
    """
    text = _nfc(value)
    for _ in range(_MAX_PASSES):
        if _NEEDS_HTML.search(text) is None:
            return text
        cleaned = _nfc(_HTML_CLEANER.clean(text))
        if cleaned == text:
            return text
        text = cleaned
    # Serializations that keep re-parsing differently are how mutation XSS works; such input is
    # reduced to its text, escaped.
    return html.escape(sanitize_text(text), quote=False)


def neutralize_formula(value: str) -> str:
    """Return ``value`` with a ``'`` prefixed when a spreadsheet would read it as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or the full-width
    forms U+FF1D, U+FF0B, U+FF0D and U+FF20) is prefixed with a single quote, as OWASP recommends
    against CSV injection; other text is returned unchanged. The function is idempotent.

    Args:
        value: Text that may be exported to CSV.

    Returns:
        The text, safe to open in a spreadsheet.

    .. versionadded:: 0.1.0
    """
    if value and value[0] in FORMULA_PREFIXES:
        return "'" + value
    return value


# One pattern per kind of text field; the first forbidden character found is classified below.
_FORBIDDEN_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_FORBIDDEN_MULTILINE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def forbidden_character(text: str, *, multiline: bool) -> tuple[str, int] | None:
    """Find the first character a text field refuses, and say which rule it breaks.

    Refused: lone surrogates (``"text.invalid_unicode"``), bidirectional embedding, override
    and isolate controls U+202A..U+202E and U+2066..U+2069 (``"text.bidi_control"``), and C0/C1
    control characters including NUL and DEL (``"text.control_chars"``). A multi-line field
    allows tab, line feed and carriage return.

    Args:
        text: The text to check.
        multiline: Whether tab and line breaks are allowed.

    Returns:
        ``(code, position)`` of the first refused character, or None when there is none.
    """
    # Printable text holds none of them; checking that first is several times faster.
    if text.isprintable() or (
        multiline and text.replace("\n", " ").replace("\t", " ").replace("\r", " ").isprintable()
    ):
        return None
    match = (_FORBIDDEN_MULTILINE if multiline else _FORBIDDEN_SINGLE_LINE).search(text)
    if match is None:
        return None
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "text.invalid_unicode", match.start()
    if code >= 0x202A:
        return "text.bidi_control", match.start()
    return "text.control_chars", match.start()
