"""RFC 9457 problem documents for any failure, ready for any web framework."""

from __future__ import annotations

from dataclasses import dataclass

from commerce_kit.http._catalogue import (
    known_delay,
    retry_after_headers,
    title_for,
    user_message_for,
)

__all__ = ["MEDIA_TYPE", "PROBLEM_TYPE_BASE", "Problem", "problem_for"]

#: The media type of a problem document (RFC 9457 section 3), for the ``Content-Type`` header.
MEDIA_TYPE = "application/problem+json"

#: Where the ``type`` URIs of commerce_kit's problems start: the code follows, with hyphens.
PROBLEM_TYPE_BASE = "https://commerce-kit.dev/problems/"


def problem_type(code: str) -> str:
    """Return the stable ``type`` URI of ``code``: ``rate_limited`` reads ``.../rate-limited``."""
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in code.lower())
    return PROBLEM_TYPE_BASE + (slug or "error")


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem document: what went wrong, in words safe to show anyone.

    Build one with :func:`problem_for`; send :meth:`as_dict` as the JSON body with
    ``Content-Type:`` :data:`MEDIA_TYPE`, the :attr:`status` and the :attr:`headers`.

    Attributes:
        type: A stable URI naming the kind of problem, one per ``code``, such as
            ``"https://commerce-kit.dev/problems/rate-limited"``.
        title: The standard HTTP reason phrase of :attr:`status`, such as
            ``"Too Many Requests"``.
        status: The HTTP status code.
        detail: The plain-language sentence for the end user; never technical detail.
        code: The error's stable machine-readable code, such as ``"rate_limited"``.
        instance: A URI naming this occurrence (the request path, a trace id), if given.
        retry_after: Seconds after which trying again may succeed, when known. Infinity or NaN
            read as unknown.

    .. versionadded:: 0.2.0
    """

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Headers to send with the response, with ``Retry-After`` (whole seconds) when known.

        The delay is rounded up and at least 1 (see :func:`format_retry_after`).
        """
        return retry_after_headers(self.retry_after)

    def as_dict(self) -> dict[str, object]:
        """Return the JSON-ready body.

        The keys are ``type``, ``title``, ``status``, ``detail`` and ``code``, then
        ``instance`` and ``retry_after`` when they are set. The result always serialises as
        valid JSON: an unknown delay (infinite, NaN) leaves ``retry_after`` out.
        """
        body: dict[str, object] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.instance is not None:
            body["instance"] = self.instance
        delay = known_delay(self.retry_after)
        if delay is not None:
            body["retry_after"] = delay
        return body


def problem_for(error: BaseException, *, instance: str | None = None) -> Problem:
    """Return the RFC 9457 problem document that answers ``error``.

    Any :class:`~commerce_kit.CommerceKitError` answers with its ``code``, its status and the
    user sentence of the catalogue (see :func:`user_message_for`); a builtin
    :class:`TimeoutError` or :class:`ConnectionError` reads as 503 service unavailable;
    anything else as 500 with a generic sentence. The exception's own text never reaches the
    document: log it.

    The ``type`` URI is :data:`PROBLEM_TYPE_BASE` followed by the code with hyphens for
    underscores (``rate_limited`` reads ``https://commerce-kit.dev/problems/rate-limited``);
    it names the kind of problem and never changes for a code.

    Args:
        error: The exception that ended the request.
        instance: A URI naming this occurrence, such as the request path.

    Returns:
        The problem, with ``retry_after`` when the error carries a finite one.

    Example:
        >>> from commerce_kit import RateLimitExceeded
        >>> from commerce_kit.http import problem_for
        >>> problem = problem_for(RateLimitExceeded("user:7 over 5/60s", retry_after=41.2))
        >>> problem.status, problem.title, problem.headers
        (429, 'Too Many Requests', {'Retry-After': '42'})
        >>> problem.type
        'https://commerce-kit.dev/problems/rate-limited'

    .. versionadded:: 0.2.0
    """
    answer = user_message_for(error)
    return Problem(
        type=problem_type(answer.code),
        title=title_for(answer.http_status),
        status=answer.http_status,
        detail=answer.message,
        code=answer.code,
        instance=instance,
        retry_after=answer.retry_after,
    )
