"""Where the shared public test material lives: read in place beside the project, never copied.

The folder ``<project root>/../shared/vectors`` holds data written by others (webhook signature
vectors, real shops' sample feeds, payload lists, XML attacks). A fresh clone lacks it, so tests
over it skip with a reason; under ``CI`` its absence is a failure, because there the suite must
prove those cases.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def vectors_dir() -> Path:
    """Return the shared vectors folder, or skip (fail under ``CI``) when it is absent."""
    if not VECTORS.is_dir():
        reason = (
            f"the shared test corpus is not at {VECTORS} (it sits beside the project checkout "
            "and is not distributed with it)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the tests over it")
        pytest.skip(reason)
    return VECTORS
