"""Events a validation emits, how they are logged, and the context field validators report to."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from commerce_kit._hooks import emit
from commerce_kit.validation._security import DEFAULT_POLICY, SecurityPolicy, Threat, ThreatCategory

if TYPE_CHECKING:
    from commerce_kit.validation._record_error import RecordError

SECURITY_LOGGER = logging.getLogger("commerce_kit.security")
LOGGER = logging.getLogger("commerce_kit.validation")


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """A field looked like an attack: what, where, and whether the record was refused for it.

    Every event is logged as a warning on the ``commerce_kit.security`` logger, with each
    attribute below in the record's ``extra`` fields (``excerpt`` is short and escaped, never
    the whole payload).

    Attributes:
        category: SQL injection or XSS.
        rule: The detection rule that matched, such as ``"sql.union_select"``.
        field: The field holding the text (None when validated outside a model).
        excerpt: A short, escaped excerpt of the matching text.
        rejected: Whether the field was rejected for it (strict mode, or a strict field such
            as ``sku`` or ``url`` that refused the value anyway).
        line: The feed line the record starts on, when known.
        index: The record's 1-based position in the feed, when known.
        feed_id: The feed's identifier given to :meth:`Validator.validate`, if any.
        partner_id: The partner's identifier given to :meth:`Validator.validate`, if any.

    .. versionadded:: 0.1.0
    """

    category: ThreatCategory
    rule: str
    field: str | None
    excerpt: str
    rejected: bool
    line: int | None = None
    index: int | None = None
    feed_id: str | None = None
    partner_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the event as JSON-ready data.

        Returns:
            The attributes, with ``category`` as its string value.
        """
        return {
            "category": self.category.value,
            "rule": self.rule,
            "field": self.field,
            "excerpt": self.excerpt,
            "rejected": self.rejected,
            "line": self.line,
            "index": self.index,
            "feed_id": self.feed_id,
            "partner_id": self.partner_id,
        }


@dataclass(frozen=True, slots=True)
class RecordRejected:
    """A record failed validation.

    Attributes:
        line: The feed line the record starts on, when known.
        index: The record's 1-based position in the feed.
        errors: Every error found in the record.

    .. versionadded:: 0.1.0
    """

    line: int | None
    index: int
    errors: tuple[RecordError, ...]


@dataclass(frozen=True, slots=True)
class ValidationFinished:
    """A call to :meth:`Validator.validate` went through its whole feed.

    Attributes:
        records: How many records were read.
        accepted: How many passed validation.
        rejected: How many failed.
        error_count: How many errors were found (including those beyond ``max_errors``).
        security_events: How many security events were raised.
        feed_id: The feed's identifier, if given.
        partner_id: The partner's identifier, if given.

    .. versionadded:: 0.1.0
    """

    records: int
    accepted: int
    rejected: int
    error_count: int
    security_events: int
    feed_id: str | None = None
    partner_id: str | None = None


#: Any event a :class:`Validator` passes to its hooks.
ValidationEvent: TypeAlias = SecurityEvent | RecordRejected | ValidationFinished


def log_security_event(event: SecurityEvent) -> None:
    """Log ``event`` as a warning on ``commerce_kit.security`` with structured ``extra`` fields."""
    SECURITY_LOGGER.warning(
        "security event: %s (%s) in field %r, line %s, record %s: %s",
        event.category.value,
        event.rule,
        event.field,
        event.line,
        event.index,
        "rejected" if event.rejected else "flagged",
        extra={
            "security_category": event.category.value,
            "security_rule": event.rule,
            "field": event.field,
            "excerpt": event.excerpt,
            "action": "rejected" if event.rejected else "flagged",
            "line": event.line,
            "record_index": event.index,
            "feed_id": event.feed_id,
            "partner_id": event.partner_id,
        },
    )


def call_hooks(
    hooks: tuple[Callable[[ValidationEvent], None], ...], event: ValidationEvent
) -> None:
    """Pass ``event`` to every hook; a hook that raises is logged and the others still run."""
    emit(hooks, event, LOGGER)


class Memo:
    """A bounded map that forgets its least recently used entry first.

    A validation remembers the outcome of long texts in one (feeds repeat descriptions across
    the variants of a product); the bound keeps memory flat however long the feed.
    """

    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The value stored under ``key``, now the most recently used, or None."""
        entries = self._entries
        value = entries.get(key)
        if value is not None:
            entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: object) -> None:
        """Store ``value`` under ``key`` (not present), forgetting the oldest entry if full."""
        entries = self._entries
        if len(entries) >= self.size:
            entries.popitem(last=False)
        entries[key] = value


#: How many texts one validation remembers (see :class:`Memo`).
MEMO_SIZE = 128


class Scope:
    """The context one validation passes to its field validators (through pydantic).

    It carries the security policy, where in the feed the current record is, where security
    events go, default field values for models that apply them themselves, and the memo of
    text outcomes, when the validation keeps one. A field validator called without a scope (a
    model built directly) uses the default policy and only logs its events.
    """

    __slots__ = ("defaults", "feed_id", "index", "line", "memo", "partner_id", "policy", "sink")

    def __init__(
        self,
        policy: SecurityPolicy,
        sink: Callable[[SecurityEvent], None],
        *,
        feed_id: str | None = None,
        partner_id: str | None = None,
        memo: Memo | None = None,
    ) -> None:
        self.policy = policy
        self.sink = sink
        self.feed_id = feed_id
        self.partner_id = partner_id
        self.line: int | None = None
        self.index: int | None = None
        self.defaults: Mapping[str, object] = {}
        self.memo = memo


def policy_of(context: object) -> SecurityPolicy:
    """The security policy a field validator applies under ``context``."""
    return context.policy if isinstance(context, Scope) else DEFAULT_POLICY


def note_threats(
    context: object, field: str | None, threats: Iterable[Threat], *, rejected: bool
) -> None:
    """Turn detections in ``field`` into security events, sent to the scope or logged."""
    scope = context if isinstance(context, Scope) else None
    for threat in threats:
        event = SecurityEvent(
            threat.category,
            threat.rule,
            field,
            threat.excerpt,
            rejected,
            scope.line if scope else None,
            scope.index if scope else None,
            scope.feed_id if scope else None,
            scope.partner_id if scope else None,
        )
        if scope is None:
            log_security_event(event)
        else:
            scope.sink(event)
