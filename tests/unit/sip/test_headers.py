"""Header names and compact forms, folding, comma lists, and the typed readings of Via, name-addr and CSeq."""

from __future__ import annotations

import pytest

from callbridge.sip.errors import DEFAULT_LIMITS, Limits, SipParseError
from callbridge.sip.fields import (
    Wildcard,
    is_rfc3261_branch,
    parse_contacts,
    parse_cseq,
    parse_delta_seconds,
    parse_name_addr,
    parse_via,
)
from callbridge.sip.headers import canonical_name, read_header_lines, split_list, values_of
from callbridge.sip.uri import SipUri


@pytest.mark.parametrize(
    ("compact", "long"),
    [
        ("i", "Call-ID"), ("m", "Contact"), ("e", "Content-Encoding"), ("l", "Content-Length"),
        ("c", "Content-Type"), ("f", "From"), ("s", "Subject"), ("k", "Supported"), ("t", "To"), ("v", "Via"),
        ("o", "Event"), ("u", "Allow-Events"), ("r", "Refer-To"), ("b", "Referred-By"), ("a", "Accept-Contact"),
        ("x", "Session-Expires"), ("I", "Call-ID"), ("V", "Via"),
    ],
)  # fmt: skip
def test_compact_forms(compact: str, long: str) -> None:
    assert canonical_name(compact) == long


def test_canonical_case_and_unknown_names() -> None:
    assert canonical_name("call-id") == "Call-ID"
    assert canonical_name("CSEQ") == "CSeq"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("X-Custom-Thing") == "X-Custom-Thing"


def test_folded_lines_are_unfolded() -> None:
    fields = read_header_lines(["Subject: one", " two", "\tthree", "To :", "  <sip:a@b.com>"], DEFAULT_LIMITS)
    assert fields == (("Subject", "one two three"), ("To", "<sip:a@b.com>"))


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([" continued"], "Continuation"),
        (["no colon here"], "Malformed"),
        (["Bad Name: x"], "Malformed"),
    ],
)
def test_bad_header_lines(lines: list[str], reason: str) -> None:
    with pytest.raises(SipParseError) as caught:
        read_header_lines(lines, DEFAULT_LIMITS)
    assert caught.value.status == 400 and reason in caught.value.reason


def test_header_limits() -> None:
    with pytest.raises(SipParseError, match="too long"):
        read_header_lines(["X: " + "a" * 100], Limits(max_line_length=50))
    with pytest.raises(SipParseError, match="Too many"):
        read_header_lines([f"X{n}: 1" for n in range(11)], Limits(max_header_count=10))


def test_split_list_respects_quotes_and_angle_brackets() -> None:
    value = '"Doe, John" <sip:j@a.com;x=",">;q=0.5, <sip:b@c.com?h=1,2>, sip:c@d.com'
    assert split_list(value) == ['"Doe, John" <sip:j@a.com;x=",">;q=0.5', "<sip:b@c.com?h=1,2>", "sip:c@d.com"]
    assert split_list(r'"a \" , b", x') == [r'"a \" , b"', "x"]


def test_only_list_headers_are_split() -> None:
    fields = (("Via", "SIP/2.0/UDP a, SIP/2.0/UDP b"), ("Via", "SIP/2.0/TCP c"), ("Date", "Sat, 15 Oct 2005"))
    assert values_of(fields, "v") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/TCP c"]
    assert values_of(fields, "Date") == ["Sat, 15 Oct 2005"]


def test_via_fields() -> None:
    via = parse_via("SIP / 2.0 / udp [2001:db8::1] : 5060 ;branch=z9hG4bKabc;received=2001:db8::9;rport=5061;ttl=16")
    assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", "UDP", "[2001:db8::1]", 5060)
    assert via.branch == "z9hG4bKabc" and via.has_rfc3261_branch
    assert via.received == "2001:db8::9" and via.rport == 5061 and via.ttl == 16 and via.maddr is None
    assert str(via) == "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKabc;received=2001:db8::9;rport=5061;ttl=16"
    assert parse_via(str(via)) == via


@pytest.mark.parametrize(
    "value",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 host.com",
        "SIP/2.0/UDP host.com;;",
        "SIP/2.0/UDP host.com;ttl=256",
        "SIP/2.0/UDP host.com;rport=x",
        "SIP/2.0/UDP host.com;branch",
        "SIP/2.0/UDP host.com:99999",
        "SIP/2.0/UDP bad_host",
    ],
)
def test_bad_vias(value: str) -> None:
    with pytest.raises(SipParseError, match="Via"):
        parse_via(value)


def test_magic_cookie() -> None:
    assert is_rfc3261_branch("z9hG4bK776asdhds")
    assert not is_rfc3261_branch("z9hG4bK")
    assert not is_rfc3261_branch("776asdhds")
    assert not is_rfc3261_branch(None)


def test_name_addr_forms() -> None:
    quoted = parse_name_addr('"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a6c85cf', "To")
    assert quoted.display_name == 'Bob "B"' and quoted.tag == "a6c85cf"
    tokens = parse_name_addr("Bob  Smith <sip:bob@biloxi.com>", "To")
    assert tokens.display_name == "Bob Smith" and tokens.tag is None
    bare = parse_name_addr("sip:bob@biloxi.com;tag=1", "From")
    assert bare.display_name is None and bare.tag == "1" and bare.uri == SipUri("biloxi.com", user="bob")
    quoted_param = parse_name_addr('<sip:a@b.com>;x="a;b"', "To")
    assert quoted_param.param("x") == "a;b"


def test_name_addr_with_tag_and_str() -> None:
    to = parse_name_addr('"Bob" <sip:bob@biloxi.com>;tag=old;x=1', "To").with_tag("new")
    assert str(to) == '"Bob" <sip:bob@biloxi.com>;x=1;tag=new'
    assert parse_name_addr(str(to), "To") == to


@pytest.mark.parametrize(
    "value",
    ['"unterminated <sip:a@b.com>', "<sip:a@b.com", "Doe, John <sip:a@b.com>", "sip:a@b.com?x=y", "<sip:a@b.com>x"],
)
def test_bad_name_addrs(value: str) -> None:
    with pytest.raises(SipParseError, match="To"):
        parse_name_addr(value, "To")


def test_contact_star_and_list() -> None:
    assert parse_contacts(["*"]) is Wildcard.STAR
    contacts = parse_contacts(["<sip:a@b.com>;expires=60", "sip:c@d.com;q=0.5"])
    assert not isinstance(contacts, Wildcard)
    assert [c.param("expires") for c in contacts] == ["60", None]
    with pytest.raises(SipParseError):
        parse_contacts(["*", "<sip:a@b.com>"])


def test_cseq() -> None:
    cseq = parse_cseq("0009 INVITE")
    assert (cseq.number, cseq.method, str(cseq)) == (9, "INVITE", "9 INVITE")
    for bad in ("INVITE", "1", "-1 INVITE", "4294967296 INVITE", "1 IN VITE"):
        with pytest.raises(SipParseError, match="CSeq"):
            parse_cseq(bad)


def test_delta_seconds_out_of_range_reads_as_absent() -> None:
    assert parse_delta_seconds("3600") == 3600
    assert parse_delta_seconds("1" + "0" * 100) is None
    assert parse_delta_seconds("soon") is None
