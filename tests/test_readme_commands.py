"""The README's two commands, run exactly as written in a fresh virtual environment.

A newcomer's machine has only Python: the commands must install everything they need. The main
job (the shop) runs as written until it serves, is probed over HTTP, then stopped; the test
command cannot run the whole suite from inside the suite, so its install step runs as written and
nox is asked to list the default sessions it would run, which must be the ones ``.ci/run`` runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
def test_main_job_command_serves_the_shop_as_written_in_a_fresh_venv(
    fresh: tuple[Path, dict[str, str]],
) -> None:
    """The command installs the library and the shop, migrates, seeds and serves: probe, stop."""
    checkout, env = fresh
    command = _commands()["main"]
    port = _free_port()
    env = {**env, "PYTHONUNBUFFERED": "1"}
    # The README's command as written, with the port moved off 8000 in case it is taken here.
    process = subprocess.Popen(
        ["/bin/sh", "-c", f"{command} -- --port {port}"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        url = _wait_for_url(process, output, deadline=time.monotonic() + 420)
        assert url.endswith(f":{port}/flash"), url
        products = json.loads(_get(f"http://127.0.0.1:{port}/flash/products"))
        assert products, "the demo sale lists no product"
        assert {"sku", "title", "price", "currency", "stock"} <= set(products[0])
        assert b"<html" in _get(url.replace("localhost", "127.0.0.1")).lower()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        assert process.stdout is not None
        output.append(process.stdout.read())
        process.stdout.close()
    text = "".join(output)
    assert "Traceback" not in text, text[-3000:]
    assert "Signed in as" in text, text[-3000:]


def _get(url: str) -> bytes:
    """GET ``url``, waiting up to 60 s for the server (it prints its address, then listens)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                body: bytes = answer.read()
                return body
        except urllib.error.URLError:  # noqa: PERF203 - waiting for the server to listen
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_url(process: subprocess.Popen[str], output: list[str], *, deadline: float) -> str:
    """Read the shop's output until it names the address to open."""
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        found = re.search(r"The flash sale is open: (\S+)", line)
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            break
    raise AssertionError("the shop never said where to open it:\n" + "".join(output)[-3000:])


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
