"""The ``commerce-kit`` command line, for partners checking a feed before they send it.

``commerce-kit feed validate PATH [--format F] [--columns C] [--currency CODE] [--json]`` reads a
feed the way the ingest does and reports every record that would be rejected, with its line,
field and rule. A shop's export (Shopify, WooCommerce, Magento) is recognised by its columns and
mapped onto product fields unless ``--columns none`` says otherwise.

Exit status: 0 when every record is valid, 1 when some are rejected, 2 when the feed cannot be
read or is refused as a whole (missing file, unsupported format, unsafe XML, a limit exceeded)
or the command line is wrong, and 3 when commerce_kit itself failed (a bug: the message asks for
a report). No input makes it print a traceback.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from commerce_kit._errors import CommerceKitError
from commerce_kit.http._catalogue import user_message_for

if TYPE_CHECKING:
    from commerce_kit.feeds._adapter import FeedSource
    from commerce_kit.feeds._parse import FeedEvent, RecordSkipped
    from commerce_kit.feeds._record import FeedRecord
    from commerce_kit.validation import RecordError

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_REFUSED", "EXIT_REJECTED", "main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_REFUSED = 2
EXIT_INTERNAL = 3

PROG = "commerce-kit"
ISSUES = "https://github.com/commerce-kit/commerce-kit/issues"
DEFAULT_SHOWN_ERRORS = 20
# Skipped rows and errors listed in the JSON report: the counts cover the rest.
MAX_SKIPPED_LISTED = 1000
MAX_ERRORS_LISTED = 1000
# The column presets, named here so --help does not import pydantic; a test keeps them in step.
COLUMN_PRESETS = ("magento", "shopify", "woocommerce")
# Feeds smaller than this are read before a bar would be worth drawing.
PROGRESS_MIN_BYTES = 1024 * 1024


def _version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only --version pays for it

    return version("commerce-kit")


def _parsers() -> dict[str | None, argparse.ArgumentParser]:
    """Return the parser of the whole command line (key ``None``) and of each command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check partner product feeds the way commerce_kit ingests them.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    parser.set_defaults(action=None)
    areas = parser.add_subparsers(dest="area", metavar="COMMAND")
    feed = areas.add_parser("feed", help="work with product feeds")
    actions = feed.add_subparsers(dest="action", metavar="ACTION")
    validate = actions.add_parser(
        "validate",
        help="validate a feed and list every rejected record",
        description=(
            "Read a feed and validate every record. Exit status: 0 all records valid, "
            "1 some rejected, 2 the feed cannot be read or is refused, 3 internal error."
        ),
    )
    validate.add_argument("path", metavar="PATH", help="the feed file, or - for standard input")
    validate.add_argument(
        "--format",
        metavar="F",
        help="the feed format (csv, tsv, json, ndjson, xml, google-merchant, or a plugin's); "
        "by default told by the file extension or the content",
    )
    validate.add_argument(
        "--columns",
        type=_columns,
        default="auto",
        metavar="PRESET|auto|none",
        help="how the feed's columns map onto product fields: a shop export preset "
        f"({', '.join(COLUMN_PRESETS)}), auto (the default: the preset whose columns the feed "
        "has, if any) or none (the columns are already product fields)",
    )
    validate.add_argument(
        "--currency",
        metavar="CODE",
        type=_currency_code,
        help="the currency of prices that name none, for feeds without a currency column "
        "(an ISO 4217 code such as USD)",
    )
    validate.add_argument(
        "--json", action="store_true", help="print the report as one JSON object on stdout"
    )
    validate.add_argument(
        "--max-errors",
        type=_count,
        default=DEFAULT_SHOWN_ERRORS,
        metavar="N",
        help=f"list at most N errors in the text report (default {DEFAULT_SHOWN_ERRORS}; 0: all)",
    )
    validate.add_argument(
        "--no-progress",
        action="store_true",
        help="never draw the progress bar (it is drawn only on a terminal, for large feeds)",
    )
    return {None: parser, "feed": feed}


