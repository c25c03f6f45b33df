r"""Detection patterns on a linear-time engine: RE2, fed an ASCII projection of the text.

Detection runs on attacker text, so its regular expressions must not backtrack: RE2 (Google's
engine, through ``google-re2``) matches in time linear in the text by construction. Two
differences from Python's ``re`` would change what a pattern means, and both are removed here
instead of worked around in each pattern:

* RE2's ``\w``, ``\d``, ``\s`` and ``\b`` are ASCII, Python's are Unicode. So the text is
  *projected* to ASCII, one character to one byte, keeping what every pattern can tell apart:
  a non-ASCII decimal digit becomes ``B``, any other non-ASCII letter or digit ``A``, non-ASCII
  white space ``\x1c`` (white space to Python too) and anything else ``\x7f``. Patterns are
  written in lower case for lower-cased text, so ``A`` and ``B`` (and a real ``B``, projected to
  ``A``) match only the classes. Positions in the projection are positions in the text, and a
  lone surrogate is just one more "anything else".
* Patterns are written in Python's syntax (verbose mode) and translated: ``\s`` and ``\d``
  become the classes Python means, ``$`` matches before a final line feed as Python's does
  (that line feed is left out of the match), and look-arounds or back-references, which RE2
  lacks, are refused, so each rule states such a condition as a small check in Python.

The binding's own ``search`` encodes the whole text on every call; a scan that matches at many
positions calls RE2 directly on bytes encoded once, which keeps it linear too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import re2

__all__ = ["Hit", "Pattern", "Spans", "project", "project_latin1", "translate"]

#: A hit: the rule's name, and where it starts and ends.
Hit = tuple[str, int, int]
#: The span of each group of a match, ``(-1, -1)`` for a group that took no part.
Spans = Sequence[tuple[int, int]]

# Python's white space below U+0080 (str.isspace), as a class body for RE2.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f "
_DIGIT = "0-9B"

_ANCHOR_START = re2._re2.RE2.Anchor.ANCHOR_START  # noqa: SLF001 - the binding's raw entry point
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED  # noqa: SLF001 - the binding's raw entry point
_NO_SPAN = (-1, -1)


def _projected(char: str) -> int:
    if char.isdecimal():
        return 0x42  # "B"
    if char.isalnum():
        return 0x41  # "A"
    if char.isspace():
        return 0x1C
    return 0x7F


# Latin-1 bytes to their projection, for text below U+0100 (most product text).
_LATIN1 = bytes(
    (0x41 if code == 0x42 else code) if code < 0x80 else _projected(chr(code))
    for code in range(256)
)
# Other characters of the Basic Multilingual Plane, built on first use.
_bmp: list[int] | None = None
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _bmp_table() -> list[int]:
    global _bmp  # noqa: PLW0603 - built once, on the first text that needs it
    if _bmp is None:
        table = list(_LATIN1)
        table += [_projected(chr(code)) for code in range(256, 0x10000)]
        _bmp = table
    return _bmp


def project(text: str) -> bytes:
    """Return the ASCII projection of ``text`` (see the module's docstring), one byte a char."""
    if text.isascii():
        data = text.encode()
        return data.replace(b"B", b"A") if b"B" in data else data
    try:
        return text.encode("latin-1").translate(_LATIN1)
    except UnicodeEncodeError:
        pass
    projected = text.translate(_bmp_table())
    if not projected.isascii():
        projected = _ASTRAL.sub(lambda match: chr(_projected(match.group())), projected)
    return projected.encode()


def project_latin1(data: bytes) -> bytes:
    """Return the projection of the text whose Latin-1 encoding is ``data``."""
    return data.translate(_LATIN1)


# -- translation of Python's syntax --------------------------------------------------------------

_REFUSED = ("(?=", "(?!", "(?<=", "(?<!", "(?P=")


def translate(
    pattern: str, *, verbose: bool = True, plus_is_space: bool = False, groups: bool = True
) -> str:
    r"""Translate a Python pattern (verbose mode, DOTALL) to RE2 syntax for projected text.

    ``plus_is_space`` reads "+" as white space wherever the pattern says ``\s``, for the gate
    that runs SQL rules (which see "+" as a space) over the text as written. Without
    ``groups``, named groups become plain ones, so patterns can be joined into one.
    """
    for construct in _REFUSED:
        if construct in pattern:
            raise ValueError(f"RE2 has no {construct!r}: {pattern!r}")
    space = _SPACE + ("+" if plus_is_space else "")
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            i += 2
            if escape == r"\s":
                out.append(space if in_class else f"[{space}]")
            elif escape == r"\S":
                if in_class:
                    raise ValueError(f"\\S inside a class is not supported: {pattern!r}")
                out.append(f"[^{space}]")
            elif escape == r"\d":
                out.append(_DIGIT if in_class else f"[{_DIGIT}]")
            elif escape == r"\D":
                if in_class:
                    raise ValueError(f"\\D inside a class is not supported: {pattern!r}")
                out.append(f"[^{_DIGIT}]")
            elif escape == r"\Z":
                out.append(r"\z")
            elif escape == r"\x":
                out.append(pattern[i - 2 : i + 2])
                i += 2
            else:
                out.append(escape)
            continue
        i += 1
        if in_class:
            if char == "]":
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append(r"\]")
                i += 1
        elif verbose and char.isspace():
            continue
        elif verbose and char == "#":
            end = pattern.find("\n", i)
            i = len(pattern) if end == -1 else end
        elif char == "$":
            # Python's "$": the end, or before a line feed that ends the text. The line feed
            # is matched by a group of its own, and left out of what a hit reports.
            out.append(r"(?:\z|(?P<_nl>\n)\z)" if groups else r"(?:\z|\n\z)")
        elif char == "(" and not groups and pattern.startswith("?P<", i):
            i = pattern.index(">", i) + 1
            out.append("(?:")
        else:
            out.append(char)
    return "(?s)" + "".join(out)


class Pattern:
    """A translated pattern, matched on projected bytes; a hit is ``(rule, start, end)``.

    The rule is the name of the named group that took part (``"sql__tautology"`` reads
    ``"sql.tautology"``; trailing underscores only keep names unique), or ``default``.

    Args:
        pattern: The pattern in Python's syntax (see :func:`translate`).
        default: The rule a hit without a named group reports.
        verbose: Whether the pattern is in verbose mode.
        plus_is_space: See :func:`translate`.
    """

    __slots__ = ("_default", "_groups", "_names", "_newlines", "_regexp", "_starts", "pattern")

    def __init__(
        self,
        pattern: str,
        default: str = "",
        *,
        verbose: bool = True,
        plus_is_space: bool = False,
        translated: bool = False,
    ) -> None:
        if not translated:
            pattern = translate(pattern, verbose=verbose, plus_is_space=plus_is_space)
        translated_pattern = pattern
        # RE2 wants unique group names: number the line-feed groups.
        parts = translated_pattern.split("(?P<_nl>")
        translated_pattern = parts[0] + "".join(
            f"(?P<_nl{k}>{part}" for k, part in enumerate(parts[1:])
        )
        self.pattern = translated_pattern
        compiled = re2.compile(translated_pattern)
        regexp = compiled._regexp  # noqa: SLF001 - the raw matcher, to pass bytes and offsets
        self._regexp = regexp
        names = [(name.decode(), index) for name, index in regexp.NamedCapturingGroups()]
        self._names = tuple(sorted(names, key=lambda item: item[1]))
        self._newlines = tuple(index for name, index in names if name.startswith("_nl"))
        # A group named "_at..." marks where a hit starts, after a character matched only to
        # stand for a look-behind ("not after a letter").
        self._starts = tuple(index for name, index in names if name.startswith("_at"))
        self._groups = tuple(
            (index, name.rstrip("_").replace("__", "."))
            for name, index in sorted(names, key=lambda item: item[1])
            if not name.startswith("_")
        )
        self._default = default

    def search(self, data: bytes, pos: int = 0, endpos: int | None = None) -> bool:
        """Whether the pattern occurs in ``data[pos:endpos]`` (no groups: the fastest call)."""
        end = len(data) if endpos is None else endpos
        return self._regexp.Match(_UNANCHORED, data, pos, end)[0] != _NO_SPAN  # type: ignore[no-any-return]

    def find(self, data: bytes, pos: int = 0) -> Hit | None:
        """The leftmost hit at or after ``pos``."""
        return self.hit(self._regexp.Match(_UNANCHORED, data, pos, len(data)))

    def match(self, data: bytes, pos: int = 0) -> Hit | None:
        """The hit starting exactly at ``pos``."""
        return self.hit(self._regexp.Match(_ANCHOR_START, data, pos, len(data)))

    def spans(self, data: bytes, pos: int = 0) -> Spans | None:
        """Every group's span in the leftmost hit at or after ``pos``, or None."""
        spans: Spans = self._regexp.Match(_UNANCHORED, data, pos, len(data))
        return None if spans[0] == _NO_SPAN else spans

    def hit(self, spans: Spans | None) -> Hit | None:
        """The hit the spans of :meth:`spans` describe: its rule, start and end."""
        if spans is None:
            return None
        start, end = spans[0]
        if start == -1:
            return None
        for index in self._newlines:
            if spans[index] != _NO_SPAN:
                end -= 1
                break
        for index in self._starts:
            if spans[index] != _NO_SPAN:
                start = spans[index][0]
                break
        rule = self._default
        for index, name in self._groups:
            if spans[index] != _NO_SPAN:
                rule = name
                break
        return rule, start, end

    def group(self, spans: Spans, prefix: str) -> tuple[int, int]:
        """The span of the first group named ``prefix...`` that took part, or ``(-1, -1)``."""
        for name, index in self._names:
            if name.startswith(prefix) and spans[index] != _NO_SPAN:
                span: tuple[int, int] = spans[index]
                return span
        return _NO_SPAN
