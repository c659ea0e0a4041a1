"""Cutting messages out of a stream: Content-Length framing, keep-alives, partial input, limits."""

from __future__ import annotations

from pathlib import Path

from callbridge.sip.errors import Limits, SipParseError
from callbridge.sip.framing import KeepAlive, StreamFramer
from callbridge.sip.message import Request, Response, parse

TORTURE = Path(__file__).parent / "torture"


def fixture(name: str) -> bytes:
    return (TORTURE / f"{name}.dat").read_bytes()


def test_messages_split_across_and_within_feeds() -> None:
    stream = fixture("wsinv") + fixture("mpart01") + fixture("noreason")
    framer = StreamFramer()
    out = []
    for index in range(0, len(stream), 7):
        out += framer.feed(stream[index : index + 7])
    assert [type(item) for item in out] == [Request, Request, Response]
    assert out[1] == parse(fixture("mpart01"))
    assert not framer.broken


def test_all_at_once() -> None:
    out = StreamFramer().feed(fixture("esc01") + fixture("escnull"))
    assert [type(item) for item in out] == [Request, Request]


def test_keepalives_and_stray_crlfs() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r\n") == [KeepAlive()]
    out = framer.feed(b"\r\n" + fixture("lwsdisp") + b"\r\n\r\n")
    assert [type(item) for item in out] == [Request, KeepAlive]


def test_a_bad_message_that_frames_well_does_not_break_the_stream() -> None:
    framer = StreamFramer()
    out = framer.feed(fixture("mismatch01") + fixture("lwsdisp"))
    assert isinstance(out[0], SipParseError) and out[0].status == 400
    assert isinstance(out[1], Request) and not framer.broken


def test_missing_content_length_is_a_framing_error() -> None:
    framer = StreamFramer()
    out = framer.feed(fixture("inv2543"))
    assert len(out) == 1 and isinstance(out[0], SipParseError) and out[0].status == 400
    assert "Content-Length" in out[0].reason and framer.broken
    assert framer.feed(fixture("lwsdisp")) == []  # the connection is to be closed


def test_negative_content_length_breaks_the_stream() -> None:
    # RFC 4475 3.1.2.3: over TCP the framing error is not recoverable
    framer = StreamFramer()
    out = framer.feed(fixture("ncl"))
    assert isinstance(out[0], SipParseError) and out[0].status == 400 and framer.broken


def test_incomplete_body_waits() -> None:
    framer = StreamFramer()
    assert framer.feed(fixture("clerr")) == []  # 9999 octets announced: wait for them
    assert not framer.broken


def test_oversized_header_section_and_message() -> None:
    framer = StreamFramer(Limits(max_header_size=1024))
    out = framer.feed(b"OPTIONS sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n" + b"X: y\r\n" * 300)
    assert isinstance(out[0], SipParseError) and "too large" in out[0].reason and framer.broken
    framer = StreamFramer(Limits(max_message_size=2048))
    big = fixture("lwsdisp").replace(b"l: 0", b"l: 100000")
    out = framer.feed(big)
    assert isinstance(out[0], SipParseError) and out[0].status == 513 and framer.broken


def test_framing_is_linear_in_input() -> None:
    framer = StreamFramer()
    head = fixture("wsinv")
    out = []
    for index in range(0, len(head) * 20, 1):
        out += framer.feed(head[index % len(head) : index % len(head) + 1])
    assert len(out) == 20
