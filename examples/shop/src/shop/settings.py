"""The shop's settings: environment variables read once, with safe defaults.

=============================  =========================================  ======================
variable                       meaning                                    default
=============================  =========================================  ======================
``DATABASE_URL``               SQLAlchemy URL (SQLite or PostgreSQL)      ``var/shop.db`` (WAL)
``SHOP_CHECKOUT_RATE``         checkouts per user, ``N/<seconds>s``       ``5/60s``
``SHOP_SANDBOX_FAILURE_RATE``  share of sandbox payments failing, 0..1    ``0``
``SHOP_SANDBOX_DOWN``          every sandbox payment fails (an outage)    ``false``
``REDIS_URL``                  share limiter, cache, breakers via Redis   unset (in memory)
``SHOP_REDIS_PREFIX``          put in front of every Redis key            ``shop:``
``SHOP_PARTNER_RATE``          partner API requests per key               ``120/60s``
``SHOP_FEED_MAX_BYTES``        largest feed upload accepted               ``20971520`` (20 MiB)
``SHOP_SMTP_URL``              ``smtp://host:port`` for partner mail      unset: ``.eml`` files
``SHOP_OUTBOX``                where unsent mail is written               ``var/outbox``
``SHOP_PUBLIC_URL``            the shop's address, for links in mail      ``http://localhost:8000``
``SHOP_CALLBACK_ALLOW``        private networks callbacks may reach       none
``SHOP_WORKER``                run a job worker inside ``shop serve``     ``true``
``SHOP_JOB_LEASE``             seconds a worker holds a job unrenewed     ``30``
``SHOP_JOB_ATTEMPTS``          attempts of a job before it is ``failed``  ``5``
``SHOP_JOB_RETRY_WAIT``        first backoff wait between attempts (s)    ``1``
``SHOP_INGEST_BATCH``          products written per batch                 SQLite 5000, PG 20000
=============================  =========================================  ======================

A malformed value stops the program with one line naming the variable (exit status 2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CheckoutRate", "Settings", "SettingsError", "load_settings"]

_RATE = re.compile(r"^\s*([1-9][0-9]{0,8})\s*/\s*([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*s\s*$")


class SettingsError(Exception):
    """A setting is malformed; the message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class CheckoutRate:
    """How many checkouts one user may start per window."""

    limit: int
    window: float

    @classmethod
    def parse(cls, text: str) -> CheckoutRate:
        """Read ``"5/60s"`` (five per sixty seconds).

        Raises:
            ValueError: ``text`` is not ``N/<seconds>s`` with a positive count and window.
        """
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"expected N/<seconds>s such as 5/60s, got {text!r}")
        window = float(match.group(2))
        if window <= 0:
            raise ValueError(f"the window must be longer than 0 s, got {text!r}")
        return cls(int(match.group(1)), window)

    def __str__(self) -> str:
        return f"{self.limit}/{self.window:g}s"


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path('var/shop.db').absolute()}"


