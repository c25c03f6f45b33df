"""Server-side scripts run by SHA, loaded again when the server has forgotten them."""

from __future__ import annotations

import hashlib
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import NoScriptError

__all__ = ["Script", "check_prefix"]


class Script:
    """A Lua script sent as ``EVALSHA``: one round trip, two more only after a ``NOSCRIPT``.

    A server forgets its scripts when it restarts or runs ``SCRIPT FLUSH``; the reply is then
    ``NOSCRIPT`` and the script is loaded and run again.
    """

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: redis.Redis, keys: list[str], args: list[Any]) -> Any:
        """Run the script on ``client`` with ``keys`` and ``args``; return its reply."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    async def arun(self, client: redis.asyncio.Redis, keys: list[str], args: list[Any]) -> Any:
        """Async face of :meth:`__call__`."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a usable key prefix: a ``str`` without ``{`` or ``}``.

    Braces are kept out because the backends put a Redis Cluster hash tag (``{...}``) after the
    prefix: the first ``{`` in a key starts the tag.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    if "{" in prefix or "}" in prefix:
        raise ValueError(f"prefix must not contain '{{' or '}}', got {prefix!r}")
    return prefix
