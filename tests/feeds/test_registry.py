"""The adapter registry: lookups, selection, entry points, and a new format with no code change."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from commerce_kit import RegistryError
from commerce_kit.feeds import (
    CsvAdapter,
    FeedAdapterRegistry,
    FeedLimits,
    FeedRecord,
    JsonAdapter,
    UnknownFeedFormatError,
    XmlAdapter,
    parse_feed,
    registry,
)
from commerce_kit.feeds import _registry as registry_module
from commerce_kit.feeds._registry import ENTRY_POINT_GROUP, builtin_adapters
from commerce_kit.typing import FeedAdapter
from tests._plugins import installed_plugin
from tests.feeds.formats import PLUGIN_FILE


@dataclass
class Stub:
    """A minimal adapter: yields one record naming itself."""

    name: str
    content_types: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    score: float | None = None

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        yield FeedRecord({"adapter": self.name, "bytes": len(stream.read())}, 1, 1)


@dataclass
class Sniffing(Stub):
    def sniff(self, head: bytes) -> float:
        return self.score or 0.0


class FakeEntryPoint:
    """Stands in for an installed package's entry point."""

    def __init__(self, name: str, loaded: object) -> None:
        self.name = name
        self.value = f"fake_{name}:Adapter"
        self.group = ENTRY_POINT_GROUP
        self.loaded = loaded

    def load(self) -> object:
        if isinstance(self.loaded, Exception):
            raise self.loaded
        return self.loaded


def with_entry_points(monkeypatch: pytest.MonkeyPatch, *points: FakeEntryPoint) -> list[str]:
    asked: list[str] = []

    def fake(*, group: str) -> list[FakeEntryPoint]:
        asked.append(group)
        return list(points)

    monkeypatch.setattr(registry_module, "entry_points", fake)
    return asked


# -- registration and lookup --------------------------------------------------------------------


def test_the_default_registry_holds_the_builtin_formats() -> None:
    assert {"csv", "google-merchant", "json", "ndjson", "tsv", "xml"} <= set(registry.names)


def test_register_works_as_a_class_decorator_and_returns_the_class() -> None:
    fresh = FeedAdapterRegistry()

    @fresh.register
    class Pipe:
        name = "pipe"
        content_types = ("text/x-pipe",)
        extensions = (".psv",)

        def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
            yield from ()

    assert (True, ["pipe"], 1) == (
        isinstance(fresh.get("PIPE"), Pipe),
        list(fresh.names),
        len(fresh),
    )


def test_an_instance_registers_and_iteration_keeps_registration_order() -> None:
    first, second = Stub("b"), Stub("a")
    fresh = FeedAdapterRegistry([first, second])
    assert ([first, second], ("a", "b")) == (list(fresh), fresh.names)


def test_a_taken_name_is_refused_unless_replaced() -> None:
    fresh = FeedAdapterRegistry([Stub("x")])
    with pytest.raises(RegistryError, match="already registered"):
        fresh.register(Stub("X"))
    replacement = Stub("x", extensions=(".x",))
    fresh.register(replacement, replace=True)
    assert replacement is fresh.get("x")


def test_unregister_returns_the_adapter_and_forgets_it() -> None:
    stub = Stub("x")
    fresh = FeedAdapterRegistry([stub])
    assert (stub, False) == (fresh.unregister("X"), "x" in fresh)


@pytest.mark.parametrize("method", ["get", "unregister"])
def test_an_unknown_name_lists_the_supported_formats(method: str) -> None:
    fresh = FeedAdapterRegistry([Stub("b"), Stub("a")])
    with pytest.raises(UnknownFeedFormatError) as caught:
        getattr(fresh, method)("yaml")
    assert (
        "no feed adapter is registered for format 'yaml'; supported formats: a, b",
        ("a", "b"),
    ) == (
        str(caught.value),
        caught.value.supported,
    )


