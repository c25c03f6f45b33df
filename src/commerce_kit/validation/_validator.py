"""Validate each record of a feed against a schema: keep the good ones, explain the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast, overload

from pydantic import TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

from commerce_kit.validation._catalogue import ERROR_CODES, translate
from commerce_kit.validation._events import (
    LOGGER,
    MEMO_SIZE,
    Memo,
    RecordRejected,
    Scope,
    SecurityEvent,
    ValidationEvent,
    ValidationFinished,
    call_hooks,
    log_security_event,
)
from commerce_kit.validation._excerpt import excerpt
from commerce_kit.validation._product import Product
from commerce_kit.validation._record import SourceRecord
from commerce_kit.validation._record_error import RecordError
from commerce_kit.validation._report import RecordResult, ValidationReport
from commerce_kit.validation._security import DEFAULT_POLICY, SecurityPolicy

__all__ = ["Validator"]

ModelT = TypeVar("ModelT")

_Record = SourceRecord | Mapping[str, object]


def _is_product_model(model: object) -> bool:
    return isinstance(model, type) and issubclass(model, Product)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


class _Collector:
    """Receives one validation's security events: logs them, keeps a bounded list, counts."""

    __slots__ = ("count", "events", "hooks", "limit")

    def __init__(
        self, hooks: tuple[Callable[[ValidationEvent], None], ...], limit: int | None
    ) -> None:
        self.hooks = hooks
        self.limit = limit
        self.events: list[SecurityEvent] = []
        self.count = 0

    def __call__(self, event: SecurityEvent) -> None:
        self.count += 1
        if self.limit is None or len(self.events) < self.limit:
            self.events.append(event)
        log_security_event(event)
        if self.hooks:
            call_hooks(self.hooks, event)


