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
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from commerce_kit.validation._excerpt import excerpt

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
# Every free-text field of every record is inspected, so scanning cost matters. Python's regex
# engine is slow at trying many alternatives at every position and fast at finding a literal, so
# each pattern is tried only where it can start: right after a quote or a semicolon (where an
# injection breaks out of a string or a statement), at an opening parenthesis (where a function
# is called), or once a cheap substring test has found its keyword. A named group carries the
# rule's name, with "__" for "." and trailing underscores only to keep names unique.

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
_FLAGS = re.VERBOSE | re.DOTALL

# A comparison of constants after a boolean operator: `' OR 1=1`, `" or "x"="x`, ` AND 7506=9091`,
# `' or a=a--`, `' or uid like '%`, `' and substring(password,1,1)='7`; or `IF(1=1)`. The
# look-behinds keep "for", "band" or "nowhere" out without a leading \b (which is slow).
_COMPARISON = re.compile(
    rf"""(?:or(?<!\wor)|and(?<!\wand)|xor(?<!\wxor)|having(?<!\whaving)|where(?<!\wwhere)|\|\||&&)
    [\s(]*(?:
        ['"]?{_NUM}['"]?\)*\s*{_CMP}\s*[(\s]*['"]?{_NUM}
      | {_STR}\)*\s*{_CMP}\s*[(\s]*['"]
      | ['"][^'"\s]{{0,20}}\s*{_CMP}\s*['"]
      | (?P<same>[a-z_]\w{{0,20}})\s*=\s*(?P=same)\b
      | [a-z_]\w{{0,20}}\s+like\s+['"]%
      | [a-z_]\w{{0,30}}\((?:[^()]|\([^()]{{0,30}}\)){{0,60}}\)+\s*{_CMP}\s*['"\d]
    )
    | if\s*\(\s*{_NUM}\s*{_CMP}\s*{_NUM}\s*[,)]""",
    _FLAGS,
)

# A text that starts like the end of a condition or a query: ` OR x=y#`, `AND 1`, `'=0--+`,
# `'LIKE'`, ` like '%'`, ` ORDER BY 3`, `SELECT 1,2 FROM t`.
_AT_START = re.compile(
    r"""\s*(?:
        (?P<sql__tautology>
            (?:or|and|xor|\|\||&&)\s+(?:true|false|\d+|[\w'"]{1,30}\s*(?:=|<>|!=)\s*[\w'"]{1,30})
            \s*(?:--|\#|/\*|;|$)
          | ['"]\s*(?:=|like\b) | like\s+['"]%)
      | (?P<sql__time_delay>waitfor\s+(?:delay|time)\s+['"])
      | (?P<sql__column_probe>(?:order|group)\s+by\s+\d+(?:\s*,\s*\d+)*\s*$)
      | (?P<sql__subquery>select\s+(?:\*|@@|null\b|\w+(?:\([^()]*\))?\s*,)[^;]{0,120}\bfrom\b)
    )""",
    _FLAGS,
)

# Right after a quote that may close a string literal.
_AFTER_QUOTE = re.compile(
    rf"""(?P<sql__tautology>\)*\s*(?:or|and|xor|\|\||&&)\s*(?:
            (?:true|false|not)\b | \d+\b\s*(?:--|\#|/\*|;|$)
          | ['"]['"] | ['"]\s*=\s*['"] | ['"][\w\s]{{0,10}}$
          | [a-z_]\w{{0,20}}\s*=\s*['"] | [a-z_]\w{{0,20}}\s+is\s+(?:not\s+)?null\b))
    | (?P<sql__stacked_query>[\s)]*;?\s*{_STATEMENT})
    # A SELECT after a quote needs a space or a parenthesis between them: an opening quote
    # hugs its word, as in the T-shirt slogan "SELECT * FROM coffee".
    | (?P<sql__subquery>(?:\s*\)|\s)\s*;?\s*select\b[^;]{{0,120}}\bfrom\b)
    | (?P<sql__obfuscation>\s*\|\|\s*['"\w])""",  # noqa: S608 - a regex, not a query
    _FLAGS,
)

