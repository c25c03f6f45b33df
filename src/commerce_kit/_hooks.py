"""Delivering events to user hooks, the same way in every component."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

E = TypeVar("E")


def emit(hooks: Iterable[Callable[[E], object]], event: E, logger: logging.Logger) -> None:
    """Send ``event`` to every hook in turn.

    A hook that raises is logged on ``logger`` with its traceback and the next hook still runs:
    instrumentation never breaks the call it observes.
    """
    for hook in hooks:
        try:
            hook(event)
        except Exception:  # noqa: PERF203 - one failing hook must not silence the next
            logger.exception("hook %r failed on %s", hook, type(event).__name__)
