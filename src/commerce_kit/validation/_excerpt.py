"""Short, printable excerpts of received values, safe for error messages and logs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sized
from decimal import Decimal

#: Characters of a received value kept in an excerpt; the rest is cut and marked with "…".
EXCERPT_LIMIT = 40

# Control characters, bidirectional controls, line/paragraph separators and lone surrogates are
# shown as escapes, so an excerpt can neither break a log line nor reorder the text around it.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def excerpt(value: object, limit: int = EXCERPT_LIMIT) -> str | None:
    """Return a bounded, printable excerpt of ``value``, or None when nothing was received.

    Args:
        value: What a feed supplied for a field.
        limit: The most characters of the value to keep.

    Returns:
        The excerpt: text is cut to ``limit`` characters (marked with "…") and its control,
        bidirectional and surrogate characters are shown as escapes; numbers are shown as
        written; containers are summarised by their size, never expanded.

    .. versionadded:: 0.1.0
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float, Decimal)):
        text = str(value)
    elif isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value[: limit + 1]))
    elif isinstance(value, Mapping):
        text = f"<mapping of {len(value)} fields>"
    elif isinstance(value, Sized):
        text = f"<{type(value).__name__} of {len(value)} items>"
    else:
        text = f"<{type(value).__name__}>"
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    text = _UNPRINTABLE.sub(_escape, text)
    return text + "…" if cut else text
