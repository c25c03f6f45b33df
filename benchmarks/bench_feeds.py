"""Feed parsing: records per second against the standard library's own parsers, and peak memory.

One timed op parses a whole feed (the record count is in the group name), so ns/op divided by the
count is ns per record. The floors do less than ``parse_feed``: no line numbers, no limits, no
per-record error handling; the JSON floor holds the whole document in memory, and the XML floor
expands entities (unsafe on untrusted input). ``defusedxml``'s safe ``iterparse`` is the XML peer
(``parse_feed`` parses XML with defusedxml's parser too). The Shopify groups read one export with
its columns as they are, then mapped by the ``"shopify"`` preset; that floor renames with one
dict and does none of the preset's fallbacks, inheritance or row skipping.
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


SHOPIFY_HEADER = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Qty",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Variant Image",
    "Status",
]
SHOPIFY_RENAME = {
    "Variant SKU": "sku",
    "Title": "title",
    "Body (HTML)": "description",
    "Variant Price": "price",
    "Variant Inventory Qty": "stock",
    "Variant Image": "image_url",
    "Vendor": "brand",
    "Variant Barcode": "gtin",
}


def _shopify_row(n: int) -> dict[str, str]:
    """Products of four variants: the product's columns on its first row only."""
    product, variant = divmod(n, 4)
    first = variant == 0
    return {
        "Handle": f"product-{product}",
        "Title": f"Product {product}, a reasonably long title" if first else "",
        "Body (HTML)": "<p>Stoneware mug, 350 ml. Dishwasher safe.</p>" if first else "",
        "Vendor": "Kiln & Co" if first else "",
        "Type": "Mugs" if first else "",
        "Tags": "kitchen, mugs" if first else "",
        "Published": "TRUE" if first else "",
        "Option1 Name": "Colour" if first else "",
        "Option1 Value": ("Red", "Blue", "Green", "Black")[variant],
        "Variant SKU": f"SKU-{n:07d}",
        "Variant Grams": "350",
        "Variant Inventory Qty": str(n % 37),
        "Variant Price": f"{n % 500}.99",
        "Variant Compare At Price": "",
        "Variant Barcode": "",
        "Image Src": f"https://cdn.example/p/{product}-{variant}.jpg",
        "Image Position": str(variant + 1),
        "Variant Image": f"https://cdn.example/v/{n}.jpg",
        "Status": "active" if first else "",
    }


@cache
def feed(kind: str, rows: int) -> bytes:
    if kind == "shopify":
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=SHOPIFY_HEADER)
        writer.writeheader()
        writer.writerows(_shopify_row(n) for n in range(rows))
        return out.getvalue().encode()
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


def ours(kind: str, rows: int, columns: str | None = None) -> Callable[[], object]:
    data = feed(kind, rows)
    name = {"merchant": "google-merchant", "shopify": "csv"}.get(kind, kind)
    return lambda: sum(1 for _ in parse_feed(data, format=name, columns=columns))


def dictreader(rows: int, kind: str = "csv") -> Callable[[], object]:
    data = feed(kind, rows)
    return lambda: sum(
        1 for _ in csv.DictReader(io.TextIOWrapper(io.BytesIO(data), "utf-8", newline=""))
    )


def dictreader_renamed(rows: int) -> Callable[[], object]:
    data = feed("shopify", rows)
    rename = SHOPIFY_RENAME

    def run() -> int:
        count = 0
        text = io.TextIOWrapper(io.BytesIO(data), "utf-8", newline="")
        for row in csv.DictReader(text):
            {rename.get(key, key): value for key, value in row.items()}
            count += 1
        return count

    return run


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
    shopify_raw = f"feeds: parse a {ROWS:,}-row Shopify export, columns as they are"
    shopify_mapped = f"feeds: parse a {ROWS:,}-row Shopify export, columns mapped"
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
        Case(shopify_raw, "commerce_kit parse_feed", "ours", lambda: ours("shopify", ROWS), 1),
        Case(shopify_raw, "csv.DictReader", "floor", lambda: dictreader(ROWS, "shopify"), 1),
        Case(
            shopify_mapped,
            'commerce_kit parse_feed(columns="shopify")',
            "ours",
            lambda: ours("shopify", ROWS, "shopify"),
            1,
        ),
        Case(
            shopify_mapped,
            "csv.DictReader + one rename dict",
            "floor",
            lambda: dictreader_renamed(ROWS),
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
