"""Server-side scripts run by SHA, loaded again when the server has forgotten them."""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import NoScriptError

__all__ = ["Script", "check_prefix", "sends_packed"]


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

    def head(self, keys: int, args: int) -> bytes:
        """Return the start of an ``EVALSHA`` of this script in the wire format (RESP).

        The command array's length, ``EVALSHA``, the SHA and the number of keys: what
        :meth:`run_packed` needs in front of ``keys`` keys and ``args`` arguments, each packed as
        a bulk string (``$``, its length, CRLF, its bytes, CRLF).
        """
        return b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$%d\r\n%d\r\n" % (
            3 + keys + args,
            self.sha.encode(),
            len(str(keys)),
            keys,
        )

    def run_packed(self, client: redis.Redis, command: bytes) -> bytes:
        """Send ``command``, an ``EVALSHA`` of this script already packed; return the raw reply.

        The command goes on a connection of ``client``'s pool under the connection's retry
        policy, as ``client.evalsha`` would send it, without the layers that build and encode
        the command on every call; the reply is never decoded. Only for clients that
        :func:`sends_packed` accepts.
        """
        try:
            return _round_trip(client.connection_pool, command)
        except NoScriptError:
            client.script_load(self.source)
            return _round_trip(client.connection_pool, command)


def _round_trip(pool: redis.ConnectionPool, command: bytes) -> bytes:
    conn = pool.get_connection()
    try:

        def send() -> bytes:
            conn.send_packed_command((command,))  # type: ignore[no-untyped-call]
            return conn.read_response(disable_decoding=True)  # type: ignore[no-any-return]

        def failed(_error: Exception) -> None:
            conn.disconnect()  # type: ignore[no-untyped-call]

        return conn.retry.call_with_retry(send, failed)
    finally:
        pool.release(conn)


def sends_packed(client: object) -> bool:
    """Whether :meth:`Script.run_packed` can talk to ``client``'s pool directly.

    A plain client over a pool whose ``get_connection`` takes no arguments (redis-py 5.3 on):
    not a single-connection client, whose one connection is not the pool's to lend.
    """
    if not isinstance(client, redis.Redis) or client.connection is not None:
        return False
    try:
        signature = inspect.signature(client.connection_pool.get_connection)
    except (TypeError, ValueError):
        return False
    required = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return all(
        p.default is not inspect.Parameter.empty
        for p in signature.parameters.values()
        if p.kind in required
    )


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
