"""Short, printable excerpts of received values, safe for error messages and logs."""

from __future__ import annotations

import math
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


# Integers up to this many bits are converted to text (at most 3,011 digits, under the interpreter's
# default limit of 4,300 and fast to convert); longer ones are summarised, since converting them
# costs time quadratic in their length and may exceed the limit.
_INT_BITS = 10_000
_LOG10_2 = math.log10(2)


def _int_text(value: int) -> str:
    bits = value.bit_length()
    if bits <= _INT_BITS:
        try:
            return str(value)
        except ValueError:  # sys.set_int_max_str_digits lowered below these few digits
            pass
    # The number of digits is floor(log10(|value|)) + 1, within one of this estimate.
    return f"<int of about {int(bits * _LOG10_2) + 1} digits>"


def excerpt(value: object, limit: int = EXCERPT_LIMIT) -> str | None:
    """Return a bounded, printable excerpt of ``value``, or None when nothing was received.

    Args:
        value: What a feed supplied for a field.
        limit: The most characters of the value to keep.

    Returns:
        The excerpt: text is cut to ``limit`` characters (marked with "…") and its control,
        bidirectional and surrogate characters are shown as escapes; numbers are shown as
        written, except integers too long to convert to text, summarised by their number of
        digits; containers are summarised by their size, never expanded.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       An integer too long to convert to text is summarised instead of raising ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = _int_text(value)
    elif isinstance(value, (bool, float, Decimal)):
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
