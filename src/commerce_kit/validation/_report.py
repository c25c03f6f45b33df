"""What a validation tells its caller: per-record errors and the report over a whole feed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from commerce_kit.validation._events import SecurityEvent
from commerce_kit.validation._record_error import RecordError

__all__ = ["RecordError", "RecordResult", "ValidationReport"]

ModelT = TypeVar("ModelT")


@dataclass(frozen=True, slots=True)
class RecordResult(Generic[ModelT]):
    """The outcome for one record: the validated value, or the errors that rejected it.

    Attributes:
        line: The feed line the record starts on, when known.
        index: The record's 1-based position in the feed.
        value: The validated model instance, or None when the record was rejected.
        errors: The record's errors; empty when it was accepted.

    .. versionadded:: 0.1.0
    """

    line: int | None
    index: int
    value: ModelT | None
    errors: tuple[RecordError, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the record was accepted."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class ValidationReport(Generic[ModelT]):
    """The outcome of validating a whole feed: the good records, and why the others failed.

    Attributes:
        records: How many records were read.
        accepted: The validated records, in feed order.
        rejected: How many records were rejected.
        errors: The errors, in feed order, at most ``max_errors`` of them.
        error_count: How many errors were found in all, including those not kept.
        security_events: The security events, in feed order, at most ``max_errors`` of them.
        security_event_count: How many security events were raised in all.

    .. versionadded:: 0.1.0
    """

    records: int
    accepted: list[ModelT]
    rejected: int
    errors: list[RecordError]
    error_count: int
    security_events: list[SecurityEvent] = field(default_factory=list)
    security_event_count: int = 0

    @property
    def ok(self) -> bool:
        """Whether every record was accepted."""
        return self.rejected == 0

    @property
    def errors_truncated(self) -> bool:
        """Whether errors were found beyond those kept in :attr:`errors`."""
        return self.error_count > len(self.errors)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary, as an API or a command line shows it.

        Returns:
            ``records``, ``accepted`` and ``rejected`` (counts), ``errors`` (each with ``line``,
            ``index``, ``field``, ``code``, ``rule``, ``message`` and ``value``),
            ``error_count``, ``errors_truncated``, ``security_events`` (each as
            :meth:`SecurityEvent.to_dict`) and ``security_event_count``.
        """
        return {
            "records": self.records,
            "accepted": len(self.accepted),
            "rejected": self.rejected,
            "errors": [error.to_dict() for error in self.errors],
            "error_count": self.error_count,
            "errors_truncated": self.errors_truncated,
            "security_events": [event.to_dict() for event in self.security_events],
            "security_event_count": self.security_event_count,
        }
