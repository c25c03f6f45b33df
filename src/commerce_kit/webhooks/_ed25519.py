"""Standard Webhooks' asymmetric signatures (``v1a``, ed25519), over the optional ``cryptography``.

The scheme serialises an ed25519 signing key as ``whsk_`` + base64 of its 32-byte seed, and the
public key as ``whpk_`` + base64 of its 32 bytes. ``cryptography`` is imported only when such a
key is given, so the HMAC scheme keeps to the standard library.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SECRET_KEY_PREFIX = "whsk_"  # noqa: S105 - the scheme's marker, not a secret
PUBLIC_KEY_PREFIX = "whpk_"
_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def _require_cryptography() -> None:
    try:
        import cryptography  # noqa: F401, PLC0415 - only ed25519 keys need it
    except ImportError:
        raise ModuleNotFoundError(
            "ed25519 webhook keys (whsk_..., whpk_...) need the 'cryptography' package: "
            "install it with  pip install 'commerce-kit[ed25519]'",
            name="cryptography",
        ) from None


def _decode(text: str, prefix: str) -> bytes:
    body = text[len(prefix) :]
    kind = "secret" if prefix == SECRET_KEY_PREFIX else "public"
    try:
        # Unpadded base64 is accepted, as for whsec_ secrets.
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the ed25519 {kind} key is not base64 after its {prefix!r}") from None
    if len(raw) != _KEY_SIZE:
        raise ValueError(
            f"an ed25519 {kind} key holds {_KEY_SIZE} bytes after its {prefix!r}, got {len(raw)}"
        )
    return raw


class Ed25519Key:
    """One ed25519 key of a Webhook: it verifies ``v1a`` entries, and signs if it is secret.

    Args:
        text: ``"whsk_<base64 seed>"`` or ``"whpk_<base64 public key>"``, spaces stripped.

    Raises:
        ModuleNotFoundError: ``cryptography`` is not installed.
        ValueError: The key is not base64 or not 32 bytes long.
    """

    __slots__ = ("_private", "_public")

    def __init__(self, text: str) -> None:
        _require_cryptography()
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
            Ed25519PublicKey,
        )

        self._private: Ed25519PrivateKey | None = None
        if text.startswith(SECRET_KEY_PREFIX):
            self._private = Ed25519PrivateKey.from_private_bytes(_decode(text, SECRET_KEY_PREFIX))
            self._public: Ed25519PublicKey = self._private.public_key()
        else:
            raw = _decode(text, PUBLIC_KEY_PREFIX)
            try:
                self._public = Ed25519PublicKey.from_public_bytes(raw)
            except ValueError:
                raise ValueError("the ed25519 public key is not a valid key") from None

    def __repr__(self) -> str:
        return "Ed25519Key(<key hidden>)"

    @property
    def can_sign(self) -> bool:
        """Whether this is a secret key (``whsk_``), which signs as well as verifies."""
        return self._private is not None

    def sign(self, content: bytes) -> str:
        """Return the ``v1a,<base64 signature>`` entry for the signed content.

        Raises:
            ValueError: The key is a public key, which cannot sign.
        """
        if self._private is None:
            raise ValueError(
                "a whpk_ public key verifies v1a signatures but cannot make them: sign with "
                "the whsk_ secret key"
            )
        signature = self._private.sign(content)
        return "v1a," + binascii.b2a_base64(signature, newline=False).decode("ascii")

    def verify(self, signature: bytes, content: bytes) -> bool:
        """Tell whether ``signature`` (64 raw bytes) signs ``content`` under this key."""
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - loaded already

        try:
            self._public.verify(signature, content)
        except InvalidSignature:
            return False
        return True


def decode_signature(candidate: str) -> bytes | None:
    """Return the raw bytes of a ``v1a`` entry's base64, or ``None`` if it cannot be one."""
    # 64 bytes are 88 base64 characters, padding included.
    if len(candidate) != 88 or not candidate.isascii():
        return None
    try:
        raw = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SIGNATURE_SIZE else None
