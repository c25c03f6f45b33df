"""How cached values become bytes in Redis and back: JSON by default, never pickle by default."""

from __future__ import annotations

import json
from typing import Any, Protocol

__all__ = ["Codec", "JSONCodec"]


class Codec(Protocol):
    """Turns cached values into bytes for Redis, and back.

    Decoding runs on whatever a Redis server holds under the cache's keys, so a codec must not
    execute code from it: the default is JSON, and :mod:`pickle` is never a default.

    .. versionadded:: 0.2.0
    """

    def encode(self, value: Any) -> bytes:
        """Return the bytes stored for ``value``.

        Raises:
            TypeError: ``value`` cannot be encoded.
        """
        ...

    def decode(self, data: bytes) -> Any:
        """Return the value ``data`` encodes.

        Raises:
            ValueError: ``data`` is not something this codec wrote.
        """
        ...


class JSONCodec:
    """Values as compact UTF-8 JSON: dicts, lists, strings, numbers, booleans and ``None``.

    A tuple comes back as a list, and dictionary keys as strings, as with :mod:`json` itself.

    Example:
        >>> from commerce_kit.redis import JSONCodec
        >>> codec = JSONCodec()
        >>> codec.decode(codec.encode({"sku": "A1", "price": 9.5}))
        {'sku': 'A1', 'price': 9.5}

    .. versionadded:: 0.2.0
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "JSONCodec()"

    def encode(self, value: Any) -> bytes:
        """Return ``value`` as compact UTF-8 JSON.

        Args:
            value: A JSON-serialisable value.

        Returns:
            The bytes to store.

        Raises:
            TypeError: ``value`` is not JSON-serialisable (or is a float that JSON cannot
                carry, such as ``nan``).
        """
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (ValueError, RecursionError) as error:  # nan, a cycle, nesting too deep
            raise TypeError(f"value cannot be cached as JSON: {error}") from None
        return text.encode("utf-8", "surrogatepass")

    def decode(self, data: bytes) -> Any:
        """Return the value that ``data`` encodes.

        Args:
            data: Bytes written by :meth:`encode`.

        Returns:
            The value.

        Raises:
            ValueError: ``data`` is not UTF-8 JSON.
        """
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ValueError(f"cached bytes are not JSON: {error}") from None
