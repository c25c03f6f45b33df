"""HTTP routes of the partner API and the upload page: parse, call one function, answer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Annotated, Any

from commerce_kit import WebhookVerificationError
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from shop.jobs.tables import jobs
from shop.partners.auth import Partner
from shop.partners.ingest import price_text
from shop.partners.service import PartnerServices
from shop.partners.tables import feeds, job_errors, partner_products
from shop.partners.uploads import (
    FeedReceiver,
    FeedRefusedError,
    FeedTooLargeError,
    MultipartFile,
)
from shop.partners.webhooks import BadWebhookError
from shop.problems import ProblemError, problem

__all__ = ["router"]

router = APIRouter(tags=["partners"])
MAX_WEBHOOK_BODY = 1024 * 1024
_MULTIPART_OVERHEAD = 64 * 1024


def _services(request: Request) -> PartnerServices:
    services: PartnerServices = request.app.state.partners
    return services


# Declares the scheme in the OpenAPI document (and the "Authorize" button of /docs); the key is
# checked by PartnerAuth, which answers every kind of bad key with the same 401.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerKey",
    description="Your partner API key: `Authorization: Bearer ck_live_...`.",
)


async def current_partner(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Partner:
    """The authenticated partner (401 otherwise, 429 over the per-key rate)."""
    return await _services(request).auth.authenticate(request)


PartnerDep = Annotated[Partner, Depends(current_partner)]


def _limited(request: Request, response: Response) -> Response:
    """Add the key's ``RateLimit`` fields to a successful answer."""
    response.headers.update(getattr(request.state, "rate_limit_headers", {}))
    return response


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        problem(
            413,
            "payload_too_large",
            "Content Too Large",
            f"The feed is larger than the limit of {limit} bytes. Split it into smaller feeds.",
        )
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(
    request: Request, receiver: FeedReceiver, limit: int
) -> tuple[str | None, str | None]:
    """Stream the feed into ``receiver``; return its content type and file name.

    A multipart body's field ``file`` is taken as it is parsed; any other body is the feed.
    """
    content_type = request.headers.get("content-type")
    if not (content_type and content_type.lower().startswith("multipart/form-data")):
        async for chunk in request.stream():
            await receiver.write(chunk)
        return content_type, None
    try:
        form = MultipartFile(content_type)
    except ValueError as error:
        raise _bad_form(str(error)) from None
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + _MULTIPART_OVERHEAD:
            raise FeedTooLargeError(limit)
        try:
            form.write(chunk)
        except ValueError as error:
            raise _bad_form(str(error)) from None
        await receiver.write(form.take())
    form.finish()
    await receiver.write(form.take())
    if not form.found:
        raise _bad_form("Send the feed as the multipart field 'file'.")
    return form.content_type, form.filename


def _refused(refused: FeedRefusedError) -> ProblemError:
    titles = {415: "Unsupported Media Type", 408: "Request Timeout"}
    extra: dict[str, object] = {}
    if refused.supported:
        extra["supported_formats"] = list(refused.supported)
    return ProblemError(
        problem(
            refused.status,
            refused.code,
            titles.get(refused.status, "Unprocessable Content"),
            refused.detail,
        ),
        extra=extra,
    )


def _bad_form(detail: str) -> ProblemError:
    return ProblemError(problem(422, "invalid_request", "Unprocessable Content", detail))


class Accepted(BaseModel):
    """A feed accepted for processing."""

    job_id: int
    status_url: str = Field(description="Where to follow the job: GET it with your key.")


class JobError(BaseModel):
    """One error a feed job found."""

    line: int | None
    index: int
    field: str | None
    code: str
    message: str


class JobStatus(BaseModel):
    """A job, its progress and its errors (a page of them: see the ``Link`` header)."""

    id: int
    status: str = Field(description="queued, running, succeeded or failed")
    mode: str | None
    dry_run: bool | None
    records: int
    processed: int
    accepted: int
    rejected: int
    errors: list[JobError]
    created_at: str
    finished_at: str | None


class ProductOut(BaseModel):
    """One of the partner's products."""

    sku: str
    title: str
    price: str = Field(description="A decimal string, such as '19.00'.")
    currency: str
    stock: int
    updated_at: str


class ProductPage(BaseModel):
    """A page of the partner's products."""

    items: list[ProductOut]
    total: int
    limit: int
    offset: int
    next: str | None


def _flag(value: str | None) -> bool:
    if value is None or value.lower() in {"", "0", "false", "no", "off"}:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    raise ProblemError(
        problem(422, "invalid_request", "Unprocessable Content", "dry_run must be true or false.")
    )


@router.post(
    "/partner/feeds",
    status_code=202,
    response_model=Accepted,
    summary="Upload a product feed",
    responses={413: {"description": "Too large"}, 415: {"description": "Unknown format"}},
)
async def upload_feed(
    request: Request,
    partner: PartnerDep,
    mode: Annotated[str, Query(pattern="^(full|delta)$")] = "delta",
    dry_run: Annotated[str | None, Query()] = None,
) -> Response:
    """Queue a feed (multipart ``file`` or a raw body with its ``Content-Type``)."""
    services = _services(request)
    limit = services.settings.feed_max_bytes
    flag = _flag(dry_run)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise _too_large(limit)
    request_id = request.scope.get("state", {}).get("request_id")
    receiver = FeedReceiver(services.queue, partner.id, limit=limit)
    try:
        content_type, filename = await _receive(request, receiver, limit)
        job_id, _new = await receiver.finish(
            content_type=content_type,
            filename=filename,
            mode=mode,
            dry_run=flag,
            max_attempts=services.settings.job_attempts,
            source=request.client.host if request.client else "unknown",
            request_id=request_id,
        )
    except BaseException as error:
        # Refused, too large, cut off or any other failure: nothing of this upload stays.
        await asyncio.shield(receiver.abort())
        if isinstance(error, FeedTooLargeError):
            raise _too_large(limit) from None
        if isinstance(error, FeedRefusedError):
            raise _refused(error) from None
        raise
    services.worker.wake()
    status_url = f"/partner/jobs/{job_id}"
    return _limited(
        request,
        JSONResponse(
            {"job_id": job_id, "status_url": status_url},
            status_code=202,
            headers={"Location": status_url},
        ),
    )


