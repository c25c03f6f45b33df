"""Feed parsing: records per second against the standard library's own parsers, and peak memory.

One timed op parses a whole feed (the record count is in the group name), so ns/op divided by the
count is ns per record. The floors do less than ``parse_feed``: no line numbers, no limits, no
per-record error handling; the JSON floor holds the whole document in memory, and the XML floor
expands entities (unsafe on untrusted input). ``defusedxml``'s safe ``iterparse`` is the XML peer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from functools import cache
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from defusedxml import ElementTree as DefusedElementTree  # type: ignore[import-untyped]

from benchmarks._harness import Case, PeakMemoryCase
from commerce_kit.feeds import parse_feed
from commerce_kit.feeds._merchant import GOOGLE_NS, merchant_fields

ROWS = 20_000
PEAK_ROWS = 100_000


def _row(n: int) -> dict[str, str]:
    return {
        "sku": f"SKU-{n:07d}",
        "title": f"Product {n}, a reasonably long title for a product",
        "description": 'Stoneware mug, 350 ml. Dishwasher and "microwave" safe.',
        "price": f"{n % 500}.99",
        "currency": "USD",
        "stock": str(n % 37),
        "url": f"https://shop.example/p/{n}",
        "image_url": f"https://img.example/p/{n}.jpg",
    }


@cache
def feed(kind: str, rows: int) -> bytes:
    records = [_row(n) for n in range(rows)]
    if kind == "csv":
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue().encode()
    if kind == "json":
        return json.dumps({"products": records}, indent=1).encode()
    if kind == "ndjson":
        return "".join(json.dumps(r) + "\n" for r in records).encode()
    if kind == "xml":
        items = (
            "<product>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in r.items()) + "</product>"
            for r in records
        )
        return ("<products>\n" + "\n".join(items) + "\n</products>\n").encode()
    items = (
        "<item>"
        + "".join(
            f"<g:{k}>{escape(v)}</g:{k}>"
            for k, v in {
                "id": r["sku"],
                "title": r["title"],
                "link": r["url"],
                "price": f"{r['price']} USD",
            }.items()
        )
        + "</item>"
        for r in records
    )
    head = f'<rss version="2.0" xmlns:g="{GOOGLE_NS}"><channel><title>Shop</title>\n'
    return (head + "\n".join(items) + "\n</channel></rss>\n").encode()


def ours(kind: str, rows: int) -> Callable[[], object]:
    data = feed(kind, rows)
    name = "google-merchant" if kind == "merchant" else kind
    return lambda: sum(1 for _ in parse_feed(data, format=name))


def dictreader(rows: int) -> Callable[[], object]:
    data = feed("csv", rows)
    return lambda: sum(
        1 for _ in csv.DictReader(io.TextIOWrapper(io.BytesIO(data), "utf-8", newline=""))
    )


def json_loads(rows: int) -> Callable[[], object]:
    data = feed("json", rows)
    return lambda: len(json.loads(data)["products"])


def ndjson_loads(rows: int) -> Callable[[], object]:
    data = feed("ndjson", rows)
    loads = json.loads
    return lambda: sum(1 for line in io.BytesIO(data) if loads(line))


def iterparse(module: object, kind: str, rows: int, tag: str) -> Callable[[], object]:
    """``iterparse`` a feed, turning each record element into a dict and clearing it."""
    data = feed(kind, rows)
    parse = module.iterparse  # type: ignore[attr-defined]
    transform = merchant_fields if kind == "merchant" else None

    def run() -> int:
        count = 0
        for _, element in parse(io.BytesIO(data)):
            if element.tag == tag:
                fields = {child.tag.rpartition("}")[2]: child.text or "" for child in element}
                if transform is not None:
                    transform(fields)
                count += 1
                element.clear()
        return count

    return run


def cases() -> list[Case | PeakMemoryCase]:
    csv_group = f"feeds: parse a {ROWS:,}-row CSV feed"
    json_group = f"feeds: parse a {ROWS:,}-record JSON feed"
    ndjson_group = f"feeds: parse a {ROWS:,}-line NDJSON feed"
    xml_group = f"feeds: parse a {ROWS:,}-record XML feed"
    rss_group = f"feeds: parse a {ROWS:,}-item Merchant RSS feed"
    csv_peak = f"feeds: peak memory, {PEAK_ROWS:,}-row CSV feed"
    json_peak = f"feeds: peak memory, {PEAK_ROWS:,}-record JSON feed"
    xml_peak = f"feeds: peak memory, {PEAK_ROWS:,}-record XML feed"
    timed = [
        Case(csv_group, "commerce_kit parse_feed", "ours", lambda: ours("csv", ROWS), number=1),
        Case(csv_group, "csv.DictReader", "floor", lambda: dictreader(ROWS), number=1),
        Case(
            json_group, "commerce_kit parse_feed (streamed)", "ours", lambda: ours("json", ROWS), 1
        ),
        Case(json_group, "json.loads (whole document)", "floor", lambda: json_loads(ROWS), 1),
        Case(ndjson_group, "commerce_kit parse_feed", "ours", lambda: ours("ndjson", ROWS), 1),
        Case(ndjson_group, "json.loads per line", "floor", lambda: ndjson_loads(ROWS), 1),
        Case(
            xml_group,
            "commerce_kit parse_feed (DTDs refused)",
            "ours",
            lambda: ours("xml", ROWS),
            1,
        ),
        Case(
            xml_group,
            "defusedxml ElementTree.iterparse",
            "peer",
            lambda: iterparse(DefusedElementTree, "xml", ROWS, "product"),
            1,
        ),
        Case(
            xml_group,
            "xml.etree iterparse (unsafe)",
            "floor",
            lambda: iterparse(ET, "xml", ROWS, "product"),
            1,
        ),
        Case(rss_group, "commerce_kit parse_feed", "ours", lambda: ours("merchant", ROWS), 1),
        Case(
            rss_group,
            "defusedxml iterparse + the same mapping",
            "peer",
            lambda: iterparse(DefusedElementTree, "merchant", ROWS, "item"),
            1,
        ),
    ]
    peak = [
        PeakMemoryCase(csv_peak, "commerce_kit parse_feed", "ours", lambda: ours("csv", PEAK_ROWS)),
        PeakMemoryCase(csv_peak, "csv.DictReader", "floor", lambda: dictreader(PEAK_ROWS)),
        PeakMemoryCase(
            json_peak, "commerce_kit parse_feed", "ours", lambda: ours("json", PEAK_ROWS)
        ),
        PeakMemoryCase(
            json_peak, "json.loads (whole document)", "floor", lambda: json_loads(PEAK_ROWS)
        ),
        PeakMemoryCase(xml_peak, "commerce_kit parse_feed", "ours", lambda: ours("xml", PEAK_ROWS)),
        PeakMemoryCase(
            xml_peak,
            "xml.etree iterparse + clear",
            "floor",
            lambda: iterparse(ET, "xml", PEAK_ROWS, "product"),
        ),
    ]
    return [*timed, *peak]
