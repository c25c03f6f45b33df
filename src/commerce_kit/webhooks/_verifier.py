"""What the Standard Webhooks and Stripe verifiers share: headers, the clock check, the guard."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, NoReturn

from commerce_kit._duration import to_seconds
from commerce_kit._errors import WebhookVerificationError
from commerce_kit._types import Clock
from commerce_kit.webhooks._events import (
    FailureReason,
    WebhookHook,
    WebhookRejected,
    WebhookVerified,
    emit,
)
from commerce_kit.webhooks._replay import MemoryReplayStore, ReplayStore

DEFAULT_TOLERANCE = 300.0
#: Seconds an accepted id is kept beyond the last instant its timestamp could pass the check.
REPLAY_MARGIN = 60.0
# Unix seconds fit in 11 digits until the year 5138; a longer header is refused before int()
# so a hostile value costs nothing to parse.
_MAX_TIMESTAMP_DIGITS = 12


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return the header called ``name`` (lower case) from any mapping, ignoring key case."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def secrets_of(secret: str | bytes | Sequence[str | bytes]) -> list[str | bytes]:
    """Return one secret, or a sequence of them, as a non-empty list."""
    if isinstance(secret, (str, bytes, bytearray)):
        return [secret]
    if not isinstance(secret, Iterable):
        raise TypeError(f"a webhook secret is str or bytes, got {type(secret).__name__}")
    many = list(secret)
    if not many:
        raise ValueError("at least one secret is needed")
    return many


def payload_bytes(payload: str | bytes) -> bytes:
    """Return a payload as bytes: a str becomes its UTF-8.

    Raises:
        WebhookVerificationError: ``payload`` is a str holding a lone surrogate, which UTF-8
            cannot carry (reason :attr:`FailureReason.INVALID_PAYLOAD`). Signing and verifying
            both refuse it, so neither signs bytes the other would never see.
    """
    if not isinstance(payload, str):
        return payload
    try:
        return payload.encode()
    except UnicodeEncodeError as error:
        raise WebhookVerificationError(
            f"the payload str holds a lone surrogate (U+{ord(payload[error.start]):04X} at index "
            f"{error.start}), which UTF-8 cannot encode: pass the body as the bytes received",
            reason=FailureReason.INVALID_PAYLOAD,
        ) from None


def parse_timestamp(raw: str) -> int | None:
    """Return the integer Unix seconds in ``raw``, or ``None`` if it is not plain ASCII digits."""
    if 0 < len(raw) <= _MAX_TIMESTAMP_DIGITS and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def signing_timestamp(value: int | datetime | None, clock: Clock) -> int:
    """Return the Unix seconds to sign: ``value``, or the clock's reading when it is ``None``.

    An aware :class:`~datetime.datetime` is taken as its Unix time, rounded down to whole
    seconds, as the reference implementation does.

    Raises:
        TypeError: ``value`` is neither an int nor a datetime.
        ValueError: ``value`` is negative (before 1970), or a naive datetime, whose instant
            depends on the machine's time zone.
    """
    if value is None:
        return int(clock())
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(
                f"timestamp must be an aware datetime (with a tzinfo, such as "
                f"datetime.now(timezone.utc)), got the naive {value.isoformat()!r}"
            )
        value = math.floor(value.timestamp())
    elif isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            "timestamp must be an int of Unix seconds or an aware datetime, "
            f"got {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(f"timestamp must be >= 0 (not before 1970), got {value!r}")
    return value


class Verifier:
    """The checks every scheme runs around its signature comparison."""

    __slots__ = ("_clock", "_guard", "_hooks", "_tolerance")

    scheme = ""

    def __init__(
        self,
        *,
        tolerance: float | timedelta | None,
        clock: Clock,
        replay_store: ReplayStore | Literal["memory"] | None,
        hooks: Iterable[WebhookHook],
    ) -> None:
        self._tolerance = None if tolerance is None else to_seconds(tolerance, name="tolerance")
        self._clock = clock
        if isinstance(replay_store, str) and replay_store != "memory":
            raise ValueError(
                f"replay_store must be a ReplayStore, 'memory' or None, got {replay_store!r}"
            )
        # The store, with the tolerance that bounds how long it must remember.
        self._guard: tuple[ReplayStore, float] | None = None
        if self._tolerance is not None:
            if replay_store == "memory":
                replay_store = MemoryReplayStore(clock=clock)
            if replay_store is not None:
                self._guard = (replay_store, self._tolerance)
        elif replay_store is not None and replay_store != "memory":
            # Without a tolerance a replay is never too old: nothing finite to remember.
            raise ValueError("a replay store needs a tolerance: replays are refused only within it")
        self._hooks = tuple(hooks)

    @property
    def tolerance(self) -> float | None:
        """How far, in seconds, a timestamp may be from now either way (``None``: no check)."""
        return self._tolerance

    @property
    def replay_store(self) -> ReplayStore | None:
        """Where accepted deliveries are remembered, or ``None`` when the guard is off."""
        return None if self._guard is None else self._guard[0]

    def _body(self, payload: str | bytes, msg_id: str | None) -> bytes:
        """Return the payload as bytes, refusing (and reporting) a str UTF-8 cannot encode."""
        try:
            return payload_bytes(payload)
        except WebhookVerificationError as error:
            self._reject(FailureReason.INVALID_PAYLOAD, str(error), msg_id)

    def _reject(self, reason: FailureReason, message: str, msg_id: str | None) -> NoReturn:
        if self._hooks:
            emit(self._hooks, WebhookRejected(self.scheme, reason, msg_id))
        raise WebhookVerificationError(message, reason=reason)

    def _check_time(self, raw: str | None, msg_id: str | None) -> int:
        """Parse the timestamp header and hold it against the clock, read once."""
        timestamp = None if raw is None else parse_timestamp(raw)
        if timestamp is None:
            self._reject(
                FailureReason.INVALID_TIMESTAMP,
                f"timestamp {clip(raw)} is not an integer of Unix seconds",
                msg_id,
            )
        tolerance = self._tolerance
        if tolerance is not None:
            age = self._clock() - timestamp
            if age > tolerance:
                self._reject(
                    FailureReason.TIMESTAMP_TOO_OLD,
                    f"timestamp {timestamp} is {age:.0f}s old, over the {tolerance:g}s tolerance",
                    msg_id,
                )
            if -age > tolerance:
                self._reject(
                    FailureReason.TIMESTAMP_TOO_NEW,
                    f"timestamp {timestamp} is {-age:.0f}s ahead, over the {tolerance:g}s "
                    "tolerance",
                    msg_id,
                )
        return timestamp

    def _accept(self, key: str, timestamp: int, msg_id: str | None) -> None:
        """Refuse a replay of this authentic delivery, else report it verified."""
        guard = self._guard
        if guard is not None:
            store, tolerance = guard
            # The store reads its own clock, a moment after the check above (or another
            # process's clock, for a shared store): keeping the id a margin past the last instant
            # the timestamp could pass means no reading in between can let a replay through.
            if store.seen_or_add(key, timestamp + tolerance + REPLAY_MARGIN):
                self._reject(
                    FailureReason.REPLAYED,
                    f"delivery {clip(msg_id or key)} was already accepted",
                    msg_id,
                )
        if self._hooks:
            emit(self._hooks, WebhookVerified(self.scheme, msg_id, timestamp))


def clip(text: str | None, limit: int = 64) -> str:
    """Quote untrusted header text for a log message, cut to ``limit`` characters."""
    if text is None:
        return "(absent)"
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
