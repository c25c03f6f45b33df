"""Money as the API shows it: decimal strings from integer minor units."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["from_cents", "to_cents"]


def from_cents(cents: int) -> Decimal:
    """Return ``cents`` as a Decimal with two places (``1900`` -> ``Decimal("19.00")``)."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def to_cents(amount: Decimal) -> int:
    """Return ``amount`` in cents; it must have at most two decimal places.

    Raises:
        ValueError: ``amount`` is not finite, not positive, or has more than two places.
    """
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"the price must be a positive amount, got {amount}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"the price must have at most two decimal places, got {amount}")
    return int(cents)
