"""Sphinx configuration for the commerce_kit documentation."""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docutils.nodes import Element
    from sphinx.addnodes import pending_xref
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

project = "commerce_kit"
author = "the commerce_kit developers"
copyright = "2026, the commerce_kit developers"
release = _version("commerce-kit")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_bench"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_typehints = "description"
# Types show by name (linked), not by the private module that defines them.
python_use_unqualified_type_names = True
# Signatures name the public aliases instead of spelling out the unions behind them (only those
# used at the top level of an annotation: Sphinx cannot render an alias nested in a generic).
autodoc_type_aliases = {
    name: f"commerce_kit.typing.{name}"
    for name in ("AsyncSleep", "Clock", "ExceptionMatcher", "FeedSource", "Sleep")
}
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# The network here reaches package registries only, so inventories are not fetched; references
# to the standard library resolve to plain text instead of links.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = True
_STDLIB = "|".join(sorted(m for m in sys.stdlib_module_names if not m.startswith("_")))
nitpick_ignore_regex = [
    (r"py:.*", rf"({_STDLIB})(\..*)?"),
    (r"py:.*", r"(pydantic|defusedxml|nh3)(\..*)?"),
    (r"py:class", r"~?(P|T|R|K|V|ModelT|ParamSpec|TypeVar|Self|NoneType)"),
    (r"py:class", r"(object|int|float|str|bytes|bool|dict|list|tuple|set|frozenset|type|None)"),
    (r"py:class", r"(Exception|BaseException|ValueError|LookupError|TypeError|KeyError)"),
    (r"py:class", r"(Decimal|Path|timedelta|Enum|BinaryIO|IO|Iterator|Iterable|Mapping)"),
    (r"py:class", r"(Callable|Awaitable|Coroutine|Sequence|Hashable|Generator|AsyncIterator)"),
    (r"py:(class|obj)", r"commerce_kit\.typing\..*"),
    (r"py:(obj|class)", r"commerce_kit(\.\w+)*\._\w+\.(P|T|R|K|V|ModelT|F|E|S)"),
    (r"py:obj", r".*\.(P|T|R|K|V|ModelT)"),
]

html_theme = "furo"
html_title = "commerce_kit"
html_static_path = ["_static"]

doctest_global_setup = "import commerce_kit"


def _public_homes() -> dict[str, str]:
    """Map each public name to the one module it is imported from."""
    import importlib  # noqa: PLC0415

    homes: dict[str, str] = {}
    shared: set[str] = set()
    for module_name in _PUBLIC_MODULES:
        for name in importlib.import_module(module_name).__all__:
            if name in homes:
                shared.add(name)  # ``registry``: one per area, never meant by a short name
            homes[name] = module_name
    return {name: home for name, home in homes.items() if name not in shared}


_PUBLIC_MODULES = (
    "commerce_kit",
    "commerce_kit.resilience",
    "commerce_kit.http",
    "commerce_kit.typing",
    "commerce_kit.testing",
    "commerce_kit.feeds",
    "commerce_kit.validation",
    "commerce_kit.payments",
    "commerce_kit.webhooks",
)


def _resolve_short_name(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: Element
) -> Element | None:
    """Resolve ``LoadFinished`` (or ``TTLCache.stats``) to the name's one public home.

    A docstring in a private module names its neighbours without a module; each public name has
    exactly one home, so the short name is enough to find it. A ``~``-shortened reference to a
    public module the name has left resolves the same way, since it shows the name only.
    """
    if node.get("refdomain") != "py":
        return None
    target: str = node["reftarget"]
    head = target.split(".", 1)[0]
    if head == "commerce_kit":
        # ``~commerce_kit.LimitExceeded``, written before the name moved: only its last part is
        # shown, so the link may go to the name's home. A path shown in full must be corrected.
        module, _, name = target.rpartition(".")
        if contnode.astext() != name or module not in _PUBLIC_MODULES:
            return None
        target = name
        head = name
    home = _HOMES.get(head)
    if home is None:
        return None
    domain = env.get_domain("py")
    resolved: Element | None = domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], f"{home}.{target}", node, contnode
    )
    return resolved


def setup(app: Sphinx) -> None:
    """Register the short-name resolver."""
    global _HOMES  # noqa: PLW0603 - filled once the source is importable
    _HOMES = _public_homes()
    app.connect("missing-reference", _resolve_short_name)


_HOMES: dict[str, str] = {}
