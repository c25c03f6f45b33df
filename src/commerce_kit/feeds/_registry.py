"""The registry of feed adapters: by name, content type, extension, sniffing and entry points."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import PurePath
from typing import TypeVar, overload

from commerce_kit._errors import RegistryError, UnknownFeedFormatError
from commerce_kit.feeds._adapter import FeedAdapter
from commerce_kit.feeds._csv import CsvAdapter, TsvAdapter
from commerce_kit.feeds._json import JsonAdapter, NdjsonAdapter
from commerce_kit.feeds._merchant import GoogleMerchantAdapter
from commerce_kit.feeds._xml import XmlAdapter

__all__ = ["ENTRY_POINT_GROUP", "FeedAdapterRegistry", "registry"]

logger = logging.getLogger("commerce_kit.feeds")

#: The entry point group third-party packages publish feed adapters under.
ENTRY_POINT_GROUP = "commerce_kit.feed_adapters"

# Media types that say nothing about the format (browsers send them for unknown files): they
# select no adapter, and the format is told by the file extension or the content instead.
_VAGUE_TYPES = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/unknown",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
)

T = TypeVar("T", bound=FeedAdapter)


def media_type(content_type: str) -> str:
    """Return the bare, lower-case media type of a ``Content-Type`` value."""
    return content_type.partition(";")[0].strip().lower()


def extension_of(filename: str) -> str:
    """Return the lower-case extension of a file name or an extension (``"csv"`` -> ``".csv"``)."""
    base = PurePath(filename).name.lower()
    if "." not in base:
        return f".{base}" if base else ""
    return PurePath(base).suffix or base


def _check(adapter: object) -> FeedAdapter:
    name = getattr(adapter, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"a feed adapter needs a non-empty str name, got {name!r}")
    for attribute in ("content_types", "extensions"):
        value = getattr(adapter, attribute, None)
        if isinstance(value, str) or not isinstance(value, (tuple, list, frozenset, set)):
            raise TypeError(f"feed adapter {name!r}: {attribute} must be a tuple of str")
        if not all(isinstance(item, str) for item in value):
            raise TypeError(f"feed adapter {name!r}: {attribute} must be a tuple of str")
    if not callable(getattr(adapter, "parse", None)):
        raise TypeError(f"feed adapter {name!r} has no parse() method")
    sniff = getattr(adapter, "sniff", None)
    if sniff is not None and not callable(sniff):
        raise TypeError(f"feed adapter {name!r}: sniff must be a method")
    return adapter  # type: ignore[return-value]  # checked structurally just above


class FeedAdapterRegistry:
    """Feed adapters by format name, with lookups by content type, extension and content.

    Third-party adapters published under an entry point group are loaded on first use (a
    lookup or iteration); one that fails to load, or whose name is taken, is logged on the
    ``commerce_kit.feeds`` logger and skipped. Adapters registered in code win over them.

    Args:
        adapters: Adapters (or adapter classes, instantiated without arguments) to start with.
        entry_point_group: The entry point group to load adapters from, or ``None`` for none.

    Example::

        from commerce_kit.feeds import registry

        @registry.register
        class PipeAdapter:
            name = "pipe"
            content_types = ("text/x-pipe-separated",)
            extensions = (".psv",)

            def parse(self, stream, limits): ...

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        adapters: Iterable[FeedAdapter | type[FeedAdapter]] = (),
        *,
        entry_point_group: str | None = None,
    ) -> None:
        self._adapters: dict[str, FeedAdapter] = {}
        self._lock = threading.RLock()
        self._group = entry_point_group
        self._loaded = threading.Event()
        if entry_point_group is None:
            self._loaded.set()
        self._loading = False
        for adapter in adapters:
            self.register(adapter)

    @overload
    def register(self, adapter: type[T], *, replace: bool = False) -> type[T]: ...

    @overload
    def register(self, adapter: T, *, replace: bool = False) -> T: ...

    def register(
        self, adapter: FeedAdapter | type[FeedAdapter], *, replace: bool = False
    ) -> FeedAdapter | type[FeedAdapter]:
        """Add an adapter under its name; return the argument, so it works as a class decorator.

        Args:
            adapter: An adapter, or an adapter class (instantiated without arguments).
            replace: Replace an adapter already registered under the same name.

        Returns:
            ``adapter``, unchanged.

        Raises:
            RegistryError: An adapter with that name is registered and ``replace`` is false.
            TypeError: ``adapter`` does not have the shape of a
                :class:`~commerce_kit.typing.FeedAdapter`.
        """
        instance = _check(adapter() if isinstance(adapter, type) else adapter)
        key = instance.name.lower()
        with self._lock:
            existing = self._adapters.get(key)
            if existing is not None and not replace:
                raise RegistryError(
                    f"a feed adapter named {key!r} is already registered ({existing!r}); "
                    "pass replace=True to replace it"
                )
            self._adapters[key] = instance
        return adapter

    def unregister(self, name: str) -> FeedAdapter:
        """Remove and return the adapter registered under ``name``.

        Raises:
            UnknownFeedFormatError: No adapter has that name.
        """
        self._load_entry_points()
        with self._lock:
            adapter = self._adapters.pop(name.lower(), None)
        if adapter is None:
            raise self._unknown(name)
        return adapter

    def get(self, name: str) -> FeedAdapter:
        """Return the adapter registered under ``name`` (any case).

        Raises:
            UnknownFeedFormatError: No adapter has that name; the message lists the formats.
        """
        self._load_entry_points()
        adapter = self._adapters.get(name.lower())
        if adapter is None:
            raise self._unknown(name)
        return adapter

    @property
    def names(self) -> tuple[str, ...]:
        """The registered format names, sorted."""
        self._load_entry_points()
        return tuple(sorted(self._adapters))

    def __iter__(self) -> Iterator[FeedAdapter]:
        """Iterate over the registered adapters in registration order."""
        self._load_entry_points()
        return iter(tuple(self._adapters.values()))

    def __len__(self) -> int:
        self._load_entry_points()
        return len(self._adapters)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return isinstance(name, str) and name.lower() in self._adapters

    def for_content_type(self, content_type: str) -> tuple[FeedAdapter, ...]:
        """Return the adapters claiming a ``Content-Type`` value (parameters ignored).

        A structured-syntax suffix stands for its base type when no adapter claims the type
        itself: ``application/vnd.shop+json`` finds the ``application/json`` adapters.
        """
        wanted = media_type(content_type)
        found = tuple(
            adapter
            for adapter in self
            if wanted in {claimed.lower() for claimed in adapter.content_types}
        )
        if not found and "+" in wanted:
            suffix = wanted.rpartition("+")[2]
            return self.for_content_type(f"application/{suffix}")
        return found

    def for_extension(self, filename: str) -> tuple[FeedAdapter, ...]:
        """Return the adapters claiming the extension of ``filename`` (or an extension)."""
        wanted = extension_of(filename)
        return tuple(
            adapter
            for adapter in self
            if wanted and wanted in {claimed.lower() for claimed in adapter.extensions}
        )

    def sniff(self, head: bytes, candidates: Iterable[FeedAdapter] | None = None) -> FeedAdapter:
        """Return the adapter most sure that ``head`` (a feed's first bytes) is in its format.

        Args:
            head: The first bytes of the feed.
            candidates: The adapters to ask; all registered adapters by default.

        Raises:
            UnknownFeedFormatError: No adapter recognises the bytes.
        """
        best: FeedAdapter | None = None
        best_score = 0.0
        for adapter in self if candidates is None else candidates:
            sniff = getattr(adapter, "sniff", None)
            if sniff is None or not head:
                continue
            try:
                score = float(sniff(head))
            except Exception:  # one broken sniffer must not stop detection
                logger.warning(
                    "feed adapter %r failed to sniff a feed", adapter.name, exc_info=True
                )
                continue
            if score > best_score:
                best, best_score = adapter, score
        if best is None:
            what = "an empty feed" if not head else "the feed's first bytes"
            raise UnknownFeedFormatError(
                f"cannot tell the format of {what}; name it, as one of: {', '.join(self.names)}",
                supported=self.names,
            )
        return best

    def select(
        self,
        *,
        format: str | None = None,  # noqa: A002 - the word users know
        content_type: str | None = None,
        filename: str | None = None,
        head: bytes = b"",
    ) -> FeedAdapter:
        """Choose the adapter for a feed, from the most explicit hint to the content itself.

        In order: the ``format`` name; else the adapters claiming ``content_type``; else those
        claiming the extension of ``filename``; else every adapter. Among several candidates,
        the one whose sniffer is most sure of ``head`` wins (the first registered on a tie or
        when none is sure). A vague content type such as ``application/octet-stream`` or
        ``text/plain`` is passed over, and so is an extension no adapter claims.

        Raises:
            UnknownFeedFormatError: The format name or a specific content type is not
                registered, or the content is not recognised.
        """
        if format is not None:
            return self.get(format)
        candidates: tuple[FeedAdapter, ...] = ()
        if content_type is not None:
            candidates = self.for_content_type(content_type)
            if not candidates and media_type(content_type) not in _VAGUE_TYPES:
                supported = sorted({t for adapter in self for t in adapter.content_types})
                raise UnknownFeedFormatError(
                    f"no feed adapter reads content type {media_type(content_type)!r}; "
                    f"supported content types: {', '.join(supported)}",
                    supported=self.names,
                )
        if not candidates and filename:
            candidates = self.for_extension(filename)
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            try:
                return self.sniff(head, candidates)
            except UnknownFeedFormatError:
                return candidates[0]
        return self.sniff(head)

    def _unknown(self, name: str) -> UnknownFeedFormatError:
        return UnknownFeedFormatError(
            f"no feed adapter is registered for format {name!r}; supported formats: "
            f"{', '.join(self.names)}",
            supported=self.names,
        )

    def _load_entry_points(self) -> None:
        if self._loaded.is_set():
            return
        with self._lock:
            if self._loaded.is_set() or self._loading:
                return
            self._loading = True
            try:
                for entry_point in entry_points(group=self._group or ""):
                    self._load(entry_point)
            finally:
                self._loaded.set()
                self._loading = False

    def _load(self, entry_point: EntryPoint) -> None:
        try:
            loaded = entry_point.load()
            adapter = _check(loaded() if isinstance(loaded, type) else loaded)
        except Exception:  # a broken plugin must not break feed parsing
            logger.warning(
                "skipped feed adapter entry point %r (%s): it failed to load",
                entry_point.name,
                entry_point.value,
                exc_info=True,
            )
            return
        key = adapter.name.lower()
        if key in self._adapters:
            logger.warning(
                "skipped feed adapter entry point %r (%s): the format name %r is taken",
                entry_point.name,
                entry_point.value,
                key,
            )
            return
        self._adapters[key] = adapter


def builtin_adapters() -> tuple[FeedAdapter, ...]:
    """Return fresh instances of the built-in adapters, in the order they are tried."""
    return (
        CsvAdapter(),
        TsvAdapter(),
        JsonAdapter(),
        NdjsonAdapter(),
        XmlAdapter(),
        GoogleMerchantAdapter(),
    )


#: The default registry: the built-in adapters, plus those published under
#: ``commerce_kit.feed_adapters``.
registry = FeedAdapterRegistry(builtin_adapters(), entry_point_group=ENTRY_POINT_GROUP)
