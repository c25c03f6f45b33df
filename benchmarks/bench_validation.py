"""Parse + validate partner feeds: commerce_kit against a floor of stdlib parsing + bare pydantic.

The floor parses the same bytes with the standard library (``csv.DictReader``, ``json.loads``,
``xml.etree.ElementTree``) and validates with a ``TypeAdapter`` of a plain pydantic model with
Product's fields, configuration and constraints written as pydantic ``Field`` options: no
sanitizing, no attack detection, no error wording. Ours streams the feed through
:func:`commerce_kit.feeds.parse_feed` and :class:`commerce_kit.validation.Validator` with the
default :class:`Product` (sanitizing with nh3, inspecting free text for SQL injection and XSS,
rewording errors).

The rows are synthetic but shaped like partner feeds: titles of 20-60 characters, descriptions
of 300-600 characters, half of them HTML (paragraphs, lists, bold, an apostrophe or quote here
and there), prices with two decimals, stock counts, two URLs. Every description differs, the
hard case; a second CSV feed gives each description to ten variants, as exports of products
with sizes and colours do. One operation is one whole feed of ``ROWS`` rows; ns per op divided
by ``ROWS`` is the cost of a record.

``python -m benchmarks.bench_validation --peak`` prints the peak memory of streaming a large
feed through ``iter_validate`` at two sizes, to show it stays flat.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from typing import Annotated
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from benchmarks._harness import Case, MemoryCase
from commerce_kit.feeds import parse_feed
from commerce_kit.validation import Product, SecurityPolicy, Validator

ROWS = 1000
FIELDS = ("sku", "title", "description", "price", "currency", "stock", "url", "image_url")

_VOCABULARY = (
    "soft cotton blend relaxed fit reinforced seams everyday comfort machine washable durable "
    "lightweight breathable organic recycled classic slim tapered stretch waterproof insulated "
    "zip pocket hood collar sleeve hem navy charcoal olive sand it's men's women's kids' easy "
    "care tumble dry low iron cool 100% wool linen (unisex) - made in portugal 2-pack"
)
_WORDS = _VOCABULARY.split()


def _sentence(rnd: random.Random, words: int) -> str:
    return " ".join(rnd.choice(_WORDS) for _ in range(words)).capitalize() + "."


def rows(count: int = ROWS, seed: int = 7, *, variants: int = 1) -> list[dict[str, str]]:
    """Deterministic, varied product rows as a CSV reader yields them (all strings).

    Each description is shared by ``variants`` consecutive rows.
    """
    rnd = random.Random(seed)
    out = []
    text = ""
    for i in range(count):
        title = f"{_sentence(rnd, rnd.randint(3, 8))[:-1]} #{i}"
        if i % variants == 0:
            text = " ".join(_sentence(rnd, rnd.randint(8, 16)) for _ in range(rnd.randint(3, 5)))
            if (i // variants) % 2:
                items = "".join(f"<li>{_sentence(rnd, 4)}</li>" for _ in range(3))
                text = f"<p>{text}</p><ul>{items}</ul><p><strong>Care:</strong> 30°C</p>"
        out.append(
            {
                "sku": f"SKU-{i:07d}",
                "title": title,
                "description": text,
                "price": f"{rnd.randint(1, 500)}.{rnd.randint(0, 99):02d}",
                "currency": "USD",
                "stock": str(rnd.randint(0, 500)),
                "url": f"https://shop.example.com/p/{i}",
                "image_url": f"https://cdn.example.com/img/{i}.jpg",
            }
        )
    return out


def as_csv(records: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS)
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue().encode()


def as_json(records: list[dict[str, str]]) -> bytes:
    return json.dumps(records).encode()


def as_xml(records: list[dict[str, str]]) -> bytes:
    parts = ["<?xml version='1.0' encoding='UTF-8'?>\n<products>\n"]
    for row in records:
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in row.items())
        parts.append(f"  <product>{fields}</product>\n")
    parts.append("</products>\n")
    return "".join(parts).encode()


class PlainProduct(BaseModel):
    """The floor's schema: Product's fields and constraints as pydantic options, nothing more."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    title: Annotated[str, Field(min_length=1, max_length=150)]
    description: Annotated[str, Field(max_length=5000)] = ""
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    price: Annotated[Decimal, Field(gt=0, lt=1_000_000_000, decimal_places=2)]
    stock: Annotated[int, Field(ge=0, le=2_147_483_647)] | None = None
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    image_url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    brand: Annotated[str, Field(min_length=1, max_length=70)] | None = None
    gtin: Annotated[str, Field(pattern=r"^(?:\d{8}|\d{12,14})$")] | None = None


