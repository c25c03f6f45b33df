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
    "clean_html",
    "find_forbidden",
    "forbidden_character",
    "latin1",
    "neutralize_formula",
    "sanitize_html",
    "sanitize_text",
    "settled",
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
_SURROGATE = re.compile("[\ud800-\udfff]")


def _needs_html(text: str) -> bool:
    # Two memchr calls: several times faster than one search for a character class.
    return "<" in text or "&" in text


def _without_surrogates(text: str) -> str:
    # A lone surrogate (text decoded with errors="surrogateescape") is no character: the parser
    # cannot take it, and no encoder can write it. It becomes U+FFFD, as an HTML parser reads
    # a character reference to one.
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def _nfc(text: str) -> str:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def sanitize_text(value: str) -> str:
    """Return ``value`` as plain text: every tag removed, entities decoded, NFC normalized.

    Text without ``<`` or ``&`` only goes through NFC normalization (and a lone surrogate, which
    is no character, becomes U+FFFD, the replacement character). Otherwise the text is parsed
    as HTML, every tag and comment is removed (``script``, ``style`` and other code-carrying
    elements with their content), entities are decoded, and this repeats until nothing changes.
    The result never contains a tag, so it is safe even where it is inserted into a page
    without escaping, and ``sanitize_text(sanitize_text(x)) == sanitize_text(x)``.

    Args:
        value: The received text.

    Returns:
        The plain text.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A lone surrogate becomes U+FFFD instead of raising ``UnicodeEncodeError``.
    """
    text = _nfc(_without_surrogates(value))
    for _ in range(_MAX_PASSES):
        if not _needs_html(text):
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
    NFC normalized, and the cleaning repeats until the output cleans to itself. Text without
    ``<`` or ``&`` holds no markup and is only normalized: a ``>``, a quote or a no-break space
    in it stays as written (none can start markup in HTML text), where parsing would write
    ``&gt;`` or ``&nbsp;``.

    Args:
        value: The received HTML fragment.

    Returns:
        The sanitized fragment; ``sanitize_html(sanitize_html(x)) == sanitize_html(x)``.

    .. versionadded:: 0.1.0
    """
    return clean_html(value, valid_unicode=False)


def clean_html(value: str, *, valid_unicode: bool) -> str:
    """:func:`sanitize_html`, told whether ``value`` is known to hold no lone surrogate.

    Fragments that already are plain allow-listed markup (see :func:`settled`) are returned
    without parsing: parsing would give them back unchanged. Unless ``valid_unicode``, lone
    surrogates are replaced first.
    """
    text = _nfc(value if valid_unicode else _without_surrogates(value))
    for _ in range(_MAX_PASSES):
        if not _needs_html(text):
            return text
        if settled(text):
            return text
        cleaned = _nfc(_HTML_CLEANER.clean(text))
        if cleaned == text:
            return text
        text = cleaned
    # Serializations that keep re-parsing differently are how mutation XSS works; such input is
    # reduced to its text, escaped.
    return html.escape(sanitize_text(text), quote=False)


# -- allow-listed markup the cleaner would return unchanged ----------------------------------------
#
# Most rich descriptions are already clean: paragraphs, lists and emphasis, written plainly. The
# HTML5 parser and serializer behind nh3 give such a fragment back character for character when
#
# * its text holds none of the characters the serializer rewrites or the parser drops: "&", "<"
#   and ">" (escaped), U+00A0 (written "&nbsp;"), NUL (dropped), CR (read as LF) and U+FEFF (a
#   byte-order mark, dropped at the start);
# * every "<" opens a tag of the allow-list written exactly ``<p>``, ``</p>``, ``<br>``... (no
#   attribute, no space, lower case; ``<a>`` is left out, since the cleaner adds ``rel`` to it);
# * the tags nest properly, so the parser never closes or reopens an element on its own. The
#   tree-building rules that close an element implicitly are the ones a start tag ``p``, ``ul``,
#   ``ol`` or ``li`` triggers on an open ``p`` (closed first) and ``li`` on an open ``li``; they
#   cannot fire when no ``p`` is open at a ``p``, ``ul``, ``ol`` or ``li``, and an ``li`` is the
#   direct child of a ``ul`` or ``ol``. Proper nesting also keeps the list of active formatting
#   elements in step with the open elements, so nothing is ever reconstructed.
#
# The test suite checks this shortcut against nh3 itself on generated markup.

# Any tag without attributes; the names are checked once per layout.
_PLAIN_TAG = re.compile(r"</?[a-z]+>")
_PLAIN_NAMES = frozenset({"p", "br", "ul", "ol", "li", "strong", "em", "b", "i"})
_CLOSES_OPEN_P = frozenset({"p", "ul", "ol", "li"})
_LISTS = frozenset({"ul", "ol"})
# Deeper nesting is left to the parser (it has no bearing on real descriptions).
_MAX_DEPTH = 32
# The verdict for each sequence of tags seen: descriptions of one feed share a few layouts.
# Tags only, never text, and bounded: the map is emptied when it is full.
_LAYOUTS: dict[str, bool] = {}
_LAYOUTS_SIZE = 256
_LAYOUT_LENGTH = 1024


def settled(text: str) -> bool:
    """Whether the description cleaner would return ``text`` (NFC, no surrogate) unchanged."""
    if "&" in text or "\x00" in text or "\r" in text:
        return False
    if not text.isascii() and ("\xa0" in text or "\ufeff" in text):
        return False
    tags = _PLAIN_TAG.findall(text)
    count = len(tags)
    if count != text.count("<") or count != text.count(">"):
        return False
    layout = "".join(tags)
    verdict = _LAYOUTS.get(layout)
    if verdict is None:
        verdict = _nests_plainly(tags)
        if len(layout) <= _LAYOUT_LENGTH:
            if len(_LAYOUTS) >= _LAYOUTS_SIZE:
                _LAYOUTS.clear()
            _LAYOUTS[layout] = verdict
    return verdict


def _nests_plainly(tags: list[str]) -> bool:
    """Whether tags such as ``["<p>", "<b>", "</b>", "</p>"]`` nest without implied closing."""
    stack: list[str] = []
    for tag in tags:
        if tag[1] == "/":
            # Only an open element is closed: this also refuses "</br>", read as "<br>".
            if not stack or stack.pop() != tag[2:-1]:
                return False
            continue
        name = tag[1:-1]
        if name not in _PLAIN_NAMES:
            return False
        if name == "br":
            continue
        if name in _CLOSES_OPEN_P and "p" in stack:
            return False
        if name == "li" and (not stack or stack[-1] not in _LISTS):
            return False
        if len(stack) == _MAX_DEPTH:
            return False
        stack.append(name)
    return not stack


def latin1(text: str) -> bytes | None:
    """The text's bytes when every character is below U+0100 (most product text), else None.

    Such text can be checked byte-wise, in C, where ``str`` methods would look up each
    character in the Unicode tables; and it is always in NFC, since no character below U+0100
    decomposes or combines with another one.
    """
    if text.isascii():
        return text.encode()
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


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
    return find_forbidden(text, multiline, text.encode() if text.isascii() else None)


def find_forbidden(text: str, multiline: bool, raw: bytes | None) -> tuple[str, int] | None:
    """:func:`forbidden_character`, given ``latin1(text)`` (or None to look character-wise)."""
    # Deleting the allowed bytes leaves the refused ones: a C loop several times faster than
    # str.isprintable or a search.
    if raw is not None and not raw.translate(None, _MULTILINE if multiline else _SINGLE_LINE):
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


# The bytes below U+0100 a text field allows: all but the C0 and C1 controls and DEL.
_SINGLE_LINE = bytes(range(0x20, 0x7F)) + bytes(range(0xA0, 0x100))
_MULTILINE = _SINGLE_LINE + b"\t\n\r"
