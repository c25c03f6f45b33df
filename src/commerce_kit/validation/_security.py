"""Detection of SQL-injection and XSS attempts in free text, and the policy acting on it.

Free text is never made safe by detection: it is stored through query parameters and rendered
through the sanitizers. Detection exists to *notice* an attack, log it as a security event for
investigation and, in strict mode, refuse the record. The rules are tuned for precision on
product text (quotes in ``Rock 'n' Roll``, inch marks in ``27" monitor``, words like *select*,
*union*, *drop*, *order by*), because a detector that cries wolf gets switched off.

Each text is examined in a normalized view: lower case, with percent-, entity- and JavaScript
escapes decoded and typographic quotes folded to ASCII. A rule names one construct an attack
needs: a tautology after a boolean operator, ``UNION SELECT``, a stacked statement, a comment
cutting off the rest of a query after a quote, a timing function, an event-handler attribute, a
``javascript:`` URL, and so on.

The rules run on RE2 (see ``_patterns``), so attacker text cannot make
them backtrack: inspecting a text takes time and memory linear in its length.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from commerce_kit.validation._excerpt import excerpt
from commerce_kit.validation._patterns import (
    Hit,
    Pattern,
    Spans,
    project,
    project_latin1,
    translate,
)

__all__ = [
    "DEFAULT_POLICY",
    "SecurityMode",
    "SecurityPolicy",
    "Threat",
    "ThreatCategory",
    "inspect_field",
    "scan",
]


class SecurityMode(str, Enum):
    """What a :class:`SecurityPolicy` does with text that looks like an attack.

    .. versionadded:: 0.1.0
    """

    #: Log a security event and keep the record; the text is stored as inert data.
    FLAG = "flag"
    #: Log a security event and reject the field, so the record is rejected.
    STRICT = "strict"


class ThreatCategory(str, Enum):
    """The kind of attack a piece of text looks like.

    .. versionadded:: 0.1.0
    """

    SQL_INJECTION = "sql_injection"
    XSS = "xss"


@dataclass(frozen=True, slots=True)
class Threat:
    """One detection: the kind of attack, the rule that matched and the matching text.

    Attributes:
        category: SQL injection or XSS.
        rule: The stable name of the rule that matched, such as ``"sql.tautology"``.
        excerpt: A short, escaped excerpt of the matching text (never the whole value).

    .. versionadded:: 0.1.0
    """

    category: ThreatCategory
    rule: str
    excerpt: str

    @property
    def code(self) -> str:
        """The error code a rejection for this threat carries, such as ``"security.xss"``."""
        return f"security.{self.category.value}"


# -- patterns ------------------------------------------------------------------------------------
#
# Every free-text field of every record is inspected, and the text is the attacker's: the rules
# run on RE2, whose matching time is linear in the text (see _patterns). They are written in
# Python's syntax and read the text's projection; a named group carries the rule's name, with
# "__" for "." and trailing underscores only to keep names unique (names starting with "_" are
# not rules). Most rules apply only where they can start: right after a quote or a semicolon
# (where an injection breaks out of a string or a statement), at an opening parenthesis (where a
# function is called), or at a keyword. Before any rule runs, one pass of the gate (below) shows
# that most text can match none of them.

_NUM = r"(?:\d+(?:\.\d+)?)"
_STR = r"""(?:'[^']{0,40}'|"[^"]{0,40}")"""
_CMP = r"(?:=|<>|!=|<=>|>=|<=|>|<|like\b|regexp\b|rlike\b)"
_STATEMENT = r"""(?:
    drop\s+(?:table|database|schema|view|user|procedure|function|index|trigger)\b
  | delete\s+from\b | insert\s+into\b | truncate\s+table\b
  | update\s+[\w.`"\[\]]+\s+set\b
  | create\s+(?:table|user|database|login|procedure|function|trigger)\b
  | alter\s+(?:table|user|database|login)\b
  | exec(?:ute)?\s*(?:master\b|xp_|sp_|\(|@)
  | declare\s+@ | shutdown\b | waitfor\b | backup\s+database\b
  | grant\s+[\w\s,]{1,40}\s+(?:on|to)\b | revoke\s+\w | into\s+(?:out|dump)file\b
)"""

