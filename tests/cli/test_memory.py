"""``feed validate`` streams its report: peak memory does not grow with the size of the feed.

Each run is its own process, which reports its peak resident set size, so nothing the test
process has loaded (or any earlier child) is counted. The feeds are generated: ``n`` records
and ``2n``, beside a feed of ten records that shows what the interpreter and the library cost
by themselves. Keeping every accepted record, as the command once did, costs about 1.5 KB a
record: +30 MB at ``2n``, where the streamed report stays within a few MB of the tiny feed.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from commerce_kit._cli import main

resource = pytest.importorskip("resource", reason="peak RSS is read with the resource module")

N = 10_000
# What reading more records may add to the peak: buffers and caches bounded by design.
FLAT_MB = 6.0

_REPORT_PEAK = (
    "import resource, sys\n"
    "from commerce_kit._cli import main\n"
    "main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def feed(folder: Path, records: int, *, rejected: bool) -> Path:
    """A CSV of ``records`` products; every other one rejected (bad currency) if asked."""
    path = folder / f"feed-{records}-{rejected}.csv"
    if not path.exists():
        with path.open("w", encoding="utf-8") as file:
            file.write("sku,title,price,currency,description,stock\n")
            file.writelines(
                f"SKU-{n},Stoneware mug number {n},{n % 90 + 1}.50,"
                f"{'XXX' if rejected and n % 2 else 'USD'},A hand glazed mug,{n % 50}\n"
                for n in range(records)
            )
    return path


def peak_mb(path: Path, *options: str) -> float:
    """Run the command on ``path`` in a fresh interpreter; return its peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_PEAK, "feed", "validate", str(path), *options],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in {0, 1}, done.stderr
    peak = int(done.stderr.strip().splitlines()[-1])
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes there, KiB here


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("memory")


@cache
def _baseline(folder: Path) -> float:
    return peak_mb(feed(folder, 10, rejected=False))


def test_doubling_a_valid_feed_does_not_grow_peak_memory(folder: Path) -> None:
    tiny = _baseline(folder)
    once = peak_mb(feed(folder, N, rejected=False))
    twice = peak_mb(feed(folder, 2 * N, rejected=False))
    assert (True, True) == (twice - once < FLAT_MB / 2, twice - tiny < FLAT_MB), (tiny, once, twice)


@pytest.mark.parametrize("options", [["--json"], ["--max-errors", "0"]], ids=["json", "all-errors"])
def test_a_feed_full_of_errors_is_reported_in_flat_memory(folder: Path, options: list[str]) -> None:
    tiny = _baseline(folder)
    big = peak_mb(feed(folder, 2 * N, rejected=True), *options)
    assert big - tiny < FLAT_MB, (tiny, big)


def test_every_error_is_listed_with_max_errors_0_however_many(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = feed(folder, 2 * N, rejected=True)
    status = main(["feed", "validate", str(path), "--max-errors", "0"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    # The head line, then one line per rejected record (one error each), nothing cut.
    assert (1, 1 + N, False) == (status, len(lines), "... and" in out)
    assert lines[-1].startswith(f"line {2 * N + 1}, currency: ")
