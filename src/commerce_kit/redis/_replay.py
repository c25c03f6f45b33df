"""The webhook replay guard on Redis: one ``SET NX`` with an expiry per accepted delivery."""

from __future__ import annotations

import math
import time
from typing import Literal

import redis
import redis.asyncio

from commerce_kit._types import Clock
from commerce_kit.redis._guard import RedisGuard
from commerce_kit.redis._script import Script, check_prefix
from commerce_kit.webhooks._replay import MemoryReplayStore

__all__ = ["RedisReplayStore"]

# Remember the key until ARGV[1] (Unix milliseconds); when it was already remembered, keep the
# later expiry. SET NX and PEXPIREAT GT in one script, so the check and the insertion are atomic.
_SEEN_OR_ADD = Script(
    """
if redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1]) then return 0 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1], 'GT')
return 1
"""
)


class RedisReplayStore:
    """A :class:`~commerce_kit.webhooks.ReplayStore` shared by every process using one Redis.

    Each accepted delivery becomes one key, ``{prefix}replay:{id}``, set with ``NX`` and an expiry
    at the moment a replay of it would fail the timestamp check anyway, so Redis forgets it by
    itself. The check and the insertion are one server-side script: of two processes receiving the
    same delivery at once, exactly one accepts it.

    When Redis fails (see :class:`RedisGuard`), ``on_failure`` decides: ``"local"`` (the default)
    remembers deliveries in this process's memory until Redis answers again, so a replay to the
    same process is still refused but one to another process may pass; ``"refuse"`` treats every
    delivery as a replay, so the sender gets an error and delivers again later.

    Args:
        client: A sync :class:`redis.Redis` client, for :meth:`seen_or_add`.
        aclient: An asyncio :class:`redis.asyncio.Redis` client, for :meth:`aseen_or_add`.
        prefix: Put in front of every key (no braces).
        on_failure: ``"local"`` or ``"refuse"``, as above.
        guard: The guard deciding when Redis is down; share one between backends. By default
            the store has a guard of its own.
        clock: Wall-clock Unix seconds for the local fallback; default :func:`time.time`.

    Raises:
        TypeError: Neither client was given, or ``prefix`` is not a ``str``.
        ValueError: ``prefix`` contains a brace or ``on_failure`` is unknown.

    Example:
        >>> import redis
        >>> from commerce_kit.redis import RedisReplayStore
        >>> store = RedisReplayStore(redis.Redis(), prefix="doctest:")
        >>> import time
        >>> expires = time.time() + 60
        >>> store.seen_or_add("msg_doc", expires), store.seen_or_add("msg_doc", expires)
        (False, True)
        >>> store.forget("msg_doc")

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_aclient", "_client", "_guard", "_local", "_prefix", "_refuse")

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        aclient: redis.asyncio.Redis | None = None,
        prefix: str = "commerce_kit:",
        on_failure: Literal["local", "refuse"] = "local",
        guard: RedisGuard | None = None,
        clock: Clock = time.time,
    ) -> None:
        if client is None and aclient is None:
            raise TypeError("give a Redis client, an asyncio Redis client, or both")
        if on_failure not in ("local", "refuse"):
            raise ValueError(f"on_failure must be 'local' or 'refuse', got {on_failure!r}")
        self._client = client
        self._aclient = aclient
        self._prefix = check_prefix(prefix) + "replay:"
        self._refuse = on_failure == "refuse"
        self._local = MemoryReplayStore(clock=clock)
        self._guard = RedisGuard("redis") if guard is None else guard
        self._guard.describe(
            "replay guard",
            "refuses every delivery" if self._refuse else "remembers deliveries per process",
        )

    def __repr__(self) -> str:
        return f"RedisReplayStore(prefix={self._prefix[: -len('replay:')]!r})"

    @property
    def guard(self) -> RedisGuard:
        """The guard deciding when Redis is down."""
        return self._guard

    def seen_or_add(self, key: str, expires_at: float) -> bool:
        """Tell whether ``key`` is remembered, remembering it until at least ``expires_at``.

        Args:
            key: What identifies the delivery.
            expires_at: The Unix time up to which, inclusive, the key must be remembered.

        Returns:
            ``True`` if ``key`` was remembered (a replay); ``False`` if it was new.

        Raises:
            TypeError: The store has no sync client.
        """
        client = self._client
        if client is None:
            raise TypeError("this RedisReplayStore has no sync client; use aseen_or_add()")
        keys = [self._prefix + key]
        args = [math.ceil(expires_at * 1000)]
        return self._guard.run(
            lambda: bool(_SEEN_OR_ADD(client, keys, args)),
            lambda: self._fallback(key, expires_at),
        )

    async def aseen_or_add(self, key: str, expires_at: float) -> bool:
        """Async face of :meth:`seen_or_add`, through the asyncio client.

        Args:
            key: What identifies the delivery.
            expires_at: The Unix time up to which, inclusive, the key must be remembered.

        Returns:
            ``True`` if ``key`` was remembered (a replay); ``False`` if it was new.

        Raises:
            TypeError: The store has no asyncio client.
        """
        client = self._aclient
        if client is None:
            raise TypeError("this RedisReplayStore has no asyncio client; use seen_or_add()")
        keys = [self._prefix + key]
        args = [math.ceil(expires_at * 1000)]

        async def command() -> bool:
            return bool(await _SEEN_OR_ADD.arun(client, keys, args))

        async def fallback() -> bool:
            return self._fallback(key, expires_at)

        return await self._guard.arun(command, fallback)

    def forget(self, key: str) -> None:
        """Forget ``key`` in Redis (a no-op when it is unknown, or while Redis is down).

        Args:
            key: What identifies the delivery.

        Raises:
            TypeError: The store has no sync client.
        """
        client = self._client
        if client is None:
            raise TypeError("this RedisReplayStore has no sync client")
        self._guard.run(lambda: client.delete(self._prefix + key), lambda: 0)

    def _fallback(self, key: str, expires_at: float) -> bool:
        if self._refuse:
            return True
        return self._local.seen_or_add(key, expires_at)
