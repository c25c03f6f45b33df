"""XML feeds, streamed through ``defusedxml``'s parser, with every DTD refused as it is declared.

Untrusted XML is dangerous through its document type declaration: entities that expand other
entities (the "billion laughs"), one large entity referenced many times (quadratic blowup),
external entities that read local files or reach the network (XXE). A product feed needs none of
it, so the feed is parsed by :class:`defusedxml.ElementTree.DefusedXMLParser` with
``forbid_dtd=True, forbid_entities=True, forbid_external=True``: the parser raises
``DTDForbidden`` the moment a DOCTYPE starts, before any declaration in it is read, so nothing is
ever expanded or fetched. Its exceptions become :class:`~commerce_kit.UnsafeFeedError`.

To tell the partner *which* attack their file carries, the refused DOCTYPE is then inspected
without being used: ``_DoctypeInspector`` reads the bytes already received (and at most
``_INSPECT_BYTES`` more) with a separate expat parser whose handlers stop at the first
dangerous declaration and never get past the end of the DTD, with parameter entities off. It
only names the attack and its line; the decision to refuse was defusedxml's.

The parser is fed the feed in 64 KiB chunks. Element and text handlers on the expat parser
under it build one record at a time, reading line numbers off that parser, and the reading loop
yields the finished records after each chunk, so memory holds one chunk and one record.
Records are the children of the root element (``<products><product>...``), the ``<item>``
elements of an RSS channel, or the ``<entry>`` elements of an Atom feed. The child elements of a
record are its fields, keyed by local name (namespace dropped); a field with child elements is a
mapping, a field that repeats is a list, and an attribute ``a`` on a field ``f`` is the field
``"f@a"``. Attributes of the record element are fields too. Text is kept exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO
from xml.parsers import expat

from defusedxml import (  # type: ignore[import-untyped]  # defusedxml ships no type hints
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import (  # type: ignore[import-untyped]
    DefusedXMLParser,
    ParseError,
)

from commerce_kit._errors import (
    CommerceKitError,
    FeedFormatError,
    FeedLimitError,
    UnsafeFeedError,
)
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._record import FeedRecord, new, set_data, set_error, set_index, set_line
from commerce_kit.feeds._source import head_text

__all__ = ["ATOM_NS", "XmlAdapter", "local_key", "read_xml", "refusal"]

ATOM_NS = "http://www.w3.org/2005/Atom"
# Element names as the parser reports them: ``"namespace}local"``.
_ATOM_FEED = f"{ATOM_NS}}}feed"
_ATOM_ENTRY = f"{ATOM_NS}}}entry"
_CHUNK = 64 * 1024
# An entity value this long, referenced a few thousand times, is the quadratic-blowup attack.
_LARGE_ENTITY = 1024
# Declarations read before naming the refusal anyway: naming the attack never needs more.
_MAX_DECLARATIONS = 16
# Bytes kept from the start of the feed until the root element opens (a DOCTYPE can only come
# before it), and the most read to inspect a refused DTD: enough for any real prolog.
_INSPECT_BYTES = 1024 * 1024

# The encoding an XML declaration names, to say which one the parser cannot read.
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']{1,64})["']""")

Keys = Callable[[str], str]
Transform = Callable[[dict[str, object]], dict[str, object]]


def local_key(name: str) -> str:
    """Return the local part of an element or attribute name (``"namespace}local"``)."""
    return name.rpartition("}")[2]


def _unsafe(attack: str, detail: str, line: int) -> UnsafeFeedError:
    return UnsafeFeedError(f"line {line}: refused {detail}", attack=attack, line=line)


def _entity_attack(name: str, value: str | None, system_id: str | None) -> tuple[str, str]:
    """Name what an entity declaration is: ``(attack, detail)``."""
    if value is None:
        return "external_entity", f"an external entity (XXE): {name!r} refers to {system_id!r}"
    if "&" in value or "%" in value:
        return (
            "entity_expansion",
            f"nested entity expansion ('billion laughs'): {name!r} expands other entities",
        )
    if len(value) >= _LARGE_ENTITY:
        return (
            "quadratic_blowup",
            f"a quadratic blowup: entity {name!r} holds {len(value):,} characters",
        )
    return "internal_entity", f"an entity declaration: {name!r}"


