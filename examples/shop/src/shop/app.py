"""The FastAPI application: wiring, error handlers, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from commerce_kit import CommerceKitError, RateLimiter
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shop.auth import Authenticator
from shop.db import make_engine
from shop.flash.checkout import Checkout
from shop.flash.listing import Listing
from shop.flash.routes import router as flash_router
from shop.observability import Metrics, RequestMiddleware, log_error
from shop.partners.service import install as install_partners
from shop.payments import build_payments
from shop.problems import Problem, ProblemError, problem, problem_for, problem_response
from shop.scale import connect, metrics_registry
from shop.settings import Settings, load_settings
from shop.state import ShopState

__all__ = ["create_app"]

LOG = logging.getLogger("shop")
HERE = Path(__file__).parent
_UNAVAILABLE = "System experiencing high traffic. Please try again shortly."


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _answer(
    request: Request,
    found: Problem,
    *,
    error: BaseException | None,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> Response:
    request_id = _request_id(request)
    log_error(
        "request_failed",
        request_id=request_id,
        status=found.status,
        code=found.code,
        error=error,
        method=request.method,
        path=request.url.path,
    )
    return problem_response(found, request_id=request_id, headers=headers, extra=extra)


def _build_state(settings: Settings) -> ShopState:
    engine = make_engine(settings.database_url)
    metrics = Metrics()
    # With REDIS_URL, the limiter, the listing cache and the payment breakers are shared.
    fleet = connect(settings)
    payments = build_payments(settings, None if fleet is None else fleet.breakers())
    rate = settings.rate
    listing = Listing(
        engine,
        ttl=settings.listing_ttl,
        on_query=metrics.listing_queries.inc,
        shared=None if fleet is None else fleet.listing_cache(settings.listing_ttl),
    )
    state = ShopState(
        settings=settings,
        engine=engine,
        metrics=metrics,
        auth=Authenticator(engine),
        limiter=(
            RateLimiter(rate.limit, rate.window)
            if fleet is None
            else fleet.limiter(rate.limit, rate.window)
        ),
        listing=listing,
        payments=payments,
        checkout=Checkout(engine, payments, metrics, reservation_ttl=settings.reservation_ttl),
        templates=Jinja2Templates(directory=HERE / "templates"),
        fleet=fleet,
    )
    metrics.add_gauges(
        "shop_payment_breaker_state",
        "Circuit breaker state per payment method (0 closed, 1 half-open, 2 open).",
        "method",
        payments.breaker_states,
    )

    def cache_counts() -> dict[str, float]:
        stats = listing.cache.stats
        return {
            "hits": float(stats.hits),
            "misses": float(stats.misses),
            "loads": float(stats.loads),
            "load_failures": float(stats.load_failures),
        }

    metrics.add_gauges(
        "shop_listing_cache_events",
        "Listing cache events since start: hits, misses, loads, load failures.",
        "event",
        cache_counts,
        counter=True,
    )
    return state


async def _sweep_forever(state: ShopState) -> None:
    interval = min(30.0, max(0.5, state.settings.reservation_ttl / 4))
    while True:
        try:
            await state.checkout.sweep()
        except Exception:  # the sweep must outlive a database hiccup
            LOG.exception("reservation sweep failed; retrying in %.1fs", interval)
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the shop for ``settings`` (read from the environment when not given).

    The schema must exist already (``shop db upgrade``, which ``shop serve`` runs).
    """
    settings = settings or load_settings()
    state = _build_state(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_forever(state))
        try:
            async with partners.running():
                yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            state.payments.gateway.close()
            await state.engine.dispose()
            if state.fleet is not None:
                await state.fleet.aclose()

    app = FastAPI(
        title="commerce_kit flash-sale shop",
        version="0.2.0",
        description="The reference app of commerce_kit. Errors are RFC 9457 problem documents.",
        lifespan=lifespan,
    )
    app.state.shop = state
    exposed = metrics_registry(state.metrics.registry)
    app.include_router(flash_router)
    partners = install_partners(app, settings, state.engine, state.fleet)
    state.metrics.add_gauges(
        "shop_audit_rows",
        "Partner audit rows buffered and not yet written (pending), and dropped past the buffer.",
        "state",
        partners.audit.counts,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Response:
        """Answer 200 when the database is reachable."""
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(exposed), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> Response:
        return _answer(
            request,
            error.problem,
            error=error.cause or error,
            headers=error.headers,
            extra=error.extra,
        )

    @app.exception_handler(CommerceKitError)
    async def on_library_error(request: Request, error: CommerceKitError) -> Response:
        return _answer(request, problem_for(error), error=error)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in error.errors()[:10]
        ]
        found = problem(
            422, "invalid_request", "Unprocessable Content", "The request is not valid."
        )
        return _answer(request, found, error=None, extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        titles = {404: "Not Found", 405: "Method Not Allowed"}
        found = problem(
            error.status_code,
            "not_found" if error.status_code == 404 else f"http_{error.status_code}",
            titles.get(error.status_code, "Error"),
            "No such page." if error.status_code == 404 else "This request is not supported.",
        )
        return _answer(request, found, error=None, headers=dict(error.headers or {}))

    @app.exception_handler(SQLAlchemyError)
    async def on_database(request: Request, error: SQLAlchemyError) -> Response:
        if (
            isinstance(error, DBAPIError)
            and not error.connection_invalidated
            and not _looks_unreachable(error)
        ):
            # Not an outage: a bug or a constraint; the catch-all answers 500 and logs it.
            raise error
        found = problem(
            503, "service_unavailable", "Service Unavailable", _UNAVAILABLE, retry_after=5
        )
        return _answer(request, found, error=error)

    app.add_middleware(RequestMiddleware, metrics=state.metrics)
    return app


def _looks_unreachable(error: DBAPIError) -> bool:
    text_ = str(error.orig).lower()
    return any(
        part in text_
        for part in (
            "connection",
            "could not connect",
            "server closed",
            "database is locked",
            "unable to open",
            "terminating",
        )
    )
