"""Fixtures for the validation tests: the shared public corpus and the project's own fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The shared corpus (payload lists, sample feeds), read in place and never copied.

#: The project's own validation fixtures.
FIXTURES = Path(__file__).parents[1] / "fixtures" / "validation"


@pytest.fixture(scope="session")
def legitimate_texts() -> list[str]:
    """The false-positive corpus: realistic product titles and descriptions, one per line."""
    path = FIXTURES / "legitimate_product_text.txt"
    return [
        line.replace("\\n", "\n")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