# Right after a closing quote near the end: a comment cutting off the rest of the query, as in
# `admin'--`, `' #`, `")/*`, `';%00`.
_COMMENT_TO_END = re.compile(
    r"""[\s)]*(?:-{1,2}[\s\-+]*|\#[^\w'"\n]{0,10}|/\*.{0,20}|;\s*(?:--|\#|%00|\x00))$""", _FLAGS
)
_COMMENT_REACH = 32

_AFTER_SEMICOLON = re.compile(rf"""\s*(?:{_STATEMENT}|select\b[^;]{{0,120}}\bfrom\b)""", _FLAGS)

# At an opening parenthesis: the function being called, or a sub-query; CSS expressions too.
_AT_PAREN = re.compile(
    r"""(?:(?<=sleep)|(?<=benchmark))\(\s*\d+\s*[),](?P<sql__time_delay>)
    | (?<=randomblob)\(\s*\d{6}(?P<sql__time_delay_>)
    | (?:(?<=load_file)\(|(?<=extractvalue)\(|(?<=updatexml)\(|(?<=name_const)\(
      | (?<=floor)\(\s*rand\( | (?<=exp)\(\s*~ | (?<=convert)\(\s*int\s*,
      | (?<=ctxsys\.drithsx\.sn)\( )(?P<sql__dangerous_function>)
    | \(\s*select\b(?:[^()]{0,120}\bfrom\b|\s*\(|\s+(?:@@|null\b|\*|\d))(?P<sql__subquery>)
    | (?:(?<=expression)|(?<=binding:url)|(?<=behavior:url)|(?<=behaviour:url))\(
      (?P<xss__css_expression>)""",
    _FLAGS,
)

# Found by keyword: searched only when the text contains the keyword (or, first, a rare
# character of it), since a substring test costs a fraction of a regex search.
_UNION = re.compile(r"union(?:\s+(?:all|distinct))?[\s(]*select(?P<sql__union_select>)")
_UNDERSCORE_WORDS = re.compile(
    r"""dbms_(?:lock\.sleep|pipe\.receive_message)\b(?P<sql__time_delay>)
    | (?:xp_(?:cmdshell|regread|regwrite|dirtree|fileexist|servicecontrol)\b
      | sp_(?:executesql|addlogin|addsrvrolemember|configure|password|makewebtask|oacreate)\b
      | utl_(?:http|inaddr|file|smtp|tcp)\. | dbms_\w+\.\w+)(?P<sql__dangerous_function>)
    | (?:information_schema|all_tab(?:les|_columns)|pg_catalog|sqlite_master)\b
      (?P<sql__schema_probe>)""",
    _FLAGS,
)
_SCHEMA = re.compile(
    r"""(?:@@(?:version|datadir|hostname|basedir|servername)\b|sysobjects\b|syscolumns\b
    |sys\.user\$|sys\.databases\b|v\$version\b)(?P<sql__schema_probe>)""",
    _FLAGS,
)
_BY = re.compile(
    r"""(?:(?:order|group)\s+by\s+\d+(?:\s*,\s*\d+)*\s*,?\s*(?:--|\#|/\*)
    |order\s+by\s+(?:\d+\s*,\s*)*sleep\(|group\s+by\s+[\w\s,]{1,60}\bhaving\b
    |['")]\s*(?:order|group)\s+by\s+(?:\d|sleep\())(?P<sql__column_probe>)""",
    _FLAGS,
)
_COMMENT_TRICK = re.compile(
    r"""(?:/\*!\d*|/\*\*/|/\*[^*]{0,20}['"][^*]{0,20}\*/)(?P<sql__obfuscation>)"""
)


def _keyword_rules(view: str) -> re.Match[str] | None:
    if "union" in view:
        match = _UNION.search(view)
        if match is not None:
            return match
    if "_" in view:
        match = _UNDERSCORE_WORDS.search(view)
        if match is not None:
            return match
    if "@" in view or "$" in view or "sys" in view:
        match = _SCHEMA.search(view)
        if match is not None:
            return match
    if " by " in view:
        match = _BY.search(view)
        if match is not None:
            return match
    if "*" in view and "/*" in view:
        return _COMMENT_TRICK.search(view)
    return None


