"""Never executed: mypy checks that the HTTP answers read well from a user's side."""

from __future__ import annotations

import json
from collections.abc import Mapping

from commerce_kit import RateLimitExceeded
from commerce_kit.http import (
    HTTP_STATUS,
    MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    Problem,
    UserMessage,
    format_retry_after,
    problem_for,
    user_message_for,
)

# A web handler turns whatever ended the request into a problem document.
try:
    raise RateLimitExceeded("user:7 over 5/60s", retry_after=41.2)
except Exception as error:
    problem: Problem = problem_for(error, instance="/flash/checkout")
    status: int = problem.status
    headers: dict[str, str] = {"Content-Type": MEDIA_TYPE, **problem.headers}
    body: str = json.dumps(problem.as_dict(), allow_nan=False)
    kind: str = problem.type
    same_scheme: bool = kind.startswith(PROBLEM_TYPE_BASE)
    delay: float | None = problem.retry_after

    answer: UserMessage = user_message_for(error)
    sentence: str = answer.message
    code: str = answer.code

statuses: Mapping[type[BaseException], int] = HTTP_STATUS
header_value: str = format_retry_after(41.2)
