"""Memory stays flat however long the feed: measured as peak RSS in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MiB = 1024

# Writes a feed row by row (so writing it costs no memory), then parses it, reporting the peak
# resident set size (KiB on Linux) before and after parsing.
PROBE = textwrap.dedent(
    """
    import csv, json, resource, sys
    from xml.sax.saxutils import escape
    from commerce_kit.feeds import parse_feed

    path, rows, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def peak_kib():
        # VmHWM is this program's own peak; ru_maxrss keeps the peak of the process it was
        # forked from (a test run that has held large feeds), across exec.
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def row(n):
        return {
            "sku": f"SKU-{n:07d}",
            "title": f"Product {n}, a reasonably long title for a product",
            "description": "Stoneware mug.\\nDishwasher safe, \\"microwave\\" safe too.",
            "price": f"{n % 500}.99",
            "currency": "USD",
            "stock": str(n % 37),
            "url": f"https://shop.example/p/{n}",
        }

    with open(path, "w", newline="", encoding="utf-8") as out:
        if kind == "csv":
            writer = csv.DictWriter(out, fieldnames=list(row(0)))
            writer.writeheader()
            for n in range(rows):
                writer.writerow(row(n))
        elif kind == "json":
            out.write('{"products": [\\n')
            for n in range(rows):
                out.write(("," if n else "") + json.dumps(row(n)) + "\\n")
            out.write("]}\\n")
        elif kind == "ndjson":
            for n in range(rows):
                out.write(json.dumps(row(n)) + "\\n")
        else:
            out.write("<products>\\n")
            for n in range(rows):
                fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in row(n).items())
                out.write(f"<product>{fields}</product>\\n")
            out.write("</products>\\n")

    before = peak_kib()
    count = last = 0
    for record in parse_feed(path, format=kind):
        count += 1
        last = record.line
    after = peak_kib()
    print(json.dumps({"count": count, "last": last, "before": before, "after": after}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "rows", "last_line"),
    [
        ("csv", 300_000, 600_000),
        ("ndjson", 50_000, 50_000),
        ("json", 50_000, 50_001),
        ("xml", 50_000, 100_000),
    ],
)
def test_a_large_feed_parses_in_flat_memory(
    tmp_path: Path, kind: str, rows: int, last_line: int
) -> None:
    path = tmp_path / f"large.{kind}"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(rows), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    grown = result["after"] - result["before"]
    assert (rows, last_line) == (result["count"], result["last"])
    assert result["after"] < 150 * MiB, f"peak RSS {result['after'] / MiB:.1f} MiB"
    assert grown < 16 * MiB, f"parsing grew the peak RSS by {grown / MiB:.1f} MiB"
