"""The flash-sale page in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import asyncio
import os
import shutil
from decimal import Decimal

import httpx
import pytest

from shop.admin import create_product, create_user
from shop.app import create_app
from shop.db import make_engine

RATE_LIMITED = "Too many requests. Please wait and try again."
OUT_OF_STOCK = "This item is no longer available."

pytestmark = pytest.mark.browser


async def _setup(url: str, suffix: str) -> tuple[str, str, str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        _, token = await create_user(engine, f"browser-{suffix}")
        _, other = await create_user(engine, f"browser-other-{suffix}")
        plenty, last = f"PLENTY-{suffix}", f"LAST-{suffix}"
        await create_product(
            engine, sku=plenty, title="Plenty of these", price=Decimal("9.99"), stock=50
        )
        await create_product(engine, sku=last, title="The last one", price=Decimal("5.00"), stock=1)
    finally:
        await engine.dispose()
    return token, other, plenty, last


def test_buy_then_sold_out_then_rate_limited(
    database_url, serve, settings_for, tmp_path, launch_chromium
):
    from playwright.sync_api import expect, sync_playwright

    suffix = os.urandom(4).hex()
    token, other, plenty, last = asyncio.run(_setup(database_url, suffix))
    app = create_app(settings_for())
    with serve(app) as base_url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/flash#token={token}")
            message = page.locator("#message")
            buy_plenty = page.locator(f'button.buy[data-sku="{plenty}"]')
            buy_last = page.locator(f'button.buy[data-sku="{last}"]')
            expect(buy_last).to_be_enabled()

            def buy(button) -> int:
                with page.expect_response(f"{base_url}/flash/checkout") as answer:
                    button.click()
                status: int = answer.value.status
                return status

            # 1: a purchase succeeds.
            assert 201 == buy(buy_plenty)
            expect(message).to_contain_text("Thank you! Order")
            expect(message).to_contain_text("9.99 EUR")
            # 2: someone else takes the last unit; the page says so in place.
            sold = httpx.post(
                f"{base_url}/flash/checkout",
                json={"sku": last, "quantity": 1, "payment_method": "card"},
                headers={"Authorization": f"Bearer {other}"},
            )
            assert 201 == sold.status_code
            assert 409 == buy(buy_last)
            expect(message).to_have_text(OUT_OF_STOCK)
            expect(page.locator(f'.product[data-sku="{last}"] .notice')).to_have_text(OUT_OF_STOCK)
            expect(buy_last).to_be_disabled()
            # 3-5: three more purchases, all paid.
            for _ in range(3):
                expect(buy_plenty).to_be_enabled()
                assert 201 == buy(buy_plenty)
            # 6: the sixth checkout in a minute shows the rate-limit message and a countdown.
            expect(buy_plenty).to_be_enabled()
            assert 429 == buy(buy_plenty)
            expect(message).to_contain_text(RATE_LIMITED)
            expect(message).to_contain_text("You can try again in")
            expect(buy_plenty).to_be_disabled()
            first = message.text_content() or ""
            page.wait_for_timeout(1100)
            assert first != (message.text_content() or ""), "the countdown did not move"
            shot = tmp_path / "flash.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            keep = os.environ.get("TEST_SHOP_SCREENSHOT")
            if keep:
                shutil.copy(shot, keep)
        finally:
            browser.close()
