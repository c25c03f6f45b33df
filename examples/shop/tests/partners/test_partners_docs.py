"""The partner guide lists exactly the partner routes the OpenAPI document has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shop.app import create_app
from shop.settings import Settings

GUIDE = Path(__file__).resolve().parents[4] / "docs" / "howto" / "partners.md"


def test_the_partner_guide_and_the_openapi_document_agree(tmp_path):
    if not GUIDE.exists():
        pytest.skip("the docs are not beside the shop (an installed copy)")
    app = create_app(Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"))
    documented = set(
        re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/partner/[^`\s]*)`", GUIDE.read_text())
    )
    served = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/partner/")
        for method in item
    }
    assert served == documented
