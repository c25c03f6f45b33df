"""The transcripts in docs/howto/cli.md are what the command prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from commerce_kit._cli import main

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "howto" / "cli.md"
FILE_BLOCK = re.compile(r"```\{code-block\} text\n:caption: (\S+)\n\n(.*?)```", re.DOTALL)
CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
SHELL_OPERATORS = {"|", ">", "<", "||", "&&"}


def transcripts() -> list[tuple[str, list[str]]]:
    """Each ``$ ...`` command line with the output shown under it."""
    steps: list[tuple[str, list[str]]] = []
    for block in CONSOLE_BLOCK.findall(HOWTO.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def test_every_shown_command_prints_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = HOWTO.read_text(encoding="utf-8")
    for name, content in FILE_BLOCK.findall(text):
        (tmp_path / name).write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    checked, status = [], None
    for command, shown in transcripts():
        argv = shlex.split(command)
        if command == "echo $?":
            assert [str(status)] == shown, command
        elif argv[0] == "touch":
            for name in argv[1:]:
                (tmp_path / name).touch()
        elif argv[0] == "commerce-kit" and shown and not SHELL_OPERATORS & set(argv):
            status = main(argv[1:])
            out, err = capsys.readouterr()
            assert shown == (out + err).splitlines(), command
        else:
            continue  # installing, piping from curl, or output not shown
        checked.append(command)
    assert 15 == len(checked)
