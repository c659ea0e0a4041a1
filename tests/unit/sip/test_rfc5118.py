"""RFC 5118 IPv6 torture messages (fixtures in rfc5118/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.sip.errors import SipParseError
from callbridge.sip.fields import Wildcard
from callbridge.sip.message import Request, parse
from callbridge.sip.uri import SipUri

FIXTURES = Path(__file__).parent / "rfc5118"


def request(name: str) -> Request:
    message = parse((FIXTURES / f"{name}.dat").read_bytes())
    assert isinstance(message, Request)
    return message


def sip_uri(value: object) -> SipUri:
    assert isinstance(value, SipUri)
    return value


def test_ipv6_good() -> None:
    msg = request("ipv6-good")
    assert sip_uri(msg.uri).host == "[2001:db8::10]" and sip_uri(msg.uri).port is None
    assert msg.top_via.host == "[2001:db8::9:1]"
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard) and sip_uri(contacts[0].uri).host == "[2001:db8::1]"


def test_ipv6_bad_without_brackets_is_400() -> None:
    with pytest.raises(SipParseError) as caught:
        parse((FIXTURES / "ipv6-bad.dat").read_bytes())
    assert caught.value.status == 400 and "Request-URI" in caught.value.reason


def test_port_ambiguous_is_part_of_the_address() -> None:
    uri = sip_uri(request("port-ambiguous").uri)
    assert (uri.host, uri.port) == ("[2001:db8::10:5070]", None)


def test_port_unambiguous() -> None:
    uri = sip_uri(request("port-unambiguous").uri)
    assert (uri.host, uri.port) == ("[2001:db8::10]", 5070)


@pytest.mark.parametrize(
    ("name", "received"),
    [
        ("via-received-param-with-delim", "[2001:db8::9:255]"),
        ("via-received-param-no-delim", "2001:db8::9:255"),
    ],
)
def test_received_with_and_without_brackets_parse(name: str, received: str) -> None:
    # RFC 3261's grammar has the bare form; the bracketed one is accepted as well (liberal receiver)
    assert request(name).top_via.received == received


def test_multiple_ip_families_in_vias() -> None:
    vias = request("mult-ip-in-header").vias
    assert [(v.transport, v.host, v.received) for v in vias] == [
        ("UDP", "[2001:db8::9:1]", "[2001:db8::9:255]"),
        ("UDP", "192.0.2.1", "192.0.2.1"),
        ("TCP", "[2001:db8::9:255]", "192.0.2.200"),
    ]


def test_ipv4_mapped_ipv6() -> None:
    msg = request("ipv4-mapped-ipv6")
    assert [(v.host, v.port) for v in msg.vias] == [("[::ffff:192.0.2.10]", 19823), ("[::ffff:192.0.2.10]", 34567)]
    assert msg.body.startswith(b"v=0\r\n") and b"IP6 ::ffff:192.0.2.10" in msg.body


def test_three_colons_is_not_an_ipv6_address() -> None:
    with pytest.raises(SipParseError) as caught:
        parse((FIXTURES / "ipv6-bug-abnf-3-colons.dat").read_bytes())
    assert caught.value.status == 400
