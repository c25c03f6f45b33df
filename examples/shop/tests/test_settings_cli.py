"""Settings from the environment and the ``shop`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import create_engine, text

from shop.cli import main
from shop.settings import CheckoutRate, load_settings


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in (
        "DATABASE_URL",
        "SHOP_CHECKOUT_RATE",
        "SHOP_SANDBOX_FAILURE_RATE",
        "SHOP_SANDBOX_DOWN",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert f"sqlite+aiosqlite:///{tmp_path / 'var' / 'shop.db'}" == settings.database_url
    assert CheckoutRate(5, 60.0) == settings.rate
    assert 0.0 == settings.sandbox_failure_rate
    assert settings.sandbox_down is False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_get_the_async_driver(monkeypatch, url, expected):
    monkeypatch.setenv("DATABASE_URL", url)
    assert expected == load_settings().database_url


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOP_CHECKOUT_RATE", "five"),
        ("SHOP_CHECKOUT_RATE", "5/0s"),
        ("SHOP_CHECKOUT_RATE", "0/60s"),
        ("SHOP_SANDBOX_FAILURE_RATE", "1.5"),
        ("SHOP_SANDBOX_FAILURE_RATE", "lots"),
        ("SHOP_SANDBOX_DOWN", "maybe"),
        ("DATABASE_URL", "mysql://x/y"),
        ("DATABASE_URL", "not a url"),
        ("SHOP_COLOUR", "blue"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it_and_exit_2(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    assert 2 == main(["db", "upgrade"])
    err = capsys.readouterr().err
    assert 1 == len(err.strip().splitlines())
    assert name in err


def test_rates_parse():
    assert CheckoutRate(5, 60.0) == CheckoutRate.parse("5/60s")
    assert CheckoutRate(1000, 0.5) == CheckoutRate.parse(" 1000 / 0.5s ")
    assert "5/60s" == str(CheckoutRate.parse("5/60s"))


def _shop(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shop", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_creates_users_and_products_and_stores_only_token_hashes(tmp_path, monkeypatch):
    db = tmp_path / "cli.db"
    env = {"DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    user = _shop("users", "create", "dora", "--json", env=env)
    assert 0 == user.returncode, user.stderr
    created = json.loads(user.stdout)
    assert {"id", "token"} == set(created)
    product = _shop(
        "products",
        "create",
        "--sku",
        "CLI-1",
        "--title",
        "A thing",
        "--price",
        "19.00",
        "--stock",
        "4",
        "--json",
        env=env,
    )
    assert 0 == product.returncode, product.stderr
    assert {
        "sku": "CLI-1",
        "title": "A thing",
        "price": "19.00",
        "currency": "EUR",
        "stock": 4,
    } == json.loads(product.stdout)
    again = _shop("users", "create", "dora", "--json", env=env)
    assert 2 == again.returncode
    bad_price = _shop(
        "products",
        "create",
        "--sku",
        "S",
        "--title",
        "T",
        "--price",
        "1.001",
        "--stock",
        "1",
        env=env,
    )
    assert 2 == bad_price.returncode
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM users")).scalar_one()
    engine.dispose()
    assert created["token"] not in stored
    assert 64 == len(stored)


def test_shop_serve_migrates_seeds_prints_tokens_and_serves(tmp_path, serve_database):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    log = tmp_path / "serve.log"
    with serve_database(url, log) as base_url:
        listing = httpx.get(f"{base_url}/flash/products").json()
        output = log.read_text()
        token = output.split("#token=", 1)[1].split()[0]
        methods = httpx.get(f"{base_url}/payment-methods").json()
        response = httpx.post(
            f"{base_url}/flash/checkout",
            json={"sku": listing[0]["sku"], "quantity": 1, "payment_method": methods[0]["name"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        page = httpx.get(f"{base_url}/flash")
        docs = httpx.get(f"{base_url}/openapi.json").json()
    assert len(listing) >= 3
    assert "/flash#token=" in output
    assert 201 == response.status_code, response.text
    assert 200 == page.status_code
    assert "/flash/checkout" in docs["paths"]