_PLAIN = TypeAdapter(PlainProduct)


def _floor_csv(raw: bytes) -> Callable[[], object]:
    validate = _PLAIN.validate_python

    def op() -> object:
        # From the bytes, as the feed parser starts.
        return [validate(row) for row in csv.DictReader(io.StringIO(raw.decode()))]

    return op


def _floor_json(raw: bytes) -> Callable[[], object]:
    validate = _PLAIN.validate_python

    def op() -> object:
        return [validate(row) for row in json.loads(raw)]

    return op


def _floor_xml(raw: bytes) -> Callable[[], object]:
    validate = _PLAIN.validate_python

    def op() -> object:
        root = ET.fromstring(raw)
        return [validate({child.tag: child.text or "" for child in product}) for product in root]

    return op


def _ours(raw: bytes, fmt: str, validator: Validator[Product]) -> Callable[[], object]:
    def op() -> object:
        report = validator.validate(parse_feed(raw, format=fmt))
        if report.rejected:
            raise AssertionError(report.errors[:3])
        return report

    return op


_FLOORS = {"csv": _floor_csv, "json": _floor_json, "xml": _floor_xml}
_ENCODERS = {"csv": as_csv, "json": as_json, "xml": as_xml}


def cases() -> list[Case | MemoryCase]:
    data = rows()
    full = Validator()
    no_detection = Validator(policy=SecurityPolicy(sql_injection=False, xss=False))
    found: list[Case | MemoryCase] = []
    for fmt in ("csv", "json", "xml"):
        raw = _ENCODERS[fmt](data)
        group = f"validation: parse + validate a {fmt.upper()} feed of {ROWS} rows (op = feed)"
        found += [
            Case(
                group,
                "commerce_kit Validator (sanitize + detect)",
                "ours",
                partial(_ours, raw, fmt, full),
                number=3,
            ),
            Case(
                group,
                "commerce_kit Validator (sanitize, detection off)",
                "ours",
                partial(_ours, raw, fmt, no_detection),
                number=3,
            ),
            Case(
                group,
                f"stdlib {fmt} + bare pydantic TypeAdapter",
                "floor",
                partial(_FLOORS[fmt], raw),
                number=3,
            ),
        ]
    raw = as_csv(rows(variants=10))
    group = f"validation: parse + validate a CSV feed of {ROWS} rows, 10 variants a description"
    found += [
        Case(
            group,
            "commerce_kit Validator (sanitize + detect)",
            "ours",
            partial(_ours, raw, "csv", full),
            number=3,
        ),
        Case(
            group,
            "stdlib csv + bare pydantic TypeAdapter",
            "floor",
            partial(_floor_csv, raw),
            number=3,
        ),
    ]
    one = data[1]  # an HTML description
    group = "validation: validate one parsed record (op = record)"
    found += [
        Case(
            group,
            "commerce_kit Validator.validate_one",
            "ours",
            lambda: lambda: full.validate_one(one),
            number=2000,
        ),
        Case(
            group,
            "bare pydantic TypeAdapter",
            "floor",
            lambda: lambda: _PLAIN.validate_python(one),
            number=2000,
        ),
    ]
    group = "validation: memory kept per record while streaming (iter_validate)"
    found += [
        MemoryCase(group, "commerce_kit iter_validate (nothing kept)", "ours", _stream, keys=2000),
        MemoryCase(group, "commerce_kit validate (keeps every Product)", "ours", _keep, keys=2000),
    ]
    return found


def _stream(n: int) -> object:
    for result in Validator().iter_validate(_feed(n)):
        if not result.ok:
            raise AssertionError(result.errors)
    return None


def _keep(n: int) -> object:
    return Validator().validate(_feed(n))


def _feed(n: int) -> Iterator[dict[str, str]]:
    template = rows(50)
    for i in range(n):
        row = dict(template[i % 50])
        row["sku"] = f"S{i}"
        yield row


def peak_memory(sizes: tuple[int, ...] = (10_000, 100_000)) -> dict[int, int]:
    """Peak bytes traced while streaming a CSV feed of each size through ``iter_validate``."""
    peaks = {}
    for size in sizes:
        raw = as_csv(rows(size))
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in Validator().iter_validate(parse_feed(io.BytesIO(raw), format="csv")):
            pass
        peaks[size] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return peaks


if __name__ == "__main__":
    if "--peak" in sys.argv:
        for size, peak in peak_memory().items():
            print(f"{size:>8} rows: peak {peak / 1024:,.0f} KiB above the feed's bytes")
