"""What ``import commerce_kit`` costs over the standard-library modules it needs.

Run in fresh interpreters, byte-code caches warm, best of several runs: the figure a user's
process start pays. The target is well under 50 ms; ``python -m benchmarks`` fails above 35 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

TARGET_SECONDS = 0.035

_PROBE = """
import json, sys, time
stdlib = {stdlib!r}
t0 = time.perf_counter()
for name in stdlib:
    __import__(name)
t1 = time.perf_counter()
before = set(sys.modules)
import commerce_kit
t2 = time.perf_counter()
print(json.dumps({{"ck": t2 - t1, "new": sorted(set(sys.modules) - before)}}))
"""


def probe(stdlib: list[str]) -> dict[str, object]:
    """Import ``stdlib`` then commerce_kit in a fresh interpreter: its cost and new modules."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stdlib=stdlib)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def measure(runs: int = 5) -> float:
    """Return the best-of-``runs`` seconds ``import commerce_kit`` adds over its stdlib needs."""
    new = probe([])["new"]  # also writes the byte-code caches, as a first import would
    assert isinstance(new, list)
    stdlib = [m for m in new if m.split(".")[0] in sys.stdlib_module_names]
    costs = []
    for _ in range(runs):
        cost = probe(stdlib)["ck"]
        assert isinstance(cost, float)
        costs.append(cost)
    return min(costs)
