"""The upload page in headless Chromium: upload a feed with errors, read the error table."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from shop.app import create_app
from shop.db import make_engine
from shop.partners.admin import create_partner

CHROMIUM = os.environ.get("TEST_SHOP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = '<img src=x onerror="window.__pwned=1">'

pytestmark = pytest.mark.browser


async def _partner(url: str) -> str:
    engine = make_engine(url, pool_size=1)
    try:
        made = await create_partner(engine, f"browser-{os.urandom(4).hex()}", "b@example.com")
    finally:
        await engine.dispose()
    return made.api_key


def test_upload_page_shows_progress_counts_and_the_error_table(
    database_url, serve, settings_for, tmp_path
):
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    key = asyncio.run(_partner(database_url))
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "sku,title,price,currency,stock\n"
        "U-1,Good one,5.00,EUR,3\n"
        f'"{SCRIPT.replace(chr(34), chr(34) * 2)}",Bad sku,5.00,EUR,1\n'
        "U-3,Negative,-2,EUR,1\n"
    )
    app = create_app(settings_for(SHOP_OUTBOX=str(tmp_path / "outbox")))
    with serve(app) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/partner/upload")
            page.fill("#api-key", key)
            page.set_input_files("#feed-file", str(feed))
            page.check("input[name=mode][value=delta]")
            page.click("#submit")
            expect(page.locator("#job-status")).to_have_text("succeeded", timeout=15_000)
            expect(page.locator("#accepted")).to_have_text("1")
            expect(page.locator("#rejected")).to_have_text("2")
            assert 100 == page.eval_on_selector("#upload-progress", "e => e.value")
            rows = page.locator("#errors tbody tr")
            expect(rows).to_have_count(2)
            cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(2)]
            lines = {c[0] for c in cells}
            fields = {c[2] for c in cells}
            assert {"3", "4"} == lines
            assert {"sku", "price"} == fields
            assert page.evaluate("() => window.__pwned") is None
            assert 0 == page.locator("#errors img").count()
            page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
        finally:
            browser.close()
