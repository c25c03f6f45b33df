"""JSON feeds (an array of objects, streamed element by element) and NDJSON (one object a line).

The standard library has no streaming JSON parser, so :func:`read_json` splits the top-level
array itself: it reads the text in chunks, skips whitespace and commas between elements, and hands
each element to :meth:`json.JSONDecoder.raw_decode`. An element cut by the end of a chunk fails to
decode at the end of the buffer (or in an unterminated string); the splitter then reads more and
decodes again, doubling what it reads so a large element costs linear time. Memory holds one chunk
plus one element, and an element may not exceed ``max_record_chars``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from commerce_kit._errors import FeedFormatError, FeedLimitError
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._record import (
    FeedRecord,
    make_record,
)
from commerce_kit.feeds._source import head_text, text_of, undecodable_column

__all__ = ["RECORD_KEYS", "JsonAdapter", "NdjsonAdapter", "read_json", "read_ndjson"]

#: Keys under which a JSON feed that is an object (rather than an array) may hold its records.
RECORD_KEYS = ("products", "items", "records", "entries", "offers", "data")

_CHUNK = 64 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A value cut off by the end of the buffer fails at most this many characters before the end
# (an escape such as ``\u12`` is the longest), or ends early within them (a number cut after
# its "e"); anywhere earlier, the text itself is wrong.
_TAIL = 8


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def _int_or_float(text: str) -> int | float:
    """Convert a JSON integer; one with more digits than ``int()`` converts becomes a float."""
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits(): a float, infinite past its range
        return float(text)


# The default decoders refuse an integer longer than int() converts with a bare ValueError; this
# one is used only after that happens, so the hot path keeps the C scanner's own int parsing.
_LONG_INTS = json.JSONDecoder(parse_int=_int_or_float)


def _depth_error(line: int, limits: FeedLimits) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the record is nested deeper than max_depth={limits.max_depth}",
        limit="max_depth",
        maximum=limits.max_depth,
        line=line,
    )


def _check_value(value: object, depth: int, line: int, limits: FeedLimits) -> None:
    """Walk a decoded value, enforcing ``max_depth`` and ``max_field_chars``."""
    if isinstance(value, str):
        if len(value) > limits.max_field_chars:
            raise FeedLimitError(
                f"line {line}: a value is longer than max_field_chars="
                f"{limits.max_field_chars:,} characters",
                limit="max_field_chars",
                maximum=limits.max_field_chars,
                line=line,
            )
        return
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return
    if depth > limits.max_depth:
        raise _depth_error(line, limits)
    for item in items:
        _check_value(item, depth + 1, line, limits)


def _needs_check(text: str, start: int, end: int, limits: FeedLimits) -> bool:
    """Tell cheaply whether a record's text could break ``max_field_chars`` or ``max_depth``.

    Nesting needs an opening bracket per level, so text with fewer than ``max_depth`` of them
    cannot be too deep; text shorter than ``max_field_chars`` cannot hold a value that long.
    """
    return end - start > limits.max_field_chars or (
        text.count("{", start, end) + text.count("[", start, end) >= limits.max_depth
    )


class _Splitter:
    r"""A buffer over a text stream with line and column bookkeeping for one JSON document.

    Lines end at ``\r\n``, ``\r`` or ``\n``, as in the other formats. Bytes that are not
    UTF-8 end the buffer where they start: everything before them is read (and its records
    yielded) before the error is raised, when reading reaches them.
    """

    __slots__ = (
        "after_cr",
        "bad",
        "buf",
        "col_base",
        "cr",
        "eof",
        "line",
        "line_at",
        "pos",
        "read",
    )

    def __init__(self, read: Callable[[int], str]) -> None:
        self.read = read
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bad = False  # the buffer ends where bytes that are not UTF-8 start
        self.line = 1  # the line of ``buf[line_at]``
        self.line_at = 0
        self.col_base = 1  # the column of ``buf[0]`` when it holds no line break before it
        # Whether the character before ``line_at`` is a "\r" (whose "\n" is no new line),
        # and whether line counting must mind carriage returns at all in this buffer.
        self.after_cr = False
        self.cr = False

    def fill(self, at_least: int = 0) -> None:
        """Drop the consumed text and append at least ``at_least`` (one chunk) more characters."""
        buf, pos = self.buf, self.pos
        self.line_of(pos)
        cut = self._last_break(pos)
        self.col_base = pos - cut if cut != -1 else self.col_base + pos
        parts = [buf[pos:]]
        wanted = at_least or _CHUNK
        while wanted > 0:
            chunk = self.read(_CHUNK)
            if not chunk:
                self.eof = True
                break
            column = undecodable_column(chunk)
            if column is not None:
                parts.append(chunk[: column - 1])
                self.eof = self.bad = True
                break
            parts.append(chunk)
            wanted -= len(chunk)
        self.buf = buf = "".join(parts)
        self.pos = self.line_at = 0
        self.cr = self.after_cr or "\r" in buf

    def undecodable(self) -> FeedFormatError:
        """The error for the bytes that are not UTF-8 at the end of the buffer."""
        at = len(self.buf)
        line = self.line_of(at)
        column = self.column_of(at)
        return FeedFormatError(
            f"line {line}, column {column}: the feed holds bytes that are not valid UTF-8; "
            "save it as UTF-8",
            line=line,
            column=column,
        )

    def line_of(self, at: int) -> int:
        """Return the line of ``buf[at]``; ``at`` never moves backwards."""
        start = self.line_at
        if at > start:
            buf = self.buf
            lines = buf.count("\n", start, at)
            if self.cr:
                lines += buf.count("\r", start, at) - buf.count("\r\n", start, at)
                if self.after_cr and buf[start] == "\n":
                    lines -= 1
                self.after_cr = buf[at - 1] == "\r"
            self.line += lines
            self.line_at = at
        return self.line

    def _last_break(self, at: int) -> int:
        cut = self.buf.rfind("\n", 0, at)
        return max(cut, self.buf.rfind("\r", 0, at)) if self.cr else cut

    def column_of(self, at: int) -> int:
        cut = self._last_break(at)
        return at - cut if cut != -1 else self.col_base + at

    def skip(self) -> str:
        """Skip whitespace, reading more as needed; return the next character ("" at the end)."""
        while True:
            pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            self.pos = pos
            if pos < len(self.buf):
                return self.buf[pos]
            if self.eof:
                if self.bad:
                    raise self.undecodable()
                return ""
            self.fill()

    def expect(self, what: str) -> FeedFormatError:
        at = self.pos
        found = repr(self.buf[at]) if at < len(self.buf) else "the end of the feed"
        line = self.line_of(at)
        return FeedFormatError(
            f"line {line}, column {self.column_of(at)}: expected {what}, found {found}",
            line=line,
            column=self.column_of(at),
        )


def _decode_at(
    split: _Splitter, decode: Callable[[str, int], tuple[object, int]], limits: FeedLimits
) -> tuple[object, int]:
    """Decode the JSON value starting at ``split.pos``, reading more while it is cut off."""
    while True:
        buf, pos = split.buf, split.pos
        try:
            value, end = decode(buf, pos)
        except json.JSONDecodeError as error:
            cut_off = error.pos >= len(buf) - _TAIL or error.msg.startswith("Unterminated string")
            if cut_off and split.bad:
                raise split.undecodable() from None
            if not cut_off or split.eof:
                line = split.line_of(min(error.pos, len(buf)))
                column = split.column_of(error.pos)
                raise FeedFormatError(
                    f"line {line}, column {column}: invalid JSON: {error.msg}",
                    line=line,
                    column=column,
                ) from None
        except RecursionError:
            raise _depth_error(split.line_of(pos), limits) from None
        except ValueError:  # an integer longer than int() converts: decode it as a float
            decode = _LONG_INTS.raw_decode
            continue
        else:
            # A number ending near the end of the buffer may go on in the next chunk: "1e" or
            # "1." decode as 1, the scanner leaving the "e" or "." behind.
            if end <= len(buf) - _TAIL or split.eof:
                if end - pos > limits.max_record_chars:
                    raise _too_long(split.line_of(pos), limits)
                return value, end
        if len(buf) - pos > limits.max_record_chars:
            raise _too_long(split.line_of(pos), limits)
        split.fill(max(len(buf) - pos, _CHUNK))


def _too_long(line: int, limits: FeedLimits) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the record starting here is longer than max_record_chars="
        f"{limits.max_record_chars:,} characters",
        limit="max_record_chars",
        maximum=limits.max_record_chars,
        line=line,
    )


def _elements(split: _Splitter, limits: FeedLimits, start_index: int) -> Iterator[FeedRecord]:
    """Yield the elements of the array whose ``[`` is at ``split.pos``, then consume its ``]``.

    The loop decodes with the scanner behind :meth:`json.JSONDecoder.raw_decode` directly and
    looks for the next element within the buffer; whatever it cannot settle there (an element cut
    by the end of the buffer, a syntax error) goes through :func:`_decode_at`, which reads more
    or reports the error.
    """
    decoder = json.JSONDecoder()
    scan = decoder.scan_once  # type: ignore[attr-defined]  # what raw_decode() calls
    raw_decode = decoder.raw_decode
    whitespace = _WHITESPACE.match
    max_field = limits.max_field_chars
    max_depth = limits.max_depth
    max_record = limits.max_record_chars
    split.pos += 1
    index = start_index
    if split.skip() == "]":
        split.pos += 1
        return
    while True:
        buf = split.buf
        pos = split.pos
        try:
            value, end = scan(buf, pos)
        except Exception:  # noqa: BLE001 - StopIteration, JSONDecodeError, RecursionError
            end = -1
        if end == -1 or (end > len(buf) - _TAIL and not split.eof):
            value, end = _decode_at(split, raw_decode, limits)
            buf = split.buf
            pos = split.pos
        if end - pos > max_record:
            raise _too_long(split.line_of(pos), limits)
        if pos > split.line_at:
            if split.cr:
                split.line_of(pos)
            else:
                split.line += buf.count("\n", split.line_at, pos)
                split.line_at = pos
        line = split.line
        index += 1
        if end - pos > max_field or (
            buf.count("{", pos, end) + buf.count("[", pos, end) >= max_depth
        ):
            _check_value(value, 1, line, limits)
        if type(value) is dict:
            yield make_record(value, line, index)
        else:
            yield make_record({}, line, index, f"the element is {_describe(value)}, not an object")
        following = whitespace(buf, end).end()  # type: ignore[union-attr]
        if following < len(buf) and buf[following] == ",":
            after = whitespace(buf, following + 1).end()  # type: ignore[union-attr]
            if after < len(buf):
                split.pos = after
                continue
        split.pos = end
        separator = split.skip()
        if separator == ",":
            split.pos += 1
            split.skip()
        elif separator == "]":
            split.pos += 1
            return
        else:
            raise split.expect("',' or ']' after an element of the array")


def read_json(stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
    """Yield the objects of a JSON feed's array of records, one at a time.

    The feed is either an array of objects, or an object holding that array under one of
    :data:`RECORD_KEYS` (its other members, such as a ``"version"``, are skipped).

    Yields:
        One record per array element, with the line the element starts on. An element that is
        not an object is yielded with ``error`` set.

    Raises:
        FeedFormatError: The text is not JSON of that shape; since JSON cannot be resumed after
            a syntax error, reading stops there.
        FeedLimitError: An element is too long, too deep or holds too long a string.
    """
    with text_of(stream) as text:
        split = _Splitter(text.read)
        split.fill()
        first = split.skip()
        if first == "":
            return
        if first == "[":
            yield from _elements(split, limits, 0)
        elif first == "{":
            yield from _members(split, limits)
        else:
            raise split.expect("'[' or '{' at the start of a JSON feed")
        if split.skip() != "":
            raise split.expect("the end of the feed after the JSON value")


def _members(split: _Splitter, limits: FeedLimits) -> Iterator[FeedRecord]:
    """Walk a top-level object, streaming the array under one of :data:`RECORD_KEYS`."""
    decode = json.JSONDecoder().raw_decode
    split.pos += 1
    found: str | None = None
    if split.skip() == "}":
        split.pos += 1
    else:
        while True:
            if split.skip() != '"':
                raise split.expect("a member name in double quotes")
            key, end = _decode_at(split, decode, limits)
            split.pos = end
            if split.skip() != ":":
                raise split.expect("':' after a member name")
            split.pos += 1
            following = split.skip()
            if key in RECORD_KEYS and following == "[":
                if found is not None:
                    line = split.line_of(split.pos)
                    raise FeedFormatError(
                        f"line {line}: the feed holds two arrays of records, "
                        f"{found!r} and {key!r}; send one",
                        line=line,
                    )
                found = str(key)
                yield from _elements(split, limits, 0)
            else:
                value, end = _decode_at(split, decode, limits)
                if _needs_check(split.buf, split.pos, end, limits):
                    _check_value(value, 1, split.line_of(split.pos), limits)
                split.pos = end
            following = split.skip()
            if following == ",":
                split.pos += 1
            elif following == "}":
                split.pos += 1
                break
            else:
                raise split.expect("',' or '}' after a member")
    if found is None:
        raise FeedFormatError(
            "line 1: the feed is a JSON object without an array of records under any of "
            f"{', '.join(repr(key) for key in RECORD_KEYS)}",
            line=1,
        )


def read_ndjson(stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
    """Yield one record per line of newline-delimited JSON; blank lines are skipped.

    Every line stands alone, so a line that is not a JSON object (malformed, or another kind of
    value, or not UTF-8) is yielded as a record with ``error`` set and reading goes on.

    Raises:
        FeedLimitError: A line is longer than ``max_record_chars``, or its object too deep or
            holding too long a string.
    """
    loads = json.JSONDecoder().decode
    cap = limits.max_record_chars
    limit = cap + 1
    with text_of(stream) as text:
        readline = text.readline
        number = 0
        index = 0
        while line := readline(limit):
            number += 1
            if len(line) > cap:
                raise _too_long(number, limits)
            if line.isspace():
                continue
            index += 1
            if not line.isascii() and undecodable_column(line) is not None:
                yield make_record(
                    {},
                    number,
                    index,
                    f"column {undecodable_column(line)} holds bytes that are not valid UTF-8",
                )
                continue
            try:
                try:
                    value = loads(line)
                except json.JSONDecodeError:
                    raise
                except ValueError:  # an integer longer than int() converts: read it as a float
                    value = _LONG_INTS.decode(line)
            except json.JSONDecodeError as error:
                column = min(error.pos, len(line.rstrip("\r\n"))) + 1
                yield make_record(
                    {}, number, index, f"invalid JSON at column {column}: {error.msg}"
                )
                continue
            except RecursionError:
                raise _depth_error(number, limits) from None
            if _needs_check(line, 0, len(line), limits):
                _check_value(value, 1, number, limits)
            if type(value) is dict:
                yield make_record(value, number, index)
            else:
                yield make_record(
                    {}, number, index, f"the line holds {_describe(value)}, not an object"
                )


def _json_start(head: bytes) -> str:
    return head_text(head).lstrip(" \t\r\n\ufeff")[:1]


def _ndjson_lines(head: bytes) -> int:
    """Count the leading lines of ``head`` that are each one complete JSON object."""
    lines = [line for line in head_text(head).splitlines() if line.strip()]
    complete = 0
    for line in lines[:-1]:  # the last may be cut off by the end of the head
        try:
            value = json.loads(line)
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        complete += 1
    return complete


class JsonAdapter:
    """A JSON array of objects, or an object holding one under a key such as ``"products"``.

    The feed is an array of objects, or an object holding that array under one of
    ``"products"``, ``"items"``, ``"records"``, ``"entries"``, ``"offers"`` or ``"data"`` (other
    members, such as a ``"version"``, are skipped; two such arrays are an error). Each element
    becomes a record, JSON types kept (numbers are ``int`` or ``float``, nested objects
    ``dict``; an integer with more digits than ``int()`` converts is read as a ``float``);
    :attr:`FeedRecord.line` is the line the element starts on. The array is streamed
    element by element, never loaded whole.

    An element that is not an object is yielded with :attr:`FeedRecord.error` set. A syntax
    error raises :class:`~commerce_kit.FeedFormatError` with its line and column: JSON cannot be
    resumed after one, so the records before it are all that can be read. An element longer than
    ``max_record_chars``, nested deeper than ``max_depth`` or holding a string longer than
    ``max_field_chars`` raises :class:`~commerce_kit.FeedLimitError`.

    .. versionadded:: 0.1.0
    """

    name = "json"
    content_types: tuple[str, ...] = ("application/json", "text/json")
    extensions: tuple[str, ...] = (".json",)

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as JSON: an array is likely; an object is possible."""
        start = _json_start(head)
        if start == "[":
            return 0.9
        return 0.5 if start == "{" else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one record per element of the feed's array."""
        return read_json(stream, limits)


class NdjsonAdapter:
    """Newline-delimited JSON (JSON Lines): one object per line, blank lines skipped.

    Every line stands alone, so a line that is not a JSON object (malformed, another kind of
    value, not UTF-8) does not stop the feed: it is yielded with :attr:`FeedRecord.error` set,
    naming the column of the problem. A line longer than ``max_record_chars``, or an object too
    deep or holding too long a string, raises :class:`~commerce_kit.FeedLimitError`.

    .. versionadded:: 0.1.0
    """

    name = "ndjson"
    content_types: tuple[str, ...] = (
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/json",
    )
    extensions: tuple[str, ...] = (".ndjson", ".jsonl", ".json")

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as NDJSON: a first line that is a whole object, and more lines."""
        if _json_start(head) != "{":
            return 0.0
        return 0.8 if _ndjson_lines(head) >= 1 and head_text(head).count("\n") >= 1 else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one record per non-blank line."""
        return read_ndjson(stream, limits)
