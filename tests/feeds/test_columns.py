"""Column maps: shop exports become product fields, rows that are not products are skipped."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit.feeds import (
    FIELD_MAPS,
    FeedFinished,
    FeedFormatError,
    FieldMap,
    RecordSkipped,
    detect_field_map,
    parse_feed,
    parse_feed_text,
)
from commerce_kit.feeds._columns import Mapper, column_key
from commerce_kit.feeds._record import make_record
from commerce_kit.typing import FeedEvent
from commerce_kit.validation import Validator

Row = dict[str, object]


def mapped(
    rows: Sequence[Mapping[str, object]], field_map: FieldMap | str, **kwargs: Any
) -> list[tuple[Mapping[str, object], int, int]]:
    records = [make_record(dict(row), n + 2, n + 1) for n, row in enumerate(rows)]
    resolved = FIELD_MAPS[field_map] if isinstance(field_map, str) else field_map
    mapper = Mapper(iter(records), resolved, **kwargs)
    return [(r.data, r.line, r.index) for r in mapper]


# -- the map itself ----------------------------------------------------------------------------


def test_several_columns_can_feed_one_field_the_first_non_blank_wins() -> None:
    field_map = FieldMap({"Description": "description", "Short description": "description"})
    rows = [
        {"Description": "Long.", "Short description": "Short."},
        {"Description": " ", "Short description": "Short."},
        {"Description": "", "Short description": ""},
    ]
    assert [{"description": "Long."}, {"description": "Short."}, {}] == [
        data for data, _, _ in mapped(rows, field_map)
    ]


def test_other_columns_are_kept_unless_named_like_a_field_the_map_fills() -> None:
    field_map = FieldMap({"Artikel": "sku", "Preis": "price"})
    rows = [{"Artikel": "A-1", "Preis": "", "price": "9.99", "Farbe": "rot"}]
    assert [({"sku": "A-1", "Farbe": "rot"}, 2, 1)] == mapped(rows, field_map)


def test_columns_are_matched_ignoring_case_and_runs_of_spaces() -> None:
    field_map = FieldMap({"Regular Price": "price", "sku": "sku"})
    rows = [{"SKU": "A", "regular  price ": "5"}]
    assert [{"sku": "A", "price": "5"}] == [data for data, _, _ in mapped(rows, field_map)]


@pytest.mark.parametrize(
    ("images", "first"),
    [
        ("https://a.example/1.jpg, https://a.example/2.jpg", "https://a.example/1.jpg"),
        (" , https://a.example/2.jpg", "https://a.example/2.jpg"),
        ("https://a.example/1.jpg", "https://a.example/1.jpg"),
        (", ,", ""),
        (["a", "b"], ["a", "b"]),
    ],
)
def test_a_list_column_gives_its_first_item(images: object, first: object) -> None:
    field_map = FieldMap({"Images": "image_url"}, list_columns=frozenset({"images"}))
    assert [{"image_url": first}] == [d for d, _, _ in mapped([{"Images": images}], field_map)]


def test_values_that_are_not_text_pass_through_as_they_are() -> None:
    field_map = FieldMap({"id": "sku", "cost": "price"})
    rows: list[Row] = [{"id": 17, "cost": 9.5, "tags": ["a"]}, {"id": None, "cost": 0}]
    assert [{"sku": 17, "price": 9.5, "tags": ["a"]}, {"price": 0}] == [
        data for data, _, _ in mapped(rows, field_map)
    ]


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        ({}, ValueError, "at least one"),
        ({"a": ""}, ValueError, "must not be blank"),
        ({" ": "sku"}, ValueError, "must not be blank"),
        ({"SKU": "sku", " sku": "id"}, ValueError, "the same column"),
        ({"a": 1}, TypeError, "str to str"),
        ([("a", "sku")], TypeError, "must be a mapping"),
    ],
)
def test_a_bad_map_is_refused_when_built(
    columns: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FieldMap(columns)


def test_a_map_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name must be"):
        FieldMap({"a": "sku"}, name="")


def test_a_map_is_an_immutable_hashable_value() -> None:
    source = {"Artikel": "sku"}
    field_map = FieldMap(source)
    source["Preis"] = "price"
    with pytest.raises(TypeError):
        field_map.columns["Preis"] = "price"  # type: ignore[index]
    assert ({"Artikel": "sku"}, True) == (
        dict(field_map.columns),
        hash(field_map) == hash(FieldMap({"Artikel": "sku"})),
    )


def test_a_preset_can_be_adapted_with_dataclasses_replace() -> None:
    shopify = FIELD_MAPS["shopify"]
    columns = {source: field for source, field in shopify.columns.items() if field != "gtin"}
    lenient = dataclasses.replace(shopify, columns=columns, name="shopify-no-gtin")
    assert (shopify.signatures, shopify.inherit, "gtin") == (
        lenient.signatures,
        lenient.inherit,
        shopify.columns["Variant Barcode"],
    )
    assert "gtin" not in lenient.columns.values()


# -- grouping and skipping ---------------------------------------------------------------------


GROUPED = FieldMap(
    {"Title": "title", "SKU": "sku", "Image": "image_url"},
    group_by="Handle",
    inherit=frozenset({"Title", "Image"}),
)


def test_rows_continuing_a_group_take_the_inherited_columns_from_its_first_row() -> None:
    rows = [
        {"Handle": "mug", "Title": "Mug", "SKU": "M-1", "Image": "1.jpg"},
        {"Handle": "mug", "Title": "", "SKU": "M-2", "Image": "2.jpg"},
        {"Handle": "mug", "Title": "", "SKU": "M-3", "Image": ""},
        {"Handle": "cup", "Title": "", "SKU": "C-1", "Image": ""},
        {"Handle": "", "Title": "", "SKU": "X-1", "Image": ""},
        {"Handle": "", "Title": "", "SKU": "X-2", "Image": ""},
    ]
    assert [
        ("Mug", "1.jpg"),
        ("Mug", "1.jpg"),
        ("Mug", "1.jpg"),
        (None, None),
        (None, None),
        (None, None),
    ] == [(data.get("title"), data.get("image_url")) for data, _, _ in mapped(rows, GROUPED)]


def test_skipped_rows_are_reported_with_their_line_and_the_rest_renumbered() -> None:
    field_map = FieldMap(
        {"SKU": "sku"}, skip=lambda cell: "a parent" if cell("type") == "variable" else None
    )
    rows = [
        {"SKU": "P", "Type": "variable"},
        {"SKU": "A", "Type": "variation"},
        {"SKU": "Q", "Type": "variable"},
        {"SKU": "B", "Type": " simple "},
    ]
    skips: list[tuple[int, str]] = []
    records = mapped(rows, field_map, on_skip=lambda line, reason: skips.append((line, reason)))
    assert [
        ({"sku": "A", "Type": "variation"}, 3, 1),
        ({"sku": "B", "Type": " simple "}, 5, 2),
    ] == (records)
    assert [(2, "a parent"), (4, "a parent")] == skips


def test_a_skip_rule_sees_absent_columns_as_blank_and_numbers_as_text() -> None:
    seen: list[tuple[str, str]] = []

    def rule(cell: Callable[[str], str]) -> str | None:
        seen.append((cell("missing"), cell("n")))
        return None

    mapped([{"n": 4, "SKU": "A"}], FieldMap({"SKU": "sku"}, skip=rule))
    assert [("", "4")] == seen


def test_a_record_the_adapter_could_not_read_whole_is_never_skipped() -> None:
    field_map = FieldMap({"SKU": "sku"}, skip=lambda cell: "always")
    broken = make_record({"SKU": "A"}, 2, 1, "2 values but the header has 3 columns")
    mapper = Mapper(iter([broken]), field_map)
    assert [({"sku": "A"}, "2 values but the header has 3 columns")] == [
        (r.data, r.error) for r in mapper
    ]
    assert 0 == mapper.skipped


def test_records_with_nothing_read_pass_before_the_columns_are_known() -> None:
    records = [
        make_record({}, 1, 1, "invalid JSON at column 1"),
        make_record({"Artikel": "A"}, 2, 2),
    ]
    out = list(Mapper(iter(records), FieldMap({"Artikel": "sku"})))
    assert [({}, 1, 1), ({"sku": "A"}, 2, 2)] == [(r.data, r.line, r.index) for r in out]


def test_records_of_many_shapes_are_each_mapped_by_their_own_columns() -> None:
    field_map = FieldMap({"id": "sku"})
    rows = [{"id": str(n), f"extra{n}": "x"} for n in range(100)]
    assert [{"sku": str(n), f"extra{n}": "x"} for n in range(100)] == [
        data for data, _, _ in mapped(rows, field_map)
    ]


def test_a_named_map_none_of_whose_columns_the_feed_has_is_refused_with_the_columns_seen() -> None:
    rows = [{f"c{n}": "x" for n in range(10)}]
    with pytest.raises(FeedFormatError, match=r"line 2: the feed has none of the columns of the "):
        mapped(rows, "shopify")
    with pytest.raises(FeedFormatError, match=r"\(its columns: a\)$"):
        mapped([{"a": "x"}], "magento")


# -- a reference model -------------------------------------------------------------------------

NAMES = ["sku", "SKU", "Name", "name ", "Title", "Price", "price", "Handle", "kind", "x"]
VALUES = ["", " ", "a", "b", "c,d", ", e"]


def reference(rows: list[Row], field_map: FieldMap) -> list[Row]:
    """Map rows one by one, the plain way: no caching, every rule spelled out."""
    out: list[Row] = []
    head: Row = {}
    previous: object = None
    for row in rows:

        def find(name: str, row: Row = row) -> str | None:
            matches = [key for key in row if column_key(key) == column_key(name)]
            return matches[0] if matches else None

        group_key = find(field_map.group_by) if field_map.group_by else None
        group = row[group_key] if group_key else None
        continues = group_key is not None and bool(str(group).strip()) and group == previous
        if group_key is not None and not continues:
            previous = group
            inherited = [find(name) for name in field_map.inherit]
            head = {key: row[key] for key in inherited if key is not None}

        def cell(name: str, row: Row = row) -> str:
            key = find(name)
            return "" if key is None else str(row[key]).strip()

        if field_map.skip is not None and field_map.skip(cell) is not None:
            continue
        values = {**row, **head} if continues else row
        result: Row = {}
        used = set()
        for source, target in field_map.columns.items():
            key = find(source)
            if key is None:
                continue
            used.add(key)
            value = values[key]
            if target not in result and str(value).strip():
                if column_key(source) in field_map.list_columns and "," in str(value):
                    items = [item.strip() for item in str(value).split(",") if item.strip()]
                    value = items[0] if items else ""
                result[target] = value
        targets = set(field_map.columns.values())
        for key, value in values.items():
            if key not in used and key not in targets:
                result[key] = value
        out.append(result)
    return out


@st.composite
def feeds(draw: st.DrawFn) -> tuple[list[Row], FieldMap]:
    header = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    values: dict[str, st.SearchStrategy[object]] = {
        name: st.sampled_from(VALUES) for name in header
    }
    rows = draw(st.lists(st.fixed_dictionaries(values)))
    sources = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique_by=column_key))
    targets = draw(st.lists(st.sampled_from(["sku", "title", "price", "x"]), min_size=1))
    columns = {source: targets[n % len(targets)] for n, source in enumerate(sources)}
    field_map = FieldMap(
        columns,
        list_columns=frozenset(draw(st.lists(st.sampled_from(sources)))),
        group_by=draw(st.sampled_from([None, "Handle", "handle"])),
        inherit=frozenset(draw(st.lists(st.sampled_from(NAMES)))),
        skip=draw(st.sampled_from([None, lambda cell: "skipped" if cell("kind") == "a" else None])),
    )
    return rows, field_map


@given(feeds())
def test_mapping_agrees_with_the_reference_model(feed: tuple[list[Row], FieldMap]) -> None:
    rows, field_map = feed
    matched = rows and any(
        column_key(key) == column_key(source) for key in rows[0] for source in field_map.columns
    )
    if rows and not matched:
        with pytest.raises(FeedFormatError):
            mapped(rows, field_map)
        return
    expected = reference(rows, field_map)
    actual = mapped(rows, field_map)
    assert expected == [dict(data) for data, _, _ in actual]
    assert list(range(1, len(expected) + 1)) == [index for _, _, index in actual]


# -- choosing a preset -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "preset"),
    [
        (["Handle", "Title", "Variant SKU", "Variant Price"], "shopify"),
        (["handle", "variant sku"], "shopify"),
        (["ID", "Type", "SKU", "Name", "Regular price"], "woocommerce"),
        (["sku", "name", "price", "qty", "category"], "magento"),
        (["sku", "name", "price", "product_type"], "magento"),
        (["sku", "title", "price", "currency"], None),
        ([], None),
    ],
)
def test_a_preset_is_detected_from_its_columns(columns: list[str], preset: str | None) -> None:
    found = detect_field_map(columns)
    assert preset == (found.name if found else None)


def test_several_matching_maps_detect_none_rather_than_guess() -> None:
    one = FieldMap({"a": "sku"}, name="one", signatures=(frozenset({"a"}),))
    two = FieldMap({"b": "sku"}, name="two", signatures=(frozenset({"a", "b"}),))
    assert (None, one) == (
        detect_field_map(["a", "b"], [one, two]),
        detect_field_map(["a"], [one, two]),
    )


def test_auto_leaves_a_feed_of_product_fields_untouched() -> None:
    feed = b"sku,title,price\nA,Mug,1.00\n"
    assert [{"sku": "A", "title": "Mug", "price": "1.00"}] == [
        r.data for r in parse_feed(feed, format="csv", columns="auto")
    ]


def test_auto_maps_a_recognised_export() -> None:
    feed = "Handle,Title,Variant SKU,Variant Price\nmug,Mug,M-1,5.00\nmug,,M-2,6.00\n"
    assert [
        {"sku": "M-1", "title": "Mug", "price": "5.00", "Handle": "mug"},
        {"sku": "M-2", "title": "Mug", "price": "6.00", "Handle": "mug"},
    ] == [r.data for r in parse_feed_text(feed, format="csv", columns="auto")]


# -- parse_feed's columns argument -------------------------------------------------------------


@pytest.mark.parametrize(
    "columns",
    [
        {"Artikel": "sku"},
        FieldMap({"Artikel": "sku"}),
        FieldMap({"Artikel": "sku"}, name="erp"),
    ],
)
def test_columns_accepts_a_mapping_or_a_field_map(columns: Any) -> None:
    feed = b"Artikel,Farbe\nA-1,rot\n"
    assert [{"sku": "A-1", "Farbe": "rot"}] == [
        r.data for r in parse_feed(feed, format="csv", columns=columns)
    ]


def test_a_preset_name_is_read_in_any_case() -> None:
    feed = b"sku,name,price,qty\nA,Mug,1.00,4\n"
    assert [{"sku": "A", "title": "Mug", "price": "1.00", "stock": "4"}] == [
        r.data for r in parse_feed(feed, format="csv", columns="Magento")
    ]


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        ("shopfy", ValueError, "no column preset is named 'shopfy'; use one of 'magento'"),
        (3, TypeError, "columns must be a FieldMap"),
    ],
)
def test_a_bad_columns_argument_fails_before_the_feed_is_read(
    columns: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_feed("/no/such/feed.csv", columns=columns)


def test_hooks_hear_each_skipped_row_and_the_map_applied() -> None:
    events: list[FeedEvent] = []
    feed = b"Type,SKU,Name,Regular price\nvariable,P,Pot,\nvariation,P-1,Pot - S,9\n"
    records = list(parse_feed(feed, format="csv", columns="auto", hooks=[events.append]))
    skipped = [e for e in events if isinstance(e, RecordSkipped)]
    finished = [e for e in events if isinstance(e, FeedFinished)]
    assert 1 == len(records)
    assert [RecordSkipped("csv", 2, "a variable product, whose variations are the products")] == (
        skipped
    )
    assert [FeedFinished("csv", 1, 0, len(feed), 1, "woocommerce")] == finished


def test_without_a_map_the_final_event_says_so() -> None:
    events: list[FeedEvent] = []
    list(parse_feed(b"sku\nA\n", format="csv", hooks=[events.append]))
    assert FeedFinished("csv", 1, 0, 6, 0, None) == events[-1]


def test_skipping_works_without_hooks() -> None:
    feed = b"Type,SKU,Name,Regular price\ngrouped,G,Set,\nsimple,S,Mug,9\n"
    assert [("S", 3, 1)] == [
        (r.data["sku"], r.line, r.index) for r in parse_feed(feed, format="csv", columns="auto")
    ]


# -- the presets on exports shaped like the real ones ------------------------------------------


def validate(path: Path, preset: str) -> tuple[list[str], list[str]]:
    """The SKUs accepted and the rejection messages, with the currency given as a default."""
    report = Validator(defaults={"currency": "EUR"}).validate(parse_feed(path, columns=preset))
    return [product.sku for product in report.accepted], [e.message for e in report.errors]


def test_shopify_variants_inherit_their_product_and_image_rows_are_skipped(
    fixtures: Path,
) -> None:
    records = list(parse_feed(fixtures / "shopify.csv", columns="shopify"))
    assert [
        ("MUG-RED", "Stoneware mug", "Kiln & Co", "14.50", "12", "mug-red.jpg", 2),
        ("MUG-BLUE", "Stoneware mug", "Kiln & Co", "14.50", "0", "mug-front.jpg", 3),
        ("MUG-GREEN", "Stoneware mug", "Kiln & Co", None, "4", "mug-front.jpg", 5),
        ("PRINT-HARBOUR", "Harbour art print", "Print Room", "25.00", "30", "harbour.jpg", 6),
    ] == [
        (
            r.data["sku"],
            r.data["title"],
            r.data["brand"],
            r.data.get("price"),
            r.data["stock"],
            str(r.data["image_url"]).rpartition("/")[2],
            r.line,
        )
        for r in records
    ]
    assert ("18.00", "draft") == (
        records[0].data["Variant Compare At Price"],
        records[3].data["Status"],
    )


def test_shopify_rows_validate_and_a_variant_without_a_price_is_rejected(fixtures: Path) -> None:
    accepted, errors = validate(fixtures / "shopify.csv", "shopify")
    assert ["MUG-RED", "MUG-BLUE", "PRINT-HARBOUR"] == accepted
    assert ["line 5, price: is required"] == errors


def test_woocommerce_parents_are_skipped_and_the_first_image_is_the_image(fixtures: Path) -> None:
    events: list[FeedEvent] = []
    records = list(
        parse_feed(fixtures / "woocommerce.csv", columns="woocommerce", hooks=[events.append])
    )
    assert [
        ("TEA-GREEN", "Sencha from Shizuoka.", "8.90", "7.50", "40", "green-1.jpg", None),
        ("POT-S", None, "39", None, "5", "pot-s.jpg", None),
        ("POT-L", None, "49", None, None, None, None),
        ("GIFT-CARD", "Sold by our partner.", "25", None, None, None, "https://gifts.example/card"),
        ("CLASS", "Two hours, online.", None, None, None, None, None),
    ] == [
        (
            r.data["sku"],
            r.data.get("description"),
            r.data.get("price"),
            r.data.get("sale_price"),
            r.data.get("stock"),
            str(r.data["image_url"]).rpartition("/")[2] if "image_url" in r.data else None,
            r.data.get("url"),
        )
        for r in records
    ]
    assert [
        (3, "a variable product, whose variations are the products"),
        (6, "a grouped product, a set of other products"),
    ] == [(e.line, e.reason) for e in events if isinstance(e, RecordSkipped)]


def test_woocommerce_rows_validate_and_a_product_without_a_price_is_rejected(
    fixtures: Path,
) -> None:
    accepted, errors = validate(fixtures / "woocommerce.csv", "woocommerce")
    assert ["TEA-GREEN", "POT-S", "POT-L", "GIFT-CARD"] == accepted
    assert ["line 8, price: is required"] == errors


def test_magento_configurable_parents_and_store_view_rows_are_skipped(fixtures: Path) -> None:
    events: list[FeedEvent] = []
    records = list(parse_feed(fixtures / "magento.csv", columns="auto", hooks=[events.append]))
    assert [
        ("SCARF-RED", "Wool scarf-Red", "<p>Merino wool.</p>", "29.00", "15", "/t/e/scarf-red.jpg"),
        ("SCARF-BLUE", "Wool scarf-Blue", "Merino wool, blue.", "29.00", "0.0000", ""),
        ("HAT", "Felt hat", "<p>Handmade.</p>", None, "3", ""),
    ] == [
        (
            r.data["sku"],
            r.data["title"],
            r.data["description"],
            r.data.get("price"),
            r.data["stock"],
            r.data["base_image"],
        )
        for r in records
    ]
    assert [
        (4, "a configurable product, whose simple products are the products"),
        (5, "a store view's row, overriding values of the default row of its SKU"),
    ] == [(e.line, e.reason) for e in events if isinstance(e, RecordSkipped)]


def test_magento_rows_validate_and_a_product_without_a_price_is_rejected(fixtures: Path) -> None:
    accepted, errors = validate(fixtures / "magento.csv", "magento")
    assert ["SCARF-RED", "SCARF-BLUE"] == accepted
    assert ["line 6, price: is required"] == errors


@pytest.mark.parametrize(
    ("feed", "reason"),
    [
        (
            b"sku,name,price,qty,product_type\nSET,Set,,0,grouped\nA,Mug,5,1,simple\n",
            "a grouped product, a set of other products",
        ),
        (
            b"sku,name,price,qty,product_type\nB,Box,,0,Bundle\nA,Mug,5,1,simple\n",
            None,
        ),
        (
            b'Type,SKU,Name,Regular price\n"grouped, featured",SET,Set,\nsimple,A,Mug,5\n',
            "a grouped product, a set of other products",
        ),
    ],
)
def test_grouped_products_are_skipped_and_bundles_kept(feed: bytes, reason: str | None) -> None:
    events: list[FeedEvent] = []
    records = list(parse_feed(feed, format="csv", columns="auto", hooks=[events.append]))
    skipped = [e.reason for e in events if isinstance(e, RecordSkipped)]
    assert ([reason] if reason else [], 1 if reason else 2) == (skipped, len(records))


def test_every_preset_is_detected_on_its_own_fixture(fixtures: Path) -> None:
    names = []
    for preset in sorted(FIELD_MAPS):
        header = (fixtures / f"{preset}.csv").read_text(encoding="utf-8").splitlines()[0]
        found = detect_field_map(header.split(","))
        names.append(found.name if found else None)
    assert sorted(FIELD_MAPS) == names
