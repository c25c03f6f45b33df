"""The ``shop`` command: serve the shop, migrate its database, add users and products."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from shop.partners.cli import COMMANDS as PARTNER_COMMANDS
from shop.partners.cli import add_commands as add_partner_commands
from shop.partners.cli import run as run_partner_command
from shop.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop", description="The commerce_kit flash-sale shop.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, seed an empty database, and serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate the schema to the latest revision")

    user = commands.add_parser("users", help="shoppers")
    user_commands = user.add_subparsers(dest="users_command", required=True)
    create_user = user_commands.add_parser("create", help="add a user and print its token")
    create_user.add_argument("name")
    create_user.add_argument("--json", action="store_true", help="print {id, token} as JSON")

    product = commands.add_parser("products", help="flash-sale products")
    product_commands = product.add_subparsers(dest="products_command", required=True)
    create_product = product_commands.add_parser("create", help="add a flash-sale product")
    create_product.add_argument("--sku", required=True)
    create_product.add_argument("--title", required=True)
    create_product.add_argument("--price", required=True, help="a decimal such as 19.00")
    create_product.add_argument("--stock", required=True, type=int)
    create_product.add_argument("--currency", default="EUR")
    create_product.add_argument("--json", action="store_true", help="print the product as JSON")
    add_partner_commands(commands)
    return parser


def _fail(message: str) -> int:
    print(f"shop: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``shop`` command; return its exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        return _fail(str(error))
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers)
    from shop.migrate import upgrade  # noqa: PLC0415 - alembic loads only when needed

    upgrade(settings.database_url)
    if args.command == "db":
        print("database schema is up to date")
        return 0
    if args.command in PARTNER_COMMANDS:
        return run_partner_command(settings, args)
    if args.command == "users":
        return asyncio.run(_create_user(settings, args.name, as_json=args.json))
    return asyncio.run(_create_product(settings, args))


async def _create_user(settings: Settings, name: str, *, as_json: bool) -> int:
    from shop.admin import create_user  # noqa: PLC0415
    from shop.db import make_engine  # noqa: PLC0415

    if not 1 <= len(name) <= 100 or not name.isprintable():
        return _fail("NAME must be 1 to 100 printable characters")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        user_id, token = await create_user(engine, name)
    except IntegrityError:
        return _fail(f"a user named {name!r} already exists")
    finally:
        await engine.dispose()
    if as_json:
        print(json.dumps({"id": user_id, "token": token}))
    else:
        print(f"user {name!r} has id {user_id}; token (shown once): {token}")
    return 0


async def _create_product(settings: Settings, args: argparse.Namespace) -> int:
    from shop.admin import create_product  # noqa: PLC0415
    from shop.db import make_engine  # noqa: PLC0415
    from shop.money import from_cents, to_cents  # noqa: PLC0415

    try:
        price = Decimal(args.price)
        cents = to_cents(price)
    except (InvalidOperation, ValueError):
        return _fail(
            f"--price must be a positive amount with at most 2 decimals, got {args.price!r}"
        )
    if args.stock < 0:
        return _fail(f"--stock must be 0 or more, got {args.stock}")
    if not 1 <= len(args.sku) <= 64 or not 1 <= len(args.title) <= 200:
        return _fail("--sku must be 1 to 64 characters and --title 1 to 200")
    if not args.sku.isprintable() or not args.title.isprintable():
        return _fail("--sku and --title must be printable text")
    currency = str(args.currency).upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        return _fail(f"--currency must be a 3-letter code, got {args.currency!r}")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        await create_product(
            engine, sku=args.sku, title=args.title, price=price, stock=args.stock, currency=currency
        )
    except IntegrityError:
        return _fail(f"a product with sku {args.sku!r} already exists")
    finally:
        await engine.dispose()
    product = {
        "sku": args.sku,
        "title": args.title,
        "price": str(from_cents(cents)),
        "currency": currency,
        "stock": args.stock,
    }
    print(json.dumps(product) if args.json else f"added {args.sku}: {args.title}")
    return 0


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn  # noqa: PLC0415

    from shop.admin import is_empty, seed_demo  # noqa: PLC0415
    from shop.db import make_engine  # noqa: PLC0415
    from shop.migrate import upgrade  # noqa: PLC0415
    from shop.observability import configure_logging, uvicorn_log_config  # noqa: PLC0415
    from shop.scale import fleet_metrics  # noqa: PLC0415

    if workers < 1:
        return _fail(f"--workers must be 1 or more, got {workers}")
    configure_logging()
    upgrade(settings.database_url)

    async def seed() -> list[tuple[str, str]]:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await seed_demo(engine) if await is_empty(engine) else []
        finally:
            await engine.dispose()

    tokens = asyncio.run(seed())
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host  # noqa: S104
    url = f"http://{shown}:{port}/flash"
    print(f"\n  The flash sale is open: {url}", flush=True)
    if tokens:
        print(f"  Signed in as {tokens[0][0]}: {url}#token={tokens[0][1]}")
        print("  Demo users (tokens are shown once, only now):")
        for name, token in tokens:
            print(f"    {name:<6} {token}")
    print(f"  API docs: http://{shown}:{port}/docs\n", flush=True)
    # Several workers add up their metrics in files: set up before they start.
    with fleet_metrics(workers):
        uvicorn.run(
            "shop.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=uvicorn_log_config(),
            access_log=False,
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
