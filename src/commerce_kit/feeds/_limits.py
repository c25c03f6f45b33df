"""The bounds every feed is read within, so a hostile or broken feed cannot exhaust memory."""

from __future__ import annotations

from dataclasses import dataclass, fields

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """Bounds on a feed; exceeding any of them raises :class:`~commerce_kit.FeedLimitError`.

    Each bound also caps the memory one record can take, so reading a feed stays flat in memory
    however many records it holds.

    Attributes:
        max_bytes: Bytes of the feed as sent (before decoding).
        max_records: Records in the feed.
        max_field_chars: Characters in one field value (a CSV cell, a JSON string, the text of
            an XML element).
        max_record_chars: Characters of source text one record may span: a CSV row with its
            quoted line breaks, an NDJSON line, a JSON array element, an XML record element.
            An unclosed CSV quote is usually what trips it.
        max_depth: Nesting depth: of values inside a JSON record (the record object is depth 1),
            and of XML elements counted from the document root.
        max_names: Distinct element and attribute names in an XML feed. The parser keeps
            every name it meets until the document ends, so this bounds its memory however
            many records use new names; a product feed needs a few dozen.

    Raises:
        ValueError: A bound is not a positive integer.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``max_names``; ``max_field_chars`` covers XML attribute values, and CSV cells longer
       than the :mod:`csv` module's own limit are read or refused by ``max_field_chars``.
    """

    max_bytes: int = 100 * MiB
    max_records: int = 1_000_000
    max_field_chars: int = 10_000
    max_record_chars: int = MiB
    max_depth: int = 32
    max_names: int = 10_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field.name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = FeedLimits()
