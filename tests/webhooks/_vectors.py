"""Reading the shared public test material in place, beside the project: never copied in.

The folder ``<project root>/../shared/vectors`` holds data written by others (signature vectors,
real shops' sample feeds). A fresh clone lacks it, so tests over it skip with a reason; under
``CI`` its absence is a failure, because there the suite must prove those cases.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import vectors as shared
from tests.vectors import vectors_dir

__all__ = ["load", "params", "vectors_dir"]


def load(name: str) -> Any:
    """Return the parsed JSON file ``name`` from the shared vectors folder."""
    return json.loads((vectors_dir() / name).read_text(encoding="utf-8"))


def params(name: str, *path: str | int, ids: str | None = None) -> list[Any]:
    """Return pytest params over the list at ``path`` inside ``name``, for ``parametrize``.

    When the folder is absent, a single placeholder param stands in, so the test runs once and
    :func:`vectors_dir` skips (or, under ``CI``, fails) it with the reason.

    Args:
        name: The JSON file.
        path: Keys leading from the document to the list (none when the document is the list).
        ids: The item key whose value names each case; the index otherwise.
    """
    if not shared.VECTORS.is_dir():
        return [pytest.param(None, id="vectors-absent")]
    data = json.loads((shared.VECTORS / name).read_text(encoding="utf-8"))
    for key in path:
        data = data[key]
    return [
        pytest.param(item, id=f"{index}-{item[ids]}"[:60] if ids else str(index))
        for index, item in enumerate(data)
    ]
