"""The progress bar the command line draws on a terminal."""

from __future__ import annotations

import importlib
import io
import runpy
import sys

import pytest

from commerce_kit import __version__
from commerce_kit._cli import PROGRESS_MIN_BYTES, ProgressBar
from commerce_kit.testing import ManualClock

MiB = 1024 * 1024


def bar(label: str = "feed.csv") -> tuple[ProgressBar, io.StringIO, ManualClock]:
    stream, clock = io.StringIO(), ManualClock()
    return ProgressBar(stream, label, clock=clock, width=10), stream, clock


def test_a_known_total_draws_a_filled_bar_with_percent_and_sizes() -> None:
    progress, stream, _ = bar()
    progress.update(MiB, 4 * MiB)
    assert "\rfeed.csv [##--------]  25% 1.0 MiB / 4.0 MiB" == stream.getvalue()


def test_a_feed_below_the_threshold_draws_nothing() -> None:
    progress, stream, _ = bar()
    progress.update(10, PROGRESS_MIN_BYTES - 1)
    progress.close()
    assert "" == stream.getvalue()


def test_an_unknown_total_shows_the_bytes_read() -> None:
    progress, stream, _ = bar("<stdin>")
    progress.update(512 * 1024, None)
    assert "\r<stdin> 512 KiB read" == stream.getvalue()


def test_redraws_are_throttled_to_ten_a_second_except_the_last() -> None:
    progress, stream, clock = bar()
    progress.update(1 * MiB, 4 * MiB)
    clock.advance(0.05)
    progress.update(2 * MiB, 4 * MiB)  # too soon: skipped
    clock.advance(0.05)
    progress.update(3 * MiB, 4 * MiB)
    progress.update(4 * MiB, 4 * MiB)  # complete: always drawn
    assert ["25%", "75%", "100%"] == [part.split()[2] for part in stream.getvalue().split("\r")[1:]]


def test_a_shorter_line_blanks_what_the_longer_one_left() -> None:
    progress, stream, clock = bar()
    progress.update(2 * MiB, None)
    clock.advance(1)
    progress.update(3 * MiB, None)
    first, second = stream.getvalue().split("\r")[1:]
    assert len(first) == len(second)


def test_close_wipes_the_line_once() -> None:
    progress, stream, _ = bar()
    progress.update(MiB, 2 * MiB)
    drawn = len(stream.getvalue()) - 1
    progress.close()
    progress.close()
    assert stream.getvalue().endswith("\r" + " " * drawn + "\r")


def test_a_long_label_is_clipped_from_the_left() -> None:
    progress, stream, _ = bar("/very/long/path/" * 10 + "feed.csv")
    progress.update(MiB, MiB)
    assert stream.getvalue().startswith("\r...")
    assert "feed.csv [" in stream.getvalue()


def test_python_dash_m_runs_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["commerce_kit", "--version"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("commerce_kit", run_name="__main__")
    assert (0, f"commerce-kit {__version__}\n") == (exited.value.code, capsys.readouterr().out)


def test_importing_the_main_module_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module("commerce_kit.__main__")
    assert (True, "") == (callable(module.main), capsys.readouterr().out)
