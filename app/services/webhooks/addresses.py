"""Outbound requests must not be a way into the operator's network: an endpoint's host must
resolve to public addresses only (no loopback, private, link-local, multicast or reserved
ranges), unless the operator allows private ones (LAUREL_WEBHOOKS_ALLOW_PRIVATE, for a
receiver on the same network). The address checked is the address connected to, so a name
that resolves differently a moment later (DNS rebinding) gains nothing."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class UnsafeAddressError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """Where a request goes: the address to connect to, and the URL's own host and port."""

    address: str
    host: str
    port: int
    scheme: str


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> str | None:
    """What is wrong with an endpoint URL on its face (None when nothing is)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https"):
        return "the URL must start with https:// (or http://)"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL must not carry credentials; sign requests are verified by the secret"
    if parts.fragment:
        return "the URL must not have a #fragment"
    del port
    return None


class AddressGuard:
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def literal_refusal(self, url: str) -> str | None:
        """A refusal for a URL whose host is an address in a refused range."""
        host = urlsplit(url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return (
                "localhost is not a public host"
                if host == "localhost" and not self.allow_private
                else None
            )
        if not self.allow_private and not _public(address):
            return f"{host} is not a public address"
        return None

    async def target(self, url: str) -> Target:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeAddressError(f"{host} does not resolve: {exc.strerror or exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise UnsafeAddressError(f"{host} does not resolve")
        if not self.allow_private:
            refused = [str(address) for address in addresses if not _public(address)]
            if refused:
                raise UnsafeAddressError(
                    f"{host} resolves to {refused[0]}, which is not a public address"
                )
        return Target(address=str(addresses[0]), host=host, port=port, scheme=parts.scheme)
