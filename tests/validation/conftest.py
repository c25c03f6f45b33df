"""Fixtures for the validation tests: the shared public corpus and the project's own fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The shared corpus (payload lists, sample feeds), read in place and never copied.
VECTORS = Path(__file__).parents[2] / ".." / "shared" / "vectors"
#: The project's own validation fixtures.
FIXTURES = Path(__file__).parents[1] / "fixtures" / "validation"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The shared corpus folder; skips when it is absent, but fails under CI, which must run it."""
    if not VECTORS.is_dir():
        reason = (
            f"the shared test corpus is not at {VECTORS.resolve()} (it sits beside the project "
            "checkout and is not distributed with it)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the corpus tests")
        pytest.skip(reason)
    return VECTORS


@pytest.fixture(scope="session")
def legitimate_texts() -> list[str]:
    """The false-positive corpus: realistic product titles and descriptions, one per line."""
    path = FIXTURES / "legitimate_product_text.txt"
    return [
        line.replace("\\n", "\n")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
