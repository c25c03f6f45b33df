"""Build and install a tiny third-party plugin package, the way a user's pip would."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def installed_plugin(
    tmp_path: Path,
    *,
    dist: str,
    module: str,
    source: str,
    entry_points: Mapping[str, Mapping[str, str]],
) -> Iterator[Path]:
    """Build a wheel of a one-module distribution, pip-install it to a folder on ``sys.path``.

    Args:
        tmp_path: A scratch folder.
        dist: The distribution name, such as ``"ck-feed-yaml"``.
        module: The top-level module name the source is written to.
        source: The module's Python source.
        entry_points: ``{group: {name: "module:object"}}``.

    Yields:
        The folder the package was installed into (on ``sys.path`` while the context is open).
    """
    project = tmp_path / "project"
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(textwrap.dedent(source))
    eps = "\n".join(
        f'[project.entry-points."{group}"]\n'
        + "\n".join(f'{name} = "{target}"' for name, target in targets.items())
        for group, targets in entry_points.items()
    )
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{dist}"
            version = "1.0"

            [tool.hatch.build.targets.wheel]
            packages = ["{module}"]
            """
        )
        + eps
        + "\n"
    )
    wheels = tmp_path / "wheels"
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-build-isolation", "--no-deps", "-w", str(wheels), str(project)],
        check=True,
    )
    wheel = next(wheels.glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
