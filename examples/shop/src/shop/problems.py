"""Every error the shop answers, as an RFC 9457 problem document.

The four failures a shopper can meet (rate limit, payment failure, out of stock, service
unavailable) come from the library's catalogue, :func:`commerce_kit.http.problem_for`, with the
exact sentences of the specification; the shop adds its own few (401, 404, 413, 422, 500).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

try:
    from commerce_kit.http import (  # type: ignore[import-not-found,unused-ignore]
        MEDIA_TYPE,
        PROBLEM_TYPE_BASE,
        Problem,
        problem_for,
    )
except ImportError:  # pragma: no cover - the library predates commerce_kit.http
    # -- FALLBACK: delete this block (down to the matching END) once commerce_kit.http is merged.
    from commerce_kit.payments import (  # type: ignore[attr-defined,unused-ignore]
        user_message_for,
    )

    MEDIA_TYPE = "application/problem+json"
    PROBLEM_TYPE_BASE = "https://commerce-kit.dev/problems/"

    @dataclass(frozen=True, slots=True)
    class Problem:  # type: ignore[no-redef,unused-ignore]
        """An RFC 9457 problem document (local stand-in for ``commerce_kit.http.Problem``)."""

        type: str
        title: str
        status: int
        detail: str
        code: str
        instance: str | None = None
        retry_after: float | None = None

        @property
        def headers(self) -> dict[str, str]:
            """``Retry-After`` in whole seconds, when known."""
            if self.retry_after is None:
                return {}
            return {"Retry-After": str(max(0, math.ceil(round(self.retry_after, 3))))}

        def as_dict(self) -> dict[str, object]:
            """The JSON body."""
            body: dict[str, object] = {
                "type": self.type,
                "title": self.title,
                "status": self.status,
                "detail": self.detail,
                "code": self.code,
            }
            if self.instance is not None:
                body["instance"] = self.instance
            if self.retry_after is not None:
                body["retry_after"] = self.retry_after
            return body

    def problem_for(error: BaseException, *, instance: str | None = None) -> Problem:  # type: ignore[no-redef,unused-ignore]
        """Map an error to its problem document (stand-in for the library's)."""
        answer = user_message_for(error)
        return Problem(
            type=_type_uri(answer.code),
            title=_TITLES.get(answer.http_status, "Error"),
            status=answer.http_status,
            detail=answer.message,
            code=answer.code,
            instance=instance,
            retry_after=answer.retry_after,
        )

    # -- END FALLBACK

_TITLES = {
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


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