# A comparison of constants after a boolean operator: `' OR 1=1`, `" or "x"="x`, ` AND 7506=9091`,
# `' or a=a--`, `' or uid like '%`, `' and substring(password,1,1)='7`; or `IF(1=1)`. A word
# operator must not follow a letter or a digit ("for", "band", "nowhere"): the character before
# it is matched too, and the hit starts at the group "_at". Two of the comparisons are not
# regular (a name compared with itself) or too large for RE2 (a call with up to 60 arguments
# of up to 30 characters): their candidates are found by a pattern each and checked in Python
# (see _comparison). The groups "_first" mark the comparisons tried before them.
_WORD_OPERATORS = r"(?:or|and|xor|having|where)"
_SIGN_OPERATORS = r"(?:\|\||&&)"
_COMPARED = rf"""[\s(]*(?:
        ['"]?{_NUM}['"]?\)*\s*{_CMP}\s*[(\s]*['"]?{_NUM}(?P<_first>)
      | {_STR}\)*\s*{_CMP}\s*[(\s]*['"](?P<_first_>)
      | ['"][^'"\s]{{0,20}}\s*{_CMP}\s*['"](?P<_first__>)
      | [a-z_]\w{{0,20}}\s+like\s+['"]%
    )"""
_SAME_NAME_COMPARED = r"[\s(]*(?P<_l>[a-z_]\w{0,20})\s*=\s*(?P<_r>\w+)"
_CALL_COMPARED = rf"""[\s(]*[a-z_]\w{{0,30}}\((?P<_args>(?:[^()]|\([^()]*\))*)\)+\s*{_CMP}
    \s*['"\d]"""


def _after_operator(compared: str) -> Pattern:
    second = re.sub(r"\(\?P<(_\w+)>", r"(?P<\1b>", compared)
    return Pattern(
        rf"""(?:^|\W)(?P<_at>{_WORD_OPERATORS}{compared})
        | (?P<_atb>{_SIGN_OPERATORS}{second})""",
        "sql.tautology",
    )


_COMPARISON = Pattern(
    rf"""(?:^|\W)(?P<_at>{_WORD_OPERATORS}{_COMPARED})
    | (?P<_at_>{_SIGN_OPERATORS}{_COMPARED.replace("_first", "_firstb")})
    | if\s*\(\s*{_NUM}\s*{_CMP}\s*{_NUM}\s*[,)]""",
    "sql.tautology",
)
_SAME_NAME = _after_operator(_SAME_NAME_COMPARED)
_CALL = _after_operator(_CALL_COMPARED)
_MAX_ARGUMENTS = 60
_MAX_NESTED = 30

# A text that starts like the end of a condition or a query: ` OR x=y#`, `AND 1`, `'=0--+`,
# `'LIKE'`, ` like '%'`, ` ORDER BY 3`, `SELECT 1,2 FROM t`.
_AT_START_SOURCE = r"""\s*(?:
        (?P<sql__tautology>
            (?:or|and|xor|\|\||&&)\s+(?:true|false|\d+|[\w'"]{1,30}\s*(?:=|<>|!=)\s*[\w'"]{1,30})
            \s*(?:--|\#|/\*|;|$)
          | ['"]\s*(?:=|like\b) | like\s+['"]%)
      | (?P<sql__time_delay>waitfor\s+(?:delay|time)\s+['"])
      | (?P<sql__column_probe>(?:order|group)\s+by\s+\d+(?:\s*,\s*\d+)*\s*$)
      | (?P<sql__subquery>select\s+(?:\*|@@|null\b|\w+(?:\([^()]*\))?\s*,)[^;]{0,120}\bfrom\b)
    )"""
_AT_START = Pattern(_AT_START_SOURCE)

# Right after a quote that may close a string literal.
_AFTER_QUOTE_SOURCE = rf"""(?P<sql__tautology>\)*\s*(?:or|and|xor|\|\||&&)\s*(?:
            (?:true|false|not)\b | \d+\b\s*(?:--|\#|/\*|;|$)
          | ['"]['"] | ['"]\s*=\s*['"] | ['"][\w\s]{{0,10}}$
          | [a-z_]\w{{0,20}}\s*=\s*['"] | [a-z_]\w{{0,20}}\s+is\s+(?:not\s+)?null\b))
    | (?P<sql__stacked_query>[\s)]*;?\s*{_STATEMENT})
    # A SELECT after a quote needs a space or a parenthesis between them: an opening quote
    # hugs its word, as in the T-shirt slogan "SELECT * FROM coffee".
    | (?P<sql__subquery>(?:\s*\)|\s)\s*;?\s*select\b[^;]{{0,120}}\bfrom\b)
    | (?P<sql__obfuscation>\s*\|\|\s*['"\w])"""  # noqa: S608 - a regex, not a query
_AFTER_QUOTE = Pattern(_AFTER_QUOTE_SOURCE)