_XSS_TAG = re.compile(
    r"""<\s*/?\s*(?:(?P<xss__script_tag>script\b)
      | (?P<xss__dangerous_tag>(?:iframe|i?frameset|frame|object|embed|applet|svg|math|style
        |link|meta|base|form|input|button|textarea|isindex|marquee|body|html|xml|xss|import
        |bgsound|layer|ilayer|plaintext|xmp|noscript|template|details|animate|set|image
        |vmlframe|keygen|portal|title|head)\b))
    | <!\s*(?:doctype|entity|attlist|element|\[cdata\[)(?P<xss__dangerous_tag_>)
    | <\?\s*xml(?P<xss__dangerous_tag__>)""",
    _FLAGS,
)
_XSS_HANDLER = re.compile(r"on(?<![\w\-]on)[a-z]{3,}[\s/]*=(?P<xss__event_handler>)")
# The name before an "=": attributes that run or load code without an "on" prefix.
_XSS_ATTRIBUTE_BEFORE = re.compile(
    r"(?:formaction|datasrc|dataformatas|srcdoc)[\s/]*$(?P<xss__dangerous_attribute>)"
)
_XSS_DATA_AFTER = re.compile(r"""\s*['"`]?\s*data\s*:[^,]{0,60},(?P<xss__data_url>)""")
# Browsers drop control characters inside and before a URL scheme (`jav&#x09;ascript:`); spaces
# they keep, so "JavaScript: The Good Parts" (a space after the colon) is a book, not a URL.
_URL_NOISE = re.compile("[\x00-\x1f]")
_XSS_SCHEME = re.compile(
    r"""(?:[=("'`:<]\s*(?:java|vb|live)script\s*:|(?:^|(?<=\s))(?:java|vb|live)script:\S)
    (?P<xss__javascript_url>)
    | (?:^\s*|[=("'`:<]\s*)data:[\w+.-]+/[\w+.-]+[^,\s]{0,40},(?P<xss__data_url>)""",
    _FLAGS,
)
# After a quote: leaving a JavaScript string to call something, as in `'-alert(1)-'`.
_XSS_AFTER_QUOTE = re.compile(
    r"""\s*[-+*/;,|&]\s*(?:(?:alert|confirm|prompt|eval|fetch|import)\s*[(`]
    |(?:document|window|top|self|parent)\s*[.\[])(?P<xss__script_breakout>)""",
    _FLAGS,
)
_XSS_IMPORT = re.compile(r"@import\b(?P<xss__css_expression>)")

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
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)

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


def _hit(match: re.Match[str] | None, rule: str | None = None) -> _Hit | None:
    if match is None:
        return None
    name = rule or (match.lastgroup or "").rstrip("_").replace("__", ".")
    return name, match.group()


def _closes_string(view: str, at: int) -> bool:
    # A quote right after a digit is an inch or foot mark (`27" --`), not the end of a string.
    before = view[:at].rstrip()
    return not before or before[-1] not in "0123456789'\""


