"""Never executed: mypy checks that the feeds API reads well from a user's side."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from commerce_kit import FeedError
from commerce_kit.feeds import (
    FIELD_MAPS,
    CsvAdapter,
    FeedAdapterRegistry,
    FeedFinished,
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    FeedProgress,
    FeedRecord,
    FieldMap,
    GoogleMerchantAdapter,
    JsonAdapter,
    NdjsonAdapter,
    RecordSkipped,
    TsvAdapter,
    UnknownFeedFormatError,
    UnsafeFeedError,
    XmlAdapter,
    detect_field_map,
    parse_feed,
    parse_feed_text,
    registry,
)
from commerce_kit.http import user_message_for
from commerce_kit.typing import FeedAdapter, FeedEvent, FeedSource

# Reading records, from every kind of source.
for record in parse_feed(Path("feed.csv")):
    data: Mapping[str, object] = record.data
    line: int = record.line
    index: int = record.index
    problem: str | None = record.error

source: FeedSource = b"sku,title\nA,Mug\n"
from_bytes = list(parse_feed(source, format="csv"))
from_upload = parse_feed(b"...", filename="upload.tsv", content_type="text/tab-separated-values")
with Path("feed.xml").open("rb") as file:
    first: FeedRecord = next(parse_feed(file))
from_text = parse_feed_text('[{"sku": "A"}]', format="json")
from_text_file = parse_feed(io.StringIO("sku\nA\n"))
from_text.close()

# Limits and hooks.
limits = FeedLimits(max_bytes=10 * 1024 * 1024, max_records=50_000, max_field_chars=5_000)
seen: list[FeedEvent] = []


def on_event(event: FeedEvent) -> None:
    if isinstance(event, FeedProgress):
        share: float = event.bytes_read / (event.total_bytes or 1)
        fmt: str = event.format
    elif isinstance(event, RecordSkipped):
        skipped_line: int = event.line
        why: str = event.reason
    elif isinstance(event, FeedFinished):
        done: int = event.records - event.errors
        not_products: int = event.skipped
        mapped_by: str | None = event.columns


strict = parse_feed(Path("big.ndjson"), limits=limits, hooks=[on_event, seen.append])

# Errors carry structured fields.
try:
    list(parse_feed(Path("feed.xml")))
except UnsafeFeedError as error:
    attack: str = error.attack
    where: int | None = error.line
except FeedFormatError as error:
    column: int | None = error.column
except FeedLimitError as error:
    limit_name: str = error.limit
    maximum: int = error.maximum
except UnknownFeedFormatError as error:
    supported: tuple[str, ...] = error.supported
except FeedError as error:
    message: str = user_message_for(error).message


# A new format: an adapter class, registered with a decorator.
@registry.register
class PipeAdapter:
    name = "pipe"
    content_types: tuple[str, ...] = ("text/x-pipe-separated",)
    extensions: tuple[str, ...] = (".psv",)

    def sniff(self, head: bytes) -> float:
        return 0.5 if b"|" in head else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        for number, raw in enumerate(stream, 1):
            cells = raw.decode().rstrip("\n").split("|")
            yield FeedRecord(
                {f"column{n}": cell for n, cell in enumerate(cells, 1)}, number, number
            )


pipe_class: type[PipeAdapter] = PipeAdapter
adapter: FeedAdapter = registry.get("pipe")
csv_adapter: CsvAdapter = registry.register(CsvAdapter(), replace=True)
removed: FeedAdapter = registry.unregister("pipe")

# A registry of one's own.
own = FeedAdapterRegistry(
    [
        CsvAdapter(),
        TsvAdapter(),
        JsonAdapter(),
        NdjsonAdapter(),
        XmlAdapter("offer", name="offers"),
        GoogleMerchantAdapter(),
    ]
)
chosen: FeedAdapter = own.select(content_type="text/csv", filename="a.csv", head=b"a,b\n")
by_type: tuple[FeedAdapter, ...] = own.for_content_type("application/json; charset=utf-8")
by_extension: tuple[FeedAdapter, ...] = own.for_extension("feed.jsonl")
sniffed: FeedAdapter = own.sniff(b"<products/>")
names: tuple[str, ...] = own.names
count: int = len(own)
known: bool = "csv" in own
everything: list[FeedAdapter] = list(own)
records = parse_feed(Path("offers.xml"), format="offers", registry=own)

# Shop exports: presets, auto-detection, one's own column map.
shopify_rows = parse_feed(Path("products_export.csv"), columns="shopify")
any_export = parse_feed(Path("export.csv"), columns="auto", hooks=[on_event])
renamed = parse_feed_text("Artikel,Preis\nA,1\n", columns={"Artikel": "sku", "Preis": "price"})
raw = parse_feed(Path("feed.csv"), columns=None)
preset: FieldMap = FIELD_MAPS["woocommerce"]
found: FieldMap | None = detect_field_map(["Handle", "Title", "Variant Price"])
picked: FieldMap | None = detect_field_map(["a"], [preset])


def not_a_product(cell: Callable[[str], str]) -> str | None:
    return "a bundle" if cell("Type") == "bundle" else None


own_map = FieldMap(
    {"Artikelnummer": "sku", "Bezeichnung": "title", "Bilder": "image_url"},
    name="erp",
    signatures=(frozenset({"Artikelnummer", "Bezeichnung"}),),
    list_columns=frozenset({"Bilder"}),
    group_by="Modell",
    inherit=frozenset({"Bezeichnung"}),
    skip=not_a_product,
)
from_own = parse_feed(Path("erp.csv"), columns=own_map)
columns: Mapping[str, str] = own_map.columns
lenient = dataclasses.replace(preset, columns={"SKU": "sku"})