# Right after a closing quote near the end: a comment cutting off the rest of the query, as in
# `admin'--`, `' #`, `")/*`, `';%00`.
_COMMENT_TO_END_SOURCE = (
    r"""[\s)]*(?:-{1,2}[\s\-+]*|\#[^\w'"\n]{0,10}|/\*.{0,20}|;\s*(?:--|\#|%00|\x00))$"""
)
_COMMENT_TO_END = Pattern(_COMMENT_TO_END_SOURCE, "sql.comment_after_quote")
_COMMENT_REACH = 32

_AFTER_SEMICOLON_SOURCE = rf"""\s*(?:{_STATEMENT}|select\b[^;]{{0,120}}\bfrom\b)"""
_AFTER_SEMICOLON = Pattern(_AFTER_SEMICOLON_SOURCE, "sql.stacked_query")

# At an opening parenthesis, tried in this order: the function called (the name before the
# parenthesis, which the scan checks), a sub-query, a CSS expression.
_AT_PAREN: tuple[tuple[tuple[str, ...], Pattern], ...] = (
    (("sleep", "benchmark"), Pattern(r"\(\s*\d+\s*[),]", "sql.time_delay")),
    (("randomblob",), Pattern(r"\(\s*\d{6}", "sql.time_delay")),
    (
        ("load_file", "extractvalue", "updatexml", "name_const", "ctxsys.drithsx.sn"),
        Pattern(r"\(", "sql.dangerous_function"),
    ),
    (("floor",), Pattern(r"\(\s*rand\(", "sql.dangerous_function")),
    (("exp",), Pattern(r"\(\s*~", "sql.dangerous_function")),
    (("convert",), Pattern(r"\(\s*int\s*,", "sql.dangerous_function")),
    (
        ("",),
        Pattern(
            r"\(\s*select\b(?:[^()]{0,120}\bfrom\b|\s*\(|\s+(?:@@|null\b|\*|\d))", "sql.subquery"
        ),
    ),
    (
        ("expression", "binding:url", "behavior:url", "behaviour:url"),
        Pattern(r"\(", "xss.css_expression"),
    ),
)

# Found by keyword: searched only when the text contains the keyword.
_UNION_SOURCE = r"union(?:\s+(?:all|distinct))?[\s(]*select(?P<sql__union_select>)"
_UNDERSCORE_WORDS_SOURCE = r"""dbms_(?:lock\.sleep|pipe\.receive_message)\b(?P<sql__time_delay>)
    | (?:xp_(?:cmdshell|regread|regwrite|dirtree|fileexist|servicecontrol)\b
      | sp_(?:executesql|addlogin|addsrvrolemember|configure|password|makewebtask|oacreate)\b
      | utl_(?:http|inaddr|file|smtp|tcp)\. | dbms_\w+\.\w+)(?P<sql__dangerous_function>)
    | (?:information_schema|all_tab(?:les|_columns)|pg_catalog|sqlite_master)\b
      (?P<sql__schema_probe>)"""
_SCHEMA_SOURCE = r"""(?:@@(?:version|datadir|hostname|basedir|servername)\b|sysobjects\b
    |syscolumns\b|sys\.user\$|sys\.databases\b|v\$version\b)(?P<sql__schema_probe>)"""
_BY_SOURCE = r"""(?:(?:order|group)\s+by\s+\d+(?:\s*,\s*\d+)*\s*,?\s*(?:--|\#|/\*)
    |order\s+by\s+(?:\d+\s*,\s*)*sleep\(|group\s+by\s+[\w\s,]{1,60}\bhaving\b
    |['")]\s*(?:order|group)\s+by\s+(?:\d|sleep\())(?P<sql__column_probe>)"""
_COMMENT_TRICK_SOURCE = (
    r"""(?:/\*!\d*|/\*\*/|/\*[^*]{0,20}['"][^*]{0,20}\*/)(?P<sql__obfuscation>)"""
)
_KEYWORDS = (
    (("union",), Pattern(_UNION_SOURCE)),
    (("_",), Pattern(_UNDERSCORE_WORDS_SOURCE)),
    (("@", "$", "sys"), Pattern(_SCHEMA_SOURCE)),
    ((" by ",), Pattern(_BY_SOURCE)),
    (("/*",), Pattern(_COMMENT_TRICK_SOURCE)),
)


def _keyword_rules(view: str, data: bytes) -> _Hit | None:
    for needles, pattern in _KEYWORDS:
        if any(needle in view for needle in needles):
            found = pattern.find(data)
            if found is not None:
                return _hit_in(view, found)
    return None


