"""Hypothesis strategies shared by the test modules.

Times are drawn on a quarter-second grid where a test compares against a reference model, so that
sums are exact and window boundaries are hit exactly; keys come from a small alphabet so that
draws collide and the interesting cases (repeats, evictions, replays) happen often.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

__all__ = ["few_keys", "quarter_fractions", "quarter_seconds", "seconds"]


def quarter_seconds(*, max_seconds: float) -> st.SearchStrategy[float]:
    """Non-negative multiples of 0.25 s up to ``max_seconds``, exact in binary floating point."""
    return st.integers(min_value=0, max_value=int(max_seconds * 4)).map(lambda n: n / 4)


def quarter_fractions(*, max_seconds: int) -> st.SearchStrategy[Fraction]:
    """The same grid as exact fractions, for reference models that must not round."""
    return st.integers(min_value=0, max_value=max_seconds * 4).map(lambda n: Fraction(n, 4))


def seconds(*, max_seconds: float) -> st.SearchStrategy[float]:
    """Any finite duration from 0 to ``max_seconds``."""
    return st.floats(min_value=0, max_value=max_seconds, allow_nan=False, allow_infinity=False)


def few_keys(prefix: str = "", *, count: int = 6) -> st.SearchStrategy[str]:
    """One of ``count`` keys, so that a stateful test sees the same key again and again."""
    return st.sampled_from([f"{prefix}{chr(ord('a') + i)}" for i in range(count)])
