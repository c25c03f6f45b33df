"""Real exports from shops (Shopify, WooCommerce, Magento, Saleor), read in place."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from commerce_kit.feeds import FeedFinished, parse_feed
from commerce_kit.typing import FeedEvent
from commerce_kit.validation import Product, ValidationReport, Validator

CSV_FEEDS = {
    "magento_configurable_products_first150.csv": 150,
    "magento_products_gear_bags.csv": 14,
    "shopify_product_template.csv": 17,
    "woocommerce_importer_test_sample.csv": 7,
    "woocommerce_sample_products.csv": 24,
}


def stdlib_rows(path: Path) -> list[tuple[dict[str, str], int]]:
    """The oracle: csv.DictReader's rows, each with the line after the previous row's end."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        rows = []
        previous = 1
        for row in reader:
            rows.append((row, previous + 1))
            previous = reader.line_num
    return rows


@pytest.mark.parametrize("name", sorted(CSV_FEEDS))
def test_shop_exports_read_like_the_stdlib_reads_them(vectors: Path, name: str) -> None:
    path = vectors / "feeds" / name
    records = list(parse_feed(path))
    assert CSV_FEEDS[name] == len(records)
    assert stdlib_rows(path) == [(dict(r.data), r.line) for r in records]
    assert [None] * len(records) == [r.error for r in records]


def test_quoted_line_breaks_in_magento_categories_keep_the_start_lines(vectors: Path) -> None:
    records = list(parse_feed(vectors / "feeds" / "magento_products_gear_bags.csv"))
    first, second = records[0], records[1]
    assert ("Gear\nBags", 2, "24-MB01") == (first.data["category"], first.line, first.data["sku"])
    assert ("24-MB04", 23) == (second.data["sku"], second.line)


def test_shopify_variant_rows_keep_their_values_as_text(vectors: Path) -> None:
    records = list(parse_feed(vectors / "feeds" / "shopify_product_template.csv"))
    assert ("3.65275E+11", "example-shirt") == (
        records[0].data["Variant Barcode"],
        records[0].data["Handle"],
    )


def test_the_saleor_fixture_streams_every_element_with_its_line(vectors: Path) -> None:
    path = vectors / "feeds" / "saleor_populatedb_products_subset.json"
    records = list(parse_feed(path))
    lines = path.read_text().splitlines()
    assert json.loads(path.read_text()) == [r.data for r in records]
    assert {"{"} == {lines[r.line - 1].strip() for r in records}
    assert (194, 2) == (len(records), records[0].line)


# -- column presets on the real exports --------------------------------------------------------

#: name: (preset detected, records, accepted, rows skipped), the currency given as a default.
MAPPED = {
    "google_merchant_example_feed_rss.xml": (None, 6, 6, 0),
    "magento_configurable_products_first150.csv": ("magento", 141, 141, 9),
    "magento_products_gear_bags.csv": ("magento", 14, 14, 0),
    "saleor_populatedb_products_subset.json": (None, 194, 0, 0),
    "shopify_product_template.csv": ("shopify", 16, 0, 1),
    "woocommerce_importer_test_sample.csv": ("woocommerce", 5, 2, 2),
    "woocommerce_sample_products.csv": ("woocommerce", 21, 21, 3),
}


def validated(path: Path) -> tuple[list[FeedEvent], ValidationReport[Product]]:
    events: list[FeedEvent] = []
    records = parse_feed(path, columns="auto", hooks=[events.append])
    return events, Validator(defaults={"currency": "USD"}).validate(records)


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_auto_columns_map_each_real_export_onto_products(vectors: Path, name: str) -> None:
    events, report = validated(vectors / "feeds" / name)
    finished = events[-1]
    assert isinstance(finished, FeedFinished)
    assert MAPPED[name] == (
        finished.columns,
        report.records,
        len(report.accepted),
        finished.skipped,
    )


def test_the_real_shopify_rows_are_rejected_only_for_barcodes_a_spreadsheet_mangled(
    vectors: Path,
) -> None:
    _, report = validated(vectors / "feeds" / "shopify_product_template.csv")
    assert {("gtin", "gtin.format")} == {(e.field, e.code) for e in report.errors}
    assert all("E+11'" in e.message for e in report.errors)


def test_the_real_woocommerce_rows_rejected_have_no_sku(vectors: Path) -> None:
    _, report = validated(vectors / "feeds" / "woocommerce_importer_test_sample.csv")
    assert [
        "line 4, sku: is required",
        "line 6, sku: is required",
        "line 6, title: is required",
        "line 7, sku: is required",
        "line 7, title: is required",
    ] == [e.message for e in report.errors]