_XSS_TAG_SOURCE = r"""<\s*/?\s*(?:(?P<xss__script_tag>script\b)
      | (?P<xss__dangerous_tag>(?:iframe|i?frameset|frame|object|embed|applet|svg|math|style
        |link|meta|base|form|input|button|textarea|isindex|marquee|body|html|xml|xss|import
        |bgsound|layer|ilayer|plaintext|xmp|noscript|template|details|animate|set|image
        |vmlframe|keygen|portal|title|head)\b))
    | <!\s*(?:doctype|entity|attlist|element|\[cdata\[)(?P<xss__dangerous_tag_>)
    | <\?\s*xml(?P<xss__dangerous_tag__>)"""
_XSS_TAG = Pattern(_XSS_TAG_SOURCE)
# An event handler: "on" and a name, not after a letter, a digit, "_" or "-".
_XSS_HANDLER = Pattern(r"(?:^|[^\w\-])(?P<_at>on[a-z]{3,}[\s/]*=)", "xss.event_handler")
# The name before an "=": attributes that run or load code without an "on" prefix.
_XSS_ATTRIBUTE_BEFORE = Pattern(
    r"(?:formaction|datasrc|dataformatas|srcdoc)[\s/]*$", "xss.dangerous_attribute"
)
_XSS_ATTRIBUTE_REACH = 16
_XSS_ATTRIBUTE_NAMES = ("formaction", "datasrc", "dataformatas", "srcdoc")
_XSS_DATA_AFTER_SOURCE = r"""\s*['"`]?\s*data\s*:[^,]{0,60},"""
_XSS_DATA_AFTER = Pattern(_XSS_DATA_AFTER_SOURCE, "xss.data_url")
# Browsers drop control characters inside and before a URL scheme (`jav&#x09;ascript:`); spaces
# they keep, so "JavaScript: The Good Parts" (a space after the colon) is a book, not a URL.
# A scheme after white space must not follow a letter: that character is matched too.
_URL_NOISE = re.compile("[\x00-\x1f]")
_XSS_SCHEME = Pattern(
    r"""(?:[=("'`:<]\s*(?:java|vb|live)script\s*:(?P<xss__javascript_url>)
      | (?:^|\s)(?P<_at>(?:java|vb|live)script:\S)(?P<xss__javascript_url_>))
    | (?:^\s*|[=("'`:<]\s*)data:[\w+.-]+/[\w+.-]+[^,\s]{0,40},(?P<xss__data_url>)"""
)
# After a quote: leaving a JavaScript string to call something, as in `'-alert(1)-'`.
_XSS_AFTER_QUOTE_SOURCE = r"""\s*[-+*/;,|&]\s*(?:(?:alert|confirm|prompt|eval|fetch|import)\s*[(`]
    |(?:document|window|top|self|parent)\s*[.\[])(?P<xss__script_breakout>)"""
_XSS_AFTER_QUOTE = Pattern(_XSS_AFTER_QUOTE_SOURCE)
_BREAKOUT_WORDS = (
    "alert", "confirm", "prompt", "eval", "fetch", "import", "document", "window", "top", "self",
    "parent",
)  # fmt: skip
_XSS_IMPORT_SOURCE = r"@import\b(?P<xss__css_expression>)"
_XSS_IMPORT = Pattern(_XSS_IMPORT_SOURCE)

# What may follow a quote (after spaces and parentheses) for a rule to apply there: a boolean
# operator, a statement, a comment, a concatenation or an arithmetic operator.
_AFTER_QUOTE_STARTS = (
    "or", "and", "xor", "||", "&&", ";", "drop", "delete", "insert", "truncate", "update",
    "create", "alter", "exec", "declare", "shutdown", "waitfor", "backup", "grant", "revoke",
    "into", "select", "-", "#", "/", "+", "*", ",", "|", "&",
)  # fmt: skip
_STATEMENTS = (
    "drop ", "delete ", "insert ", "truncate ", "update ", "create ", "alter ", "exec ",
    "execute ", "declare ", "shutdown", "waitfor ", "grant ", "revoke ",
)  # fmt: skip

# -- normalization and scanning ------------------------------------------------------------------

# Typographic quotes and dashes a copy-pasted payload carries instead of ASCII ones, mapped one
# character to one, so positions in the SQL view and the decoded view agree.
_TYPOGRAPHIC = "\u2018\u2019\u2032\u201c\u201d\u2013\u2014"
_FOLD = str.maketrans(_TYPOGRAPHIC, "'''\"\"--")


