"""What importing the package loads: the standard library and commerce_kit, nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
new = sorted(set(sys.modules) - before)
print(json.dumps({{"stdlib": t1 - t0, "ck": t2 - t1, "new": new}}))
"""


def _probe(stdlib: list[str]) -> dict[str, object]:
    # Byte-code caching on, as on a user's machine, even where the environment turns it off.
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


def _is_ours_or_stdlib(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    return top in sys.stdlib_module_names or top == "commerce_kit"


def test_import_loads_no_third_party_module() -> None:
    new = _probe([])["new"]
    assert isinstance(new, list)
    assert [] == [m for m in new if not _is_ours_or_stdlib(m)]
