"""One rule one field of one record broke: the error a validation reports, line by line."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RecordError"]


@dataclass(frozen=True, slots=True)
class RecordError:
    """One rule one field of one record broke, worded for the partner who sent it.

    Attributes:
        line: The feed line the record starts on, or None when the source has no lines.
        index: The record's 1-based position in the feed.
        field: The field, dotted for nested fields (``"variants.0.price"``), or None when the
            error is about the whole record.
        code: A stable, machine-readable code such as ``"price.not_positive"`` (see
            :data:`~commerce_kit.validation.ERROR_CODES`).
        rule: The rule in plain words, such as ``"must be greater than 0"``.
        value: A short, escaped excerpt of the value received, or None when there was none.

    .. versionadded:: 0.1.0
    """

    line: int | None
    index: int
    field: str | None
    code: str
    rule: str
    value: str | None

    @property
    def message(self) -> str:
        """Where, which field, the rule and the value, as in ``line 14, price: must be ... '-3.5'``.

        Records without a line (plain mappings) are named by position: ``record 3, sku: ...``.
        """
        where = f"line {self.line}" if self.line is not None else f"record {self.index}"
        if self.field is not None:
            where = f"{where}, {self.field}"
        got = f", got '{self.value}'" if self.value is not None else ""
        return f"{where}: {self.rule}{got}"

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """Return the error as JSON-ready data.

        Returns:
            ``line``, ``index``, ``field``, ``code``, ``rule``, ``message`` and ``value``.
        """
        return {
            "line": self.line,
            "index": self.index,
            "field": self.field,
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "value": self.value,
        }
