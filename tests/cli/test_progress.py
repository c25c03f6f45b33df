"""The progress bar the command line draws on a terminal."""

from __future__ import annotations

import importlib
import io
import re
import runpy
import subprocess
import sys

import pytest

from commerce_kit import __version__
from commerce_kit._cli import PROGRESS_MIN_BYTES, ProgressBar
from commerce_kit.testing import ManualClock

MiB = 1024 * 1024
# A control sequence: CSI (ESC [ ... final byte), as rich writes to move the cursor and colour.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG = "/very/long/path/to/the/partner/exports/" * 4 + "feed.csv"


def bar(label: str = "feed.csv", width: int = 60) -> tuple[ProgressBar, io.StringIO, ManualClock]:
    stream, clock = io.StringIO(), ManualClock()
    return ProgressBar(stream, label, clock=clock, width=width), stream, clock


def frames(drawn: str) -> list[str]:
    """What each redraw leaves on the screen line: text between carriage returns, without codes."""
    return [CONTROL.sub("", part) for part in re.split(r"[\r\n]", drawn) if CONTROL.sub("", part)]


def draw(
    progress: ProgressBar, clock: ManualClock, steps: int = 8, total: int | None = None
) -> None:
    for step in range(1, steps + 1):
        progress.update(step * MiB // 2, total)
        clock.advance(1)
    progress.close()


@pytest.mark.parametrize("width", [8, 20, 29, 30, 45, 59, 60, 80, 200])
@pytest.mark.parametrize(
    "label", [LONG, "feed.csv", "caf\u00e9 [bold]{0}\u2603.csv"], ids=["long", "short", "odd"]
)
@pytest.mark.parametrize("total", [4 * MiB, None], ids=["known", "unknown"])
def test_no_frame_is_wider_than_the_terminal(width: int, label: str, total: int | None) -> None:
    progress, stream, clock = bar(label, width)
    draw(progress, clock, total=total)
    drawn = frames(stream.getvalue())
    assert drawn
    assert [] == [frame for frame in drawn if len(frame.rstrip()) > width]


@pytest.mark.parametrize("width", [20, 80])
def test_every_frame_redraws_the_same_line_and_close_erases_it(width: int) -> None:
    progress, stream, clock = bar(LONG, width)
    draw(progress, clock, total=4 * MiB)
    drawn = stream.getvalue()
    # Each new line rich writes is taken back by a cursor-up: the bar never adds lines.
    assert drawn.count("\n") == drawn.count("\x1b[1A")
    assert drawn.count("\n") <= 1
    assert len(frames(drawn)) >= 8
    assert drawn.endswith("\x1b[2K")  # the last thing written erases the line


def test_a_long_label_keeps_its_end_the_file_name() -> None:
    progress, stream, clock = bar(LONG, 60)
    draw(progress, clock, total=4 * MiB)
    first = frames(stream.getvalue())[0]
    assert (True, True) == (first.startswith("..."), "feed.csv" in first)


def test_a_label_is_shown_as_written_not_as_markup() -> None:
    progress, stream, clock = bar("[bold]{task}.csv", 80)
    draw(progress, clock, total=4 * MiB)
    assert frames(stream.getvalue())[0].startswith("[bold]{task}.csv ")


def test_a_known_total_shows_percent_and_sizes() -> None:
    progress, stream, _ = bar("feed.csv", 80)
    progress.update(MiB, 4 * MiB)
    assert re.search(r"feed\.csv .* 25% 1\.0/4\.0 MiB", frames(stream.getvalue())[-1])


def test_an_unknown_total_shows_the_bytes_read() -> None:
    progress, stream, _ = bar("<stdin>", 80)
    progress.update(512 * 1024, None)
    assert "512.0/? KiB" in frames(stream.getvalue())[-1]


def test_a_feed_below_the_threshold_draws_nothing_and_never_loads_rich() -> None:
    progress, stream, _ = bar()
    progress.update(10, PROGRESS_MIN_BYTES - 1)
    progress.close()
    assert ("", None) == (stream.getvalue(), progress._progress)


def test_redraws_are_throttled_to_ten_a_second_except_the_last() -> None:
    progress, stream, clock = bar("feed.csv", 80)
    progress.update(1 * MiB, 4 * MiB)
    clock.advance(0.05)
    progress.update(2 * MiB, 4 * MiB)  # too soon: skipped
    clock.advance(0.05)
    progress.update(3 * MiB, 4 * MiB)
    progress.update(4 * MiB, 4 * MiB)  # complete: always drawn
    shown = [re.search(r"\d+%", frame) for frame in frames(stream.getvalue())]
    assert ["25%", "75%", "100%"] == [m.group() for m in shown if m]


def test_close_is_idempotent() -> None:
    progress, stream, _ = bar()
    progress.update(MiB, 2 * MiB)
    progress.close()
    drawn = stream.getvalue()
    progress.close()
    assert drawn == stream.getvalue()


def test_the_command_line_help_never_imports_rich() -> None:
    code = (
        "import sys; from commerce_kit._cli import main; main(['--help']); "
        "print('rich' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "False" == done.stderr.strip()


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
