"""SIP, tel and absolute URIs; comparison per RFC 3261 19.1.4 with the RFC's own examples."""

from __future__ import annotations

import pytest

from callbridge.sip.errors import SipParseError
from callbridge.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sips:1212@gateway.com",
        "sip:alice@192.0.2.4",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        "sip:[2001:db8::10]:5070;lr",
        "sip:host.example.com.",
    ],
)
def test_rfc3261_examples_round_trip(text: str) -> None:
    uri = SipUri.parse(text)
    assert str(uri) == text
    assert SipUri.parse(str(uri)) == uri


def test_components() -> None:
    uri = SipUri.parse("sips:alice:pw@[2001:DB8::1]:5061;transport=TLS;lr?Subject=hi%20there")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == ("sips", "alice", "pw", "[2001:DB8::1]", 5061)
    assert uri.params == (("transport", "TLS"), ("lr", None))
    assert uri.transport == "tls" and uri.has_param("LR") and uri.param("lr") is None
    assert uri.headers == (("Subject", "hi%20there"),)


def test_scheme_is_case_insensitive() -> None:
    assert SipUri.parse("SIP:alice@example.com").scheme == "sip"


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:alice@",
        "sip:alice@exa mple.com",
        "sip:alice@example.com:70000",
        "sip:alice@[2001:db8::zz]",
        "sip:alice@-bad-.com",
        "sip:a@b@c.com",
        "sip:alice@example.com;=x",
        "sip:alice@example.com?noequals",
        "sip:al%ZZice@example.com",
        "sip:alice@1example",
        "sip:alice@256.1.1.1",
        "http:alice@example.com",
    ],
)
def test_invalid_sip_uris(text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        SipUri.parse(text)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        ),
        ("sip:alice@[2001:db8::1]", "sip:alice@[2001:DB8:0::1]"),
    ],
)
def test_rfc3261_19_1_4_equivalent(a: str, b: str) -> None:
    assert SipUri.parse(a).equivalent(SipUri.parse(b))
    assert SipUri.parse(b).equivalent(SipUri.parse(a))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ("sip:alice@atlanta.com;method=INVITE", "sip:alice@atlanta.com;method=invite"),
        ("sip:alice@atlanta.com;lr", "sip:alice@atlanta.com;lr=on"),
    ],
)
def test_rfc3261_19_1_4_not_equivalent(a: str, b: str) -> None:
    assert not SipUri.parse(a).equivalent(SipUri.parse(b))
    assert not SipUri.parse(b).equivalent(SipUri.parse(a))


def test_escaped_user_is_compared_unescaped_but_case_sensitively() -> None:
    assert SipUri.parse("sip:%41lice@a.com").equivalent(SipUri.parse("sip:Alice@a.com"))
    assert not SipUri.parse("sip:%41lice@a.com").equivalent(SipUri.parse("sip:alice@a.com"))


def test_tel_uri() -> None:
    uri = TelUri.parse("tel:+1-201-555-0123;ext=1234")
    assert uri.number == "+1-201-555-0123" and uri.is_global and uri.params == (("ext", "1234"),)
    assert str(uri) == "tel:+1-201-555-0123;ext=1234"
    local = parse_uri("tel:7042;phone-context=example.com")
    assert isinstance(local, TelUri) and not local.is_global
    with pytest.raises(SipParseError):
        TelUri.parse("tel:not a number")


def test_absolute_uris_are_kept_as_text() -> None:
    uri = parse_uri("urn:service:sos")
    assert uri == AbsoluteUri("urn", "urn:service:sos") and str(uri) == "urn:service:sos"
    with pytest.raises(SipParseError):
        parse_uri("no scheme here")


def test_with_params_adds_lr() -> None:
    uri = SipUri.parse("sip:proxy.example.com").with_params(("lr", None))
    assert str(uri) == "sip:proxy.example.com;lr"
