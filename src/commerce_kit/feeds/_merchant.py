"""Google Merchant Center product feeds: tab-separated text, or RSS 2.0 / Atom with ``g:`` fields.

Their attributes are mapped onto commerce_kit's product fields so a Merchant Center feed validates
against the default product model unchanged:

============================  ======================================================
Merchant Center attribute     record field
============================  ======================================================
``id``                        ``sku``
``title``                     ``title``
``description``               ``description``
``link``                      ``url`` (an Atom ``<link href="...">`` too)
``image_link``                ``image_url``
``price`` (``"15.00 USD"``)   ``price`` (``"15.00"``) and ``currency`` (``"USD"``)
``availability``              ``availability``, unchanged (``"in stock"``, ...)
anything else                 kept under its own name (``brand``, ``gtin``, ``mpn``,
                              ``condition``, ``sale_price``, ``shipping``, ...)
============================  ======================================================

Merchant Center has no stock quantity, so ``stock`` is left out rather than invented from
``availability``. In XML, a ``g:`` element wins over a plain RSS or Atom element of the same name
(``<g:title>`` over ``<title>``, ``<summary>`` standing in for a missing description); the
Atom ``<id>`` (an entry URI, not a product id) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from commerce_kit.feeds._csv import read_delimited
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._record import FeedRecord
from commerce_kit.feeds._source import buffered, head_text
from commerce_kit.feeds._xml import read_xml

__all__ = ["GOOGLE_NS", "GoogleMerchantAdapter", "merchant_fields"]

#: The XML namespace of Google Merchant Center attributes (the ``g:`` prefix).
GOOGLE_NS = "http://base.google.com/ns/1.0"

_RENAMED = {"id": "sku", "link": "url", "image_link": "image_url"}
_PLAIN_RENAMED = {"link": "url", "summary": "description"}
_PRICE = re.compile(
    r"\s*(?:(?P<amount>[0-9][0-9.,]*)\s*(?P<currency>[A-Za-z]{3})"
    r"|(?P<currency2>[A-Za-z]{3})\s*(?P<amount2>[0-9][0-9.,]*))\s*"
)
# Elements outside the g: namespace get this prefix, so a g: element of the same name wins.
_PLAIN = "~"
_TSV_REQUIRED = frozenset({"id", "title", "price"})
_TSV_SOME_OF = frozenset({"link", "image_link", "availability", "description"})


def merchant_fields(data: dict[str, object]) -> dict[str, object]:
    """Map one record of Merchant Center attributes onto commerce_kit's product fields.

    Args:
        data: The record as read, keyed by attribute name (plain XML elements prefixed ``~``).

    Returns:
        A new mapping: see the module's table. A ``price`` that is not ``"<amount> <ISO 4217
        code>"`` is kept as it is, for the validator to report.
    """
    out: dict[str, object] = {}
    plain: list[tuple[str, object]] = []
    for key, value in data.items():
        if key.startswith(_PLAIN):
            plain.append((key[1:], value))
        else:
            out[_RENAMED.get(key, key)] = value
    for key, value in plain:
        if key != "id":  # an Atom entry's <id> is its URI, not the product's id
            out.setdefault(_PLAIN_RENAMED.get(key, key), value)
    if not out.get("url") and isinstance(out.get("link@href"), str):
        out["url"] = out["link@href"]
    out.pop("link@href", None)
    price = out.get("price")
    if isinstance(price, str):
        match = _PRICE.fullmatch(price)
        if match is not None:
            out["price"] = match["amount"] or match["amount2"]
            out.setdefault("currency", (match["currency"] or match["currency2"]).upper())
    return out


_GOOGLE_PREFIX = f"{GOOGLE_NS}}}"


def _merchant_key(name: str) -> str:
    if name.startswith(_GOOGLE_PREFIX):
        return name[len(_GOOGLE_PREFIX) :]
    return _PLAIN + name.rpartition("}")[2]


def _tsv_columns(head: bytes) -> set[str]:
    line = head_text(head).lstrip("\ufeff").splitlines()[:1]
    return {cell.strip().strip('"').lower() for cell in line[0].split("\t")} if line else set()


class GoogleMerchantAdapter:
    """Google Merchant Center feeds (TSV, RSS 2.0 or Atom 1.0), mapped onto product fields.

    The TSV form has a header row of attribute names (``id``, ``title``, ``description``,
    ``link``, ``image_link``, ``price``, ``availability``, ...); the XML forms carry the same
    attributes as ``g:`` elements in RSS ``<item>`` or Atom ``<entry>`` elements. Which form a
    feed is in is told from its first bytes. Attributes are mapped onto commerce_kit's product
    fields: ``id`` to ``sku``, ``link`` to ``url`` (an Atom ``<link href>`` too), ``image_link``
    to ``image_url``, and ``price`` ``"15.00 USD"`` to ``price`` ``"15.00"`` and ``currency``
    ``"USD"``; ``title``, ``description``, ``availability`` (``"in stock"``, ...) and every other
    attribute (``brand``, ``gtin``, ``shipping``, ...) keep their names. Merchant Center has no
    stock quantity, so no ``stock`` is invented. A ``g:`` element wins over a plain RSS or Atom
    element of the same name. Errors and limits are those of :class:`TsvAdapter` and
    :class:`XmlAdapter`.

    .. versionadded:: 0.1.0
    """

    name = "google-merchant"
    content_types: tuple[str, ...] = (
        "application/rss+xml",
        "application/atom+xml",
        "application/xml",
        "text/xml",
        "text/tab-separated-values",
    )
    extensions: tuple[str, ...] = (".xml", ".rss", ".atom", ".tsv")

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as Merchant Center: the ``g:`` namespace, or its TSV header."""
        text = head_text(head)
        if text.lstrip(" \t\r\n\ufeff").startswith("<"):
            return 0.95 if GOOGLE_NS in text else 0.0
        columns = _tsv_columns(head)
        return 0.9 if columns >= _TSV_REQUIRED and columns & _TSV_SOME_OF else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one mapped record per item, entry or row."""
        raw = buffered(stream)
        start = head_text(raw.peek(64)[:64]).lstrip(" \t\r\n\ufeff")
        if start.startswith("<"):
            return read_xml(raw, limits, keys=_merchant_key, transform=merchant_fields)
        return read_delimited(raw, limits, delimiter="\t", transform=merchant_fields)
