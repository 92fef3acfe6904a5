"""Which address a request comes from: the peer, unless the peer is a proxy we were told to trust.

``X-Forwarded-For`` is only words a client sends: believed from anyone, it lets a guesser pick a
new address for every try and walk past the login limits. So the app reads it itself, and only
when the connection comes from one of ``Settings.trusted_proxies`` (none by default); then the
client is the right-most forwarded address that is not itself a trusted proxy. ``broadcaster
serve`` runs uvicorn with its own proxy handling off, so nothing rewrites the peer before this.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str | None, proxies: Sequence[str]) -> str:
    """The client address given the connection's ``peer``, its X-Forwarded-For and the trusted proxies."""
    networks = _networks(tuple(proxies))
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    for hop in reversed([hop.strip() for hop in forwarded_for.split(",")]):
        if _trusted(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a malformed hop: the proxy's own address is all we know
    return peer


def client_address(request: Request) -> str:
    """The address of the client of ``request`` (see the module docstring)."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(peer, request.headers.get("x-forwarded-for"), request.app.state.settings.trusted_proxies)
