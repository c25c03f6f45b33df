"""Open what a caller hands us (a path, bytes, a file object) as one bounded binary stream.

Every feed is read through :class:`FeedStream`, a buffered reader over a counting raw reader: it
enforces ``max_bytes`` as the bytes arrive (a stream of unknown length cannot outgrow it), reports
progress, and carries what is known about the source (its file name, an encoding already fixed).
Adapters decode it with :func:`text_of`, which honours byte-order marks.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeAlias

from commerce_kit._errors import FeedFormatError, FeedLimitError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "BUFFER_BYTES",
    "HEAD_BYTES",
    "FeedFile",
    "FeedSource",
    "FeedStream",
    "buffered",
    "detect_encoding",
    "empty_feed",
    "encode_text",
    "head_text",
    "open_source",
    "repair",
    "text_of",
    "undecodable_column",
]

#: Bytes handed to sniffers: enough for an XML prolog with namespaces or a long CSV header.
HEAD_BYTES = 8192
#: Read size: large enough that per-read overhead vanishes, small enough to keep memory flat.
BUFFER_BYTES = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class FeedFile(Protocol):
    """A file object a feed can be read from: anything with ``read(size)``.

    ``read`` returns ``bytes`` (a file open in binary mode, a socket's file, an upload) or
    ``str`` (a file open in text mode, read as UTF-8), and an empty value at the end.

    .. versionadded:: 0.2.0
    """

    def read(self, size: int, /) -> bytes | str:
        """Return up to ``size`` bytes (or characters); an empty value at the end."""
        ...


#: What :func:`commerce_kit.feeds.parse_feed` reads: a path (``str`` or :class:`os.PathLike`),
#: the feed's content as ``bytes``, or a file object (:class:`FeedFile`) open in binary (or
#: text) mode.
#:
#: .. versionchanged:: 0.2.0
#:    The file-object kind is the public protocol :class:`FeedFile`.
FeedSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | FeedFile
)

# Bytes a feed made only of white space consists of (after any byte-order mark); NUL is the
# other half of each UTF-16 code unit.
_BLANK = b" \t\r\n"
_BLANK_UTF16 = b" \t\r\n\x00"


def empty_feed() -> FeedFormatError:
    """The error for a feed that holds no data: no bytes at all, or only white space."""
    return FeedFormatError("the feed is empty: it holds no data, or only white space")


def _lone_surrogate(text: str, error: UnicodeEncodeError, lines_before: int) -> FeedFormatError:
    line = lines_before + _breaks(text, 0, error.start) + 1
    return FeedFormatError(
        f"line {line}: the text holds U+{ord(text[error.start]):04X}, a lone surrogate that is "
        "not a character (a byte the file's encoding could not decode, read with "
        "errors='surrogateescape'?); pass the file opened in binary mode, or fix its encoding",
        line=line,
    )


def _breaks(text: str, start: int, end: int) -> int:
    r"""Count the line breaks in ``text[start:end]``: ``\r\n``, ``\r`` and ``\n`` one each."""
    count = text.count("\n", start, end)
    if "\r" in text:
        count += text.count("\r", start, end) - text.count("\r\n", start, end)
    return count


def encode_text(text: str) -> bytes:
    """Encode feed text as UTF-8, refusing a lone surrogate with the line it is on.

    Raises:
        FeedFormatError: The text holds a lone surrogate.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _lone_surrogate(text, error, 0) from None


class _CountingReader(io.RawIOBase):
    """A raw stream over a ``read(n)`` callable that counts bytes and enforces ``max_bytes``."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        close: Callable[[], None] | None,
        max_bytes: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        super().__init__()
        self._read = read
        self._close = close
        self._max_bytes = max_bytes
        self._progress = progress
        self._newlines = 0
        self.bytes_read = 0
        # Whether every byte read so far is white space (or a leading byte-order mark).
        self.blank = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._read(len(view)) or b""
        size = len(data)
        if size:
            before = self.bytes_read
            self.bytes_read = before + size
            if self.bytes_read > self._max_bytes:
                allowed = self._max_bytes - before
                line = self._newlines + data.count(b"\n", 0, allowed) + 1
                raise FeedLimitError(
                    f"line {line}: the feed is larger than max_bytes={self._max_bytes:,} bytes",
                    limit="max_bytes",
                    maximum=self._max_bytes,
                    line=line,
                )
            self._newlines += data.count(b"\n")
            view[:size] = data
            if self.blank:
                self.blank = _is_blank(data, first=not before)
            if self._progress is not None:
                self._progress(self.bytes_read)
        return size

    def close(self) -> None:
        if not self.closed:
            try:
                if self._close is not None:
                    self._close()
            finally:
                super().close()


def _is_blank(data: bytes, *, first: bool) -> bool:
    blank = _BLANK
    if first:
        for bom, codec in _BOMS:
            if data.startswith(bom):
                data = data[len(bom) :]
                blank = _BLANK_UTF16 if codec == "utf-16" else _BLANK
                break
    return not data.strip(blank)


class _EncodedText:
    """``read(n)`` over a text reader, returning at most ``n`` bytes of its UTF-8 encoding.

    A lone surrogate cannot be encoded: the text before it is returned first, and the next read
    raises :class:`~commerce_kit.FeedFormatError` naming its line, so every record before it is
    read.
    """

    def __init__(self, reader: FeedFile) -> None:
        self._reader = reader
        self._pending = b""
        self._lines = 0  # line breaks in the text encoded so far
        self._after_cr = False  # whether that text ends with "\r"
        self._error: FeedFormatError | None = None

    def read(self, size: int) -> bytes:
        while len(self._pending) < size and self._error is None:
            text = self._reader.read(max(size // 4, 1024))
            if not text:
                break
            if not isinstance(text, str):
                raise TypeError("the file object returned bytes after returning text")
            try:
                self._pending += text.encode("utf-8")
            except UnicodeEncodeError as error:
                self._pending += text[: error.start].encode("utf-8")
                lines = self._lines - (self._after_cr and text[0] == "\n")
                self._error = _lone_surrogate(text, error, lines)
                break
            self._lines += _breaks(text, 0, len(text)) - (self._after_cr and text[0] == "\n")
            self._after_cr = text[-1] == "\r"
        if not self._pending and self._error is not None:
            raise self._error
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


class FeedStream(io.BufferedReader):
    """The binary stream adapters read: buffered, bounded by ``max_bytes``, with source hints.

    Attributes:
        filename: The source's file name, if it has one (used to pick a format by extension).
        known_encoding: The encoding the bytes are known to be in (``"utf-8"`` when the feed was
            given as text), overriding any the content declares; ``None`` when unknown.
        total_bytes: The source's size in bytes, when it can be known before reading.
    """

    filename: str | None
    known_encoding: str | None
    total_bytes: int | None

    @property
    def bytes_read(self) -> int:
        """Bytes read from the source so far (including read-ahead)."""
        raw = self.raw
        return raw.bytes_read if isinstance(raw, _CountingReader) else 0

    def is_empty(self) -> bool:
        """Tell whether the whole feed is white space, reading on as far as needed to know.

        Called once reading has failed or found nothing: it consumes the rest of the stream
        (within ``max_bytes``) while that is white space.
        """
        raw = self.raw
        if not isinstance(raw, _CountingReader):
            return False
        while raw.blank and self.read(BUFFER_BYTES):
            pass
        return raw.blank

    def head(self) -> bytes:
        """Return up to the first :data:`HEAD_BYTES` bytes without consuming them."""
        return self.peek(HEAD_BYTES)[:HEAD_BYTES]


def _limit_error(size: int, max_bytes: int) -> FeedLimitError:
    return FeedLimitError(
        f"the feed is {size:,} bytes, larger than max_bytes={max_bytes:,} bytes",
        limit="max_bytes",
        maximum=max_bytes,
        line=None,
    )


def _file_size(fileno: Callable[[], int]) -> int | None:
    try:
        info = os.fstat(fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def open_source(
    source: FeedSource,
    *,
    max_bytes: int,
    progress: Callable[[int], None] | None = None,
    filename: str | None = None,
    encoding: str | None = None,
) -> FeedStream:
    """Open a feed source as a :class:`FeedStream`; the caller closes it.

    ``str`` and :class:`os.PathLike` values are paths; ``bytes``-like values are the feed's
    content; objects with ``read()`` are file objects (binary, or text that is encoded as UTF-8).
    File objects passed in are not closed when the stream is. ``encoding`` fixes the encoding of
    the bytes, overriding what the content declares.

    Raises:
        TypeError: The source is none of these, or a ``str`` holding feed text.
        FeedLimitError: The source's known size exceeds ``max_bytes``.
        OSError: The path cannot be opened.
    """
    close: Callable[[], None] | None = None
    total: int | None = None
    known_encoding = encoding
    read: Callable[[int], bytes]
    if isinstance(source, (bytes, bytearray, memoryview)):
        # BytesIO shares a bytes object until written to (asking it for its buffer would copy).
        total = memoryview(source).nbytes
        read = io.BytesIO(source).read
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and ("\n" in source or "\r" in source):
            raise TypeError(
                "a str source is a path, and this one holds line breaks: to parse feed text "
                "use parse_feed_text(), or pass bytes"
            )
        path = os.fspath(source)
        file = open(path, "rb", buffering=0)  # noqa: PTH123, SIM115 - closed by FeedStream.close()
        total = _file_size(file.fileno)
        if total is not None and total > max_bytes:
            file.close()
            raise _limit_error(total, max_bytes)
        filename = filename or os.fsdecode(path)
        read, close = file.read, file.close
    elif callable(getattr(source, "read", None)):
        reader: FeedFile = source
        probe = reader.read(0)
        if isinstance(probe, str):
            read = _EncodedText(reader).read
            known_encoding = "utf-8"
        elif isinstance(probe, (bytes, bytearray)):
            read = reader.read  # type: ignore[assignment]  # checked just above
            fileno = getattr(source, "fileno", None)
            if callable(fileno):
                total = _file_size(fileno)
        else:
            raise TypeError(
                f"the file object's read() returned {type(probe).__name__}, not bytes or str"
            )
        name = getattr(source, "name", None)
        filename = filename or (name if isinstance(name, str) else None)
    else:
        raise TypeError(
            f"cannot read a feed from {type(source).__name__}: pass a path, bytes, or a file "
            "object (use parse_feed_text() for text)"
        )
    if total is not None and total > max_bytes:
        raise _limit_error(total, max_bytes)
    stream = FeedStream(_CountingReader(read, close, max_bytes, progress), BUFFER_BYTES)
    stream.filename = filename
    stream.known_encoding = known_encoding
    stream.total_bytes = total
    return stream


def buffered(stream: BinaryIO) -> io.BufferedReader:
    """Return ``stream`` if it can ``peek()``, else a buffered reader over it (not closing it)."""
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(_CountingReader(stream.read, None, 2**62, None), BUFFER_BYTES)


def detect_encoding(head: bytes, known: str | None = None) -> str:
    """Return the codec to decode a feed with: known, else by byte-order mark, else UTF-8."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            # A BOM is part of the bytes even when the encoding is known: let the codec eat it.
            return codec if known is None or codec == "utf-16" else "utf-8-sig"
    return known or "utf-8"


def head_text(head: bytes) -> str:
    """Decode the first bytes of a feed leniently, for sniffing its format."""
    return head.decode(detect_encoding(head), errors="replace")


@contextmanager
def text_of(stream: BinaryIO) -> Iterator[io.TextIOWrapper]:
    """Decode a feed stream as text, lines split on any line break and kept untranslated.

    Bytes that do not decode come through as lone surrogates (``surrogateescape``) so the adapter
    can report the line they are on (see :func:`undecodable_column`). On exit the text layer is
    detached, so a caller's stream is never closed by it.
    """
    raw = buffered(stream)
    encoding = detect_encoding(raw.peek(4)[:4], getattr(stream, "known_encoding", None))
    text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
    try:
        yield text
    finally:
        with suppress(ValueError):
            text.detach()


def undecodable_column(line: str) -> int | None:
    """Return the 1-based column of the first character that came from undecodable bytes."""
    if line.isascii():
        return None
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start + 1
    return None


def repair(value: str) -> str:
    """Replace the lone surrogates of undecodable bytes with U+FFFD, for safe display."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
