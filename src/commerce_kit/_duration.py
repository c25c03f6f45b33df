"""Normalising duration and count arguments once, at construction time."""

from __future__ import annotations

import math
from datetime import timedelta


def to_seconds(value: float | timedelta, *, name: str, allow_zero: bool = False) -> float:
    """Return ``value`` as float seconds, refusing negatives, NaN and infinity.

    Args:
        value: A number of seconds or a :class:`~datetime.timedelta`.
        name: The argument's name, used in the error message.
        allow_zero: Whether ``0`` is acceptable.

    Raises:
        TypeError: ``value`` is neither a number nor a timedelta.
        ValueError: ``value`` is negative, zero (unless allowed), NaN or infinite.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):  # type: ignore[redundant-expr]
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range
            seconds = math.inf
    else:
        msg = f"{name} must be a number of seconds or a timedelta, got {type(value).__name__}"
        raise TypeError(msg)
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{name} must be finite, got {seconds!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, got {seconds!r}")
    return seconds


def to_finite(value: object, *, name: str, minimum: float) -> float:
    """Return a number argument as a finite float of at least ``minimum``.

    Args:
        value: An int or a float (not a bool).
        name: The argument's name, used in the error message.
        minimum: The smallest value accepted.

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is below ``minimum``, NaN, infinite or beyond the float range.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        number = math.inf
    if not (math.isfinite(number) and number >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {number!r}")
    return number


def positive_int(value: object, name: str, maximum: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` from 1 to ``maximum``; raise otherwise.

    Args:
        value: The argument as given.
        name: The argument's name, used in the error message.
        maximum: The largest value accepted, if any.

    Raises:
        TypeError: ``value`` is not an ``int`` (a ``bool`` is refused too).
        ValueError: ``value`` is below 1 or above ``maximum``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return value
