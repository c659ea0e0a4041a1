"""The address a request comes from, for the sign-in back-off.

It is the direct peer, unless the peer is a trusted proxy (``trusted_proxies``): then ``X-Forwarded-For`` is
walked from the right (the hop nearest to us first), trusted hops are skipped, and the first address that is not
a trusted proxy is the client. Anything left of it was written by the client and proves nothing. A malformed entry
stops the walk at the last hop a trusted proxy vouched for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Networks of trusted proxies (``10.0.0.0/8``, ``2001:db8::/32``, single addresses); raises on a bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxies)


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address; ``forwarded_for`` is every ``X-Forwarded-For`` header's value, in order."""
    nearest = _address(peer or "")
    if nearest is None:
        return peer or "unknown"
    if not proxies:
        return str(nearest)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    while _trusted(nearest, proxies) and hops:
        hop = _address(hops.pop())
        if hop is None:
            break
        nearest = hop
    return str(nearest)
