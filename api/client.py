"""The client's address: the connecting peer, or, behind a trusted reverse proxy, the browser it names.

``X-Forwarded-For`` is a list each proxy appends the address it saw to.  Only the entries added by
proxies we trust are believed, so the list is read from the right: trusted proxies are skipped and
the first address that is not one of them is the client.  Anything to its left could have been
written by the client itself and is ignored.  With no trusted proxies configured the header is
ignored entirely (anyone could send it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from api.appkeys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CLIENT = web.RequestKey("client_address", str)


def client_address(request: web.Request) -> str:
    """The address to record for this request (computed once per request)."""
    if _CLIENT not in request:
        request[_CLIENT] = resolve(request.remote or "", request.headers.getall("X-Forwarded-For", []),
                                   request.app[SETTINGS].proxy_networks)
    return request[_CLIENT]


def resolve(peer: str, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client address given the peer, the X-Forwarded-For header lines and the trusted proxies."""
    if not trusted or not _trusted(peer, trusted):  # the usual case costs no parsing: every request asks
        return peer
    hops = [hop.strip() for line in forwarded for hop in line.split(",")]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled hop: believe nothing further left than the proxy itself
        if not _trusted(str(address), trusted):
            return str(address)
    return hops[0] if hops and _is_ip(hops[0]) else peer


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