class _Scan:
    """One pass over a text's candidate positions, keeping the first hit of each category.

    ``view`` is the decoded text; ``sql_view`` the same with "+" read as a space (as in a
    URL-encoded payload, `1'+or+1=1`), position for position, since XSS wants "+" kept.
    """

    __slots__ = ("sql", "sql_view", "view", "want_sql", "want_xss", "xss")

    def __init__(self, view: str, *, want_sql: bool, want_xss: bool) -> None:
        self.view = view
        self.sql_view = view.replace("+", " ") if "+" in view else view
        self.want_sql = want_sql
        self.want_xss = want_xss
        self.sql: _Hit | None = None
        self.xss: _Hit | None = None

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
            self.take(_hit(_COMPARISON.search(view), "sql.tautology"))
        if self.sql is None:
            self.take(_hit(_AT_START.match(view)))

    def keywords_sql(self) -> None:
        if self.sql is None:
            self.take(_hit(_keyword_rules(self.sql_view)))

    def fixed_xss(self) -> None:
        """The XSS rules that are not tied to a position found by hand."""
        view = self.view
        if "<" in view:
            self.take(_hit(_XSS_TAG.search(view)))
        if self.xss is None and "=" in view:
            self.take(_hit(_XSS_HANDLER.search(view)))
            if self.xss is None:
                self.equals()
        if self.xss is None and ("script" in view or "data:" in view):
            scheme_view = _URL_NOISE.sub("", view) if _URL_NOISE.search(view) else view
            self.take(_hit(_XSS_SCHEME.search(scheme_view)))
        if self.xss is None and "@" in view:
            self.take(_hit(_XSS_IMPORT.search(view)))

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
        view = self.sql_view
        if self.want_sql and self.sql is None:
            found = _hit(_AFTER_QUOTE.match(view, at + 1))
            if found is None and end - at <= _COMMENT_REACH and _closes_string(view, at):
                found = _hit(_COMMENT_TO_END.match(view, at + 1), "sql.comment_after_quote")
            self.take(found)
        if self.want_xss and self.xss is None:
            self.take(_hit(_XSS_AFTER_QUOTE.match(self.view, at + 1)))

    def semicolons(self) -> None:
        view = self.sql_view
        at = view.find(";")
        while at != -1 and self.sql is None:
            self.take(_hit(_AFTER_SEMICOLON.match(view, at + 1), "sql.stacked_query"))
            at = view.find(";", at + 1)

    def parens(self) -> None:
        """Look at each parenthesis that follows a name or opens a sub-query."""
        view = self.sql_view
        at = view.find("(")
        while at != -1:
            if view[at - 1 : at].isalpha() or view[at + 1 : at + 12].lstrip().startswith("select"):
                self.take(_hit(_AT_PAREN.match(view, at)))
                if self.done():
                    return
            at = view.find("(", at + 1)

    def equals(self) -> None:
        """Look around each "=" for attributes that run code or load a ``data:`` URL."""
        view = self.view
        at = view.find("=")
        while at != -1 and self.xss is None:
            self.take(_hit(_XSS_ATTRIBUTE_BEFORE.search(view, max(0, at - 16), at)))
            self.take(_hit(_XSS_DATA_AFTER.match(view, at + 1)))
            at = view.find("=", at + 1)


def _view(text: str) -> str:
    """The text as every rule reads it: decoded, lower case, typographic quotes folded."""
    view = _decoded(text)
    if not view.isascii() and _has_typographic(view):
        view = view.translate(_FOLD)
    return view


# -- the quiet-text gate ---------------------------------------------------------------------------
#
# Most product text can match no rule at all, and proving it costs far less than running the
# rules: each rule needs a character or a word that ordinary text rarely holds in that place. The
# gate asks, for every way :func:`scan` can find something, whether what it needs is there; only
# if nothing is, the text is quiet. Each check is implied by the rule it stands for (the gate may
# send an innocent text to the scan, never the other way round), and the test suite checks that
# ``inspect`` and the full scan agree on generated text and on the attack corpora.

# Each position rule has a search of its own that finds the first place it could start, from a
# character ordinary text rarely holds there; a search whose pattern starts with one literal
# character skips the rest of the text in C. "+" is read as a space where the SQL rules read it
# so (they scan the text with "+" as a space).
_STATEMENT_WORDS = (
    "drop|delete|insert|truncate|update|create|alter|exec|declare|shutdown|waitfor|backup|grant"
    "|revoke|into"
)
# After a quote, the scan tries its rules only where the quote is not followed by a letter or a
# digit (unless they start a statement) and the rest of the text, past spaces, tabs, line feeds
# and parentheses, starts with an operator or a statement, or is empty. Of the operators, "-",
# "#", "/", "+", "*" and "," lead to no SQL rule except the comment one, which only applies within
# 32 characters of the end, nor to a script break-out unless a call follows. ``[^\W_]`` is exactly
# what ``str.isalnum`` accepts.
_AFTER_QUOTE_GATE = rf"""(?:
    (?=[dituceswgr])(?:{_STATEMENT_WORDS})
  | (?![^\W_])(?:
      [ \t\n)+]*(?=[oax|&;dituceswbgr])(?:or|and|xor|\|\||&&|;|{_STATEMENT_WORDS}|select)
    | [ \t\n)+]{{23}}
    | (?=[\s)+]*(?:-|\#|/\*|;))(?=[\s\S]{{0,31}}\Z)
    | \s*[-+*/;,|&]\s*(?:alert|confirm|prompt|eval|fetch|import|document|window|top|self
      |parent)))"""
