"""Shared helpers for the validation tests: records, strategies and an independent XSS check."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from html.parser import HTMLParser

from hypothesis import strategies as st

from commerce_kit.validation import CURRENCY_MINOR_UNITS

#: A record every rule accepts; tests change one field at a time.
VALID: dict[str, object] = {
    "sku": "TEE-001",
    "title": "Classic Tee",
    "description": "<p>Soft <strong>cotton</strong>.</p>",
    "price": "15.00",
    "currency": "USD",
    "stock": "12",
    "url": "https://shop.example.com/p/tee-001",
    "image_url": "https://cdn.example.com/i/tee-001.jpg",
}


def record(**changes: object) -> dict[str, object]:
    """A copy of :data:`VALID` with some fields changed (a value of ``...`` removes the field)."""
    data = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


# -- an independent check of sanitized markup ------------------------------------------------------

_ALLOWED_TAGS = frozenset({"a", "b", "br", "em", "i", "li", "ol", "p", "strong", "ul"})
_HANDLER_IN_TAG = re.compile(r"<[a-zA-Z!/?][^>]*[\s/\"']on\w+\s*=", re.IGNORECASE)
_SCRIPT = re.compile(r"<\s*script", re.IGNORECASE)


class _Markup(HTMLParser):
    """Python's own HTML parser (not html5ever, which nh3 uses), listing what could execute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            elif name not in {"href", "rel"}:
                self.problems.append(f"attribute {name}")
            elif name == "href":
                url = re.sub(r"[\x00-\x20]", "", value or "")
                if not re.match(r"https?://", url, re.IGNORECASE):
                    self.problems.append(f"href {value!r}")

    handle_startendtag = handle_starttag


def markup_problems(output: str, *, plain: bool) -> list[str]:
    """What in ``output`` could run script: nothing for a correctly sanitized value.

    For plain text, any tag at all is a problem (the text must be safe even where a template
    forgets to escape it); for HTML, tags outside the allow-list, event handlers, attributes
    other than ``href``/``rel`` and non-http(s) links are.
    """
    parser = _Markup()
    parser.feed(output)
    parser.close()
    problems = list(parser.problems)
    if plain and parser.tags:
        problems.append(f"tags in plain text: {parser.tags}")
    if _SCRIPT.search(output):
        problems.append("<script")
    if _HANDLER_IN_TAG.search(output):
        problems.append("on...= inside a tag")
    if re.search(r"href\s*=\s*['\"]?\s*javascript:", output, re.IGNORECASE):
        problems.append("javascript: href")
    return problems


# -- strategies ----------------------------------------------------------------------------------

# Printable text without markup characters, control or bidirectional characters.
_TEXT_ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "S", "Zs"),
    exclude_characters="<>&\u00a0\u2028\u2029",
)
plain_texts = st.text(_TEXT_ALPHABET, min_size=1, max_size=60).filter(lambda t: t.strip())
skus = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9](\.[a-z]{2,6}){1,2}", fullmatch=True)
paths = st.from_regex(
    r"(/[A-Za-z0-9._~-]{1,12}){0,3}(\?[a-z]{1,5}=[A-Za-z0-9]{1,5})?", fullmatch=True
)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    paths,
)
currencies = st.sampled_from(sorted(CURRENCY_MINOR_UNITS))


def gtin_with_check_digit(body: str) -> str:
    """Append the GS1 check digit to ``body``."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


gtins = st.sampled_from([7, 11, 12, 13]).flatmap(
    lambda n: st.text("0123456789", min_size=n, max_size=n).map(gtin_with_check_digit)
)


@st.composite
def prices(draw: st.DrawFn, currency: str) -> str:
    """A price in ``currency``: at most its minor-unit places, never more than two."""
    places = draw(st.integers(0, min(CURRENCY_MINOR_UNITS[currency], 2)))
    units = draw(st.integers(1, 10**9 * 10**places - 1))
    amount = Decimal(units).scaleb(-places)
    return f"{amount:.{places}f}"


@st.composite
def valid_records(draw: st.DrawFn) -> dict[str, object]:
    """A record every rule accepts, with optional fields sometimes present, sometimes blank."""
    currency = draw(currencies)
    data: dict[str, object] = {
        "sku": draw(skus),
        "title": draw(plain_texts),
        "currency": draw(st.sampled_from([currency, currency.lower()])),
        "price": draw(prices(currency)),
    }
    optional = {
        "description": st.one_of(plain_texts, plain_texts.map(lambda t: f"<p>{t}</p>")),
        "stock": st.one_of(st.integers(0, 2**31 - 1), st.integers(0, 10**6).map(str)),
        "url": urls,
        "image_url": urls,
        "brand": st.text(_TEXT_ALPHABET, min_size=1, max_size=40).filter(lambda t: t.strip()),
        "gtin": gtins,
    }
    for name, strategy in optional.items():
        choice = draw(st.sampled_from(["value", "absent", "blank"]))
        if choice == "value":
            data[name] = draw(strategy)
        elif choice == "blank":
            data[name] = draw(st.sampled_from(["", "  ", None]))
    return data


def expected_plain(text: str) -> str:
    """The reference model of a plain-text field without markup: NFC, trimmed, formula-safe."""
    value = unicodedata.normalize("NFC", text).strip()
    if value[:1] in set("=+-@\t\r\uff1d\uff0b\uff0d\uff20"):
        value = "'" + value
    return value
