"""XML feeds, streamed through expat with every DTD refused before it can do harm.

Untrusted XML is dangerous through its document type declaration: entities that expand other
entities (the "billion laughs"), one large entity referenced many times (quadratic blowup),
external entities that read local files or reach the network (XXE). A product feed needs none of
it, so the parser refuses any DOCTYPE, the way ``defusedxml`` does with ``forbid_dtd=True``: the
handlers below raise :class:`~commerce_kit.UnsafeFeedError` while the declarations are read, before
any entity is referenced, and name the attack from what the declarations hold. Parameter-entity
parsing is off, so nothing external is ever fetched.

Records are the children of the root element (``<products><product>...``), the ``<item>`` elements
of an RSS channel, or the ``<entry>`` elements of an Atom feed. The child elements of a record are
its fields, keyed by local name (namespace dropped); a field with child elements is a mapping, a
field that repeats is a list, and an attribute ``a`` on a field ``f`` is the field ``"f@a"``.
Attributes of the record element are fields too. Text is kept exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO
from xml.parsers import expat

from commerce_kit._errors import FeedFormatError, FeedLimitError, UnsafeFeedError
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._record import FeedRecord, new, set_data, set_error, set_index, set_line
from commerce_kit.feeds._source import head_text

__all__ = ["ATOM_NS", "XmlAdapter", "read_xml"]

ATOM_NS = "http://www.w3.org/2005/Atom"
_CHUNK = 64 * 1024
# An entity value this long, referenced a few thousand times, is the quadratic-blowup attack.
_LARGE_ENTITY = 1024
# Declarations read before refusing anyway: naming the attack never needs more.
_MAX_DECLARATIONS = 16

Keys = Callable[[str], str]
Transform = Callable[[dict[str, object]], dict[str, object]]


def local_key(name: str) -> str:
    """Return the local part of an expat ``"namespace local"`` name."""
    return name.rpartition(" ")[2]


class _DoctypeGuard:
    """expat handlers that refuse any DTD, naming the attack its declarations carry."""

    __slots__ = ("doctype_line", "entities", "external_dtd", "parser")

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.doctype_line = 0
        self.external_dtd = False
        self.entities: list[str] = []
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self.start_doctype
        parser.EndDoctypeDeclHandler = self.end_doctype
        parser.EntityDeclHandler = self.entity
        parser.UnparsedEntityDeclHandler = self.unparsed_entity
        parser.ExternalEntityRefHandler = self.external_reference

    def refuse(self, attack: str, detail: str) -> UnsafeFeedError:
        line = self.parser.CurrentLineNumber or self.doctype_line or 1
        return UnsafeFeedError(f"line {line}: refused {detail}", attack=attack, line=line)

    def start_doctype(
        self,
        _name: str,
        system_id: str | None,
        public_id: str | None,
        _has_internal_subset: int,
    ) -> None:
        self.doctype_line = self.parser.CurrentLineNumber
        self.external_dtd = system_id is not None or public_id is not None

    def entity(
        self,
        name: str,
        is_parameter_entity: int,
        value: str | None,
        _base: str | None,
        system_id: str | None,
        public_id: str | None,
        _notation_name: str | None,
    ) -> None:
        if value is None:
            raise self.refuse(
                "external_entity",
                f"an external entity (XXE): {name!r} refers to {system_id or public_id!r}",
            )
        if is_parameter_entity:
            raise self.refuse("parameter_entity", f"a parameter entity declaration: {name!r}")
        if "&" in value or "%" in value:
            raise self.refuse(
                "entity_expansion",
                f"nested entity expansion ('billion laughs'): {name!r} expands other entities",
            )
        if len(value) >= _LARGE_ENTITY:
            raise self.refuse(
                "quadratic_blowup",
                f"a quadratic blowup: entity {name!r} holds {len(value):,} characters",
            )
        self.entities.append(name)
        if len(self.entities) >= _MAX_DECLARATIONS:
            raise self.verdict()

    def unparsed_entity(
        self,
        name: str,
        _base: str | None,
        system_id: str,
        _public_id: str | None,
        _notation_name: str,
    ) -> None:
        raise self.refuse(
            "external_entity", f"an external entity (XXE): {name!r} refers to {system_id!r}"
        )

    def external_reference(
        self, _context: str, _base: str | None, system_id: str | None, _public_id: str | None
    ) -> int:
        raise self.refuse("external_entity", f"a reference to an external entity {system_id!r}")

    def end_doctype(self) -> None:
        raise self.verdict()

    def verdict(self) -> UnsafeFeedError:
        """The refusal for the DTD read so far."""
        if self.entities:
            names = ", ".join(repr(name) for name in self.entities)
            return self.refuse("internal_entity", f"a DTD declaring entities ({names})")
        if self.external_dtd:
            return self.refuse("external_dtd", "a DOCTYPE referring to an external DTD")
        return self.refuse("dtd", "a DOCTYPE: feeds must not carry a DTD")


def read_xml(
    stream: BinaryIO,
    limits: FeedLimits,
    *,
    record_tag: str | None = None,
    keys: Keys = local_key,
    transform: Transform | None = None,
) -> Iterator[FeedRecord]:
    """Yield the records of an XML feed as they are parsed, holding one record at a time.

    Args:
        stream: The feed's bytes; the encoding comes from the XML declaration or byte-order
            mark unless the stream's ``known_encoding`` fixes it.
        limits: Bounds on depth, field and record size.
        record_tag: The local name of the record elements, found at any depth; ``None`` finds
            records by the feed's shape (root children, RSS items, Atom entries).
        keys: Maps an expat element name (``"namespace local"``) to a field key; attributes
            are keyed by local name.
        transform: Applied to each record's data.

    Raises:
        UnsafeFeedError: The feed carries a DTD (entity expansion, external entity, ...).
        FeedFormatError: The feed is not well-formed XML.
        FeedLimitError: Elements nest deeper than ``max_depth``, a text is longer than
            ``max_field_chars`` or a record than ``max_record_chars`` (bytes here).
    """
    parser = expat.ParserCreate(getattr(stream, "known_encoding", None), " ")
    guard = _DoctypeGuard(parser)
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    max_depth = limits.max_depth
    max_field = limits.max_field_chars
    max_record = limits.max_record_chars
    out: list[FeedRecord] = []
    key_cache: dict[str, str] = {}
    # The record being read, and the open element in it: a leaf until it gets a child element,
    # when it moves onto the stack of open containers (fields that are mappings).
    record: dict[str, object] | None = None
    leaf: str | None = None
    leaf_attributes: dict[str, str] | None = None
    parts: list[str] = []
    containers: list[tuple[str, dict[str, object], dict[str, str] | None]] = []
    depth = 0
    index = 0
    record_line = 0
    record_byte = 0
    record_depth = 2
    record_name: str | None = None

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, record, leaf, leaf_attributes, record_line, record_byte
        nonlocal record_depth, record_name
        depth += 1
        if depth > max_depth:
            line = parser.CurrentLineNumber
            raise FeedLimitError(
                f"line {line}: elements nest deeper than max_depth={max_depth}",
                limit="max_depth",
                maximum=max_depth,
                line=line,
            )
        if record is not None:
            if leaf is not None:
                containers.append((leaf, {}, leaf_attributes))
                parts.clear()
            key = key_cache.get(name)
            if key is None:
                key = key_cache[name] = keys(name)
            leaf = key
            leaf_attributes = attributes or None
            return
        if depth == 1 and record_tag is None:
            if local_key(name) == "rss":
                record_depth, record_name = 3, "item"
            elif name == f"{ATOM_NS} feed":
                record_name = f"{ATOM_NS} entry"
        if (
            local_key(name) == record_tag
            if record_tag is not None
            else depth == record_depth and (record_name is None or name == record_name)
        ):
            record_line = parser.CurrentLineNumber
            record_byte = parser.CurrentByteIndex
            record = {local_key(attribute): value for attribute, value in attributes.items()}
            leaf = None

    def end(_name: str) -> None:
        nonlocal depth, record, leaf, index
        depth -= 1
        if record is None:
            return
        if leaf is not None:
            value = parts[0] if len(parts) == 1 else "".join(parts)
            parts.clear()
            if len(value) > max_field:
                line = parser.CurrentLineNumber
                raise FeedLimitError(
                    f"line {line}: the text of <{leaf}> is longer than max_field_chars="
                    f"{max_field:,} characters",
                    limit="max_field_chars",
                    maximum=max_field,
                    line=line,
                )
            target = containers[-1][1] if containers else record
            if leaf in target or leaf_attributes is not None:
                _add(target, leaf, value, leaf_attributes)
            else:
                target[leaf] = value
            leaf = None
        elif containers:
            key, children, attributes = containers.pop()
            _add(containers[-1][1] if containers else record, key, children, attributes)
        else:
            if parser.CurrentByteIndex - record_byte > max_record:
                raise _record_too_long(record_line, max_record)
            index += 1
            data = record if transform is None else transform(record)
            item = new(FeedRecord)
            set_data(item, data)
            set_line(item, record_line)
            set_index(item, index)
            set_error(item, None)
            out.append(item)
            record = None

    def text(data: str) -> None:
        if leaf is not None:
            parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    read = stream.read
    parse = parser.Parse
    fed = 0
    while True:
        chunk = read(_CHUNK)
        fed += len(chunk)
        try:
            parse(chunk, not chunk)
        except expat.ExpatError as error:
            if guard.doctype_line:
                raise guard.verdict() from None
            message = expat.ErrorString(error.code)
            raise FeedFormatError(
                f"line {error.lineno}, column {error.offset + 1}: not well-formed XML: {message}",
                line=error.lineno,
                column=error.offset + 1,
            ) from None
        if out:
            yield from out
            out.clear()
        if not chunk:
            return
        if record is not None and fed - record_byte > max_record:
            raise _record_too_long(record_line, max_record)


def _record_too_long(line: int, max_record: int) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the record starting here is longer than max_record_chars="
        f"{max_record:,} bytes",
        limit="max_record_chars",
        maximum=max_record,
        line=line,
    )


def _add(
    parent: dict[str, object], key: str, value: object, attributes: dict[str, str] | None
) -> None:
    """Add a field to a record or mapping: a repeated field becomes a list."""
    if key in parent:
        existing = parent[key]
        if type(existing) is list:
            existing.append(value)
        else:
            parent[key] = [existing, value]
    else:
        parent[key] = value
    if attributes is not None:
        for attribute, text in attributes.items():
            _add(parent, f"{key}@{local_key(attribute)}", text, None)


class XmlAdapter:
    """XML product feeds: ``<products><product><sku>...``, RSS 2.0 items, Atom entries.

    The document is streamed with expat, one record in memory at a time. Records are the
    children of the root element, the ``<item>`` elements of an RSS channel, or the ``<entry>``
    elements of an Atom feed (or the elements named ``record_tag``). A record's child elements
    are its fields, keyed by local name (namespace dropped): a field with child elements is a
    mapping, a field that repeats is a list, and an attribute ``a`` of a field ``f`` is the field
    ``"f@a"`` (``<price currency="USD">`` gives ``price@currency``). Attributes of the record
    element are fields too. Text is kept as written (entities and CDATA decoded).

    Any DTD is refused with :class:`~commerce_kit.UnsafeFeedError`, whose ``attack`` names what
    it carried: ``"entity_expansion"`` (billion laughs), ``"quadratic_blowup"``,
    ``"external_entity"`` (XXE), ``"parameter_entity"``, ``"internal_entity"``,
    ``"external_dtd"`` or ``"dtd"``. It is refused while the declarations are read, before any
    entity is expanded or anything fetched. Malformed XML raises
    :class:`~commerce_kit.FeedFormatError` with line and column; elements nested deeper than
    ``max_depth``, a text longer than ``max_field_chars`` or a record longer than
    ``max_record_chars`` (counted in bytes here) raise :class:`~commerce_kit.FeedLimitError`.

    Args:
        record_tag: The local name of the record elements, found at any depth, for feeds of
            another shape (such as ``"offer"`` for ``<shop><offers><offer>``); by default
            records are found by the feed's shape.
        name: The format name to register the adapter under.

    .. versionadded:: 0.1.0
    """

    content_types: tuple[str, ...] = ("application/xml", "text/xml")
    extensions: tuple[str, ...] = (".xml",)

    def __init__(self, record_tag: str | None = None, *, name: str = "xml") -> None:
        self.name = name
        self.record_tag = record_tag

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as XML: they start with ``<``."""
        return 0.5 if head_text(head).lstrip(" \t\r\n\ufeff").startswith("<") else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one record per record element."""
        return read_xml(stream, limits, record_tag=self.record_tag)