def _columns(text: str) -> str:
    value = text.strip().lower()
    if value not in {*COLUMN_PRESETS, "auto", "none"}:
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(COLUMN_PRESETS)}, auto or none, got {text!r}"
        )
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``commerce-kit`` command line and return its exit status.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 when every record is valid, 1 when some are rejected, 2 when the feed cannot be read,
        is refused or the arguments are wrong, 3 on an internal error.

    .. versionadded:: 0.1.0
    """
    parsers = _parsers()
    try:
        args = parsers[None].parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors end here
        return exit_.code if isinstance(exit_.code, int) else EXIT_REFUSED
    if args.action != "validate":
        # A command without its action: show what it offers, as for a usage error.
        parsers[args.area].print_help(sys.stderr)
        return EXIT_REFUSED
    try:
        return _validate(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        _say(sys.stderr, f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:
        # Whoever read the report went away (``| head``): there is no one left to tell.
        _detach_stdout()
        return EXIT_REFUSED
    except Exception as error:  # noqa: BLE001 - a partner must never see a traceback
        detail = _one_line(str(error))
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        _say(
            sys.stderr,
            f"{PROG}: internal error ({type(error).__name__}: {detail}). "
            f"This is a bug in commerce-kit {_version()}; please report it at {ISSUES} "
            "with the command you ran.",
        )
        return EXIT_INTERNAL


def _currency_code(value: str) -> str:
    """Check ``--currency`` when the command line is read, not once per record."""
    from commerce_kit.validation import CURRENCY_MINOR_UNITS  # noqa: PLC0415

    code = value.strip().upper()
    if code not in CURRENCY_MINOR_UNITS:
        raise argparse.ArgumentTypeError(f"not an ISO 4217 currency code: {value!r}")
    return code


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from commerce_kit.feeds import (  # noqa: PLC0415 - pydantic is heavy
        FeedFinished,
        FeedProgress,
        parse_feed,
    )
    from commerce_kit.validation import Product, Validator  # noqa: PLC0415

    path: str = args.path
    label = "<stdin>" if path == "-" else path
    source: FeedSource
    if "\0" in path:  # no file system accepts it; open() would raise a bare ValueError
        _say(err, f"{PROG}: {path!r}: a file name cannot hold a NUL character")
        return EXIT_REFUSED
    if path != "-":
        # parse_feed() refuses a str holding a line break (feed text passed by mistake); a name
        # may hold one, so such a path goes as a path object (which would read "" as ".").
        source = Path(path) if "\n" in path or "\r" in path else path
        if _is_empty_file(path):
            _say(err, f"{PROG}: {label}: {EMPTY_FEED}")
            return EXIT_REFUSED
    elif sys.stdin is None:  # started with standard input closed
        _say(err, f"{PROG}: {label}: standard input is closed")
        return EXIT_REFUSED
    else:
        stdin = _Replayed(getattr(sys.stdin, "buffer", sys.stdin))
        try:
            empty = stdin.is_empty()
        except OSError as error:
            _say(err, f"{PROG}: {label}: {_refusal(error)}")
            return EXIT_REFUSED
        if empty:
            _say(err, f"{PROG}: {label}: {EMPTY_FEED}")
            return EXIT_REFUSED
        source = stdin
    bar = None
    if not args.no_progress and err.isatty():
        bar = ProgressBar(err, label)
    read = _ReadAs(args.format or "unknown")

    def on_feed_event(event: FeedEvent) -> None:
        read.format = event.format
        if isinstance(event, FeedProgress):
            if bar is not None:
                bar.update(event.bytes_read, event.total_bytes)
        elif isinstance(event, FeedFinished):
            read.columns = event.columns
        else:
            read.skip(event)

    defaults = {"currency": args.currency} if args.currency else None
    columns = None if args.columns == "none" else args.columns
    tally = _Tally(
        MAX_ERRORS_LISTED if args.json else args.max_errors or None,
        _ColumnCheck(
            tuple(name for name, field in Product.model_fields.items() if field.is_required()),
            tuple(name for name, field in Product.model_fields.items() if not field.is_required()),
        ),
    )
    try:
        records = parse_feed(source, format=args.format, hooks=[on_feed_event], columns=columns)
        validator = Validator(defaults=defaults)
        for result in validator.iter_validate(tally.columns.watch(records)):
            tally.add(result.errors)
    except (CommerceKitError, OSError) as error:
        refusal: CommerceKitError | OSError | None = error
    else:
        refusal = None
    finally:
        if bar is not None:
            bar.close()
    try:
        if refusal is not None:
            _say(err, f"{PROG}: {label}: {_refusal(refusal)}")
            return EXIT_REFUSED
        if args.json:
            _write_json_report(out, tally, read)
        else:
            _write_text_report(out, tally, label, read, hint=not args.currency)
    finally:
        tally.close()
    return EXIT_OK if tally.rejected == 0 else EXIT_REJECTED


EMPTY_FEED = "the feed is empty: there is nothing to validate"


def _is_empty_file(path: str) -> bool:
    """Whether ``path`` is a regular file holding nothing but blank space.

    Anything else (a missing file, a directory, a pipe) is left for the feed reader to report.
    """
    try:
        file_path = Path(path)
        info = file_path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _BLANK_PROBE_BYTES:
            return False
        with file_path.open("rb") as file:
            return not file.read(_BLANK_PROBE_BYTES).strip()
    except (OSError, ValueError):
        return False


# A feed this short is read whole to tell whether it holds anything but blank space.
_BLANK_PROBE_BYTES = 64 * 1024


class _Replayed:
    """A binary reader over standard input whose first bytes were read ahead, to tell emptiness.

    Standard input cannot be sought back, so what was read to look is handed out again first.
    """

    __slots__ = ("_head", "_reader")

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._head = b""

    def is_empty(self) -> bool:
        """Read ahead and tell whether the stream holds nothing but blank space."""
        head = self._reader.read(_BLANK_PROBE_BYTES)
        head = head.encode() if isinstance(head, str) else bytes(head or b"")
        self._head = head
        return len(head) < _BLANK_PROBE_BYTES and not head.strip()

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes: the bytes read ahead first, then the stream's."""
        if self._head:
            if size < 0:
                rest = self._reader.read()
                data = self._head + (rest.encode() if isinstance(rest, str) else rest)
                self._head = b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        data = self._reader.read(size)
        return data.encode() if isinstance(data, str) else data


