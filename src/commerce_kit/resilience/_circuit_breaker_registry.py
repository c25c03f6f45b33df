"""One circuit breaker per key (payment method, partner, host), made on first use, bounded."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

from commerce_kit._duration import positive_int
from commerce_kit.resilience._circuit_breaker import BreakerSnapshot, CircuitBreaker
from commerce_kit.resilience._circuit_breaker_machine import CircuitState
from commerce_kit.resilience._matchers import is_async_callable

__all__ = ["CircuitBreakerRegistry"]

P = ParamSpec("P")
T = TypeVar("T")

_RELEASABLE = (CircuitState.CLOSED, CircuitState.DISABLED)


class CircuitBreakerRegistry:
    """Keeps one :class:`CircuitBreaker` per key, so one failing dependency never trips the others.

    :meth:`get` makes the breaker for a new key with ``factory(key)`` (by default
    ``CircuitBreaker(key)``; pass :func:`functools.partial` or a function to set thresholds, hooks,
    a clock or a shared store for every key). The registry holds at most ``maxsize`` breakers that
    are closed or disabled: past that, it drops the least recently used of them. Open, half-open
    and forced-open breakers are never dropped, even beyond ``maxsize``: forgetting one would send
    traffic straight back to a failing dependency. A closed breaker that is dropped loses the
    failures it had counted; the next :meth:`get` of its key starts afresh.

    Args:
        factory: Makes the breaker for a key.
        maxsize: How many closed breakers to keep.

    Raises:
        ValueError: ``maxsize`` is below 1.

    Example:
        >>> import functools
        >>> from commerce_kit import CircuitBreaker, CircuitBreakerRegistry
        >>> breakers = CircuitBreakerRegistry(
        ...     functools.partial(CircuitBreaker, failure_threshold=3), maxsize=100
        ... )
        >>> breakers.get("paypal") is breakers.get("paypal")
        True
        >>> breakers.get("paypal").open()
        >>> breakers.get("paypal").state.value, breakers.get("stripe").state.value
        ('open', 'closed')

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       ``max_size=`` is now ``maxsize=``, as in :mod:`functools` and cachetools.
    """

    __slots__ = ("_breakers", "_factory", "_lock", "_maxsize")

    def __init__(
        self,
        factory: Callable[[str], CircuitBreaker] = CircuitBreaker,
        *,
        maxsize: int = 1024,
    ) -> None:
        positive_int(maxsize, "maxsize")
        self._factory = factory
        self._maxsize = maxsize
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<CircuitBreakerRegistry {len(self._breakers)} breakers>"

    def __len__(self) -> int:
        return len(self._breakers)

    def __contains__(self, key: object) -> bool:
        return key in self._breakers

    def __iter__(self) -> Iterator[CircuitBreaker]:
        """Iterate over the breakers held now, least recently used first."""
        with self._lock:
            return iter(list(self._breakers.values()))

    def get(self, key: str) -> CircuitBreaker:
        """Return the breaker for ``key``, making it on first use.

        Args:
            key: Names the dependency, such as ``"paypal"``.

        Returns:
            The same breaker for the same key, for as long as the registry holds it.
        """
        breakers = self._breakers
        with self._lock:
            breaker = breakers.get(key)
            if breaker is not None:
                breakers.move_to_end(key)
                return breaker
        # The factory is the user's code: run it outside the lock, so that it may use the
        # registry itself, and keep the first breaker stored if two callers raced.
        made = self._factory(key)
        with self._lock:
            breaker = breakers.get(key)
            if breaker is not None:
                breakers.move_to_end(key)
                return breaker
            breakers[key] = made
            if len(breakers) > self._maxsize:
                self._drop_one_closed()
            return made

    def _drop_one_closed(self) -> None:
        breakers = self._breakers
        newest = next(reversed(breakers))
        for key, breaker in breakers.items():
            if key != newest and breaker._cell.record.state in _RELEASABLE:  # noqa: SLF001 - a raw read, no clock, no hooks under our lock
                del breakers[key]
                return

    def discard(self, key: str) -> None:
        """Forget the breaker for ``key``, if there is one.

        Args:
            key: The key to forget.
        """
        with self._lock:
            self._breakers.pop(key, None)

    def snapshots(self) -> dict[str, BreakerSnapshot]:
        """Return a :class:`BreakerSnapshot` of every breaker held, by key.

        Returns:
            Snapshots keyed like :meth:`get`, least recently used first.
        """
        with self._lock:
            items = list(self._breakers.items())
        return {key: breaker.snapshot() for key, breaker in items}

    def protect(
        self, *, key: str | Callable[..., str]
    ) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """Decorate a function so each call goes through the breaker of its key.

        Args:
            key: The key, or a function computing it from the call's arguments (it receives
                the same arguments as the decorated function).

        Returns:
            A decorator for a ``def`` or an ``async def``; the wrapper keeps the signature.

        Example:
            >>> from commerce_kit import CircuitBreakerRegistry
            >>> breakers = CircuitBreakerRegistry()
            >>> @breakers.protect(key=lambda method, amount: method)
            ... def charge(method: str, amount: int) -> str:
            ...     return f"charged {amount} with {method}"
            >>> charge("paypal", 5), "paypal" in breakers
            ('charged 5 with paypal', True)
        """
        key_of: Callable[..., str] = (lambda *_, **__: key) if isinstance(key, str) else key

        def decorate(fn: Callable[P, T]) -> Callable[P, T]:
            if is_async_callable(fn):
                afn = cast("Callable[..., Awaitable[Any]]", fn)

                @functools.wraps(fn)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    breaker = self.get(key_of(*args, **kwargs))
                    return await breaker.acall(afn, *args, **kwargs)

                return cast("Callable[P, T]", guarded_async)

            @functools.wraps(fn)
            def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
                return self.get(key_of(*args, **kwargs)).call(fn, *args, **kwargs)

            return guarded

        return decorate
