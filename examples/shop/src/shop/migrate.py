"""Schema migrations (Alembic), run programmatically: no alembic.ini to find."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from shop.db import sync_url

__all__ = ["upgrade"]


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (default: the latest)."""
    url = sync_url(database_url)
    if url.startswith("sqlite:///"):
        from pathlib import Path  # noqa: PLC0415

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", "shop:migrations")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()