class Validator(Generic[ModelT]):
    """Validates feed records against a schema: accepts the good ones, reports each error.

    A record is a :class:`~commerce_kit.feeds.FeedRecord` (or any other
    :class:`SourceRecord`: errors then name its line) or any mapping (numbered by position,
    without a line). Validation is partial: good records are
    accepted, bad ones rejected with every field error they contain, worded for the partner
    and coded for machines. Free text is sanitized and inspected by the security policy; every
    detection is logged on ``commerce_kit.security`` and, with ``mode="strict"``, rejects the
    record.

    Args:
        model: The schema, a pydantic model (or any type pydantic validates). Defaults to
            :class:`Product`. Build custom models from the field types of this module to get
            the same checks and wording.
        policy: What to do with text that looks like an attack; defaults to flagging only.
        max_errors: The most errors (and security events) a report keeps; the rest are
            counted. None keeps all.
        defaults: Values for fields a record leaves out or blank, such as
            ``{"currency": "USD"}`` for a feed without a currency column. With :class:`Product`
            a currency written in the price (``"15.00 EUR"``) wins over a default currency.
        hooks: Callables receiving each :class:`SecurityEvent`, :class:`RecordRejected` and
            :class:`ValidationFinished`; a hook that raises is logged and ignored.

    Raises:
        ValueError: If ``max_errors`` is negative.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Reads any :class:`SourceRecord`, not only a ``FeedRecord``; importing the validator no
       longer loads the feed parsers.
    """

    __slots__ = (
        "_defaults",
        "_hooks",
        "_max_errors",
        "_model_defaults",
        "_validate",
        "model",
        "policy",
    )

    @overload
    def __init__(
        self: Validator[Product],
        *,
        model: None = None,
        policy: SecurityPolicy | None = None,
        max_errors: int | None = 1000,
        defaults: Mapping[str, object] | None = None,
        hooks: Iterable[Callable[[ValidationEvent], None]] = (),
    ) -> None: ...

    @overload
    def __init__(
        self: Validator[ModelT],
        *,
        model: type[ModelT],
        policy: SecurityPolicy | None = None,
        max_errors: int | None = 1000,
        defaults: Mapping[str, object] | None = None,
        hooks: Iterable[Callable[[ValidationEvent], None]] = (),
    ) -> None: ...

    def __init__(
        self,
        *,
        model: type[Any] | None = None,
        policy: SecurityPolicy | None = None,
        max_errors: int | None = 1000,
        defaults: Mapping[str, object] | None = None,
        hooks: Iterable[Callable[[ValidationEvent], None]] = (),
    ) -> None:
        if max_errors is not None and max_errors < 0:
            raise ValueError(f"max_errors must be >= 0 or None, got {max_errors}")
        self.model: type[Any] = Product if model is None else model
        self.policy = DEFAULT_POLICY if policy is None else policy
        self._max_errors = max_errors
        self._hooks = tuple(hooks)
        self._defaults = {k: v for k, v in (defaults or {}).items() if not _is_blank(v)}
        # Product applies defaults itself, after reading a currency out of the price.
        self._model_defaults = _is_product_model(self.model)
        adapter = TypeAdapter(self.model)
        validator = adapter.validator
        # The core validator itself, without the adapter's wrapper around it; the adapter for a
        # model pydantic cannot build yet (it names a class defined later) or with plugins.
        self._validate: Callable[..., Any] = (
            validator.validate_python
            if isinstance(validator, SchemaValidator)
            else adapter.validate_python
        )

    def __repr__(self) -> str:
        name = getattr(self.model, "__name__", repr(self.model))
        return f"Validator(model={name}, policy={self.policy!r}, max_errors={self._max_errors})"

    def _scope(
        self,
        sink: Callable[[SecurityEvent], None],
        feed_id: str | None,
        partner_id: str | None,
        *,
        memo: bool = True,
    ) -> Scope:
        scope = Scope(
            self.policy,
            sink,
            feed_id=feed_id,
            partner_id=partner_id,
            memo=Memo(MEMO_SIZE) if memo else None,
        )
        if self._model_defaults:
            scope.defaults = self._defaults
        return scope

    def _check(
        self, item: object, position: int, scope: Scope
    ) -> tuple[int | None, int, Any, tuple[RecordError, ...]]:
        """Validate one record: ``(line, index, value or None, errors)``."""
        if type(item) is dict or isinstance(item, Mapping) or not hasattr(item, "data"):
            # A mapping, or something else pydantic will refuse as a record.
            return self._check_data(item, None, position, scope)
        record = cast("SourceRecord", item)
        line, index, error = record.line, record.index, record.error
        if error is not None:
            return line, index, None, (_unreadable(line, index, error),)
        return self._check_data(record.data, line, index, scope)

    def _check_data(
        self, data: object, line: int | None, index: int, scope: Scope
    ) -> tuple[int | None, int, Any, tuple[RecordError, ...]]:
        if self._defaults and not self._model_defaults and isinstance(data, Mapping):
            data = {**self._defaults, **{k: v for k, v in data.items() if not _is_blank(v)}}
        scope.line = line
        scope.index = index
        try:
            value = self._validate(data, context=scope)
        except ValidationError as exc:
            return line, index, None, _record_errors(exc, line, index)
        return line, index, value, ()

    def validate(
        self,
        records: Iterable[_Record],
        *,
        feed_id: str | None = None,
        partner_id: str | None = None,
    ) -> ValidationReport[ModelT]:
        """Validate every record and report the accepted values and every error.

        Args:
            records: Feed records (such as :func:`~commerce_kit.feeds.parse_feed` yields) or
                plain mappings.
            feed_id: An identifier of the feed, carried into security events and logs.
            partner_id: An identifier of the partner, carried into security events and logs.

        Returns:
            The report: accepted values in feed order, errors (at most ``max_errors``) and
            counts.
        """
        limit = self._max_errors
        hooks = self._hooks
        collector = _Collector(hooks, limit)
        scope = self._scope(collector, feed_id, partner_id)
        log_rejections = LOGGER.isEnabledFor(logging.INFO)
        accepted: list[ModelT] = []
        kept: list[RecordError] = []
        error_count = rejected = records_read = 0
        check = self._check
        for records_read, item in enumerate(records, 1):
            line, index, value, errors = check(item, records_read, scope)
            if not errors:
                accepted.append(value)
                continue
            rejected += 1
            error_count += len(errors)
            if limit is None or len(kept) < limit:
                kept.extend(errors if limit is None else errors[: limit - len(kept)])
                if log_rejections:
                    _log_rejection(line, index, errors, feed_id, partner_id)
            if hooks:
                call_hooks(hooks, RecordRejected(line, index, errors))
        report = ValidationReport(
            records=records_read,
            accepted=accepted,
            rejected=rejected,
            errors=kept,
            error_count=error_count,
            security_events=collector.events,
            security_event_count=collector.count,
        )
        LOGGER.info(
            "validated %d records: %d accepted, %d rejected, %d errors, %d security events",
            records_read,
            len(accepted),
            rejected,
            error_count,
            collector.count,
            extra={
                "records": records_read,
                "accepted": len(accepted),
                "rejected": rejected,
                "error_count": error_count,
                "security_event_count": collector.count,
                "feed_id": feed_id,
                "partner_id": partner_id,
            },
        )
        if hooks:
            call_hooks(
                hooks,
                ValidationFinished(
                    records_read,
                    len(accepted),
                    rejected,
                    error_count,
                    collector.count,
                    feed_id,
                    partner_id,
                ),
            )
        return report

    def iter_validate(
        self,
        records: Iterable[_Record],
        *,
        feed_id: str | None = None,
        partner_id: str | None = None,
    ) -> Iterator[RecordResult[ModelT]]:
        """Validate records one at a time, yielding each outcome as soon as it is known.

        Nothing is kept between records, so memory stays flat however long the feed: use it
        to store accepted records in batches while reading a large feed. Security events are
        logged and passed to the hooks as they happen (there is no report to hold them).

        Args:
            records: Feed records or plain mappings.
            feed_id: An identifier of the feed, carried into security events and logs.
            partner_id: An identifier of the partner, carried into security events and logs.

        Yields:
            One result per record, in feed order.
        """
        hooks = self._hooks
        collector = _Collector(hooks, 0)
        scope = self._scope(collector, feed_id, partner_id)
        for position, item in enumerate(records, 1):
            line, index, value, errors = self._check(item, position, scope)
            if errors and hooks:
                call_hooks(hooks, RecordRejected(line, index, errors))
            yield RecordResult(line, index, value, errors)

    def validate_one(
        self,
        data: Mapping[str, object],
        *,
        line: int | None = None,
        index: int = 1,
        feed_id: str | None = None,
        partner_id: str | None = None,
    ) -> RecordResult[ModelT]:
        """Validate a single record, such as the body of an API request.

        Args:
            data: The record's fields.
            line: The line the record came from, if any, for error messages.
            index: The record's position, for error messages when there is no line.
            feed_id: An identifier of the source, carried into security events.
            partner_id: An identifier of the partner, carried into security events.

        Returns:
            The validated value, or the errors that rejected the record.
        """
        collector = _Collector(self._hooks, 0)
        scope = self._scope(collector, feed_id, partner_id, memo=False)
        line, index, value, errors = self._check_data(data, line, index, scope)
        if errors and self._hooks:
            call_hooks(self._hooks, RecordRejected(line, index, errors))
        return RecordResult(line, index, value, errors)


def _unreadable(line: int | None, index: int, reason: str) -> RecordError:
    return RecordError(
        line,
        index,
        None,
        "record.unreadable",
        ERROR_CODES["record.unreadable"].format(reason=reason),
        None,
    )


def _record_errors(exc: ValidationError, line: int | None, index: int) -> tuple[RecordError, ...]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        code, rule = translate(error["type"], error["msg"], error.get("ctx"), at_root=not loc)
        value = None if error["type"] == "missing" else excerpt(error.get("input"))
        field = ".".join(str(part) for part in loc) if loc else None
        errors.append(RecordError(line, index, field, code, rule, value))
    return tuple(errors)


def _log_rejection(
    line: int | None,
    index: int,
    errors: tuple[RecordError, ...],
    feed_id: str | None,
    partner_id: str | None,
) -> None:
    LOGGER.info(
        "record rejected: %s",
        "; ".join(error.message for error in errors),
        extra={
            "line": line,
            "record_index": index,
            "codes": [error.code for error in errors],
            "fields": [error.field for error in errors],
            "feed_id": feed_id,
            "partner_id": partner_id,
        },
    )
