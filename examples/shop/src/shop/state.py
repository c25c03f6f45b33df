"""What one running shop holds: settings, engine, cache, limiter, gateway, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from commerce_kit import RateLimiter
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.auth import Authenticator
from shop.flash.checkout import Checkout
from shop.flash.listing import Listing
from shop.observability import Metrics
from shop.payments import Payments
from shop.scale import Fleet
from shop.settings import Settings

__all__ = ["ShopState"]


@dataclass(slots=True)
class ShopState:
    """The shop's parts, built once per application."""

    settings: Settings
    engine: AsyncEngine
    metrics: Metrics
    auth: Authenticator
    limiter: RateLimiter
    listing: Listing
    payments: Payments
    checkout: Checkout
    templates: Jinja2Templates
    #: The Redis clients the fleet shares state through; ``None`` without ``REDIS_URL``.
    fleet: Fleet | None = None
