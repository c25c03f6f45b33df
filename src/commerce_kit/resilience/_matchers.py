"""What the resilience components share about the callables and exceptions they are handed.

One :data:`ExceptionMatcher` type says which exceptions a component acts on (``retry(on=...)``,
the breaker's ``failure_on=``), validated in one place by :func:`exception_matcher`; and one test,
:func:`is_async_callable`, decides whether a decorator wraps a callable with its sync or its async
face.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeAlias

__all__ = ["ExceptionMatcher", "exception_matcher", "is_async_callable"]

#: Which exceptions a component acts on: an :class:`Exception` subclass, a non-empty tuple of
#: them, or a predicate on the exception. :class:`BaseException`-only types (``KeyboardInterrupt``,
#: ``SystemExit``, ``asyncio.CancelledError``) are refused: they always pass through.
ExceptionMatcher: TypeAlias = (
    type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool]
)


def exception_matcher(
    value: object, *, name: str
) -> tuple[tuple[type[Exception], ...], Callable[[Exception], bool] | None]:
    """Validate an :data:`ExceptionMatcher` and split it into types and an optional predicate.

    The split form lets a hot path test ``isinstance(error, types)`` first and call the predicate
    only when there is one.

    Args:
        value: What the caller passed.
        name: The parameter's name, for the error message (``"on"``, ``"failure_on"``).

    Returns:
        ``(types, predicate)``: the exception types to match, and the predicate to ask after a type
        matches, or ``None``. A predicate alone comes back as ``((Exception,), predicate)``.

    Raises:
        TypeError: ``value`` is neither an Exception subclass, a tuple of them, nor a callable.
        ValueError: ``value`` is an empty tuple.
    """
    if isinstance(value, type):
        candidates: tuple[object, ...] = (value,)
    elif isinstance(value, tuple):
        candidates = value
        if not candidates:
            raise ValueError(f"{name} must name at least one exception type")
    elif callable(value):
        return (Exception,), value
    else:
        raise TypeError(
            f"{name} must be an exception type, a tuple of them or a predicate, got {value!r}"
        )
    types: list[type[Exception]] = []
    for kind in candidates:
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            raise TypeError(
                f"{name} must list Exception subclasses, got {kind!r}; BaseException-only types "
                "(KeyboardInterrupt, SystemExit, asyncio.CancelledError) always pass through"
            )
        types.append(kind)
    return tuple(types), None


def is_async_callable(fn: object) -> bool:
    """Return whether calling ``fn`` returns an awaitable to be awaited.

    True for coroutine functions, for :func:`functools.partial` objects over one, and for objects
    whose ``__call__`` is a coroutine function, so a decorator wraps such an object with its async
    face rather than handing back an un-awaited coroutine.

    Args:
        fn: The callable a decorator was handed.

    Returns:
        ``True`` when ``fn`` is async.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or isinstance(fn, type):
        return False
    return inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004 - we need the method
