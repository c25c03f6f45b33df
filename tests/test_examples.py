"""The README's example and the demo script run as a newcomer would run them."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Ten lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_readme_example_is_ten_lines_and_runs() -> None:
    code = _readme_example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    charge = namespace["charge"]
    assert callable(charge)
    assert "charged A1" == charge("A1")
    assert ["TEE-001", "MUG-002"] == namespace["products"]


def test_demo_shows_the_limiter_and_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert 5 == out.count("HTTP 200")
    assert "checkout #6: HTTP 429  {'Retry-After': '50'" in out
    assert "database queries per 30 s window: {0: 1, 1: 1, 2: 1}" in out
    assert "loader calls: 1  answers: 50" in out