class _ColumnCheck:
    """Watches the records for a column the schema knows, to explain a feed matching none.

    Only the first record with data is remembered (its column names), and the check stops at
    the first record holding a known field, so it costs nothing per record once satisfied.
    """

    __slots__ = ("expected", "found", "matched", "required")

    def __init__(self, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        self.required = required
        self.expected = required + optional
        self.found: tuple[str, ...] | None = None
        self.matched = False

    def watch(self, records: Iterable[FeedRecord]) -> Iterator[FeedRecord]:
        """Yield ``records`` unchanged, checking their columns until one is a known field."""
        records = iter(records)
        known = frozenset(self.expected)
        for record in records:
            data = record.data
            if data:
                if self.found is None:
                    self.found = tuple(str(key) for key in data)
                if not known.isdisjoint(data):
                    self.matched = True
                    yield record
                    yield from records
                    return
            yield record

    @property
    def none_matched(self) -> bool:
        """Whether records with columns were read and no column was a field the schema knows."""
        return self.found is not None and not self.matched

    def hint(self) -> str:
        """One line: no column matched, the feed's columns, the fields expected."""
        found = self.found or ()
        shown = ", ".join(found[:MAX_COLUMNS_SHOWN]) + (
            ", ..." if len(found) > MAX_COLUMNS_SHOWN else ""
        )
        optional = self.expected[len(self.required) :]
        return (
            f"hint: no column is a product field (the feed's columns: {shown}); expected "
            f"{', '.join(self.required)}, and optionally {', '.join(optional)}; or a shop "
            f"export's ({', '.join(COLUMN_PRESETS)})"
        )


# Column names a hint quotes, and the JSON report lists, of a feed whose columns matched nothing.
MAX_COLUMNS_SHOWN = 8
MAX_COLUMNS_LISTED = 100


class _Tally:
    """The report's counts and errors, kept as the records are validated, in bounded memory.

    At most ``limit`` errors are kept in memory; with no limit (``--max-errors 0``) every error
    line is written to a temporary file that stays in memory while small, so the report still
    lists them all.
    """

    __slots__ = (
        "columns",
        "currency_missing",
        "error_count",
        "kept",
        "limit",
        "records",
        "rejected",
        "spool",
    )

    def __init__(self, limit: int | None, columns: _ColumnCheck) -> None:
        self.limit = limit
        self.columns = columns
        self.records = self.rejected = self.error_count = 0
        self.kept: list[RecordError] = []
        self.spool: IO[str] | None = None
        self.currency_missing = False

    @property
    def accepted(self) -> int:
        return self.records - self.rejected

    def add(self, errors: Sequence[RecordError]) -> None:
        """Count one record, and keep (or spool) its errors."""
        self.records += 1
        if not errors:
            return
        self.rejected += 1
        self.error_count += len(errors)
        if not self.currency_missing:
            self.currency_missing = any(
                error.field == "currency" and error.code == "field.missing" for error in errors
            )
        limit = self.limit
        if limit is None:
            if self.spool is None:
                import tempfile  # noqa: PLC0415 - only --max-errors 0 spools

                self.spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
                    max_size=_SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", errors="surrogatepass"
                )
            self.spool.writelines(_one_line(error.message) + "\n" for error in errors)
        elif len(self.kept) < limit:
            self.kept.extend(errors[: limit - len(self.kept)])

    def error_lines(self) -> Iterator[str]:
        """The listed errors' messages, in feed order."""
        if self.spool is None:
            yield from (_one_line(error.message) for error in self.kept)
            return
        self.spool.seek(0)
        for line in self.spool:
            yield line.rstrip("\n")

    @property
    def listed(self) -> int:
        return self.error_count if self.limit is None else len(self.kept)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