def _has_typographic(view: str) -> bool:
    # Seven substring tests run faster than one character-class search.
    return any(char in view for char in _TYPOGRAPHIC)


_PERCENT = re.compile("%[0-9a-fA-F]{2}")
_JS_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\})")

# A detection: the rule's name and the text it matched.
_Hit = tuple[str, str]


def _js_unescape(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2) or match.group(3), 16)
    return chr(code) if code < 0x110000 else ""


def _decoded(text: str) -> str:
    """Lower case, with percent-, entity- and JavaScript escapes decoded (twice, for layers)."""
    view = text.lower()
    if "%" not in view and "&" not in view and "\\" not in view:
        return view
    for _ in range(2):
        before = view
        if "%" in view and _PERCENT.search(view):
            view = unquote(view)
        if "&" in view:
            view = html.unescape(view)
        if "\\" in view:
            view = _JS_ESCAPE.sub(_js_unescape, view)
        if view == before:
            break
    return view


def _without_comments(view: str) -> str:
    """``view`` with each ``/* ... */`` comment read as a space, in one pass over the text."""
    parts: list[str] = []
    at = 0
    while True:
        opening = view.find("/*", at)
        if opening == -1:
            break
        closing = view.find("*/", opening + 2)
        if closing == -1:
            break  # no comment opened here or later is closed
        parts += (view[at:opening], " ")
        at = closing + 2
    if not parts:
        return view
    parts.append(view[at:])
    return "".join(parts)


def _hit_in(text: str, found: Hit | None) -> _Hit | None:
    if found is None:
        return None
    rule, start, end = found
    return rule, text[start:end]


def _closes_string(view: str, at: int) -> bool:
    # A quote right after a digit is an inch or foot mark (`27" --`), not the end of a string.
    before = view[:at].rstrip()
    return not before or before[-1] not in "0123456789'\""


def _same_names(view: str, spans: Spans) -> bool:
    left, right = _SAME_NAME.group(spans, "_l"), _SAME_NAME.group(spans, "_r")
    return view[left[0] : left[1]] == view[right[0] : right[1]]


def _short_arguments(view: str, spans: Spans) -> bool:
    # At most 60 arguments (characters or parenthesised groups), each group at most 30 long.
    start, end = _CALL.group(spans, "_args")
    count = 0
    at = start
    while at < end:
        if view[at] == "(":
            closing = view.index(")", at)
            if closing - at - 1 > _MAX_NESTED:
                return False
            at = closing
        at += 1
        count += 1
    return count <= _MAX_ARGUMENTS


# Tried at one position in this order: constants (marked "_first"), a name compared with itself,
# `like '%`, a call.
_CHECKED = ((1, _SAME_NAME, _same_names), (3, _CALL, _short_arguments))


def _comparison(view: str, data: bytes) -> _Hit | None:
    """The leftmost comparison rule, the two checked in Python included."""
    spans = _COMPARISON.spans(data)
    found = _COMPARISON.hit(spans)
    best: tuple[int, int, int] | None = None
    if spans is not None and found is not None:
        first = _COMPARISON.group(spans, "_first") != (-1, -1)
        best = (found[1], 0 if first else 2, found[2])
    for rank, pattern, check in _CHECKED:
        pos = 0
        while (candidate := pattern.spans(data, pos)) is not None:
            hit = pattern.hit(candidate)
            if hit is None or (best is not None and (hit[1], rank) > best[:2]):
                break
            if check(view, candidate):
                best = (hit[1], rank, hit[2])
                break
            pos = candidate[0][0] + 1
    return None if best is None else ("sql.tautology", view[best[0] : best[2]])


