"""Developer and CI tasks. ``nox`` runs the default set: tests, typing, lint, docs, bench_smoke,
shop_tests."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "typing", "lint", "docs", "bench_smoke", "shop_tests"]
nox.options.reuse_venv = "yes" if not os.environ.get("CI") else "no"
# The machines this runs on carry one interpreter; sessions use the one nox runs on, and a
# missing interpreter is an error rather than a skip.
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
SHOP = ROOT / "examples" / "shop"
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite under coverage (branch), failing under 95% for src/commerce_kit."""
    session.install("-e", ".[redis]", *_group("tests"))
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "combine")
    session.run("coverage", "report")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the typing examples."""
    session.install("-e", ".[redis]", *_group("typing"), *_group("bench"))
    # The shop (examples/shop) is its own project, type-checked with its own config by shop_tests.
    session.run("mypy", "src", "tests", "benchmarks", "examples/demo.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs with warnings as errors, then run every doctest in them."""
    session.install("-e", ".[redis,ed25519]", *_group("docs"))
    out = ROOT / "docs" / "_build"
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", out / "html")
    session.run("python", "docs/check_api_reference.py", str(out / "html" / "objects.inv"))
    session.run("sphinx-build", "-W", "--keep-going", "-b", "doctest", "docs", out / "doctest")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark commerce_kit against its peers in one run; writes docs/benchmarks results."""
    session.install("-e", ".", *_group("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def bench_smoke(session: nox.Session) -> None:
    """Run every benchmark case for a few operations, so the benchmarks cannot rot."""
    session.install("-e", ".", *_group("bench"))
    session.run("python", "-m", "benchmarks", "--smoke", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on a fresh machine: install the library and run the flash-sale demo."""
    session.install(".")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def shop(session: nox.Session) -> None:
    """Start the flash-sale shop on SQLite (var/shop.db); open the URL it prints.

    Arguments go to ``shop serve``: ``nox -s shop -- --port 8080 --workers 2``. Set
    ``DATABASE_URL=postgresql://...`` to run it on PostgreSQL.
    """
    session.install("-e", ".", "-e", str(SHOP))
    session.run("shop", "serve", *session.posargs)


@nox.session
def shop_tests(session: nox.Session) -> None:
    """The shop's tests on SQLite and PostgreSQL (browser test included), and mypy over it.

    Needs PostgreSQL at 127.0.0.1:5432 (database ``test``) and Debian's ``chromium``; under
    ``CI`` a missing one fails the run instead of skipping.
    """
    session.install("-e", ".", "-e", f"{SHOP}[test]")
    session.chdir(SHOP)
    session.run("mypy")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def shop_bench(session: nox.Session) -> None:
    """Load-test a served shop with wrk on SQLite and PostgreSQL; prints the figures."""
    session.install("-e", ".", "-e", str(SHOP))
    session.chdir(SHOP)
    session.run("python", "bench/bench_load.py", *session.posargs)
