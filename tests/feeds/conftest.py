"""Fixtures for the feed tests: where the shared public test corpus lives."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The shared corpus (sample feeds, XML attacks, payload lists), read in place, never copied.

FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The project's own small feed fixtures."""
    return FIXTURES