def refusal(error: DefusedXmlException, line: int) -> UnsafeFeedError:
    """Map an exception of ``defusedxml`` onto :class:`~commerce_kit.UnsafeFeedError`.

    ``DTDForbidden`` is named from what the DOCTYPE refers to (``"external_dtd"`` or ``"dtd"``);
    :func:`read_xml` names it more precisely by inspecting the declarations. Entities and
    external references are named as the inspection names them; anything else defusedxml
    refuses is ``"unsupported"``.
    """
    if isinstance(error, DTDForbidden):
        if error.sysid is not None or error.pubid is not None:
            return _unsafe("external_dtd", "a DOCTYPE referring to an external DTD", line)
        return _unsafe("dtd", "a DOCTYPE: feeds must not carry a DTD", line)
    if isinstance(error, EntitiesForbidden):
        attack, detail = _entity_attack(error.name, error.value, error.sysid or error.pubid)
        return _unsafe(attack, detail, line)
    if isinstance(error, ExternalReferenceForbidden):
        return _unsafe(
            "external_entity", f"a reference to an external entity {error.sysid!r}", line
        )
    return _unsafe("unsupported", f"an XML construct defusedxml does not support ({error})", line)


class _NoDoctype(Exception):  # noqa: N818 - an internal signal, never raised to callers
    """The root element started: there was no DOCTYPE before it."""


class _DoctypeInspector:
    """Reads a refused DOCTYPE's declarations, without using them, to name the attack."""

    __slots__ = ("doctype_line", "entities", "external_dtd", "parser")

    def __init__(self, encoding: str | None) -> None:
        parser = expat.ParserCreate(encoding)
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
        # The element handler ends the inspection before any content could be parsed.
        parser.StartElementHandler = self.start_element

    def refuse(self, attack: str, detail: str) -> UnsafeFeedError:
        return _unsafe(attack, detail, self.parser.CurrentLineNumber or self.doctype_line or 1)

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
        if value is not None and is_parameter_entity:
            raise self.refuse("parameter_entity", f"a parameter entity declaration: {name!r}")
        attack, detail = _entity_attack(name, value, system_id or public_id)
        if attack != "internal_entity":
            raise self.refuse(attack, detail)
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

    def start_element(self, _name: str, _attributes: dict[str, str]) -> None:
        raise _NoDoctype

    def verdict(self) -> UnsafeFeedError:
        """The refusal for the DTD read so far."""
        if self.entities:
            names = ", ".join(repr(name) for name in self.entities)
            return self.refuse("internal_entity", f"a DTD declaring entities ({names})")
        if self.external_dtd:
            return self.refuse("external_dtd", "a DOCTYPE referring to an external DTD")
        return self.refuse("dtd", "a DOCTYPE: feeds must not carry a DTD")

    def inspect(
        self, prolog: bytes, read: Callable[[int], bytes], fallback: UnsafeFeedError
    ) -> UnsafeFeedError:
        """Read the DOCTYPE in ``prolog`` and what follows (bounded); return the refusal.

        ``fallback`` when no DOCTYPE is found in the bytes (or within the budget).
        """
        budget = _INSPECT_BYTES
        chunk = prolog
        try:
            while True:
                self.parser.Parse(chunk, not chunk)
                if not chunk or budget <= 0:
                    break
                chunk = read(min(_CHUNK, budget))
                budget -= len(chunk)
        except UnsafeFeedError as error:
            return error
        except (expat.ExpatError, _NoDoctype):
            pass
        return self.verdict() if self.doctype_line else fallback


