"""The client's address: X-Forwarded-For counts only when the direct peer is a trusted proxy, walked from the
right past trusted hops."""

from __future__ import annotations

import pytest

from callbridge.identity.client_address import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8::/32"])


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not from a proxy: the header is the client's word
    ("10.0.0.5", [], "10.0.0.5"),
    ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
    ("10.0.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the left entry was written by the client
    ("10.0.0.5", ["198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # a second trusted hop is skipped
    ("10.0.0.5", ["6.6.6.6", "198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # several headers read as one list
    ("10.0.0.5", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),  # all trusted: the farthest
    ("10.0.0.5", ["198.51.100.1, garbage"], "10.0.0.5"),  # malformed: the last hop that vouched
    ("10.0.0.5", [" 2001:db8::1 , 2001:db9::7 "], "2001:db9::7"),
    ("2001:db8::5", ["198.51.100.1"], "198.51.100.1"),
    ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
    (None, ["198.51.100.1"], "unknown"),
])
def test_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("10.0.0.5", ["198.51.100.1"], ()) == "10.0.0.5"


def test_a_bad_network_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])