# One search per quote character: a pattern starting with a single literal is searched fastest.
_GATE_QUOTES = tuple(
    (quote, re.compile(re.escape(quote) + _AFTER_QUOTE_GATE, re.VERBOSE)) for quote in "'\"`"
)
_GATE_SEMICOLON = re.compile(rf";[\s+]*(?:{_STATEMENT_WORDS}|select)")
# _AT_PAREN's names, each as a look-behind so the search runs from the "(".
_GATE_PAREN = re.compile(
    r"""\((?:(?<=[a-z:.]\()(?:(?<=sleep\()|(?<=benchmark\()|(?<=randomblob\()|(?<=load_file\()
    |(?<=extractvalue\()|(?<=updatexml\()|(?<=name_const\()|(?<=floor\()|(?<=exp\()
    |(?<=convert\()|(?<=\.sn\()|(?<=expression\()|(?<=:url\())|[\s+]*select)""",
    re.VERBOSE,
)
# A "<" that does not open or close one of the common formatting tags, written plainly.
_GATE_TAG = re.compile(r"<(?!/?(?:p|br|ul|ol|li|strong|em|b|i|a)>)")


# The characters _AT_START can match first, besides white space.
_AT_START_FIRST = frozenset("oax|&'\"lwgs")


def _quiet(view: str, *, plain_tags: bool = False) -> bool:
    """Whether no rule of the scan can match ``view``, shown by cheaper tests than the rules.

    Single characters are looked for first: that is a memchr, while a word costs a real search.
    ``plain_tags`` says the caller has checked that every "<" opens or closes one of the common
    formatting tags.
    """
    # Every comparison, attribute and event-handler rule needs an "="; "/*" starts a second
    # pass over the text with its comments removed.
    if "=" in view or ("*" in view and "/*" in view) or ("@" in view and "@import" in view):
        return False
    for quote, gate in _GATE_QUOTES:
        if quote in view and gate.search(view) is not None:
            return False
    if ";" in view and _GATE_SEMICOLON.search(view) is not None:
        return False
    if "(" in view and _GATE_PAREN.search(view) is not None:
        return False
    if not plain_tags and "<" in view and _GATE_TAG.search(view) is not None:
        return False
    sql_view = view.replace("+", " ") if "+" in view else view
    first = sql_view[:1]
    if (first in _AT_START_FIRST or first.isspace()) and _AT_START.match(sql_view) is not None:
        return False
    if _keyword_rules(sql_view) is not None:
        return False
    if ("'" in view or '"' in view) and "like" in view:
        return False
    # Both URL rules end with a colon.
    if ":" in view and ("script" in view or "data:" in view):
        scheme_view = _URL_NOISE.sub("", view) if _URL_NOISE.search(view) else view
        return _XSS_SCHEME.search(scheme_view) is None
    return True


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
        if _quiet(view):
            return ()
        return scan(view, sql_injection=self.sql_injection, xss=self.xss)


def inspect_field(
    policy: SecurityPolicy, text: str, raw: bytes | None, *, plain_tags: bool
) -> tuple[Threat, ...]:
    """:meth:`SecurityPolicy.inspect`, with what a text field already knows about ``text``.

    Args:
        policy: The policy inspecting the text.
        text: Received text, before sanitization.
        raw: ``latin1(text)``: its bytes when every character is below U+0100, else None.
        plain_tags: Whether every "<" in ``text`` opens or closes a common formatting tag
            written plainly (``<p>``, ``</li>``...).

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
        if text.isascii():
            view = text.lower()
        else:
            # Lowering the bytes changes only ASCII letters (str.lower would look up every
            # character): the other letters stay letters, which is all the gate asks of them.
            # Typographic quotes are above U+00FF, so there is nothing to fold.
            if _quiet(raw.lower().decode("latin-1"), plain_tags=plain_tags):
                return ()
            return scan(_view(text), sql_injection=sql_injection, xss=xss)
    else:
        view = _view(text)
        # Decoded escapes may make new tags.
        plain_tags = plain_tags and plain
    if _quiet(view, plain_tags=plain_tags):
        return ()
    return scan(view, sql_injection=sql_injection, xss=xss)


def scan(view: str, *, sql_injection: bool, xss: bool) -> tuple[Threat, ...]:
    """Run every rule over ``view`` (see :func:`_view`), the slow path the gate skips."""
    found = _Scan(view, want_sql=sql_injection, want_xss=xss)
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
            found.sql_view = _COMMENT.sub(" ", found.sql_view)
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