class _Scan:
    """One pass over a text's candidate positions, keeping the first hit of each category.

    ``view`` is the decoded text; ``sql_view`` the same with "+" read as a space (as in a
    URL-encoded payload, `1'+or+1=1`), position for position, since XSS wants "+" kept.
    ``data`` and ``sql_data`` are their projections, which the patterns read.
    """

    __slots__ = (
        "breakout",
        "data",
        "sql",
        "sql_data",
        "sql_view",
        "view",
        "want_sql",
        "want_xss",
        "xss",
    )

    def __init__(self, view: str, data: bytes, *, want_sql: bool, want_xss: bool) -> None:
        self.view = view
        self.data = data
        self.sql_view = view
        self.sql_data = data
        if "+" in view:
            self.sql_view = view.replace("+", " ")
            self.sql_data = data.replace(b"+", b" ")
        self.want_sql = want_sql
        self.want_xss = want_xss
        self.sql: _Hit | None = None
        self.xss: _Hit | None = None
        # A script break-out after a quote needs one of its words somewhere in the text.
        self.breakout = want_xss and any(word in view for word in _BREAKOUT_WORDS)

    def done(self) -> bool:
        return (self.sql is not None or not self.want_sql) and (
            self.xss is not None or not self.want_xss
        )

    def take(self, found: _Hit | None) -> None:
        if found is None:
            return
        if found[0].startswith("sql."):
            if self.want_sql and self.sql is None:
                self.sql = found
        elif self.want_xss and self.xss is None:
            self.xss = found

    def fixed_sql(self) -> None:
        """The SQL rules that are not tied to a position found by hand."""
        view = self.sql_view
        if "=" in view or "<>" in view or ("like" in view and ("'" in view or '"' in view)):
            self.take(_comparison(view, self.sql_data))
        if self.sql is None:
            self.take(_hit_in(view, _AT_START.match(self.sql_data)))

    def keywords_sql(self) -> None:
        if self.sql is None:
            self.take(_keyword_rules(self.sql_view, self.sql_data))

    def fixed_xss(self) -> None:
        """The XSS rules that are not tied to a position found by hand."""
        view, data = self.view, self.data
        if "<" in view:
            self.take(_hit_in(view, _XSS_TAG.find(data)))
        if self.xss is None and "=" in view:
            self.take(_hit_in(view, _XSS_HANDLER.find(data)))
            if self.xss is None:
                self.equals()
        if self.xss is None and ("script" in view or "data:" in view):
            scheme_view, scheme_data = view, data
            if _URL_NOISE.search(view):
                scheme_view = _URL_NOISE.sub("", view)
                scheme_data = project(scheme_view)
            self.take(_hit_in(scheme_view, _XSS_SCHEME.find(scheme_data)))
        if self.xss is None and "@" in view:
            self.take(_hit_in(view, _XSS_IMPORT.find(data)))

    def positions(self) -> None:
        """Visit the quotes, semicolons and parentheses, where most rules start."""
        view = self.sql_view
        if "'" in view or '"' in view or "`" in view:
            self.quotes()
        if ";" in view and self.want_sql:
            self.semicolons()
        if "(" in view:
            self.parens()

    def quotes(self) -> None:
        """Look after each quote that may close a string (not an opening quote, not a word's)."""
        view = self.sql_view
        end = len(view)
        starts = _AFTER_QUOTE_STARTS
        for quote in "'\"`":
            at = view.find(quote)
            while at != -1:
                # An opening quote or a word's apostrophe is followed by a letter or a digit,
                # unless the "word" is a statement: `'create user x`, `'exec sp_addlogin`.
                if not view[at + 1 : at + 2].isalnum() or view.startswith(_STATEMENTS, at + 1):
                    rest = view[at + 1 : at + 24].lstrip(" \t\n)")
                    if not rest or rest.startswith(starts):
                        self._after_quote(at, end)
                        if self.done():
                            return
                at = view.find(quote, at + 1)

    def _after_quote(self, at: int, end: int) -> None:
        view, data = self.sql_view, self.sql_data
        if self.want_sql and self.sql is None:
            found = _hit_in(view, _AFTER_QUOTE.match(data, at + 1))
            if found is None and end - at <= _COMMENT_REACH and _closes_string(view, at):
                found = _hit_in(view, _COMMENT_TO_END.match(data, at + 1))
            self.take(found)
        if self.want_xss and self.xss is None and self.breakout:
            self.take(_hit_in(self.view, _XSS_AFTER_QUOTE.match(self.data, at + 1)))

    def semicolons(self) -> None:
        view, data = self.sql_view, self.sql_data
        at = view.find(";")
        while at != -1 and self.sql is None:
            self.take(_hit_in(view, _AFTER_SEMICOLON.match(data, at + 1)))
            at = view.find(";", at + 1)

    def parens(self) -> None:
        """Look at each parenthesis that follows a name or opens a sub-query."""
        view, data = self.sql_view, self.sql_data
        at = view.find("(")
        while at != -1:
            if view[at - 1 : at].isalpha() or view[at + 1 : at + 12].lstrip().startswith("select"):
                for names, pattern in _AT_PAREN:
                    if view.endswith(names, 0, at):
                        found = pattern.match(data, at)
                        if found is not None:
                            self.take(_hit_in(view, found))
                            break
                if self.done():
                    return
            at = view.find("(", at + 1)

    def equals(self) -> None:
        """Look around each "=" for attributes that run code or load a ``data:`` URL."""
        view, data = self.view, self.data
        # Each rule needs its words somewhere in the text.
        attributes = any(name in view for name in _XSS_ATTRIBUTE_NAMES)
        data_urls = "data" in view
        at = view.find("=") if attributes or data_urls else -1
        while at != -1 and self.xss is None:
            if attributes:
                start = max(0, at - _XSS_ATTRIBUTE_REACH)
                self.take(_hit_in(view[start:at], _XSS_ATTRIBUTE_BEFORE.find(data[start:at])))
            if data_urls:
                self.take(_hit_in(view, _XSS_DATA_AFTER.match(data, at + 1)))
            at = view.find("=", at + 1)


