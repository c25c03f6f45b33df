from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commerce_kit.payments
import commerce_kit.testing
from commerce_kit._duration import to_seconds
from commerce_kit.testing import ManualClock


def test_starts_at_zero_by_default() -> None:
    assert 0.0 == ManualClock()()


def test_starts_where_told() -> None:
    assert 12.5 == ManualClock(12.5)()


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=20))
def test_advance_and_sleep_add_up(steps: list[float]) -> None:
    clock = ManualClock()
    for i, s in enumerate(steps):
        (clock.advance if i % 2 else clock.sleep)(s)
    assert sum(steps) == pytest.approx(clock())
    assert steps[::2] == clock.sleeps


def test_advance_accepts_timedelta() -> None:
    clock = ManualClock()
    clock.advance(timedelta(minutes=1))
    assert 60.0 == clock()


def test_cannot_go_back() -> None:
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        ManualClock().advance(-1)


def test_asleep_advances_and_records() -> None:
    clock = ManualClock()
    asyncio.run(clock.asleep(3))
    assert (3.0, [3.0]) == (clock(), clock.sleeps)


def test_threads_do_not_lose_advances() -> None:
    clock = ManualClock()

    def work() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 8000.0 == clock()


def test_repr_shows_now() -> None:
    assert "ManualClock(now=0.0)" == repr(ManualClock())


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("1", TypeError, "number of seconds or a timedelta, got str"),
        (True, TypeError, "got bool"),
        (float("nan"), ValueError, "must be finite"),
        (float("inf"), ValueError, "must be finite"),
        (0, ValueError, "must be > 0"),
        (-1, ValueError, "must be > 0"),
        (10**400, ValueError, "must be finite"),
    ],
)
def test_to_seconds_refuses_bad_values(value: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_seconds(value, name="window")  # type: ignore[arg-type]


def test_to_seconds_normalises() -> None:
    assert (1.5, 0.0, 60.0) == (
        to_seconds(1.5, name="x"),
        to_seconds(0, name="x", allow_zero=True),
        to_seconds(timedelta(minutes=1), name="x"),
    )


def test_advance_by_an_int_too_large_for_a_float_is_a_value_error() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="must be finite"):
        clock.advance(10**400)
    assert 0.0 == clock()


def test_sandboxes_live_here_only_and_load_lazily() -> None:
    from commerce_kit.payments import _sandbox  # noqa: PLC0415

    assert (_sandbox.SandboxCard, False) == (
        commerce_kit.testing.SandboxCard,
        hasattr(commerce_kit.payments, "SandboxCard"),
    )
    with pytest.raises(AttributeError, match="nope"):
        _ = commerce_kit.testing.nope
