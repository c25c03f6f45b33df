"""Reference writers for every feed format: rows in, feed bytes and expected start lines out.

Each writer builds the feed with the standard library's own writers (``csv``, ``json``, XML
escaping) and counts, by construction, the line each record starts on: that is the tiny,
obviously-correct model the adapters are checked against.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

from commerce_kit.feeds._merchant import GOOGLE_NS, merchant_fields

Row = Mapping[str, object]
_BREAK = re.compile(r"\r\n|\r|\n")

PLUGIN_FILE = Path(__file__).parents[1] / "fixtures" / "feeds" / "ck_feed_blocks.py"


def breaks(text: str) -> int:
    """Count line breaks the way the adapters split lines: ``\\r\\n``, ``\\r`` or ``\\n``."""
    return len(_BREAK.findall(text))


def write_delimited(
    rows: Sequence[Row], keys: Sequence[str], delimiter: str = ",", terminator: str = "\r\n"
) -> tuple[bytes, list[int]]:
    out = io.StringIO(newline="")
    # The csv module quotes a value holding a line break only if the break is in its line
    # terminator, so with a bare "\n" or "\r" terminator every value is quoted, as it must be.
    if terminator == "\r\n":
        writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    else:
        writer = csv.writer(
            out, delimiter=delimiter, lineterminator=terminator, quoting=csv.QUOTE_ALL
        )
    writer.writerow(keys)
    lines = []
    line = 2
    for row in rows:
        start = out.tell()
        writer.writerow([row[key] for key in keys])
        lines.append(line)
        line += breaks(out.getvalue()[start:])
    return out.getvalue().encode("utf-8"), lines


def write_json(
    rows: Sequence[Row], keys: Sequence[str], indent: int | None = 2, *, ensure_ascii: bool = True
) -> tuple[bytes, list[int]]:
    parts = [
        json.dumps({key: row[key] for key in keys}, indent=indent, ensure_ascii=ensure_ascii)
        for row in rows
    ]
    lines = []
    line = 2
    for part in parts:
        lines.append(line)
        line += part.count("\n") + 1
    text = "[\n" + ",\n".join(parts) + "\n]\n" if parts else "[]\n"
    return text.encode("utf-8"), lines


def write_ndjson(
    rows: Sequence[Row], keys: Sequence[str], *, ensure_ascii: bool = True
) -> tuple[bytes, list[int]]:
    lines = []
    out = []
    for number, row in enumerate(rows):
        if number % 3 == 1:
            out.append("")  # a blank line, skipped
        out.append(json.dumps({key: row[key] for key in keys}, ensure_ascii=ensure_ascii))
        lines.append(len(out))
    return "\n".join(out).encode("utf-8"), lines


def _element(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def write_xml(rows: Sequence[Row], keys: Sequence[str]) -> tuple[bytes, list[int]]:
    parts = [
        "<product>" + "".join(_element(k, row[k]) for k in keys) + "</product>" for row in rows
    ]
    lines = []
    line = 3
    for part in parts:
        lines.append(line)
        line += part.count("\n") + 1
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<products>\n' + "\n".join(parts)
    return (text + "\n</products>\n").encode("utf-8"), lines


def write_merchant_rss(rows: Sequence[Row], keys: Sequence[str]) -> tuple[bytes, list[int]]:
    head = f'<?xml version="1.0"?>\n<rss version="2.0" xmlns:g="{GOOGLE_NS}">\n<channel>\n'
    head += "<title>Shop</title>\n<link>https://shop.example</link>\n"
    parts = [
        "<item>\n" + "\n".join(_element(f"g:{k}", row[k]) for k in keys) + "\n</item>"
        for row in rows
    ]
    lines = []
    line = head.count("\n") + 1
    for part in parts:
        lines.append(line)
        line += part.count("\n") + 1
    text = head + "\n".join(parts) + "\n</channel>\n</rss>\n"
    return text.encode("utf-8"), lines


def write_blocks(rows: Sequence[Row], keys: Sequence[str]) -> tuple[bytes, list[int]]:
    lines = []
    out: list[str] = []
    for row in rows:
        if out:
            out.append("")
        lines.append(len(out) + 1)
        out.extend(f"{key}: {row[key]}" for key in keys)
    return ("\n".join(out) + "\n").encode("utf-8"), lines


def load_plugin() -> ModuleType:
    """Import the example third-party adapter module from the fixtures folder."""
    spec = importlib.util.spec_from_file_location("ck_feed_blocks", PLUGIN_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Spec:
    """How to write feeds in one format, and what the adapter should read back."""

    id: str
    format: str
    write: Callable[[Sequence[Row], Sequence[str]], tuple[bytes, list[int]]]
    empty: tuple[bytes, ...]
    expect: Callable[[dict[str, object]], dict[str, object]] = dict
    nested: bool = False
    #: The format sniffing settles on for the suite's rows, when not :attr:`format`.
    sniffed: str | None = None


SPECS = (
    Spec("csv", "csv", write_delimited, (b"", b"id,title\n", b"\n\n")),
    # The suite's columns (id, title, price, link) are a Merchant Center header: sniffing says so.
    Spec(
        "tsv",
        "tsv",
        lambda r, k: write_delimited(r, k, "\t"),
        (b"", b"id\ttitle\r\n"),
        sniffed="google-merchant",
    ),
    Spec("json", "json", write_json, (b"", b"[]", b' {"products": [ ] }\n'), nested=True),
    Spec("ndjson", "ndjson", write_ndjson, (b"", b"\n\n  \n"), nested=True),
    Spec(
        "xml", "xml", write_xml, (b"<products/>", b"<?xml version='1.0'?>\n<products>\n</products>")
    ),
    Spec(
        "merchant-tsv",
        "google-merchant",
        lambda r, k: write_delimited(r, k, "\t"),
        (b"id\ttitle\tprice\n",),
        expect=merchant_fields,
    ),
    Spec(
        "merchant-rss",
        "google-merchant",
        write_merchant_rss,
        (f'<rss xmlns:g="{GOOGLE_NS}"><channel><title>x</title></channel></rss>'.encode(),),
        expect=merchant_fields,
    ),
    Spec("blocks-plugin", "blocks", write_blocks, (b"", b"\n\n")),
)
