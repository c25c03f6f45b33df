"""Request ids, Prometheus metrics, structured error logs, and the last line of error handling.

:class:`RequestMiddleware` is a plain ASGI middleware (no per-request task or body copy): it gives
every request an id (``X-Request-ID``, echoed when the client sent a sane one), times it, counts
it by route and status, and turns any exception that escaped the routes into a 500 problem
document and one structured log line, so no stack trace reaches a client.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop.problems import problem, problem_response

__all__ = [
    "LOG_FORMAT",
    "Metrics",
    "RequestMiddleware",
    "configure_logging",
    "log_error",
    "new_request_id",
    "uvicorn_log_config",
]

LOG = logging.getLogger("shop")
#: One line per record; the process id tells the workers of a fleet apart.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging() -> None:
    """Send INFO and above of every logger (the shop's and the library's) to stderr."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def uvicorn_log_config() -> dict[str, Any]:
    """Uvicorn's logging configuration plus the root logger, in :data:`LOG_FORMAT`.

    uvicorn applies this in every worker process it starts (``--workers N`` spawns fresh
    interpreters, which a ``basicConfig`` in the parent never reaches), so the shop's and
    commerce_kit's log lines, such as the Redis guard's warning, come out of each worker.
    """
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 - only the server needs uvicorn

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["shop"] = {"format": LOG_FORMAT}
    config["handlers"]["shop"] = {
        "class": "logging.StreamHandler",
        "formatter": "shop",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"level": "INFO", "handlers": ["shop"]}
    return config


_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id() -> str:
    """Return a fresh random request id."""
    return secrets.token_hex(8)


def log_error(
    event: str,
    *,
    request_id: str | None,
    status: int,
    code: str,
    error: BaseException | None = None,
    **fields: object,
) -> None:
    """Write one structured (JSON) log line about a failed request; the detail stays here."""
    record: dict[str, object] = {
        "event": event,
        "request_id": request_id,
        "status": status,
        "code": code,
    }
    if error is not None:
        record["error"] = type(error).__name__
        record["message"] = str(error)[:500]
    record.update(fields)
    level = logging.ERROR if status >= 500 else logging.WARNING
    LOG.log(level, json.dumps(record, default=str, separators=(",", ":")))


class _Callback(Collector):
    """A collector whose samples are read at scrape time (breaker states, cache statistics)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class Metrics:
    """The shop's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shop_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shop_http_request_duration_seconds",
            "HTTP request latency by route, method and status.",
            ["route", "method", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.limiter = Counter(
            "shop_rate_limit_decisions",
            "Checkout rate-limit decisions.",
            ["decision"],
            registry=self.registry,
        )
        self.listing_queries = Counter(
            "shop_listing_queries",
            "Database queries made to build the product listing.",
            registry=self.registry,
        )
        self.checkouts = Counter(
            "shop_checkouts",
            "Checkout outcomes.",
            ["outcome"],
            registry=self.registry,
        )
        self.lock_conflicts = Counter(
            "shop_db_lock_conflicts",
            "Database lock conflicts (SQLite busy, PostgreSQL serialization or deadlock), "
            "retried inside the checkout flow.",
            registry=self.registry,
        )
        self.expired_reservations = Counter(
            "shop_expired_reservations",
            "Reservations left by an interrupted checkout and returned to stock.",
            registry=self.registry,
        )

    def add_gauges(
        self,
        name: str,
        documentation: str,
        label: str,
        read: Callable[[], Mapping[str, float]],
        *,
        counter: bool = False,
    ) -> None:
        """Register a gauge (or counter) family whose values ``read()`` returns at scrape time."""
        kind = CounterMetricFamily if counter else GaugeMetricFamily

        def collect() -> Iterable[Metric]:
            family = kind(name, documentation, labels=[label])
            for key, value in read().items():
                family.add_metric([key], value)
            yield family

        self.registry.register(_Callback(collect))


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestMiddleware:
    """Request id, timing, counting and the catch-all for unexpected errors."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:  # noqa: BLE001 - the last line: log, answer a problem, no trace
            status = 500
            log_error(
                "unhandled_error",
                request_id=request_id,
                status=500,
                code="internal_error",
                error=error,
                route=_route_of(scope),
                method=scope.get("method"),
            )
            if not started:
                response = problem_response(
                    problem(
                        500,
                        "internal_error",
                        "Internal Server Error",
                        "Something went wrong. Please try again shortly.",
                    ),
                    request_id=request_id,
                )
                await response(scope, receive, send_with_id)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method, str(status)).observe(
                time.perf_counter() - start
            )


def _client_request_id(scope: Scope) -> str | None:
    headers: Any = scope.get("headers") or ()
    for name, value in headers:
        if name == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _CLIENT_ID.match(text) else None
    return None
