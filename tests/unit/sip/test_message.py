"""Requests and responses: parse, serialise, header helpers, limits, and building responses (RFC 3261 8.2.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.sip.errors import Limits, SipParseError
from callbridge.sip.message import Request, Response, StatusClass, parse
from callbridge.sip.responses import error_response, make_response, reason_phrase
from callbridge.sip.uri import SipUri

TORTURE = Path(__file__).parent / "torture"
VALID = [
    "wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq", "semiuri", "transports",
    "mpart01", "unreason", "noreason", "badbranch", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01",
    "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
]  # fmt: skip

INVITE = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
    b"v: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK77ef4c2312983.1, SIP/2.0/UDP p2.atlanta.com;branch=z9hG4bKx\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: Bob <sip:bob@biloxi.com>\r\n"
    b"f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"i: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Timestamp: 54\r\n"
    b"m: <sip:alice@pc33.atlanta.com>\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\n"
)


def invite() -> Request:
    return Request.parse(INVITE)


@pytest.mark.parametrize("name", VALID)
def test_valid_torture_messages_round_trip(name: str) -> None:
    message = parse((TORTURE / f"{name}.dat").read_bytes())
    wire = bytes(message)
    again = parse(wire)
    assert bytes(again) == wire
    assert again.body == message.body
    assert [value for name, value in again.header_fields if name != "Content-Length"] == [
        value for name, value in message.header_fields if name != "Content-Length"
    ]


def test_serialisation_uses_canonical_names_crlf_and_recomputed_length() -> None:
    wire = bytes(invite().replacing_header("Content-Length", "999"))
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"INVITE sip:bob@biloxi.com SIP/2.0"
    assert [line.split(b":")[0] for line in lines[1:]] == [
        b"Via", b"Via", b"Max-Forwards", b"To", b"From", b"Call-ID", b"CSeq", b"Timestamp", b"Contact",
        b"Content-Type", b"Content-Length",
    ]  # fmt: skip
    assert lines[-1] == b"Content-Length: 4" and body == b"v=0\r\n"[:4]


def test_header_helpers() -> None:
    msg = invite()
    assert msg.header("Call-ID") == msg.header("i") == "a84b4c76e66710@pc33.atlanta.com"
    assert len(msg.headers("Via")) == 2 and len(msg.values("Via")) == 3
    assert [v.host for v in msg.vias] == ["pc33.atlanta.com", "proxy.atlanta.com", "p2.atlanta.com"]
    assert msg.header("X-Missing") is None and msg.headers("X-Missing") == ()
    added = msg.with_header("Record-Route", "<sip:p1.example.com;lr>", first=True)
    assert added.header_fields[0] == ("Record-Route", "<sip:p1.example.com;lr>")
    assert added.record_routes[0].uri == SipUri("p1.example.com", params=(("lr", None),))
    assert msg.with_header("k", "100rel").header_fields[-1] == ("Supported", "100rel")
    assert msg.without_header("Via").headers("v") == ()
    replaced = msg.replacing_header("Max-Forwards", "69")
    assert replaced.max_forwards == 69 and replaced.header_fields.index(("Max-Forwards", "69")) == 2
    assert msg.max_forwards == 70  # frozen: the original is untouched
    with pytest.raises(ValueError):
        msg.with_header("X-Evil", "a\r\nVia: injected")
    with pytest.raises(ValueError):
        msg.with_header("Bad Name", "x")


def test_typed_accessors_on_a_built_message_missing_headers() -> None:
    bare = Request("OPTIONS", SipUri("example.com"))
    with pytest.raises(SipParseError, match="From"):
        _ = bare.from_
    with pytest.raises(SipParseError, match="Via"):
        _ = bare.top_via
    assert bare.max_forwards is None and bare.expires is None and bare.routes == ()


def test_build_from_scratch_and_parse_back() -> None:
    request = Request(
        "OPTIONS",
        SipUri("example.com", user="bob"),
        (
            ("Via", "SIP/2.0/TCP client.example.com;branch=z9hG4bK1"),
            ("From", "<sip:alice@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "abc"),
            ("CSeq", "1 OPTIONS"),
        ),
    )
    assert parse(bytes(request)) == request.with_header("Content-Length", "0")


def test_body_length_rules_for_datagrams() -> None:
    head = INVITE.split(b"l: 4\r\n")[0]
    no_length = Request.parse(head + b"\r\nv=0\r\nrest")
    assert no_length.body == b"v=0\r\nrest"  # no Content-Length: the rest of the datagram
    with pytest.raises(SipParseError, match="Content-Length larger") as caught:
        parse(head + b"l: 50\r\n\r\nv=0\r\n")
    assert caught.value.status == 400


def test_leading_crlfs_are_skipped() -> None:
    assert Request.parse(b"\r\n\r\n" + INVITE) == invite()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", None),
        (b"\r\n\r\n", None),
        (b"garbage", None),
        (b"INVITE sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", 400),
        (b"OPTIONS sip:a@b.com SIP/2.0\r\nTo: <sip:a@b.com>\r\n\r\n", None),  # no Via: nowhere to answer
        (b"SIP/2.0 200 OK\r\n\r\n", None),
        (b"SIP/3.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n", None),
        (b"OPTIONS sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX: \xff\xfe\r\n\r\n", 400),
    ],
)
def test_unusable_input(data: bytes, status: int | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == status


def test_limits_are_enforced_with_clear_errors() -> None:
    with pytest.raises(SipParseError, match="Message Too Large") as caught:
        parse(INVITE + b"x" * 70_000)
    assert caught.value.status == 513
    with pytest.raises(SipParseError, match="too long"):
        parse(INVITE.replace(b"Timestamp: 54", b"Timestamp: " + b"5" * 9000))
    many = INVITE.replace(b"Timestamp: 54\r\n", b"".join(b"X-%d: 1\r\n" % n for n in range(300)))
    with pytest.raises(SipParseError, match="Too many"):
        parse(many)
    assert isinstance(parse(many, limits=Limits(max_header_count=400)), Request)


def test_request_and_response_parse_check_the_kind() -> None:
    with pytest.raises(SipParseError) as caught:
        Response.parse(INVITE)
    assert caught.value.drop


def test_make_response_copies_rfc3261_8_2_6_headers() -> None:
    request = invite()
    ringing = make_response(request, 180, to_tag="a6c85cf")
    assert (ringing.status, ringing.reason) == (180, "Ringing")
    assert ringing.headers("Via") == request.headers("Via")
    assert ringing.from_ == request.from_ and ringing.call_id == request.call_id and ringing.cseq == request.cseq
    assert ringing.to.tag == "a6c85cf" and ringing.to.uri == request.to.uri
    assert ringing.header("Contact") is None and ringing.body == b""
    assert Response.parse(bytes(ringing)) == ringing.with_header("Content-Length", "0")
    trying = make_response(request, 100)
    assert trying.to.tag is None and trying.header("Timestamp") == "54"
    ok = make_response(ringing_request_with_tag(), 200, to_tag="other", header_fields=(("Contact", "<sip:b@c>"),))
    assert ok.to.tag == "existing" and ok.header("Contact") == "<sip:b@c>"


def ringing_request_with_tag() -> Request:
    return invite().replacing_header("To", "Bob <sip:bob@biloxi.com>;tag=existing")


def test_error_response_for_a_request_that_failed() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE")
    with pytest.raises(SipParseError) as caught:
        parse(bad)
    answer = error_response(caught.value, to_tag="t1")
    assert answer is not None and answer.status == 400 and "CSeq" in answer.reason
    assert answer.headers("Via") == invite().headers("Via") and answer.to.tag == "t1"
    assert Response.parse(bytes(answer)).status == 400


def test_status_classes_and_reason_phrases() -> None:
    assert Response(183, "Session Progress").status_class is StatusClass.PROVISIONAL
    assert Response(183, "").is_provisional and not Response(183, "").is_final
    assert Response(486, "Busy Here").status_class is StatusClass.CLIENT_ERROR
    assert Response(603, "Decline").is_final
    assert reason_phrase(404) == "Not Found" and reason_phrase(499) == "Bad Request"
    assert bytes(Response(200, "OK")).startswith(b"SIP/2.0 200 OK\r\n")
