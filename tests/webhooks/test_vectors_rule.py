"""The rule for the shared vectors: skip with a reason in a fresh clone, fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import vectors
from tests.webhooks import _vectors


@pytest.fixture
def absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vectors, "VECTORS", tmp_path / "no-such-folder")


def test_absent_vectors_skip_with_the_reason(absent: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the shared test corpus is not at"):
        vectors.vectors_dir()


def test_absent_vectors_fail_under_ci(absent: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the tests over it"):
        vectors.vectors_dir()


def test_absent_vectors_still_give_one_placeholder_case(absent: None) -> None:
    assert ["vectors-absent"] == [param.id for param in _vectors.params("x.json")]


def test_the_vectors_sit_beside_the_project() -> None:
    assert Path(__file__).resolve().parents[2].parent / "shared" / "vectors" == vectors.VECTORS
