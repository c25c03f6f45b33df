"""Fixtures of the partner integration tests: a shop with a partner, its key and secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest


def unique(prefix: str) -> str:
    import secrets

    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class PartnerShop:
    """A shop with one partner, its key and secret; jobs run when the test says so."""

    shop: Any
    partner_id: int
    api_key: str
    webhook_secret: str
    outbox: Path

    @property
    def services(self) -> Any:
        return self.shop.app.state.partners

    @property
    def client(self) -> httpx.AsyncClient:
        client: httpx.AsyncClient = self.shop.client
        return client

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def run_jobs(self, settle: float = 2.0) -> int:
        """Run due jobs, and retries falling due within ``settle`` seconds, until none is left."""
        import anyio

        from shop.db import now_ms

        ran = 0
        while True:
            done: int = await self.services.worker.run_until_idle()
            ran += done
            soonest = await self.shop.count(
                "SELECT coalesce(min(run_after), 0) FROM jobs WHERE state = 'queued'"
            )
            wait = (soonest - now_ms()) / 1000 if soonest else settle + 1
            if wait > settle:
                return ran
            await anyio.sleep(max(wait, 0.001))

    async def flush_audit(self) -> None:
        await self.services.audit.flush()

    async def new_partner(self, callback_url: str | None = None) -> Any:
        from shop.partners.admin import create_partner

        return await create_partner(
            self.shop.app.state.shop.engine, unique("partner"), "p@example.com", callback_url
        )

    async def upload(
        self,
        body: bytes,
        *,
        content_type: str = "text/csv",
        filename: str = "feed.csv",
        key: str | None = None,
        multipart: bool = True,
        headers_request_id: str | None = None,
        **params: str,
    ) -> Any:
        headers = {"Authorization": f"Bearer {key or self.api_key}"}
        if headers_request_id is not None:
            headers["X-Request-ID"] = headers_request_id
        if multipart:
            return await self.client.post(
                "/partner/feeds",
                params=params,
                files={"file": (filename, body, content_type)},
                headers=headers,
            )
        headers["Content-Type"] = content_type
        return await self.client.post(
            "/partner/feeds", params=params, content=body, headers=headers
        )


@pytest.fixture
async def partner_shop(make_shop, tmp_path: Path) -> Any:
    """Build a shop (no background worker) and a partner on this test's database."""
    from shop.partners.admin import create_partner

    built: list[PartnerShop] = []

    async def build(callback_url: str | None = None, **overrides: object) -> PartnerShop:
        values: dict[str, object] = {
            "SHOP_WORKER": False,
            "SHOP_OUTBOX": str(tmp_path / "outbox"),
            "SHOP_JOB_RETRY_WAIT": 0.01,
            "SHOP_CALLBACK_ALLOW": "127.0.0.0/8",
        }
        values.update(overrides)
        shop = await make_shop(**values)
        made = await create_partner(
            shop.app.state.shop.engine, unique("partner"), "partner@example.com", callback_url
        )
        found = PartnerShop(shop, made.id, made.api_key, made.webhook_secret, tmp_path / "outbox")
        built.append(found)
        return found

    yield build
    for one in built:
        await one.services.http.aclose()
