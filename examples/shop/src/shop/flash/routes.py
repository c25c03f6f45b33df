"""HTTP routes of the flash sale: thin wrappers that parse, call one function, and answer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from commerce_kit import RateLimitExceeded
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from shop.flash.checkout import CheckoutRequest
from shop.problems import ProblemError, problem, problem_for
from shop.state import ShopState

__all__ = ["CheckoutBody", "router"]

router = APIRouter()

#: The largest checkout body read; a checkout body is well under 1 KiB.
MAX_BODY = 16 * 1024
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


class CheckoutBody(BaseModel):
    """What ``POST /flash/checkout`` accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    quantity: Annotated[StrictInt, Field(ge=1, le=100)]
    payment_method: Annotated[StrictStr, Field(min_length=1, max_length=64)]

    @field_validator("sku", "payment_method")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        # Control characters and lone surrogates are never part of a real SKU or method name,
        # and PostgreSQL refuses NUL in text: turn them away here, as a 422.
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise ValueError("must not contain control characters")
        return value


class ProductOut(BaseModel):
    """One product of the listing."""

    sku: str
    title: str
    price: str = Field(description="A decimal string, such as '19.00'.")
    currency: str
    stock: int


class OrderOut(BaseModel):
    """An order."""

    order_id: str
    status: str
    sku: str
    quantity: int
    amount: str = Field(description="A decimal string, such as '19.00'.")
    currency: str


class PaymentMethodOut(BaseModel):
    """A payment method a checkout may name."""

    name: str
    display_name: str
    available: bool


def _state(request: Request) -> ShopState:
    state: ShopState = request.app.state.shop
    return state


def _unauthorized() -> ProblemError:
    return ProblemError(
        problem(
            401,
            "unauthenticated",
            "Unauthorized",
            "Please sign in: send your access token as 'Authorization: Bearer <token>'.",
        ),
        headers={"WWW-Authenticate": "Bearer"},
    )


def _unprocessable(detail: str, errors: list[dict[str, object]] | None = None) -> ProblemError:
    found = problem(422, "invalid_request", "Unprocessable Content", detail)
    return ProblemError(found, extra={"errors": errors} if errors else None)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    too_large = ProblemError(
        problem(
            413,
            "body_too_large",
            "Content Too Large",
            f"The request body is larger than {MAX_BODY} bytes.",
        )
    )
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> CheckoutRequest:
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise _unprocessable("The request body is not valid JSON.") from None
    try:
        body = CheckoutBody.model_validate(data)
    except ValidationError as error:
        errors: list[dict[str, object]] = [
            {"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise _unprocessable(
            "The checkout request is not valid: it needs sku (text), quantity (a whole number "
            "from 1 to 100) and payment_method (text).",
            errors[:10],
        ) from None
    return CheckoutRequest(body.sku, body.quantity, body.payment_method)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not set(key) <= _KEY_CHARS:
        raise _unprocessable(
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters."
        )
    return key


@router.get("/flash/products", response_model=list[ProductOut], tags=["flash sale"])
async def list_products(request: Request) -> Response:
    """List the flash-sale products (cached for up to 30 s)."""
    return Response(await _state(request).listing.json(), media_type="application/json")


@router.post(
    "/flash/checkout",
    status_code=201,
    response_model=OrderOut,
    tags=["flash sale"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CheckoutBody.model_json_schema()}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "A retry with the same key returns the same order.",
            }
        ],
    },
)
async def checkout(request: Request) -> Response:
    """Buy a flash-sale product: rate-limited per user, stock reserved atomically, then paid."""
    state = _state(request)
    raw = await _read_body(request)
    user_id = await state.auth.user_id(request.headers.get("authorization"))
    if user_id is None:
        raise _unauthorized()
    decision = await state.limiter.ahit(f"user:{user_id}")
    if not decision.allowed:
        state.metrics.limiter.labels("denied").inc()
        error = RateLimitExceeded(
            f"user {user_id} over the checkout rate", retry_after=decision.retry_after
        )
        raise ProblemError(problem_for(error), headers=decision.headers(), cause=error)
    state.metrics.limiter.labels("allowed").inc()
    body = _parse(raw)
    key = _idempotency_key(request)
    order = await state.checkout.checkout(user_id, body, idempotency_key=key)
    return JSONResponse(order.as_dict(), status_code=201, headers=decision.headers())


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"])
async def get_order(order_id: str, request: Request) -> Response:
    """Return one of your own orders; another user's order is not found (404)."""
    state = _state(request)
    user_id = await state.auth.user_id(request.headers.get("authorization"))
    if user_id is None:
        raise _unauthorized()
    order = None
    if len(order_id) <= 40 and order_id.isascii() and order_id.replace("_", "").isalnum():
        order = await state.checkout.order(user_id, order_id)
    if order is None:
        raise ProblemError(problem(404, "order_not_found", "Not Found", "No such order."))
    return JSONResponse(order.as_dict())


@router.get("/payment-methods", response_model=list[PaymentMethodOut], tags=["flash sale"])
async def payment_methods(request: Request) -> Response:
    """List the payment methods (plugins included); ``available`` is false while one fails fast."""
    payments = _state(request).payments
    up = {info.name for info in payments.gateway.available()}
    return JSONResponse(
        [
            {"name": info.name, "display_name": info.display_name, "available": info.name in up}
            for info in payments.methods.available()
        ]
    )


@router.get("/flash", response_class=HTMLResponse, tags=["pages"])
async def flash_page(request: Request) -> Response:
    """The flash-sale page."""
    state = _state(request)
    products = await state.listing.rows()
    up = {info.name for info in state.payments.gateway.available()}
    methods = [
        {"name": info.name, "display_name": info.display_name, "available": info.name in up}
        for info in state.payments.methods.available()
    ]
    return state.templates.TemplateResponse(
        request,
        "flash.html",
        {
            "products": products,
            "methods": methods,
            "limit": state.settings.rate.limit,
            "window": f"{state.settings.rate.window:g}",
        },
    )
