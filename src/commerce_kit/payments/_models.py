"""Payment values: what a checkout asks of a provider, and what the provider answers.

Money is always :class:`~decimal.Decimal` (never float) paired with an ISO 4217 currency code; an
amount may not carry more decimal places than its currency has minor units (cents, fils, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import cast

__all__ = [
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "RefundResult",
    "minor_units",
]

# Active ISO 4217 currency codes and their minor units (the number of decimal places an amount
# may carry). Precious metals, testing and accounting codes (XAU, XTS, XDR, ...) are left out:
# nobody pays for an order in them.
_CODES_BY_MINOR_UNITS = {
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
        "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
        "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
        "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
        "VES WST XCD XCG YER ZAR ZMW ZWG"
    ),
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}
_MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {code: places for places, codes in _CODES_BY_MINOR_UNITS.items() for code in codes.split()}
)

#: The longest idempotency key accepted; providers commonly cap keys at 255 characters.
_MAX_KEY_LENGTH = 255


def minor_units(currency: str) -> int:
    """Return how many decimal places amounts in ``currency`` may carry (2 for EUR, 0 for JPY).

    Args:
        currency: An ISO 4217 alphabetic code in upper case, such as ``"EUR"``.

    Returns:
        The currency's number of minor units.

    Raises:
        ValueError: ``currency`` is not an active ISO 4217 currency code.

    .. versionadded:: 0.1.0
    """
    try:
        return _MINOR_UNITS[currency]
    except (KeyError, TypeError):
        raise ValueError(
            f"currency must be an ISO 4217 code in upper case such as 'EUR', got {currency!r}"
        ) from None


def check_amount(amount: object, currency: str | None, *, name: str = "amount") -> None:
    """Refuse an amount that is not a positive, finite Decimal exact to ``currency``'s minor units.

    With ``currency=None`` only the type and the sign are checked.

    Raises:
        TypeError: ``amount`` is not a Decimal (floats cannot hold money exactly).
        ValueError: ``amount`` is not finite, not positive, or too precise for ``currency``.
    """
    if not isinstance(amount, Decimal):
        kind = type(amount).__name__
        raise TypeError(f"{name} must be a decimal.Decimal such as Decimal('19.99'), got {kind}")
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{name} must be a finite amount greater than zero, got {amount}")
    if currency is None:
        return
    places = minor_units(currency)
    # A finite Decimal's exponent is an int; the cast only narrows the type for the checker.
    exponent = cast("int", amount.normalize().as_tuple().exponent)
    if -exponent > places:
        raise ValueError(
            f"{name} {amount} has more decimal places than {currency} allows ({places})"
        )


def check_refund(payment_id: object, amount: object, idempotency_key: object) -> None:
    """Refuse a refund's arguments before anything is sent to a provider.

    Raises:
        TypeError: ``amount`` is not a Decimal.
        ValueError: ``amount`` is not a positive finite amount, or ``payment_id`` or
            ``idempotency_key`` is empty (or the key is longer than providers accept).
    """
    _check_text(payment_id, "payment_id")
    check_amount(amount, None)
    _check_text(idempotency_key, "idempotency_key", limit=_MAX_KEY_LENGTH)


def _check_text(value: object, name: str, *, limit: int | None = None) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{name} must be at most {limit} characters, got {len(value)}")


def _new_idempotency_key() -> str:
    # uuid pulls in `platform`; payments load lazily, but there is no need to pay for it earlier
    # than the first request either.
    import uuid  # noqa: PLC0415

    return str(uuid.uuid4())


class PaymentStatus(Enum):
    """Where a successful charge stands; a declined charge raises instead of returning a status.

    .. versionadded:: 0.1.0
    """

    #: The money is captured.
    SUCCEEDED = "succeeded"
    #: The provider accepted the charge but settles it later (a crypto transfer awaiting
    #: confirmations, a bank transfer); the order should wait for the provider's notification.
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One charge a checkout asks a payment method to make, validated on construction.

    The same request (and so the same :attr:`idempotency_key`) is sent on every retry, so a
    provider that deduplicates by key never charges twice.

    Attributes:
        amount: How much to charge, a positive :class:`~decimal.Decimal` with no more decimal
            places than the currency has minor units.
        currency: The ISO 4217 code in upper case, such as ``"EUR"``.
        order_id: The merchant's order this charge pays for.
        source: The payment instrument as the provider knows it: a card or wallet token, a
            payer account, a crypto address. It is kept out of ``repr()`` and never logged.
        customer: The merchant's customer identifier, if any.
        reference: A free-text reference, such as a statement descriptor.
        metadata: String key/value pairs passed through to the provider; stored read-only.
        idempotency_key: Deduplicates the charge at the provider; a fresh UUID4 string unless
            given (at most 255 characters).

    Raises:
        TypeError: ``amount`` is not a Decimal, or ``metadata`` holds a non-string.
        ValueError: The amount is not positive or too precise for the currency, the currency is
            not an ISO 4217 code, or a required string is empty.

    .. versionadded:: 0.1.0
    """

    amount: Decimal
    currency: str
    order_id: str
    source: str | None = field(default=None, repr=False)
    customer: str | None = None
    reference: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)
    idempotency_key: str = field(default_factory=_new_idempotency_key)

    def __post_init__(self) -> None:
        check_amount(self.amount, self.currency)
        _check_text(self.order_id, "order_id")
        _check_text(self.idempotency_key, "idempotency_key", limit=_MAX_KEY_LENGTH)
        for key, value in self.metadata.items():
            # Checked at run time too: callers without a type checker pass ints and None.
            if not isinstance(key, str) or not isinstance(value, str):  # type: ignore[redundant-expr]
                raise TypeError(f"metadata keys and values must be strings, got {key!r}: {value!r}")
        # A private copy, read-only: the caller's dict may change after the request is built.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """What a payment method answers to a successful (or accepted) charge.

    Attributes:
        payment_id: The provider's identifier of the payment; pass it to ``refund``.
        status: Whether the money is captured or settles later.
        amount: The amount charged.
        currency: The ISO 4217 code of :attr:`amount`.
        method: The name of the payment method that charged.
        idempotency_key: The key the charge was made under.
        order_id: The merchant's order the charge pays for.
        provider_reference: The provider's own reference (an authorisation code, a transaction
            hash), for reconciliation.

    .. versionadded:: 0.1.0
    """

    payment_id: str
    status: PaymentStatus
    amount: Decimal
    currency: str
    method: str
    idempotency_key: str
    order_id: str
    provider_reference: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    """What a payment method answers to a successful refund.

    Attributes:
        refund_id: The provider's identifier of the refund.
        payment_id: The payment the money was returned from.
        amount: The amount refunded by this refund.
        currency: The ISO 4217 code of :attr:`amount`.
        method: The name of the payment method that refunded.
        idempotency_key: The key the refund was made under.
        provider_reference: The provider's own reference, for reconciliation.

    .. versionadded:: 0.1.0
    """

    refund_id: str
    payment_id: str
    amount: Decimal
    currency: str
    method: str
    idempotency_key: str
    provider_reference: str