# Error lines of --max-errors 0 kept in memory before they go to a temporary file.
_SPOOL_IN_MEMORY = 1024 * 1024


class _ReadAs:
    """What the feed's events said: its format, the column map applied, the rows skipped."""

    __slots__ = ("columns", "format", "reasons", "skipped", "skipped_rows")

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.columns: str | None = None
        self.skipped = 0
        self.skipped_rows: list[dict[str, object]] = []
        self.reasons: dict[str, int] = {}

    def skip(self, event: RecordSkipped) -> None:
        self.skipped += 1
        self.reasons[event.reason] = self.reasons.get(event.reason, 0) + 1
        if len(self.skipped_rows) < MAX_SKIPPED_LISTED:
            self.skipped_rows.append({"line": event.line, "reason": event.reason})

    def describe(self, label: str) -> str:
        """``label (format)``, naming the column map when one was applied."""
        columns = f", {self.columns} columns" if self.columns else ""
        return f"{label} ({self.format}{columns})"

    def skipped_lines(self) -> list[str]:
        """One line per reason rows were skipped for, with how many were."""
        return [
            f"skipped {'1 row' if count == 1 else f'{count} rows'}: {reason}"
            for reason, count in self.reasons.items()
        ]


def _refusal(error: CommerceKitError | OSError) -> str:
    """One line saying why the feed was refused, for the partner."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not a feed file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, OSError):
        return f"cannot be read ({_one_line(error.strerror or str(error))})"
    detail = _one_line(str(error))
    message = user_message_for(error).message
    return f"{message.rstrip('.')}: {detail}" if detail else message


def _write_text_report(
    out: TextIO, tally: _Tally, label: str, read: _ReadAs, *, hint: bool
) -> None:
    name = read.describe(label)
    skipped = read.skipped_lines()
    if tally.records == 0:
        _say(out, "\n".join([f"{name}: no records found", *skipped]))
        return
    head = f"{name}: {_records(tally.records)}, {tally.accepted} accepted"
    if tally.rejected == 0:
        _say(out, "\n".join([f"{head}, all valid", *skipped]))
        return
    columns_unmatched = tally.columns.none_matched
    lines = [f"{head}, {tally.rejected} rejected", *skipped]
    if columns_unmatched:
        lines.append(tally.columns.hint())
    _say(out, "\n".join(lines))
    for line in tally.error_lines():
        _say(out, line, flush=False)
    more = tally.error_count - tally.listed
    if more:
        _say(out, f"... and {more} more", flush=False)
    if hint and tally.currency_missing and not columns_unmatched:
        _say(
            out,
            "hint: the feed names no currency; if all its prices are in one, give it with "
            "--currency (such as --currency USD)",
            flush=False,
        )
    out.flush()


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"


def _write_json_report(out: TextIO, tally: _Tally, read: _ReadAs) -> None:
    import json  # noqa: PLC0415

    check = tally.columns
    unmatched = (
        {
            "message": check.hint().removeprefix("hint: "),
            "found": list((check.found or ())[:MAX_COLUMNS_LISTED]),
            "expected": list(check.expected),
        }
        if check.none_matched
        else None
    )
    document = {
        "format": read.format,
        "columns": read.columns,
        "unmatched_columns": unmatched,
        "records": tally.records,
        "accepted": tally.accepted,
        "rejected": tally.rejected,
        "error_count": tally.error_count,
        "errors": [
            {
                "line": error.line,
                "index": error.index,
                "field": error.field,
                "code": error.code,
                "message": error.message,
            }
            for error in tally.kept
        ],
        "skipped": read.skipped,
        "skipped_rows": read.skipped_rows,
    }
    _say(out, json.dumps(document))  # ASCII-only: valid JSON whatever the terminal encoding


def _one_line(text: str) -> str:
    """Collapse a message to one line: a partner's data may carry line breaks."""
    return " ".join(text.split())


