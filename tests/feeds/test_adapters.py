"""One behaviour suite run against every feed adapter, built-in or plugged in."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from commerce_kit.feeds import (
    FeedAdapterRegistry,
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    FeedRecord,
    parse_feed,
)
from commerce_kit.feeds._registry import builtin_adapters
from commerce_kit.typing import FeedAdapter
from tests.feeds.formats import SPECS, Spec, load_plugin

KEYS = ["id", "title", "price", "link"]
ROWS = [
    {
        "id": "A-1",
        "title": "Red mug, large",
        "price": "12.50 USD",
        "link": "https://s.example/1?a=1&b=2",
    },
    {"id": "B-2", "title": 'The "best" café <b>', "price": "3 EUR", "link": "https://s.example/b"},
    {"id": "C-3", "title": "", "price": "0.99 USD", "link": ""},
]


@pytest.fixture(scope="module")
def adapters() -> FeedAdapterRegistry:
    """The built-in adapters plus the example plugin, without entry point discovery."""
    registry = FeedAdapterRegistry(builtin_adapters())
    registry.register(load_plugin().BlocksAdapter)
    return registry


@pytest.fixture(params=SPECS, ids=lambda spec: spec.id)
def spec(request: pytest.FixtureRequest) -> Spec:
    result: Spec = request.param
    return result


def read(
    spec: Spec, data: bytes, registry: FeedAdapterRegistry, **options: Any
) -> list[FeedRecord]:
    return list(parse_feed(data, format=spec.format, registry=registry, **options))


def test_each_row_becomes_a_record_with_its_start_line_and_index(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    data, lines = spec.write(ROWS, KEYS)
    expected = [
        (spec.expect(dict(row)), line, n, None)
        for n, (row, line) in enumerate(zip(ROWS, lines, strict=True), 1)
    ]
    actual = [(dict(r.data), r.line, r.index, r.error) for r in read(spec, data, adapters)]
    assert expected == actual


def test_a_feed_without_records_yields_none(spec: Spec, adapters: FeedAdapterRegistry) -> None:
    documents = [doc for doc in spec.empty if doc.strip()]
    assert [[] for _ in documents] == [read(spec, doc, adapters) for doc in documents]


@pytest.mark.parametrize("document", [b"", b"\n\n  \n", b"\xef\xbb\xbf\r\n"])
def test_an_empty_feed_is_refused_by_every_adapter(
    spec: Spec, adapters: FeedAdapterRegistry, document: bytes
) -> None:
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        read(spec, document, adapters)


def test_the_format_is_told_from_the_content_alone(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    data, _ = spec.write(ROWS, KEYS)
    expected = list(parse_feed(data, format=spec.sniffed or spec.format, registry=adapters))
    assert expected == list(parse_feed(data, registry=adapters))


def test_an_adapter_reads_any_binary_stream_and_leaves_it_open(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    data, lines = spec.write(ROWS, KEYS)
    stream = io.BytesIO(data)
    adapter: FeedAdapter = adapters.get(spec.format)
    records = list(adapter.parse(stream, FeedLimits()))
    assert (lines, False) == ([r.line for r in records], stream.closed)


def test_max_records_stops_at_the_first_record_over_the_limit(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    data, lines = spec.write(ROWS, KEYS)
    records = parse_feed(
        data, format=spec.format, registry=adapters, limits=FeedLimits(max_records=2)
    )
    seen = [next(records).index, next(records).index]
    with pytest.raises(FeedLimitError) as caught:
        next(records)
    error = caught.value
    assert ([1, 2], "max_records", 2, lines[2]) == (seen, error.limit, error.maximum, error.line)


def test_a_value_longer_than_max_field_chars_is_refused_naming_its_line(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    rows = [ROWS[0], {**ROWS[1], "title": "x" * 50}, ROWS[2]]
    data, lines = spec.write(rows, KEYS)
    with pytest.raises(FeedLimitError) as caught:
        read(spec, data, adapters, limits=FeedLimits(max_field_chars=40))
    error = caught.value
    assert ("max_field_chars", 40) == (error.limit, error.maximum)
    assert error.line is not None
    assert lines[1] <= error.line < lines[2]


def test_a_record_longer_than_max_record_chars_is_refused_naming_its_start(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    rows = [ROWS[0], {**ROWS[1], "title": "y" * 2_000}, ROWS[2]]
    data, lines = spec.write(rows, KEYS)
    with pytest.raises(FeedLimitError) as caught:
        read(spec, data, adapters, limits=FeedLimits(max_record_chars=1_000))
    error = caught.value
    assert ("max_record_chars", 1_000, lines[1]) == (error.limit, error.maximum, error.line)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.nested], ids=lambda s: s.id)
def test_nesting_deeper_than_max_depth_is_refused(
    spec: Spec, adapters: FeedAdapterRegistry
) -> None:
    deep: object = "bottom"
    for _ in range(6):
        deep = {"level": deep}
    rows: list[dict[str, object]] = [dict(ROWS[0]), {**ROWS[1], "title": deep}]
    data, lines = spec.write(rows, KEYS)
    assert 2 == len(read(spec, data, adapters, limits=FeedLimits(max_depth=7)))
    with pytest.raises(FeedLimitError) as caught:
        read(spec, data, adapters, limits=FeedLimits(max_depth=6))
    assert ("max_depth", lines[1]) == (caught.value.limit, caught.value.line)


def test_records_come_lazily_one_at_a_time(spec: Spec, adapters: FeedAdapterRegistry) -> None:
    rows = [{**ROWS[0], "id": f"R-{n}"} for n in range(2_000)]
    data, _ = spec.write(rows, KEYS)
    records: Iterator[FeedRecord] = parse_feed(data, format=spec.format, registry=adapters)
    first = next(records)
    records.close()  # type: ignore[attr-defined]
    assert ("R-0", 1) == (first.data.get("id", first.data.get("sku")), first.index)
