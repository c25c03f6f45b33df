"""HTTP header values for throttled responses: ``Retry-After`` and the IETF ``RateLimit`` fields.

Framework-agnostic: every helper returns plain strings (or a ``dict[str, str]``) that any web
framework can put on a response. Standard library only and importing nothing of commerce_kit, so
the rate limiter uses it without loading :mod:`commerce_kit.http`, where users import
:func:`format_retry_after` from.

The ``RateLimit`` and ``RateLimit-Policy`` fields follow the IETF httpapi working group draft
*RateLimit header fields for HTTP* (draft-ietf-httpapi-ratelimit-headers): both are Structured
Field lists with one member per policy, for example::

    RateLimit-Policy: "minute";q=5;w=60, "day";q=100;w=86400
    RateLimit: "minute";r=0;t=42, "day";r=93;t=80001
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["format_retry_after"]

# Float noise below a microsecond must not turn "60 seconds" into "61 seconds".
_NOISE = 1e-6


def seconds_up(seconds: float) -> int:
    """Return ``seconds`` rounded up to whole seconds, ignoring sub-microsecond float noise.

    Args:
        seconds: A non-negative duration.

    Returns:
        The smallest whole number of seconds that is not shorter than ``seconds`` (``0`` for
        ``0``).
    """
    whole = math.ceil(seconds - _NOISE)
    return max(0, whole)


def format_retry_after(seconds: float) -> str:
    """Return a ``Retry-After`` header value: delay-seconds, rounded up, at least 1.

    RFC 9110 section 10.2.3 allows only a whole, non-negative number of seconds (or an HTTP date).
    Rounding up means a client that honours the header never comes back too early; the minimum of
    1 keeps a client that was refused from retrying in a tight loop.

    Args:
        seconds: How long the client should wait, in seconds.

    Returns:
        The header value, such as ``"42"``.

    Raises:
        TypeError: ``seconds`` is not a number (a ``bool`` is not one).
        ValueError: ``seconds`` is negative, NaN or infinite (or an ``int`` past the float range).

    Example:
        >>> from commerce_kit.http import format_retry_after
        >>> format_retry_after(41.2), format_retry_after(0.05), format_retry_after(60.0)
        ('42', '1', '60')

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Moved from ``commerce_kit`` to :mod:`commerce_kit.http`. An ``int`` past the float range
       raises :class:`ValueError` (was :class:`OverflowError`); a non-number :class:`TypeError`.
    """
    checked: object = seconds
    if isinstance(checked, bool) or not isinstance(checked, (int, float)):
        raise TypeError(f"seconds must be a number, got {type(checked).__name__}")
    try:
        value = float(seconds)
    except OverflowError:  # an int past the float range: as good as infinite
        value = math.inf
    if not (0.0 <= value < math.inf):
        raise ValueError(f"seconds must be finite and >= 0, got {value!r}")
    return str(max(1, seconds_up(value)))


def _sf_string(value: str) -> str:
    """Serialise ``value`` as a Structured Field string (RFC 8941 section 3.3.3)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rate_limit_headers(
    parts: Iterable[tuple[str, int, float, int, float]],
    *,
    retry_after: float | None = None,
    legacy: tuple[int, int, float] | None = None,
) -> dict[str, str]:
    """Build the rate-limit response headers for one or more policies.

    Most callers use :meth:`commerce_kit.RateLimitDecision.headers`, which calls this.

    Args:
        parts: One ``(name, quota, window_seconds, remaining, reset_after_seconds)`` tuple per
            policy. ``w`` and ``t`` are rounded up to whole seconds.
        retry_after: Seconds until the request may be retried; when given, a ``Retry-After``
            field is added. Pass it only for refused requests.
        legacy: ``(quota, remaining, reset_after_seconds)`` of the most restrictive policy, to
            add ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.
            ``X-RateLimit-Reset`` is delta-seconds, as in the early drafts, not an epoch
            timestamp.

    Returns:
        A new ``dict`` of header names to values.
    """
    policies: list[str] = []
    states: list[str] = []
    for name, quota, window, remaining, reset_after in parts:
        label = _sf_string(name)
        policies.append(f"{label};q={quota};w={seconds_up(window)}")
        states.append(f"{label};r={remaining};t={seconds_up(reset_after)}")
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = format_retry_after(retry_after)
    headers["RateLimit-Policy"] = ", ".join(policies)
    headers["RateLimit"] = ", ".join(states)
    if legacy is not None:
        quota, remaining, reset_after = legacy
        headers["X-RateLimit-Limit"] = str(quota)
        headers["X-RateLimit-Remaining"] = str(remaining)
        headers["X-RateLimit-Reset"] = str(seconds_up(reset_after))
    return headers
