"""Every error the shop answers, as an RFC 9457 problem document.

The four failures a shopper can meet (rate limit, payment failure, out of stock, service
unavailable) come from the library's catalogue, :func:`commerce_kit.http.problem_for`, with the
exact sentences of the specification; the shop adds its own few (401, 404, 413, 422, 500).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from commerce_kit.http import MEDIA_TYPE, PROBLEM_TYPE_BASE, Problem, problem_for
from fastapi.responses import Response

__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "ProblemError",
    "problem",
    "problem_for",
    "problem_response",
]


def _type_uri(code: str) -> str:
    return str(PROBLEM_TYPE_BASE) + code.replace("_", "-")


class ProblemError(Exception):
    """Raised inside the shop to end a request with a problem document."""

    def __init__(
        self,
        problem: Problem,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        #: The technical error behind the problem, for the log line.
        self.cause = cause


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    retry_after: float | None = None,
) -> Problem:
    """Build one of the shop's own problems (401, 404, 413, 422, 500...)."""
    return Problem(
        type=_type_uri(code),
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=instance,
        retry_after=retry_after,
    )


def problem_response(
    value: Problem,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """Return ``value`` as an ``application/problem+json`` response."""
    body = dict(value.as_dict())
    if request_id is not None:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    all_headers = dict(value.headers)
    if headers:
        all_headers.update(headers)
    return Response(
        content=json.dumps(body, separators=(",", ":")),
        status_code=value.status,
        headers=all_headers,
        media_type=MEDIA_TYPE,
    )
