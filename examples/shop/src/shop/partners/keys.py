"""Partner API keys: ``ck_live_<prefix>_<secret>``, shown once, stored as a hash.

The prefix (12 lowercase letters and digits) is public: it finds the key's row and names the
key in logs and the audit trail. The secret (256 random bits) is never stored: the row keeps
the SHA-256 of the whole key, compared in constant time. A fast hash is right here, as for any
high-entropy token: there is nothing to brute-force that stretching would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["KEY_PATTERN", "ParsedKey", "hash_key", "new_key", "parse_key", "same_hash"]

_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
KEY_PATTERN = re.compile(r"^ck_live_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
#: A hash no key has, compared against when the prefix is unknown, so that an unknown key
#: costs the same time as a wrong one.
DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A well-formed key, split."""

    prefix: str
    key: str


def new_key() -> ParsedKey:
    """Return a fresh key."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))
    return ParsedKey(prefix, f"ck_live_{prefix}_{secrets.token_urlsafe(32)}")


def parse_key(text: str) -> ParsedKey | None:
    """Split a key; None when it is not of the key's form."""
    if len(text) > 100:
        return None
    match = KEY_PATTERN.match(text)
    return None if match is None else ParsedKey(match.group(1), text)


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key: what the database keeps."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