def _detach_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (captured, replaced)
        pass


def _say(stream: TextIO, text: str, *, flush: bool = True) -> None:
    """Write a line, escaping what the stream's encoding cannot carry instead of failing."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    if flush:
        stream.flush()


class ProgressBar:
    """A one-line progress bar on a terminal, fitted to its width and redrawn in place.

    It is drawn with :mod:`rich`, imported when the first frame is drawn, so a command that
    draws none (small feeds, no terminal) never loads it. It draws only for feeds of unknown
    size or of at least :data:`PROGRESS_MIN_BYTES`, at most ten times a second; every frame
    replaces the one before (a carriage return and an erase, never a new line), a long label is
    cut from the left to keep the file name, and :meth:`close` erases the bar, so the report
    starts on a clean line.

    Args:
        stream: Where to draw (standard error).
        label: What is being read, shown before the bar.
        clock: Monotonic seconds, for throttling.
        width: The terminal's width in characters; by default asked of the terminal.

    .. versionchanged:: 0.2.0
       Fits the terminal's width (``width`` is the terminal's, not the bar's) and is drawn with
       rich.
    """

    __slots__ = ("_clock", "_label", "_last", "_progress", "_stream", "_task", "_width")

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self._stream = stream
        self._label = label
        self._clock = clock
        self._width = width
        self._last: float | None = None
        self._progress: Any = None
        self._task: Any = None

    def _start(self, done: int, total: int | None) -> None:
        # Rich costs ~0.1 s to import: paid only when a bar is drawn.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
        )
        from rich.table import Column  # noqa: PLC0415

        # The caller draws only on a terminal (the command checks isatty), so rich need not ask.
        console = Console(
            file=self._stream, width=self._width, highlight=False, force_terminal=True
        )
        width = console.width
        # The label takes what the other columns leave, at least a few characters; at narrow
        # widths the sizes, then the bar, are dropped, so the bar never wraps onto two lines.
        others = 0 if width < 30 else 8 + (15 if width >= 60 else 0) + 12
        room = max(width - others - 1, 4)
        columns: list[ProgressColumn] = [
            # The label goes in as the task's description, never as markup or a format string:
            # a file name may hold "[" or "{".
            TextColumn(
                "{task.description}",
                markup=False,
                table_column=Column(no_wrap=True, overflow="crop", max_width=room),
            )
        ]
        if width >= 30:
            columns.append(BarColumn(bar_width=None, table_column=Column(min_width=8)))
            columns.append(TaskProgressColumn(table_column=Column(no_wrap=True)))
        if width >= 60:
            columns.append(DownloadColumn(binary_units=True, table_column=Column(no_wrap=True)))
        self._progress = Progress(
            *columns,
            console=console,
            auto_refresh=False,  # no drawing thread: frames are drawn by update(), throttled
            transient=True,  # stop() erases the bar
            expand=True,
        )
        label = _clip_left(_encodable(self._label, self._stream), room)
        self._task = self._progress.add_task(label, total=total, completed=done)
        self._progress.start()

    def update(self, done: int, total: int | None) -> None:
        """Redraw for ``done`` bytes read of ``total`` (``None`` when unknown)."""
        if total is not None and total < PROGRESS_MIN_BYTES:
            return
        now = self._clock()
        finished = total is not None and done >= total
        if self._last is not None and now - self._last < 0.1 and not finished:
            return
        self._last = now
        if self._progress is None:
            self._start(done, total)  # starting draws the first frame
            return
        self._progress.update(self._task, completed=done, total=total)
        self._progress.refresh()

    def close(self) -> None:
        """Erase the bar, if one was drawn."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _encodable(text: str, stream: TextIO) -> str:
    """``text`` with what the stream's encoding cannot carry escaped (a file name may hold it)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except (LookupError, UnicodeError):
        return text.encode("ascii", "backslashreplace").decode("ascii")


def _clip_left(label: str, room: int) -> str:
    """Cut ``label`` to ``room`` characters from the left, where a path says least."""
    if len(label) <= room:
        return label
    return "..." + label[-(room - 3) :] if room > 3 else label[-room:]