@pytest.mark.parametrize(
    ("adapter", "problem"),
    [
        (Stub(""), "non-empty str name"),
        (Stub("x", content_types="text/csv"), "content_types must be a tuple of str"),  # type: ignore[arg-type]
        (Stub("x", extensions=(1,)), "extensions must be a tuple of str"),  # type: ignore[arg-type]
        (object(), "non-empty str name"),
    ],
)
def test_an_object_not_shaped_like_an_adapter_is_refused(adapter: object, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        FeedAdapterRegistry().register(adapter)  # type: ignore[call-overload]


def test_an_adapter_without_parse_or_with_a_sniff_attribute_is_refused() -> None:
    class NoParse:
        name = "np"
        content_types = ()
        extensions = ()

    class BadSniff(Stub):
        sniff = "yes"

    with pytest.raises(TypeError, match="no parse"):
        FeedAdapterRegistry().register(NoParse())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="sniff must be a method"):
        FeedAdapterRegistry().register(BadSniff("bs"))


def test_contains_only_matches_registered_names() -> None:
    fresh = FeedAdapterRegistry([Stub("x")])
    assert (True, False, False) == ("X" in fresh, "y" in fresh, 3 in fresh)


def test_content_types_match_without_parameters_or_case() -> None:
    json_adapter = registry.get("json")
    assert json_adapter in registry.for_content_type("Application/JSON; charset=utf-8")
    assert () == registry.for_content_type("application/x-unknown")


def test_a_structured_syntax_suffix_finds_the_base_type() -> None:
    assert registry.for_content_type(
        "application/vnd.partner.v2+json"
    ) == registry.for_content_type("application/json")
    assert () == registry.for_content_type("application/vnd.partner+yaml")


@pytest.mark.parametrize(
    ("name", "formats"),
    [
        ("/uploads/Feed.CSV", ["csv"]),
        ("csv", ["csv"]),
        (".tsv", ["tsv", "google-merchant"]),
        ("feed.jsonl", ["ndjson"]),
        ("archive.tar.json", ["json", "ndjson"]),
        ("README", []),
        ("", []),
    ],
)
def test_extensions_are_matched_from_a_file_name_or_alone(name: str, formats: list[str]) -> None:
    assert formats == [adapter.name for adapter in registry.for_extension(name)]


# -- selection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "head", "expected"),
    [
        ({"format": "TSV", "content_type": "text/csv"}, b"a,b", "tsv"),
        ({"content_type": "text/csv", "filename": "a.json"}, b"[]", "csv"),
        ({"content_type": "application/octet-stream", "filename": "a.json"}, b"a,b", "json"),
        ({"content_type": "text/plain; charset=utf-8"}, b"a,b\n1,2\n", "csv"),
        ({"filename": "feed.dat"}, b'[{"a": 1}]', "json"),
        ({"filename": "feed.json"}, b'{"a": 1}\n{"a": 2}\n', "ndjson"),
        ({"filename": "feed.json"}, b"", "json"),
        ({"filename": "feed.xml"}, b"not xml at all", "xml"),
        ({}, b"<products/>", "xml"),
    ],
)
def test_selection_goes_from_name_to_content_type_to_extension_to_content(
    options: dict[str, str], head: bytes, expected: str
) -> None:
    assert expected == registry.select(head=head, **options).name


def test_a_specific_content_type_nobody_reads_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(
        UnknownFeedFormatError, match=r"'application/yaml'; supported content types: .*text/csv"
    ):
        registry.select(content_type="application/yaml", head=b"a: b")


def test_an_empty_feed_without_any_hint_cannot_be_told() -> None:
    with pytest.raises(UnknownFeedFormatError, match="cannot tell the format of an empty feed"):
        registry.select(head=b"")


def test_unrecognised_content_lists_the_formats() -> None:
    with pytest.raises(UnknownFeedFormatError, match="feed's first bytes; name it, as one of: csv"):
        registry.select(head=b"\x00\x01\x02")