def _not_found() -> ProblemError:
    return ProblemError(problem(404, "not_found", "Not Found", "No such job."))


@router.get("/partner/jobs/{job_id}", response_model=JobStatus, summary="A job's status")
async def job_status(
    request: Request,
    job_id: int,
    partner: PartnerDep,
    errors_offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    errors_limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Your job's status, counts and a page of its errors."""
    services = _services(request)
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(jobs, feeds.c.mode, feeds.c.dry_run)
                .outerjoin(feeds, feeds.c.job_id == jobs.c.id)
                .where(jobs.c.id == job_id, jobs.c.partner_id == partner.id)
            )
        ).first()
        if row is None:
            raise _not_found()
        total = await conn.scalar(
            select(func.count()).select_from(job_errors).where(job_errors.c.job_id == job_id)
        )
        errors = (
            await conn.execute(
                select(job_errors)
                .where(job_errors.c.job_id == job_id)
                .order_by(job_errors.c.id)
                .offset(errors_offset)
                .limit(errors_limit)
            )
        ).all()
    body: dict[str, Any] = {
        "id": row.id,
        "status": row.state,
        "mode": row.mode,
        "dry_run": row.dry_run,
        "records": row.records,
        "processed": row.processed,
        "accepted": row.accepted,
        "rejected": row.rejected,
        "errors": [
            {
                "line": e.line,
                "index": e.idx,
                "field": e.field,
                "code": e.code,
                "message": e.message,
            }
            for e in errors
        ],
        "created_at": _iso(row.created_at),
        "finished_at": _iso(row.finished_at),
    }
    headers = {"X-Total-Errors": str(total or 0)}
    if errors_offset + len(errors) < (total or 0):
        following = f"/partner/jobs/{job_id}?errors_offset={errors_offset + len(errors)}"
        headers["Link"] = f'<{following}&errors_limit={errors_limit}>; rel="next"'
    return _limited(request, JSONResponse(body, headers=headers))


@router.get("/partner/products", response_model=ProductPage, summary="Your products")
async def list_products(
    request: Request,
    partner: PartnerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Your live products, by SKU, a page at a time."""
    services = _services(request)
    mine = (partner_products.c.partner_id == partner.id) & partner_products.c.active.is_(True)
    async with services.engine.connect() as conn:
        total = int(
            await conn.scalar(select(func.count()).select_from(partner_products).where(mine)) or 0
        )
        rows = (
            await conn.execute(
                select(partner_products)
                .where(mine)
                .order_by(partner_products.c.sku)
                .offset(offset)
                .limit(limit)
            )
        ).all()
    items = [
        {
            "sku": row.sku,
            "title": row.title,
            "price": price_text(row.price_cents, row.currency),
            "currency": row.currency,
            "stock": row.stock,
            "updated_at": _iso(row.updated_at),
        }
        for row in rows
    ]
    following = (
        f"/partner/products?limit={limit}&offset={offset + limit}"
        if offset + len(items) < total
        else None
    )
    return _limited(
        request,
        JSONResponse(
            {"items": items, "total": total, "limit": limit, "offset": offset, "next": following}
        ),
    )


@router.post(
    "/partner/webhooks/stock",
    status_code=202,
    summary="Send stock levels (signed webhook)",
    responses={200: {"description": "Already received"}, 401: {"description": "Not signed"}},
)
async def stock_webhook(request: Request, partner: PartnerDep) -> Response:
    """Stock updates signed by the Standard Webhooks scheme with your webhook secret."""
    services = _services(request)
    body = await _read_limited(request, MAX_WEBHOOK_BODY)
    try:
        received = await services.inbox.receive(partner, body, request.headers)
    except WebhookVerificationError as error:
        raise ProblemError(
            problem(
                401,
                "invalid_signature",
                "Unauthorized",
                "The webhook signature or timestamp is not valid.",
            ),
            cause=error,
        ) from None
    except BadWebhookError as error:
        raise ProblemError(
            problem(422, "invalid_request", "Unprocessable Content", str(error))
        ) from None
    if received.new:
        services.worker.wake()
        answer = JSONResponse({"status": "accepted", "job_id": received.job_id}, status_code=202)
    else:
        answer = JSONResponse({"status": "duplicate", "job_id": received.job_id}, status_code=200)
    return _limited(request, answer)


@router.get("/partner/upload", response_class=HTMLResponse, summary="The feed upload page")
async def upload_page(request: Request) -> Response:
    """A page to upload a feed with your key and follow its job."""
    templates = request.app.state.shop.templates
    response: Response = templates.TemplateResponse(
        request,
        "partner_upload.html",
        {"formats": sorted(_formats())},
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return response


def _formats() -> tuple[str, ...]:
    from shop.partners.uploads import supported_formats  # noqa: PLC0415

    return supported_formats()
