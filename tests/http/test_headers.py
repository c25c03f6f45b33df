"""``Retry-After`` values: whole seconds, rounded up, at least one, and hostile input refused."""

from __future__ import annotations

import math

import pytest

from commerce_kit.http import format_retry_after


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(41.2, "42"), (0.05, "1"), (0, "1"), (60.0, "60"), (60.0000000001, "60"), (7, "7")],
)
def test_rounds_up_to_whole_seconds_and_at_least_one(seconds: float, expected: str) -> None:
    assert expected == format_retry_after(seconds)


@pytest.mark.parametrize("seconds", [-1.0, math.inf, math.nan, -math.inf, 10**400, -(10**400)])
def test_what_is_not_a_finite_duration_is_a_value_error(seconds: float) -> None:
    with pytest.raises(ValueError, match="finite and >= 0"):
        format_retry_after(seconds)


@pytest.mark.parametrize("seconds", [True, "5", None])
def test_what_is_not_a_number_is_a_type_error(seconds: object) -> None:
    with pytest.raises(TypeError, match="must be a number"):
        format_retry_after(seconds)  # type: ignore[arg-type]
