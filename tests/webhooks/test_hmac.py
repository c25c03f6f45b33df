"""The precomputed HMAC-SHA256 against the standard library and the published vectors."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit.webhooks._hmac import HmacSha256
from tests.webhooks._vectors import params, vectors_dir


@given(key=st.binary(min_size=1, max_size=200), head=st.binary(), body=st.binary(max_size=300))
def test_digest_equals_the_standard_library_hmac(key: bytes, head: bytes, body: bytes) -> None:
    assert hmac.digest(key, head + body, "sha256") == HmacSha256(key).digest(head, body)


@pytest.mark.parametrize("size", [64, 65, 131])
def test_keys_at_and_over_the_block_size_match_the_standard_library(size: int) -> None:
    key = bytes(range(size))
    assert hmac.digest(key, b"message", "sha256") == HmacSha256(key).digest(b"mess", b"age")


def test_one_key_serves_many_messages_independently() -> None:
    mac = HmacSha256(b"key")
    first = mac.digest(b"a", b"b")
    mac.digest(b"something", b"else")
    assert first == mac.digest(b"a", b"b")


def test_repr_hides_the_key() -> None:
    assert "sekrit" not in repr(HmacSha256(b"sekrit"))


@pytest.mark.parametrize("vector", params("other_hmac_vectors.json", ids="name"))
def test_published_hmac_sha256_vectors(vector: dict[str, str]) -> None:
    vectors_dir()
    if "key_hex" in vector:
        key = bytes.fromhex(vector["key_hex"])
    else:
        key = vector["key"].encode() if "key" in vector else vector["secret"].encode()
    data = vector.get("data", vector.get("payload", ""))
    assert vector["expected_hex"] == HmacSha256(key).digest(b"", data.encode()).hex()