def test_the_surest_sniffer_wins_and_the_first_registered_wins_ties() -> None:
    low, high, tie = (
        Sniffing("low", score=0.2),
        Sniffing("high", score=0.7),
        Sniffing("tie", score=0.7),
    )
    fresh = FeedAdapterRegistry([low, high, tie, Stub("silent")])
    assert high is fresh.sniff(b"anything")


def test_a_sniffer_that_raises_is_logged_and_passed_over(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Stub):
        def sniff(self, head: bytes) -> float:
            raise RuntimeError("bug in a plugin")

    fresh = FeedAdapterRegistry([Broken("broken"), Sniffing("ok", score=0.1)])
    with caplog.at_level(logging.WARNING, logger="commerce_kit.feeds"):
        chosen = fresh.sniff(b"data")
    assert ("ok", ["feed adapter 'broken' failed to sniff a feed"]) == (
        chosen.name,
        [r.getMessage() for r in caplog.records],
    )


# -- entry points -------------------------------------------------------------------------------


def test_entry_points_load_lazily_on_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = with_entry_points(monkeypatch, FakeEntryPoint("blocks", Stub("blocks")))
    fresh = FeedAdapterRegistry(entry_point_group=ENTRY_POINT_GROUP)
    before = list(asked)
    names = fresh.names
    fresh.get("blocks")
    assert ([], [ENTRY_POINT_GROUP], ("blocks",)) == (before, asked, names)


def test_an_entry_point_may_name_a_class(monkeypatch: pytest.MonkeyPatch) -> None:
    class Adapter(Stub):
        def __init__(self) -> None:
            super().__init__("from-class")

    with_entry_points(monkeypatch, FakeEntryPoint("c", Adapter))
    assert ("from-class",) == FeedAdapterRegistry(entry_point_group=ENTRY_POINT_GROUP).names


def test_broken_entry_points_are_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with_entry_points(
        monkeypatch,
        FakeEntryPoint("crash", ImportError("no module named yaml")),
        FakeEntryPoint("shape", object()),
        FakeEntryPoint("taken", Stub("csv")),
        FakeEntryPoint("good", Stub("good")),
    )
    fresh = FeedAdapterRegistry([CsvAdapter()], entry_point_group=ENTRY_POINT_GROUP)
    with caplog.at_level(logging.WARNING, logger="commerce_kit.feeds"):
        names = fresh.names
    assert (("csv", "good"), 3) == (names, len(caplog.records))
    assert [
        "skipped feed adapter entry point 'crash' (fake_crash:Adapter): it failed to load",
        "skipped feed adapter entry point 'shape' (fake_shape:Adapter): it failed to load",
        "skipped feed adapter entry point 'taken' (fake_taken:Adapter): the format name 'csv' "
        "is taken",
    ] == [record.getMessage() for record in caplog.records]


def test_adapters_registered_in_code_win_over_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    with_entry_points(monkeypatch, FakeEntryPoint("csv", Stub("csv")))
    mine = CsvAdapter()
    fresh = FeedAdapterRegistry(entry_point_group=ENTRY_POINT_GROUP)
    fresh.register(mine)
    assert mine is fresh.get("csv")


def test_an_entry_point_that_uses_the_registry_while_loading_does_not_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = FeedAdapterRegistry(entry_point_group=ENTRY_POINT_GROUP)

    class Curious(Stub):
        def __init__(self) -> None:
            super().__init__("curious")
            self.seen = fresh.names  # re-enters the registry while it loads

    with_entry_points(monkeypatch, FakeEntryPoint("curious", Curious))
    done: list[tuple[str, ...]] = []
    worker = threading.Thread(target=lambda: done.append(fresh.names))
    worker.start()
    worker.join(timeout=10)
    assert [("curious",)] == done