def normalise_database_url(url: str) -> str:
    """Return ``url`` with the async driver the shop uses for its dialect.

    Raises:
        ValueError: The URL is not a SQLite or PostgreSQL URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise ValueError("expected a URL such as sqlite:///var/shop.db or postgresql://host/db")
    dialect = scheme.split("+", 1)[0].lower()
    if dialect == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if dialect in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"only sqlite and postgresql URLs are supported, got {dialect!r}")


def check_redis_url(url: str | None) -> str | None:
    """Return ``url`` when it is a Redis URL (or ``None``, or empty, which mean no Redis).

    Raises:
        ValueError: The URL is not a ``redis://``, ``rediss://`` or ``unix://`` URL.
    """
    if url is None or not url.strip():
        return None
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in {"redis", "rediss", "unix"} or not rest:
        raise ValueError("expected a URL such as redis://127.0.0.1:6379/0")
    return url.strip()


class Settings(BaseSettings):
    """Everything the shop reads from its environment.

    Attributes:
        database_url: Where the data lives (normalised to an async driver).
        checkout_rate: Checkouts per user per window (``SHOP_CHECKOUT_RATE``).
        sandbox_failure_rate: Share of sandbox payment attempts that fail transiently.
        sandbox_down: Whether every sandbox payment fails, as in a provider outage.
        reservation_ttl: Seconds before a reservation left by a crashed checkout returns to stock.
        listing_ttl: Seconds the product listing is cached.
        redis_url: The Redis server the workers share their limiter, listing cache and payment
            breakers through (``REDIS_URL``); ``None`` keeps them in each process's memory.
        redis_prefix: Put in front of every Redis key (``SHOP_REDIS_PREFIX``), so that several
            shops can share one server.
        partner_rate: Partner API requests per key per window (``SHOP_PARTNER_RATE``).
        feed_max_bytes: The largest feed upload accepted, in bytes.
        smtp_url: Where partner mail goes (``smtp://host:port``); unset, it is written as
            ``.eml`` files under :attr:`outbox`.
        outbox: Folder of unsent mail.
        public_url: The shop's public address, for links in mail.
        callback_allow: Comma-separated networks (CIDR) or host names partner callbacks may
            reach although private or loopback (tests use ``127.0.0.1/32``).
        worker: Whether ``shop serve`` runs a job worker in process.
        job_lease: Seconds a worker holds a job without renewing its lease.
        job_attempts: Attempts of a job (and of a mail or callback) before it is failed.
        job_retry_wait: The first backoff wait, in seconds, between attempts.
        ingest_batch: Products written per batch by the feed ingest; unset, 5000 on SQLite
            (a batch holds its one writer's lock, so checkouts wait for it) and 20000 on
            PostgreSQL (where they do not; fewer, larger batches ingest about 8% faster).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(default_factory=_default_database_url, alias="DATABASE_URL")
    checkout_rate: str = Field(default="5/60s", alias="SHOP_CHECKOUT_RATE")
    sandbox_failure_rate: float = Field(default=0.0, alias="SHOP_SANDBOX_FAILURE_RATE", ge=0, le=1)
    sandbox_down: bool = Field(default=False, alias="SHOP_SANDBOX_DOWN")
    reservation_ttl: float = Field(default=300.0, alias="SHOP_RESERVATION_TTL", gt=0)
    listing_ttl: float = Field(default=30.0, alias="SHOP_LISTING_TTL", gt=0)
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_prefix: str = Field(
        default="shop:", alias="SHOP_REDIS_PREFIX", pattern=r"^[A-Za-z0-9:_.-]{1,64}$"
    )
    # Partner integration (shop.partners, shop.jobs).
    partner_rate: str = Field(default="120/60s", alias="SHOP_PARTNER_RATE")
    feed_max_bytes: int = Field(default=20 * 1024 * 1024, alias="SHOP_FEED_MAX_BYTES", gt=0)
    smtp_url: str | None = Field(default=None, alias="SHOP_SMTP_URL")
    outbox: Path = Field(default=Path("var/outbox"), alias="SHOP_OUTBOX")
    public_url: str = Field(default="http://localhost:8000", alias="SHOP_PUBLIC_URL")
    callback_allow: str = Field(default="", alias="SHOP_CALLBACK_ALLOW")
    worker: bool = Field(default=True, alias="SHOP_WORKER")
    job_lease: float = Field(default=30.0, alias="SHOP_JOB_LEASE", gt=0)
    job_attempts: int = Field(default=5, alias="SHOP_JOB_ATTEMPTS", ge=1, le=100)
    job_retry_wait: float = Field(default=1.0, alias="SHOP_JOB_RETRY_WAIT", ge=0)
    ingest_batch: int | None = Field(default=None, alias="SHOP_INGEST_BATCH", ge=1, le=100_000)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        return check_redis_url(value)

    @field_validator("checkout_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        return str(CheckoutRate.parse(value))

    @field_validator("partner_rate")
    @classmethod
    def _partner_rate(cls, value: str) -> str:
        return str(CheckoutRate.parse(value))

    @property
    def partner_limit(self) -> CheckoutRate:
        """The parsed partner API rate (requests per key per window)."""
        return CheckoutRate.parse(self.partner_rate)

    @property
    def rate(self) -> CheckoutRate:
        """The parsed checkout rate."""
        return CheckoutRate.parse(self.checkout_rate)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, ``overrides`` (by variable name) winning.

    Raises:
        SettingsError: A value is malformed; the message is one line naming the variable.
    """
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    for name in sorted(os.environ):
        if name.startswith("SHOP_") and name not in known:
            raise SettingsError(f"{name}: unknown setting (known: {', '.join(sorted(known))})")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        alias = str(first["loc"][0]) if first["loc"] else "settings"
        field = Settings.model_fields.get(alias)
        name = field.alias if field is not None and field.alias else alias
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {reason}") from None
