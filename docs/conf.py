"""Sphinx configuration for the commerce_kit documentation."""

from __future__ import annotations

import sys
from importlib.metadata import version as _version

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
autodoc_type_aliases = {"FeedSource": "commerce_kit.typing.FeedSource"}
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
