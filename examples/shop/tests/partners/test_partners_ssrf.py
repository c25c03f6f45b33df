"""Callback URLs: refused when they reach private, loopback, link-local or metadata addresses."""

from __future__ import annotations

import pytest

from shop.partners.ssrf import CallbackPolicy, UnsafeUrlError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "ftp://example.com/",
        "http://user:pass@example.com/",
        "http:///nohost",
        "http://example.com:99999/",
        "http://exa mple.com/",
    ],
)
async def test_unsafe_callback_urls_are_refused(url):
    with pytest.raises(UnsafeUrlError):
        await CallbackPolicy().resolve(url)


async def test_the_allow_list_opens_a_network_and_delivery_pins_the_checked_address():
    policy = CallbackPolicy.parse("127.0.0.0/8, ::1/128")
    resolved = await policy.resolve("http://127.0.0.1:8123/hook?x=1")
    assert "http://127.0.0.1:8123/hook?x=1" == resolved.pinned_url
    with pytest.raises(UnsafeUrlError):
        await policy.resolve("http://10.0.0.1/")


async def test_a_public_address_is_allowed():
    resolved = await CallbackPolicy().resolve("https://93.184.216.34/hook")
    assert "93.184.216.34" == str(resolved.address)
