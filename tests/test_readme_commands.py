"""The README's two commands, run exactly as written in a fresh virtual environment.

A newcomer's machine has only Python: the commands must install everything they need. The main
job runs as written; the test command cannot run the whole suite from inside the suite, so its
install step runs as written and nox is asked to list the default sessions it would run, which
must be the ones ``.ci/run`` runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
COPY_IGNORE = shutil.ignore_patterns(".git", ".nox", "_build", "var", "*.egg-info", "__pycache__")


def _commands() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None
    commands = {}
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("#")
        kind = "main" if "main job" in comment else "tests" if "test suite" in comment else None
        assert kind is not None, f"README command without a 'main job'/'test suite' label: {line}"
        commands[kind] = command.strip()
    assert {"main", "tests"} == set(commands)
    return commands


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the checkout and a bare venv whose ``python`` comes first on PATH."""
    base = tmp_path_factory.mktemp("fresh")
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, ignore=COPY_IGNORE)
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "NOX", "PYTHON"))
    }
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return checkout, env


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="the README's commands are POSIX shell")
def test_main_job_command_runs_as_written_in_a_fresh_venv(
    fresh: tuple[Path, dict[str, str]],
) -> None:
    checkout, env = fresh
    done = _run(_commands()["main"], checkout, env)
    assert 0 == done.returncode, done.stdout[-3000:] + done.stderr[-3000:]
    assert "checkout #6: HTTP 429" in done.stdout + done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the README's commands are POSIX shell")
def test_test_command_installs_nox_and_selects_what_ci_runs(
    fresh: tuple[Path, dict[str, str]],
) -> None:
    checkout, env = fresh
    command = _commands()["tests"]
    assert command.endswith("&& nox"), command
    assert re.search(r"^nox$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    done = _run(command.removesuffix("nox") + "nox --list --json", checkout, env)
    assert 0 == done.returncode, done.stdout[-3000:] + done.stderr[-3000:]
    # ``nox --list --json`` lists the sessions a bare ``nox`` runs.
    selected = {s["session"] for s in json.loads(done.stdout.splitlines()[-1])}
    assert {"tests", "typing", "lint", "docs", "bench_smoke", "shop_tests"} == selected
