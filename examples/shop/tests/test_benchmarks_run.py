"""The shop's ingest benchmark runs (tiny sizes), so that it cannot rot between releases."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench" / "bench_ingest.py"


def test_the_ingest_benchmark_runs_end_to_end_and_times_uploads(own_pg_url):
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--records",
            "300",
            "--postgres",
            own_pg_url.replace("postgresql+psycopg://", "postgresql://"),
            "--uploads",
            "2",
            "--upload-sizes",
            "50000,1500000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == done.returncode, done.stderr[-3000:]
    for database in ("sqlite", "postgresql"):
        assert re.search(rf"^{database}: end to end [\d,]+ records/s", done.stdout, re.MULTILINE)
        for size in ("50 kB", "1.5 MB"):
            line = rf"^{database}: upload {re.escape(size)}: answered [\d.]+ ms after the last byte"
            assert re.search(line, done.stdout, re.MULTILINE), done.stdout
