"""Read the Docs builds the documentation the same way ``nox -s docs`` does."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def _rtd() -> dict[str, object]:
    data = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_read_the_docs_installs_the_package_with_the_docs_group() -> None:
    install = _rtd()["build"]["jobs"]["install"]  # type: ignore[index]
    assert 'python -m pip install ".[redis,ed25519]" --group docs' in install
    noxfile = (ROOT / "noxfile.py").read_text()
    docs_session = noxfile.split("def docs(", 1)[1].split("@nox.session", 1)[0]
    assert '".[redis,ed25519]", *_group("docs")' in docs_session
    assert '"-W"' in docs_session


def test_read_the_docs_uses_our_conf_and_fails_on_warnings() -> None:
    sphinx = _rtd()["sphinx"]
    assert {"configuration": "docs/conf.py", "fail_on_warning": True} == sphinx
    assert re.search(r"^nitpicky = True$", (ROOT / "docs" / "conf.py").read_text(), re.MULTILINE)


def test_read_the_docs_python_is_one_we_support() -> None:
    python = str(_rtd()["build"]["tools"]["python"])  # type: ignore[index]
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(r'^requires-python = ">=([\d.]+)"$', pyproject, re.MULTILINE)
    assert floor is not None
    assert tuple(map(int, python.split("."))) >= tuple(map(int, floor.group(1).split(".")))
    assert f'"Programming Language :: Python :: {python}"' in pyproject