def test_concurrent_first_lookups_load_entry_points_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = with_entry_points(monkeypatch, FakeEntryPoint("x", Stub("x")))
    fresh = FeedAdapterRegistry(entry_point_group=ENTRY_POINT_GROUP)
    barrier = threading.Barrier(8)
    results: list[tuple[str, ...]] = []

    def look() -> None:
        barrier.wait()
        results.append(fresh.names)

    threads = [threading.Thread(target=look) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert ([ENTRY_POINT_GROUP], [("x",)] * 8) == (asked, results)


# -- M1: a new format from an installed package, no change to existing code ---------------------

BLOCKS = b"sku: A-1\ntitle: Red mug\n\nsku: A-2\ntitle: Blue mug\n"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with installed_plugin(
        tmp_path_factory.mktemp("plugin"),
        dist="ck-feed-blocks",
        module="ck_feed_blocks",
        source=PLUGIN_FILE.read_text(),
        entry_points={ENTRY_POINT_GROUP: {"blocks": "ck_feed_blocks:BlocksAdapter"}},
    ) as site:
        yield site


def test_an_installed_plugin_is_found_through_its_entry_point(plugin_site: Path) -> None:
    fresh = FeedAdapterRegistry(builtin_adapters(), entry_point_group=ENTRY_POINT_GROUP)
    records = list(parse_feed(BLOCKS, registry=fresh, filename="export.blocks"))
    assert [
        ({"sku": "A-1", "title": "Red mug"}, 1, 1),
        ({"sku": "A-2", "title": "Blue mug"}, 4, 2),
    ] == [(r.data, r.line, r.index) for r in records]


def test_a_fresh_process_reads_the_new_format_with_the_default_registry(
    plugin_site: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "export.blocks"
    feed.write_bytes(BLOCKS)
    script = textwrap.dedent(
        f"""
        from commerce_kit.feeds import parse_feed
        print([(r.data["sku"], r.line) for r in parse_feed({str(feed)!r})])
        print([(r.data["sku"], r.line) for r in parse_feed({str(feed)!r}, format="blocks")])
        print([(r.data["sku"], r.line) for r in parse_feed(open({str(feed)!r}, "rb").read())])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_site), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert ["[('A-1', 1), ('A-2', 4)]"] * 3 == out.stdout.splitlines()


# -- the registry against a model -----------------------------------------------------------------

names = st.sampled_from(["csv", "json", "xml", "yaml", "Yaml", "blocks"])


class RegistryMachine(RuleBasedStateMachine):
    """Register, replace and unregister at random; lookups always agree with a plain dict."""

    def __init__(self) -> None:
        super().__init__()
        self.registry = FeedAdapterRegistry()
        self.model: dict[str, FeedAdapter] = {}

    @rule(name=names, replace=st.booleans())
    def register(self, name: str, replace: bool) -> None:
        adapter = Stub(name)
        key = name.lower()
        if key in self.model and not replace:
            with pytest.raises(RegistryError):
                self.registry.register(adapter, replace=replace)
            return
        assert adapter is self.registry.register(adapter, replace=replace)
        self.model[key] = adapter

    @rule(name=names)
    def unregister(self, name: str) -> None:
        if name.lower() in self.model:
            assert self.model.pop(name.lower()) is self.registry.unregister(name)
        else:
            with pytest.raises(UnknownFeedFormatError):
                self.registry.unregister(name)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        assert self.model[key] is self.registry.get(key.upper())

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert tuple(sorted(self.model)) == self.registry.names
        assert len(self.model) == len(self.registry)
        assert set(map(id, self.model.values())) == set(map(id, self.registry))


TestRegistryMachine = RegistryMachine.TestCase


def test_builtin_adapters_are_fresh_instances() -> None:
    first, second = builtin_adapters(), builtin_adapters()
    assert [type(a) for a in first] == [type(a) for a in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert isinstance(first[4], XmlAdapter)
    assert isinstance(first[2], JsonAdapter)
