"""Callback URLs must not reach inside the shop's network (server-side request forgery).

A URL is checked when an admin sets it and again at every delivery, after DNS resolution, so a
name that later resolves to a private address is refused too: loopback, private, link-local
(cloud metadata at 169.254.169.254 among them), multicast, reserved and unspecified addresses
are refused unless ``SHOP_CALLBACK_ALLOW`` lists their network. For plain ``http`` the delivery
then connects to the very address that was checked (no second lookup to rebind).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

__all__ = ["CallbackPolicy", "ResolvedUrl", "UnsafeUrlError"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeUrlError(ValueError):
    """The callback URL is malformed or reaches an address callbacks may not reach."""


@dataclass(frozen=True, slots=True)
class ResolvedUrl:
    """A checked URL and the address to connect to."""

    url: str
    parts: SplitResult
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (for plain http)."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        port = f":{self.parts.port}" if self.parts.port else ""
        return self.parts._replace(netloc=f"{host}{port}").geturl()


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Which addresses callbacks may reach beyond the public internet."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CallbackPolicy:
        """Read ``SHOP_CALLBACK_ALLOW``: comma-separated networks such as ``127.0.0.1/32``.

        Raises:
            ValueError: An entry is not a network.
        """
        networks = [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in text.split(",")
            if part.strip()
        ]
        return cls(tuple(networks))

    def address_allowed(self, address: IPAddress) -> bool:
        """Whether a callback may connect to ``address``."""
        if any(address in network for network in self.allow):
            return True
        if address in _METADATA:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return self.address_allowed(address.ipv4_mapped)
        return address.is_global and not address.is_multicast

    def check_syntax(self, url: str) -> SplitResult:
        """Check the URL's form (scheme, host, no credentials).

        Raises:
            UnsafeUrlError: It is not an http(s) URL with a host and without credentials.
        """
        if len(url) > 2000 or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
            raise UnsafeUrlError("the callback URL must be at most 2000 characters, no spaces")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as error:
            raise UnsafeUrlError(f"the callback URL is malformed: {error}") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise UnsafeUrlError("the callback URL must be http:// or https:// with a host")
        if parts.username is not None or parts.password is not None:
            raise UnsafeUrlError("the callback URL must not carry credentials")
        return parts

    async def resolve(self, url: str) -> ResolvedUrl:
        """Check ``url`` and every address its host resolves to; return the first.

        Raises:
            UnsafeUrlError: The URL is malformed, does not resolve, or resolves to an address
                callbacks may not reach.
        """
        parts = self.check_syntax(url)
        host = parts.hostname or ""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                raise UnsafeUrlError(f"the callback host {host!r} does not resolve") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise UnsafeUrlError(f"the callback host {host!r} does not resolve")
        for address in addresses:
            if not self.address_allowed(address):
                raise UnsafeUrlError(
                    f"the callback host {host!r} resolves to {address}, a private, loopback, "
                    "link-local or reserved address"
                )
        return ResolvedUrl(url, parts, addresses[0])