def _view(text: str) -> str:
    """The text as every rule reads it: decoded, lower case, typographic quotes folded."""
    view = _decoded(text)
    if not view.isascii() and _has_typographic(view):
        view = view.translate(_FOLD)
    return view


# -- the quiet-text gate ---------------------------------------------------------------------------
#
# Most product text can match no rule at all, and one pass of RE2 over it shows so: the gate is
# one pattern, the union of what the rules need, written so that it matches wherever a rule
# could (it may send an innocent text to the scan, never the other way round). The conditions
# the scan checks in Python (which quote may close a string, the name before a parenthesis, a
# word operator not after a letter, a name compared with itself) are left out or loosened, and
# the SQL rules read "+" as a space here too. The test suite checks that the gate and the full
# scan agree on generated text and on the attack corpora.


def _spelled(word: str) -> str:
    # A word with control characters anywhere in it: browsers drop them in a URL's scheme.
    return "[\x00-\x1f]*".join(re.escape(char) for char in word)


_GATE_XSS = (
    _XSS_TAG_SOURCE,
    r"on[a-z]{3,}[\s/]*=",
    r"(?:formaction|datasrc|dataformatas|srcdoc)[\s/]*=",
    "=" + _XSS_DATA_AFTER_SOURCE,
    _spelled("script") + "[\\s\x00-\x1f]*:",
    _spelled("data:") + "[\\w+.\\-\x00-\x1f]+/",
    "['\"`]" + _XSS_AFTER_QUOTE_SOURCE,
    _XSS_IMPORT_SOURCE,
    r"(?:expression|binding:url|behavior:url|behaviour:url)\(",
)
_GATE_SQL = (
    rf"(?:{_WORD_OPERATORS}|{_SIGN_OPERATORS})(?:{_COMPARED}|{_SAME_NAME_COMPARED}|{_CALL_COMPARED})",
    rf"if\s*\(\s*{_NUM}\s*{_CMP}\s*{_NUM}\s*[,)]",
    "^" + _AT_START_SOURCE,
    "['\"`](?:" + _AFTER_QUOTE_SOURCE + "\n)",
    "['\"`]" + _COMMENT_TO_END_SOURCE,
    ";" + _AFTER_SEMICOLON_SOURCE,
    r"(?:sleep|benchmark)\(\s*\d+\s*[),]",
    r"randomblob\(\s*\d{6}",
    r"(?:load_file|extractvalue|updatexml|name_const|ctxsys\.drithsx\.sn)\(",
    r"floor\(\s*rand\(",
    r"exp\(\s*~",
    r"convert\(\s*int\s*,",
    r"\(\s*select\b(?:[^()]{0,120}\bfrom\b|\s*\(|\s+(?:@@|null\b|\*|\d))",
    _UNION_SOURCE,
    _UNDERSCORE_WORDS_SOURCE,
    _SCHEMA_SOURCE,
    _BY_SOURCE,
    # Comments read as white space in a second pass of the SQL rules.
    r"/\*",
)
_GATE = Pattern(
    "|".join(
        [translate(part, groups=False) for part in _GATE_XSS]
        + [translate(part, groups=False, plus_is_space=True) for part in _GATE_SQL]
    ),
    translated=True,
)


def _quiet(view: str) -> bool:
    """Whether no rule of the scan can match ``view``, shown by one pass of the gate."""
    return not _GATE.search(project(view))


