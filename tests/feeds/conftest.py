"""Fixtures for the feed tests: where the shared public test corpus lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The shared corpus (sample feeds, XML attacks, payload lists), read in place, never copied.
VECTORS = Path(__file__).parents[2] / ".." / "shared" / "vectors"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"


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
def fixtures() -> Path:
    """The project's own small feed fixtures."""
    return FIXTURES
