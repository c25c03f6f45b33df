"""Google Merchant Center feeds mapped onto commerce_kit's product fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from commerce_kit.feeds import GoogleMerchantAdapter, parse_feed
from commerce_kit.feeds._merchant import GOOGLE_NS, merchant_fields


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        (
            {"id": "A", "link": "https://s/a", "image_link": "https://s/a.jpg", "title": "T"},
            {"sku": "A", "url": "https://s/a", "image_url": "https://s/a.jpg", "title": "T"},
        ),
        ({"price": "15.00 USD"}, {"price": "15.00", "currency": "USD"}),
        ({"price": "15 usd"}, {"price": "15", "currency": "USD"}),
        ({"price": "EUR 9.90"}, {"price": "9.90", "currency": "EUR"}),
        ({"price": "9.90 EUR", "currency": "USD"}, {"price": "9.90", "currency": "USD"}),
        ({"price": "fifteen dollars"}, {"price": "fifteen dollars"}),
        ({"price": "15.00"}, {"price": "15.00"}),
        ({"availability": "out of stock"}, {"availability": "out of stock"}),
        ({"sale_price": "10.00 USD", "brand": "B"}, {"sale_price": "10.00 USD", "brand": "B"}),
        ({"~title": "plain", "title": "g"}, {"title": "g"}),
        ({"~title": "plain"}, {"title": "plain"}),
        ({"~id": "tag:entry-uri", "id": "A"}, {"sku": "A"}),
        ({"~link": "", "~link@href": "https://s/a"}, {"url": "https://s/a"}),
        ({"~summary": "S"}, {"description": "S"}),
        ({"~summary": "S", "description": "D"}, {"description": "D"}),
        ({"~pubDate": "today"}, {"pubDate": "today"}),
    ],
)
def test_merchant_attributes_map_onto_product_fields(
    raw: dict[str, object], mapped: dict[str, object]
) -> None:
    assert mapped == merchant_fields(raw)


def test_no_stock_is_invented_from_availability() -> None:
    assert "stock" not in merchant_fields({"id": "A", "availability": "in stock"})


def test_the_tsv_fixture_is_mapped_and_a_ragged_row_still_flagged(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "merchant.tsv"))
    assert [
        ("MUG-001", "12.50", "USD", "https://shop.example/mug-001", "in stock", None),
        ("MUG-002", "14.00", "USD", "https://shop.example/mug-002", "out of stock", None),
        (
            "TEE-010",
            "19,99",
            "EUR",
            "https://shop.example/tee-010",
            "preorder",
            "8 values but the header has 9 columns (missing: gtin)",
        ),
    ] == [
        (
            r.data["sku"],
            r.data["price"],
            r.data["currency"],
            r.data["url"],
            r.data["availability"],
            r.error,
        )
        for r in records
    ]
    assert ("google-merchant", 'Blue "Ocean" mug') == (
        _format_of(fixtures / "merchant.tsv"),
        records[1].data["title"],
    )


def test_the_rss_fixture_prefers_g_elements_and_keeps_nested_shipping(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "merchant_rss.xml"))
    assert [
        {
            "sku": "MUG-001",
            "title": "Red mug",
            "url": "https://shop.example/mug-001",
            "description": "Stoneware, 350 ml.",
            "image_url": "https://img.example/mug-001.jpg",
            "price": "12.50",
            "currency": "USD",
            "availability": "in stock",
            "brand": "Acme",
        },
        {
            "sku": "MUG-002",
            "title": "Blue mug",
            "url": "https://shop.example/mug-002",
            "price": "14.00",
            "currency": "USD",
            "availability": "out of stock",
            "shipping": {"country": "US", "price": "4.95 USD"},
        },
    ] == [r.data for r in records]
    assert [7, 17] == [r.line for r in records]


def test_the_atom_fixture_takes_the_link_href_and_drops_the_entry_uri(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "merchant_atom.xml"))
    assert [
        (
            {
                "sku": "MUG-001",
                "title": "Red mug",
                "url": "https://shop.example/mug-001",
                "description": "Stoneware, 350 ml.",
                "image_url": "https://img.example/mug-001.jpg",
                "price": "12.50",
                "currency": "USD",
                "availability": "in stock",
            },
            6,
        )
    ] == [(r.data, r.line) for r in records]


def test_googles_published_example_feed_maps_every_item(vectors: Path) -> None:
    records = list(parse_feed(vectors / "feeds" / "google_merchant_example_feed_rss.xml"))
    assert [
        ("TV_123456", "159.00", "USD", "in stock", 9),
        ("DVD-0564738", "11.99", "USD", "in stock", 36),
        ("PFM654321", "99", "USD", "in stock", 64),
        ("CLO-29473856-1", "29.50", "USD", "out of stock", 97),
        ("CLO-29473856-2", "29.50", "USD", "in stock", 127),
        ("CLO-1029384", "33.99", "USD", "in stock", 157),
    ] == [
        (r.data["sku"], r.data["price"], r.data["currency"], r.data["availability"], r.line)
        for r in records
    ]
    dvd, perfume = records[1].data, records[2].data
    assert "http://www.example.com/media/dvd/?sku=384616&src=gshopping&lang=en" == dvd["url"]
    assert 2 == len(perfume["shipping"])  # type: ignore[arg-type]
    assert [
        "http://images.example.com/PFM654321_2.jpg",
        "http://images.example.com/PFM654321_3.jpg",
    ] == perfume["additional_image_link"]
    assert "M&S" == records[3].data["brand"]


def _format_of(path: Path) -> str:
    from commerce_kit.feeds import registry  # noqa: PLC0415

    return registry.select(filename=str(path), head=path.read_bytes()[:8192]).name


@pytest.mark.parametrize(
    ("head", "score"),
    [
        (f'<rss xmlns:g="{GOOGLE_NS}">'.encode(), 0.95),
        (b"<rss><channel>", 0.0),
        (b"id\ttitle\tprice\tlink\n", 0.9),
        (b'\xef\xbb\xbf"ID"\t"Title"\t"Price"\t"Availability"\r\n', 0.9),
        (b"id\ttitle\tprice\n", 0.0),
        (b"sku\ttitle\tprice\tlink\n", 0.0),
        (b"", 0.0),
    ],
)
def test_the_sniffer_knows_the_namespace_and_the_tsv_header(head: bytes, score: float) -> None:
    assert score == GoogleMerchantAdapter().sniff(head)


@pytest.mark.parametrize(
    ("data", "options", "expected"),
    [
        (f'<rss xmlns:g="{GOOGLE_NS}"/>'.encode(), {"filename": "feed.xml"}, "google-merchant"),
        (b"<rss/>", {"filename": "feed.xml"}, "xml"),
        (b"<rss/>", {"content_type": "application/rss+xml"}, "google-merchant"),
        (
            b"id\ttitle\tprice\tlink\n",
            {"content_type": "text/tab-separated-values"},
            "google-merchant",
        ),
        (b"sku\ttitle\n", {"content_type": "text/tab-separated-values"}, "tsv"),
        (b"id\ttitle\tprice\tlink\n", {"filename": "products.txt"}, "google-merchant"),
    ],
)
def test_merchant_feeds_are_told_from_generic_xml_and_tsv(
    data: bytes, options: dict[str, str], expected: str
) -> None:
    from commerce_kit.feeds import registry  # noqa: PLC0415

    assert expected == registry.select(head=data, **options).name
