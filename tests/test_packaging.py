"""The public surface and the cost of importing it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

import commerce_kit
import commerce_kit._errors
from commerce_kit import CommerceKitError


def test_all_is_sorted_and_unique() -> None:
    assert sorted(set(commerce_kit.__all__)) == commerce_kit.__all__


def test_all_names_exist() -> None:
    missing = [name for name in commerce_kit.__all__ if not hasattr(commerce_kit, name)]
    assert [] == missing


def test_every_public_error_is_reexported() -> None:
    errors = {
        name
        for name, obj in vars(commerce_kit._errors).items()
        if isinstance(obj, type) and issubclass(obj, CommerceKitError)
    }
    assert errors <= set(commerce_kit.__all__)


def test_version_comes_from_metadata() -> None:
    assert version("commerce-kit") == commerce_kit.__version__


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="does_not_exist"):
        _ = commerce_kit.does_not_exist


_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import {stdlib}
t1 = time.perf_counter()
before = set(sys.modules)
import commerce_kit
t2 = time.perf_counter()
new = sorted(set(sys.modules) - before)
print(json.dumps({{"stdlib": t1 - t0, "ck": t2 - t1, "new": new}}))
"""

# The standard-library modules the core needs; importing them first isolates our own cost.
_STDLIB_USED = "asyncio, threading, functools, dataclasses, enum, math, random, heapq, inspect"


def _probe() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-X", "frozen_modules=on", "-c", _PROBE.format(stdlib=_STDLIB_USED)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_import_loads_no_third_party_module() -> None:
    new = _probe()["new"]
    assert isinstance(new, list)
    third_party = [
        m
        for m in new
        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "commerce_kit"
    ]
    assert [] == third_party


def test_import_adds_well_under_50ms() -> None:
    # Best of five runs, so a busy CI machine does not fail the test on scheduler noise.
    costs = []
    for _ in range(5):
        ck = _probe()["ck"]
        assert isinstance(ck, float)
        costs.append(ck)
    assert min(costs) < 0.025
