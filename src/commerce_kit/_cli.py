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
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from commerce_kit._errors import CommerceKitError
from commerce_kit.http._catalogue import user_message_for

if TYPE_CHECKING:
    from commerce_kit.feeds._adapter import FeedSource
    from commerce_kit.feeds._parse import FeedEvent, RecordSkipped
    from commerce_kit.validation import ValidationReport

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_REFUSED", "EXIT_REJECTED", "main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_REFUSED = 2
EXIT_INTERNAL = 3

PROG = "commerce-kit"
ISSUES = "https://github.com/commerce-kit/commerce-kit/issues"
DEFAULT_SHOWN_ERRORS = 20
# Skipped rows listed in the JSON report, like the errors the validator keeps.
MAX_SKIPPED_LISTED = 1000
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
    from commerce_kit.validation import Validator  # noqa: PLC0415

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
    elif sys.stdin is None:  # started with standard input closed
        _say(err, f"{PROG}: {label}: standard input is closed")
        return EXIT_REFUSED
    else:
        source = getattr(sys.stdin, "buffer", sys.stdin)
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
    try:
        records = parse_feed(source, format=args.format, hooks=[on_feed_event], columns=columns)
        report = Validator(defaults=defaults).validate(records)
    except (CommerceKitError, OSError) as error:
        refusal: CommerceKitError | OSError | None = error
    else:
        refusal = None
    finally:
        if bar is not None:
            bar.close()
    if refusal is not None:
        _say(err, f"{PROG}: {label}: {_refusal(refusal)}")
        return EXIT_REFUSED
    if args.json:
        _say(out, _json_report(report, read))
    else:
        _say(out, _text_report(report, label, read, args.max_errors, hint=not args.currency))
    return EXIT_OK if report.rejected == 0 else EXIT_REJECTED


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


def _text_report(
    report: ValidationReport[Any], label: str, read: _ReadAs, shown: int, *, hint: bool
) -> str:
    name = read.describe(label)
    skipped = read.skipped_lines()
    if report.records == 0:
        return "\n".join([f"{name}: no records found", *skipped])
    head = f"{name}: {_records(report.records)}, {len(report.accepted)} accepted"
    if report.rejected == 0:
        return "\n".join([f"{head}, all valid", *skipped])
    lines = [f"{head}, {report.rejected} rejected", *skipped]
    errors = report.errors if shown == 0 else report.errors[:shown]
    lines.extend(_one_line(error.message) for error in errors)
    more = report.error_count - len(errors)
    if more:
        lines.append(f"... and {more} more")
    if hint and any(
        error.field == "currency" and error.code == "field.missing" for error in report.errors
    ):
        lines.append(
            "hint: the feed names no currency; if all its prices are in one, give it with "
            "--currency (such as --currency USD)"
        )
    return "\n".join(lines)


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"


def _json_report(report: ValidationReport[Any], read: _ReadAs) -> str:
    import json  # noqa: PLC0415

    document = {
        "format": read.format,
        "columns": read.columns,
        "records": report.records,
        "accepted": len(report.accepted),
        "rejected": report.rejected,
        "error_count": report.error_count,
        "errors": [
            {
                "line": error.line,
                "index": error.index,
                "field": error.field,
                "code": error.code,
                "message": error.message,
            }
            for error in report.errors
        ],
        "skipped": read.skipped,
        "skipped_rows": read.skipped_rows,
    }
    return json.dumps(document)  # ASCII-only: valid JSON whatever the terminal encoding


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


def _say(stream: TextIO, text: str) -> None:
    """Write a line, escaping what the stream's encoding cannot carry instead of failing."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


class ProgressBar:
    """A one-line progress bar drawn on a terminal with carriage returns.

    It draws only for feeds of unknown size or of at least :data:`PROGRESS_MIN_BYTES`, at most
    ten times a second, and :meth:`close` wipes the line, so the report starts on a clean one.

    Args:
        stream: Where to draw (standard error).
        label: What is being read, shown before the bar.
        clock: Monotonic seconds, for throttling.
        width: The bar's width in characters.
    """

    __slots__ = ("_clock", "_drawn", "_label", "_last", "_stream", "_width")

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: int = 30,
    ) -> None:
        self._stream = stream
        self._label = label if len(label) <= 40 else "..." + label[-37:]
        self._clock = clock
        self._width = width
        self._last: float | None = None
        self._drawn = 0

    def update(self, done: int, total: int | None) -> None:
        """Redraw for ``done`` bytes read of ``total`` (``None`` when unknown)."""
        if total is not None and total < PROGRESS_MIN_BYTES:
            return
        now = self._clock()
        finished = total is not None and done >= total
        if self._last is not None and now - self._last < 0.1 and not finished:
            return
        self._last = now
        if total:
            fraction = min(done / total, 1.0)
            filled = int(fraction * self._width)
            bar = "#" * filled + "-" * (self._width - filled)
            line = f"{self._label} [{bar}] {fraction:4.0%} {_size(done)} / {_size(total)}"
        else:
            line = f"{self._label} {_size(done)} read"
        self._stream.write("\r" + line.ljust(self._drawn))
        self._stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        """Wipe the bar, if one was drawn."""
        if self._drawn:
            self._stream.write("\r" + " " * self._drawn + "\r")
            self._stream.flush()
            self._drawn = 0


def _size(count: int) -> str:
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
