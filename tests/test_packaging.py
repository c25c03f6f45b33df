"""What importing the package loads: the standard library and commerce_kit, nothing else."""

from __future__ import annotations

import sys

from benchmarks.import_cost import probe


def _is_ours_or_stdlib(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    return top in sys.stdlib_module_names or top == "commerce_kit"


def test_import_loads_no_third_party_module() -> None:
    new = probe([])["new"]
    assert isinstance(new, list)
    assert [] == [m for m in new if not _is_ours_or_stdlib(m)]
