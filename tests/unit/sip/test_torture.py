"""RFC 4475 torture messages (fixtures in torture/, one file per message, named as in the RFC).

Valid messages parse and read as the RFC describes; invalid ones raise SipParseError with the response the RFC
expects (or are dropped); messages the RFC calls well formed but leaves to a higher layer parse, and the test
names the layer that answers them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.sip.errors import SipParseError
from callbridge.sip.fields import Wildcard
from callbridge.sip.message import Request, Response, parse
from callbridge.sip.responses import error_response, require_supported_scheme, unsupported_requirements
from callbridge.sip.uri import AbsoluteUri, SipUri

TORTURE = Path(__file__).parent / "torture"


def load(name: str) -> bytes:
    return (TORTURE / f"{name}.dat").read_bytes()


def request(name: str) -> Request:
    message = parse(load(name))
    assert isinstance(message, Request)
    return message


def response(name: str) -> Response:
    message = parse(load(name))
    assert isinstance(message, Response)
    return message


def sip_uri(value: object) -> SipUri:
    assert isinstance(value, SipUri)
    return value


def test_every_fixture_parses_or_fails_cleanly() -> None:
    names = sorted(path.stem for path in TORTURE.glob("*.dat"))
    assert len(names) == 49
    for name in names:
        try:
            parse(load(name))
        except SipParseError:
            pass


# 3.1.1 Valid messages


def test_wsinv_short_tortuous_invite() -> None:
    msg = request("wsinv")
    assert msg.method == "INVITE"
    uri = sip_uri(msg.uri)
    assert (uri.user, uri.host, uri.params) == ("vivekg", "chair-dnrc.example.com", (("unknownparam", None),))
    assert msg.to.tag == "1918181833n"
    assert sip_uri(msg.to.uri).user == "vivekg"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68
    assert (msg.cseq.number, msg.cseq.method) == (9, "INVITE")
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    vias = msg.vias
    assert [(v.transport, v.host) for v in vias] == [
        ("UDP", "192.0.2.2"),
        ("TCP", "spindle.example.com"),
        ("UDP", "192.168.255.111"),
    ]
    assert vias[0].branch == "390skdjuw" and not vias[0].has_rfc3261_branch and vias[0].has_rport
    assert vias[0].rport is None
    assert [v.branch for v in vias[1:]] == ["z9hG4bK9ikj8", "z9hG4bK30239"]
    assert msg.header("Subject") == ""
    assert msg.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.values("UnknownHeaderWithUnusualValue") == (";;,,;;,;",)
    route = sip_uri(msg.routes[0].uri)
    assert route.has_param("lr") and route.param("unknownwith") == "value" and route.has_param("unknown-no-value")
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard) and len(contacts) == 1
    assert contacts[0].display_name == 'Quoted string ""'
    assert contacts[0].params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert len(msg.body) == 150 and msg.body.startswith(b"v=0\r\n")


def test_intmeth_wide_range_of_valid_characters() -> None:
    msg = request("intmeth")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    uri = sip_uri(msg.uri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.param("fromParam''~+*_!.-%") == "работающий"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.cseq.method == msg.method and msg.cseq.number == 139122385
    assert msg.header("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_esc01_percent_escapes_are_read_unescaped() -> None:
    msg = request("esc01")
    assert sip_uri(msg.uri).user_text == "sips:user@example.com"
    assert sip_uri(msg.uri).host == "example.net"
    assert sip_uri(msg.to.uri).user_text == "user"
    assert sip_uri(msg.from_.uri).user_text == "I have spaces"
    assert msg.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert msg.content_type == "application/sdp"
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard)
    contact = sip_uri(contacts[0].uri)
    assert contact.user_text == "caller"
    assert contact.has_param("lr") and contact.param("name") == "value%41"  # never unescaped twice


def test_escnull_keeps_two_distinct_contacts() -> None:
    msg = request("escnull")
    assert sip_uri(msg.to.uri).user_text == "null-\x00-null"
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard)
    users = [sip_uri(c.uri).user_text for c in contacts]
    assert users == ["\x00", "\x00\x00"]
    assert not sip_uri(contacts[0].uri).equivalent(sip_uri(contacts[1].uri))


def test_esc02_percent_is_not_an_escape_outside_uris() -> None:
    msg = request("esc02")
    assert msg.method == "RE%47IST%45R"  # not REGISTER: a UA answers 501
    assert msg.to.display_name == "%Z%45"
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard)
    assert [sip_uri(c.uri).user for c in contacts] == ["alias1", "alias3"]
    assert msg.header("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.top_via.branch == "z9hG4bK209%fzsnel234"


def test_lwsdisp_no_space_before_angle_bracket() -> None:
    msg = request("lwsdisp")
    assert msg.from_.display_name == "caller" and msg.from_.tag == "323"


def test_longreq_long_values_and_34_vias() -> None:
    msg = request("longreq")
    assert msg.to.display_name is not None and "extreme" * 10 in msg.to.display_name
    to_uri = sip_uri(msg.to.uri)
    assert to_uri.port == 6000 and len(to_uri.params) == 3
    assert msg.from_.tag == "12" + "982" * 50 + "424"
    vias = msg.vias
    assert len(vias) == 34
    assert [v.host for v in vias[:33]] == [f"sip{n}.example.com" for n in range(33, 0, -1)]
    assert vias[-1].received == "192.0.2.5" and vias[-1].branch is not None and vias[-1].branch.endswith("value")


def test_dblreq_trailing_octets_are_ignored() -> None:
    msg = request("dblreq")
    assert msg.method == "REGISTER" and msg.body == b""
    assert b"INVITE" not in bytes(msg)


def test_semiuri_user_part_with_semicolon() -> None:
    msg = request("semiuri")
    uri = sip_uri(msg.uri)
    assert uri.user_text == "user;par=u@example.net" and uri.host == "example.com" and uri.params == ()
    assert msg.values("Accept") == (
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    )


def test_transports_known_and_unknown() -> None:
    msg = request("transports")
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_body_framed_by_content_length() -> None:
    msg = request("mpart01")
    assert len(msg.body) == 553 and b"\x00" in msg.body
    assert msg.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert msg.top_via.port == 5070 and msg.top_via.has_rport
    assert bytes(msg).endswith(msg.body)


def test_unreason_utf8_reason_phrase() -> None:
    msg = response("unreason")
    assert msg.status == 200
    assert msg.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"


def test_noreason_empty_reason_phrase() -> None:
    msg = response("noreason")
    assert (msg.status, msg.reason) == (100, "")
    assert msg.to.tag == "902jndnke3"


# 3.1.2 Invalid messages: (fixture, status answered, or None for dropped)
INVALID = [
    ("badinv01", 400),  # 3.1.2.1 extra ; and , in Via and Contact
    ("clerr", 400),  # 3.1.2.2 Content-Length larger than the datagram
    ("ncl", 400),  # 3.1.2.3 negative Content-Length
    ("scalar02", 400),  # 3.1.2.4 CSeq > 2**32-1
    ("scalarlg", None),  # 3.1.2.5 a response: discarded
    ("quotbal", 400),  # 3.1.2.6 unterminated quoted string
    ("ltgtruri", 400),  # 3.1.2.7 <> around the Request-URI
    ("lwsruri", 400),  # 3.1.2.8 LWS inside the Request-URI
    ("lwsstart", 400),  # 3.1.2.9 several SP in the Request-Line (rejecting is allowed)
    ("trws", 400),  # 3.1.2.10 SP after SIP-Version (rejecting is allowed)
    ("escruri", 400),  # 3.1.2.11 headers in the Request-URI
    ("baddate", 400),  # 3.1.2.12 Date not in GMT
    ("regbadct", 400),  # 3.1.2.13 Contact URI with headers outside <>
    ("badaspec", 400),  # 3.1.2.14 spaces inside <>
    ("baddn", 400),  # 3.1.2.15 unquoted display name with a comma
    ("badvers", 505),  # 3.1.2.16 SIP/7.0
    ("mismatch01", 400),  # 3.1.2.17 CSeq method differs
    ("mismatch02", 501),  # 3.1.2.18 unknown method, CSeq differs: 501
    ("bigcode", None),  # 3.1.2.19 status code 4294967301: dropped
    ("insuf", 400),  # 3.3.1 no To, From, Call-ID
    ("multi01", 400),  # 3.3.8 two CSeq, Call-ID, To, From, Max-Forwards
    ("mcl01", 400),  # 3.3.9 two Content-Length
]


@pytest.mark.parametrize(("name", "status"), INVALID)
def test_invalid_messages_get_the_rfc_answer(name: str, status: int | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse(load(name))
    assert caught.value.status == status
    answer = error_response(caught.value)
    if status is None:
        assert answer is None
        return
    assert answer is not None and answer.status == status
    assert answer.headers("Via") == tuple(value for key, value in caught.value.header_fields if key == "Via")
    assert answer.reason == caught.value.reason
    assert bytes(answer).startswith(f"SIP/2.0 {status} {answer.reason}\r\n".encode())


def test_error_reason_names_the_problem() -> None:
    reasons = {}
    for name in ("scalar02", "insuf", "baddate", "mcl01", "ltgtruri"):
        with pytest.raises(SipParseError) as caught:
            parse(load(name))
        reasons[name] = caught.value.reason
    assert "CSeq" in reasons["scalar02"]
    assert "Call-ID" in reasons["insuf"]
    assert "Date" in reasons["baddate"]
    assert "Content-Length" in reasons["mcl01"]
    assert "Request-URI" in reasons["ltgtruri"]


# Well formed, answered above the message layer


def test_badbranch_parses_transaction_layer_decides() -> None:
    # 3.2.1: the transaction layer sees a cookie without an identifier and falls back to RFC 2543 matching
    via = request("badbranch").top_via
    assert via.branch == "z9hG4bK" and not via.has_rfc3261_branch


@pytest.mark.parametrize(("name", "scheme"), [("unkscm", "nobodyknowsthisscheme"), ("novelsc", "soap.beep")])
def test_unknown_request_uri_scheme_is_416_at_the_user_agent(name: str, scheme: str) -> None:
    # 3.3.2 / 3.3.3: well formed; the user agent (or a proxy that cannot route it) answers 416
    msg = request(name)
    assert isinstance(msg.uri, AbsoluteUri) and msg.uri.scheme == scheme
    with pytest.raises(SipParseError) as caught:
        require_supported_scheme(msg)
    answer = error_response(caught.value)
    assert answer is not None and answer.status == 416 and answer.call_id == msg.call_id


def test_unksm2_unknown_schemes_in_header_fields() -> None:
    # 3.3.4: parses; a registrar refuses the isbn: address-of-record
    msg = request("unksm2")
    assert str(msg.to.uri) == "isbn:2983792873" and str(msg.from_.uri) == "http://www.example.com"
    contacts = msg.contacts
    assert not isinstance(contacts, Wildcard) and str(contacts[0].uri) == "name:John_Smith"


def test_bext01_require_is_420_at_the_user_agent() -> None:
    # 3.3.5: the UA answers 420 with these tags in Unsupported; a proxy looks at Proxy-Require the same way
    msg = request("bext01")
    assert unsupported_requirements(msg, {"100rel"}) == ("nothingSupportsThis", "nothingSupportsThisEither")
    assert msg.values("Proxy-Require") == ("noProxiesSupportThis", "norDoAnyProxiesSupportThis")


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("invut", "UA answers 415 (unknown Content-Type)"),
        ("regaut01", "registrar answers 401 (unknown Authorization scheme)"),
        ("zeromf", "proxy answers 483; a UA answers OPTIONS"),
        ("sdp01", "UA answers 406 (Accept without application/sdp)"),
        ("regescrt", "registrar strips or refuses the escaped Route"),
        ("cparam02", "registrar binds the URI with its parameter"),
    ],
)
def test_well_formed_requests_left_to_upper_layers(name: str, layer: str) -> None:
    msg = request(name)
    assert msg.cseq.method == msg.method, layer


def test_cparam01_parameter_belongs_to_the_contact_not_the_uri() -> None:
    contacts = request("cparam01").contacts
    assert not isinstance(contacts, Wildcard)
    assert contacts[0].has_param("unknownparam") and sip_uri(contacts[0].uri).params == ()


def test_bcast_broadcast_via_in_a_response() -> None:
    # 3.3.10: well formed; the transaction layer matches on the top Via only
    msg = response("bcast")
    assert [v.host for v in msg.vias] == ["192.0.2.198", "255.255.255.255"]


def test_inv2543_rfc2543_request_without_branch_length_or_max_forwards() -> None:
    # 3.4.1: accepted; the body is the rest of the datagram; the transaction layer uses RFC 2543 matching
    msg = request("inv2543")
    assert msg.top_via.branch is None and msg.max_forwards is None and msg.from_.tag is None
    assert msg.body.endswith(b"m=audio 49217 RTP/AVP 0\r\n")
    # without <>, ";user=phone" is a To header parameter, not a URI parameter (RFC 3261 20.10)
    assert msg.to.param("user") == "phone" and sip_uri(msg.to.uri).params == ()
