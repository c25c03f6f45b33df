"""Fail when a public name has no entry in the built API reference.

Usage: ``python docs/check_api_reference.py docs/_build/html/objects.inv``. A public name is one
listed in the ``__all__`` of a public module; it must be documented under that module's path or
under the path of the module it is re-exported from.
"""

from __future__ import annotations

import importlib
import sys
import zlib
from pathlib import Path

PUBLIC_MODULES = [
    "commerce_kit",
    "commerce_kit.resilience",
    "commerce_kit.feeds",
    "commerce_kit.validation",
    "commerce_kit.payments",
    "commerce_kit.webhooks",
    "commerce_kit.testing",
    "commerce_kit.typing",
    "commerce_kit.http",
]


def documented_names(inventory: Path) -> set[str]:
    """Read the fully qualified Python names from a Sphinx ``objects.inv`` (format version 2)."""
    raw = inventory.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    names = set()
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        name, domain_role = line.split(" ", 2)[:2]
        if domain_role.startswith("py:"):
            names.add(name)
    return names


def missing(inventory: Path) -> list[str]:
    """Return ``module.name`` for every public name that the reference does not document.

    An object re-exported under several public paths needs documenting under one of them.
    """
    documented = documented_names(inventory)
    paths: dict[int, list[str]] = {}
    exported: list[tuple[str, object]] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            path = f"{module_name}.{name}"
            paths.setdefault(id(obj), []).append(path)
            exported.append((path, obj))
            home = getattr(obj, "__module__", None)
            if isinstance(home, str):
                paths[id(obj)].append(f"{home}.{name}")
    return [path for path, obj in exported if not any(p in documented for p in paths[id(obj)])]


def main() -> int:
    """Print the undocumented public names and exit non-zero if there are any."""
    absent = missing(Path(sys.argv[1]))
    for name in absent:
        print(f"not in the API reference: {name}")
    return 1 if absent else 0


if __name__ == "__main__":
    raise SystemExit(main())