class _NoTree:
    """The parser's target: records are built by the handlers :func:`read_xml` installs."""

    __slots__ = ()

    def close(self) -> None:
        """Called by the parser at the end of the document; there is no tree to return."""


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
        keys: Maps an element name (``"namespace}local"``, or ``"local"`` outside any
            namespace) to a field key; attributes are keyed by local name.
        transform: Applied to each record's data.

    Raises:
        UnsafeFeedError: The feed carries a DTD (entity expansion, external entity, ...).
        FeedFormatError: The feed is not well-formed XML.
        FeedLimitError: Elements nest deeper than ``max_depth``, a text is longer than
            ``max_field_chars`` or a record than ``max_record_chars`` (bytes here).
    """
    encoding = getattr(stream, "known_encoding", None)
    parser = DefusedXMLParser(
        target=_NoTree(),
        encoding=encoding,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    # defusedxml installed its refusing handlers (DOCTYPE, entity declarations, external
    # references) on this expat parser. Elements are read by handlers set on it directly, not
    # through ElementTree's target adapter, whose name fix-up costs two more Python calls per
    # element (the XML benchmark runs about 40% slower through it).
    engine: expat.XMLParserType = parser.parser
    engine.buffer_size = _CHUNK
    engine.ordered_attributes = False
    max_depth = limits.max_depth
    max_field = limits.max_field_chars
    max_record = limits.max_record_chars
    max_names = limits.max_names
    out: list[FeedRecord] = []
    key_cache: dict[str, str] = {}
    # The parser keeps every distinct element and attribute name it meets (its name tables, the
    # strings it interns) to the end of the document; counting the interned names after each
    # chunk bounds that memory with max_names at no cost per element.
    names = getattr(engine, "intern", None)
    if not isinstance(names, dict):
        names = key_cache
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
    started = False

    def add_attributes(parent: dict[str, object], key: str, attributes: dict[str, str]) -> None:
        """Add the attributes of the field ``key`` as the fields ``key@name``."""
        for attribute, value in attributes.items():
            if len(value) > max_field:
                raise _long_attribute(engine.CurrentLineNumber, key, attribute, max_field)
            _add(parent, f"{key}@{local_key(attribute)}", value)

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, record, leaf, leaf_attributes, record_line, record_byte
        nonlocal record_depth, record_name, started
        depth += 1
        if depth > max_depth:
            line = engine.CurrentLineNumber
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
        if depth == 1:
            started = True
            if record_tag is None:
                if local_key(name) == "rss":
                    record_depth, record_name = 3, "item"
                elif name == _ATOM_FEED:
                    record_name = _ATOM_ENTRY
        if (
            local_key(name) == record_tag
            if record_tag is not None
            else depth == record_depth and (record_name is None or name == record_name)
        ):
            record_line = engine.CurrentLineNumber
            record_byte = engine.CurrentByteIndex
            record = {}
            for attribute, value in attributes.items():
                if len(value) > max_field:
                    line = engine.CurrentLineNumber
                    raise _long_attribute(line, local_key(name), attribute, max_field)
                record[local_key(attribute)] = value
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
                line = engine.CurrentLineNumber
                raise FeedLimitError(
                    f"line {line}: the text of <{leaf}> is longer than max_field_chars="
                    f"{max_field:,} characters",
                    limit="max_field_chars",
                    maximum=max_field,
                    line=line,
                )
            target = containers[-1][1] if containers else record
            if leaf in target or leaf_attributes is not None:
                _add(target, leaf, value)
                if leaf_attributes is not None:
                    add_attributes(target, leaf, leaf_attributes)
            else:
                target[leaf] = value
            leaf = None
        elif containers:
            key, children, attributes = containers.pop()
            parent = containers[-1][1] if containers else record
            _add(parent, key, children)
            if attributes is not None:
                add_attributes(parent, key, attributes)
        else:
            if engine.CurrentByteIndex - record_byte > max_record:
                raise _record_too_long(record_line, max_record)
            index += 1
            item = new(FeedRecord)
            set_data(item, record if transform is None else transform(record))
            set_line(item, record_line)
            set_index(item, index)
            set_error(item, None)
            out.append(item)
            record = None

    def text(data: str) -> None:
        if leaf is not None:
            parts.append(data)

    engine.StartElementHandler = start
    engine.EndElementHandler = end
    engine.CharacterDataHandler = text
    read = stream.read
    feed = parser.feed
    # The bytes before the root element, where a DOCTYPE would be, kept to name a refusal.
    prolog: list[bytes] | None = []
    kept = 0
    fed = 0
    size = _CHUNK
    while True:
        chunk = read(size)
        fed += len(chunk)
        if prolog is not None:
            if started or kept > _INSPECT_BYTES:
                prolog = None
            else:
                prolog.append(chunk)
                kept += len(chunk)
        failure: CommerceKitError | None = None
        try:
            if chunk:
                feed(chunk)
            else:
                parser.close()
        except DefusedXmlException as error:
            refused = refusal(error, engine.CurrentLineNumber)
            if isinstance(error, DTDForbidden) and prolog is not None:
                refused = _DoctypeInspector(encoding).inspect(b"".join(prolog), read, refused)
            failure = refused
        except ParseError as error:
            line, offset = error.position
            message = expat.ErrorString(error.code)
            failure = FeedFormatError(
                f"line {line}, column {offset + 1}: not well-formed XML: {message}",
                line=line,
                column=offset + 1,
            )
        except CommerceKitError as error:  # a limit, raised by a handler
            failure = error
        except (ValueError, LookupError) as error:
            if started:
                raise
            # From the parser's encoding handler, at the XML declaration: an encoding Python
            # does not know (LookupError) or a multi-byte one expat cannot take (ValueError).
            multi_byte = isinstance(error, ValueError)
            line = engine.CurrentLineNumber
            failure = _unreadable_encoding(b"".join(prolog or ()), line, known=multi_byte)
        # The records completed before a fatal error are yielded before it is raised.
        if out:
            yield from out
            out.clear()
        if failure is not None:
            raise failure from None
        if not chunk:
            return
        if record is not None and fed - record_byte > max_record:
            raise _record_too_long(record_line, max_record)
        if len(names) > max_names:
            raise _too_many_names(engine.CurrentLineNumber, max_names)
        # A tag, comment or processing instruction cut by the end of the bytes fed is scanned
        # again from its start with the next bytes: reading at least as much as is pending
        # keeps that rescanning linear, and max_record_chars bounds it (a start tag may come
        # before any record, so the check above does not see it).
        pending = fed - max(engine.CurrentByteIndex, 0)
        if pending > max_record:
            raise _token_too_long(engine.CurrentLineNumber, max_record)
        size = max(_CHUNK, pending)


def _unreadable_encoding(prolog: bytes, line: int, *, known: bool) -> FeedFormatError:
    match = _DECLARED_ENCODING.search(prolog)
    named = repr(match[1].decode("ascii", "replace")) if match else "the one declared"
    why = (
        "multi-byte encodings other than UTF-8 and UTF-16 are not supported"
        if known
        else "no such encoding is known"
    )
    line = line or 1
    return FeedFormatError(
        f"line {line}: the XML parser cannot read the feed's encoding, {named} ({why}); "
        "save the feed as UTF-8",
        line=line,
    )


def _token_too_long(line: int, max_record: int) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the tag starting here (or comment, or processing instruction) is "
        f"longer than max_record_chars={max_record:,} bytes",
        limit="max_record_chars",
        maximum=max_record,
        line=line,
    )


def _record_too_long(line: int, max_record: int) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the record starting here is longer than max_record_chars="
        f"{max_record:,} bytes",
        limit="max_record_chars",
        maximum=max_record,
        line=line,
    )


def _add(parent: dict[str, object], key: str, value: object) -> None:
    """Add a field to a record or mapping: a repeated field becomes a list."""
    if key in parent:
        existing = parent[key]
        if type(existing) is list:
            existing.append(value)
        else:
            parent[key] = [existing, value]
    else:
        parent[key] = value


def _long_attribute(line: int, element: str, attribute: str, max_field: int) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the attribute {local_key(attribute)!r} of <{element}> is longer than "
        f"max_field_chars={max_field:,} characters",
        limit="max_field_chars",
        maximum=max_field,
        line=line,
    )


def _too_many_names(line: int, max_names: int) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the feed uses more than max_names={max_names:,} distinct element and "
        "attribute names",
        limit="max_names",
        maximum=max_names,
        line=line,
    )


class XmlAdapter:
    """XML product feeds: ``<products><product><sku>...``, RSS 2.0 items, Atom entries.

    The document is streamed through ``defusedxml``'s parser, one record in memory at a time.
    Records are the children of the root element, the ``<item>`` elements of an RSS channel, or
    the ``<entry>`` elements of an Atom feed (or the elements named ``record_tag``). A record's
    child elements are its fields, keyed by local name (namespace dropped): a field with child
    elements is a mapping, a field that repeats is a list, and an attribute ``a`` of a field
    ``f`` is the field ``"f@a"`` (``<price currency="USD">`` gives ``price@currency``).
    Attributes of the record element are fields too. Text is kept as written (entities and CDATA
    decoded).

    Any DTD is refused with :class:`~commerce_kit.UnsafeFeedError` as soon as it is declared
    (``defusedxml`` with ``forbid_dtd=True``), before any entity is expanded or anything
    fetched. Its ``attack`` names what the DTD carried: ``"entity_expansion"`` (billion laughs),
    ``"quadratic_blowup"``, ``"external_entity"`` (XXE), ``"parameter_entity"``,
    ``"internal_entity"``, ``"external_dtd"`` or ``"dtd"``. Malformed XML, or an encoding the
    parser cannot read (Shift_JIS, UTF-32), raises :class:`~commerce_kit.FeedFormatError` with
    the line (and column), after every record before it has been yielded; elements nested
    deeper than ``max_depth``, a text or attribute value longer than ``max_field_chars``, a
    record or tag longer than ``max_record_chars`` (counted in bytes here) or more than
    ``max_names`` distinct element and attribute names raise
    :class:`~commerce_kit.FeedLimitError`.

    Args:
        record_tag: The local name of the record elements, found at any depth, for feeds of
            another shape (such as ``"offer"`` for ``<shop><offers><offer>``); by default
            records are found by the feed's shape.
        name: The format name to register the adapter under.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Attribute values are held to ``max_field_chars``, tags to ``max_record_chars``, names to
       ``max_names``; an unreadable encoding is a :class:`~commerce_kit.FeedFormatError`.
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