class SecurityPolicy:
    """Flags text that looks like SQL injection or XSS, and decides whether to reject it.

    The policy examines free-text fields (see :obj:`~commerce_kit.validation.SafeText` and
    :obj:`~commerce_kit.validation.SafeHtml`) before they are sanitized. Whatever the mode,
    every detection becomes a :class:`~commerce_kit.validation.SecurityEvent`, logged on the
    ``commerce_kit.security`` logger. In ``"flag"`` mode (the default) the record is kept and
    the text stored as data; in ``"strict"`` mode the field is rejected with the code
    ``security.sql_injection`` or ``security.xss``.

    Args:
        mode: ``"flag"`` or ``"strict"`` (or a :class:`SecurityMode`).
        sql_injection: Whether to look for SQL injection.
        xss: Whether to look for cross-site scripting.

    Raises:
        ValueError: If ``mode`` is not a known mode.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       The rules run on RE2, in time linear in the text; they detect what they detected.
    """

    __slots__ = ("mode", "sql_injection", "xss")

    def __init__(
        self,
        *,
        mode: SecurityMode | str = SecurityMode.FLAG,
        sql_injection: bool = True,
        xss: bool = True,
    ) -> None:
        try:
            self.mode = SecurityMode(mode)
        except ValueError:
            raise ValueError(f"mode must be 'flag' or 'strict', not {mode!r}") from None
        self.sql_injection = sql_injection
        self.xss = xss

    @property
    def strict(self) -> bool:
        """Whether a detection rejects the field."""
        return self.mode is SecurityMode.STRICT

    def __repr__(self) -> str:
        return (
            f"SecurityPolicy(mode={self.mode.value!r}, sql_injection={self.sql_injection}, "
            f"xss={self.xss})"
        )

    def inspect(self, text: str) -> tuple[Threat, ...]:
        """Return the attacks ``text`` looks like an attempt at: at most one per category.

        Args:
            text: Received text, before sanitization.

        Returns:
            The detections, SQL injection first; empty for ordinary text.
        """
        if not (self.sql_injection or self.xss):
            return ()
        view = _view(text)
        data = project(view)
        if not _GATE.search(data):
            return ()
        return _scan(view, data, sql_injection=self.sql_injection, xss=self.xss)


def inspect_field(policy: SecurityPolicy, text: str, raw: bytes | None) -> tuple[Threat, ...]:
    """:meth:`SecurityPolicy.inspect`, with what a text field already knows about ``text``.

    Args:
        policy: The policy inspecting the text.
        text: Received text, before sanitization.
        raw: ``latin1(text)``: its bytes when every character is below U+0100, else None.

    Returns:
        What ``policy.inspect(text)`` returns.
    """
    sql_injection, xss = policy.sql_injection, policy.xss
    if not (sql_injection or xss):
        return ()
    # Nothing to decode ("100%" is no escape): the rules read the text in lower case.
    plain = (
        "&" not in text and "\\" not in text and ("%" not in text or _PERCENT.search(text) is None)
    )
    if plain and raw is not None:
        # Lowering the bytes changes only ASCII letters (str.lower would look up every
        # character); the projection maps the other letters whatever their case. Typographic
        # quotes are above U+00FF, so there is nothing to fold.
        data = raw.lower()
        if not text.isascii():
            data = project_latin1(data)
        if not _GATE.search(data):
            return ()
        return _scan(text.lower(), data, sql_injection=sql_injection, xss=xss)
    view = _view(text)
    data = project(view)
    if not _GATE.search(data):
        return ()
    return _scan(view, data, sql_injection=sql_injection, xss=xss)


def scan(view: str, *, sql_injection: bool, xss: bool) -> tuple[Threat, ...]:
    """Run every rule over ``view`` (see :func:`_view`), the slow path the gate skips."""
    return _scan(view, project(view), sql_injection=sql_injection, xss=xss)


def _scan(view: str, data: bytes, *, sql_injection: bool, xss: bool) -> tuple[Threat, ...]:
    found = _Scan(view, data, want_sql=sql_injection, want_xss=xss)
    if xss:
        found.fixed_xss()
    if sql_injection:
        found.fixed_sql()
    if not found.done():
        found.positions()
    if sql_injection:
        found.keywords_sql()
        if found.sql is None and "/*" in view:
            # Comments read as whitespace: `union/**/select`, `or/*x*/1=1`.
            found.sql_view = _without_comments(found.sql_view)
            found.sql_data = project(found.sql_view)
            found.want_xss = False
            found.fixed_sql()
            found.positions()
            found.keywords_sql()
    threats = []
    if found.sql is not None:
        threats.append(_threat(ThreatCategory.SQL_INJECTION, found.sql))
    if found.xss is not None:
        threats.append(_threat(ThreatCategory.XSS, found.xss))
    return tuple(threats)


def _threat(category: ThreatCategory, found: _Hit) -> Threat:
    rule, matched = found
    return Threat(category, rule, excerpt(matched) or "")


#: The policy used where no other is given: flag, never reject.
DEFAULT_POLICY = SecurityPolicy()
