"""Fuzzing the parser: mutated torture messages and random bytes only ever give a message or a SipParseError,
quickly; pathological 64 KiB inputs fail or parse in well under 50 ms (no catastrophic backtracking)."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbridge.sip.errors import Limits, SipParseError
from callbridge.sip.framing import StreamFramer
from callbridge.sip.message import Request, Response, parse

TORTURE = Path(__file__).parent / "torture"
FIXTURES = [path.read_bytes() for path in sorted(TORTURE.glob("*.dat"))]
PER_INPUT_SECONDS = 0.05  # of this thread's CPU: a pathological input burns it; a busy machine does not
BIG = Limits(max_message_size=200_000, max_header_size=200_000, max_line_length=200_000)

SIP_BYTES = st.sampled_from(list(b' \t\r\n:;,<>"\\@=%/?[]SIPsip0123456789.-z'))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_error(data: bytes, limits: Limits | None = None) -> Request | Response | SipParseError:
    gc.disable()  # the parse's own CPU: a collection of the whole test process's garbage is not the input's cost
    started = time.thread_time()
    try:
        result: Request | Response | SipParseError = parse(data) if limits is None else parse(data, limits=limits)
    except SipParseError as err:
        result = err
    finally:
        took = time.thread_time() - started
        gc.enable()
    assert took < PER_INPUT_SECONDS
    return result


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        if action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = bytes(draw(st.lists(SIP_BYTES, min_size=1, max_size=16)))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 32))]
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 200))]
    return bytes(data)


@FUZZ
@given(mutated_fixture())
def test_mutated_torture_messages(data: bytes) -> None:
    result = parse_or_error(data)
    if isinstance(result, SipParseError):
        assert result.status in (None, 400, 416, 501, 505, 513)
    else:
        wire = bytes(result)
        assert bytes(parse(wire)) == wire  # whatever is accepted serialises to something accepted


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    parse_or_error(data)


@FUZZ
@given(st.lists(SIP_BYTES, max_size=600).map(bytes))
def test_random_sip_alphabet_after_a_valid_start(data: bytes) -> None:
    parse_or_error(b"OPTIONS sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + data + b"\r\n\r\n")


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096), st.integers(1, 64))
def test_stream_framer_never_raises(data: bytes, chunk: int) -> None:
    framer = StreamFramer()
    for index in range(0, len(data), chunk):
        framer.feed(data[index : index + chunk])


PATHOLOGICAL = {
    "quoted backslashes": ("To", b'"' + b"\\" * 65_000),
    "quoted pairs unterminated": ("To", b'"' + b"\\a" * 32_000 + b" <sip:a@b.com>"),
    "display tokens": ("To", b"a " * 32_000 + b"sip:a@b.com"),
    "angle brackets": ("Contact", b"<" * 65_000),
    "semicolons": ("Contact", b"<sip:a@b.com>" + b";" * 65_000),
    "params": ("Contact", b"<sip:a@b.com>" + b";a=b" * 16_000 + b";="),
    "quoted params": ("From", b"<sip:a@b.com>;tag=1" + b';a="\\"' * 9_000 + b';a="'),
    "commas": ("Via", b"SIP/2.0/UDP h," * 4_600 + b","),
    "bare commas": ("Route", b"," * 65_000),
    "quoted commas": ("Contact", b'"a,' * 21_000),
    "host labels": ("Via", b"SIP/2.0/UDP " + b"a-" * 32_000 + b"!"),
    "host dots": ("Via", b"SIP/2.0/UDP " + b"a." * 32_000 + b"-"),
    "ipv6": ("Via", b"SIP/2.0/UDP [" + b"1:" * 32_000),
    "received": ("Via", b"SIP/2.0/UDP h;received=" + b"1:" * 32_000 + b"g"),
    "uri user": ("From", b"<sip:" + b"%4" * 32_000 + b"@h>"),
    "uri params": ("From", b"<sip:a@h" + b";x" * 32_000 + b"%>"),
    "uri host": ("From", b"<sip:" + b"a." * 32_000 + b"1>"),
    "call-id": ("Call-ID", b"a@" * 32_000),
    "cseq": ("CSeq", b"1" * 65_000 + b" OPTIONS"),
    "max-forwards": ("Max-Forwards", b"9" * 65_000),
    "date": ("Date", b"Sat, " * 13_000),
    "whitespace": ("To", b" \t" * 32_000 + b"<sip:a@b.com>"),
    "folding": ("Subject", b"x" + b"\r\n " * 21_000),
}
BASE = {
    "Via": b"SIP/2.0/UDP h;branch=z9hG4bK1",
    "To": b"<sip:a@b.com>",
    "From": b"<sip:c@d.com>;tag=1",
    "Call-ID": b"c1",
    "CSeq": b"1 OPTIONS",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_64k_header_is_fast(name: str) -> None:
    header, value = PATHOLOGICAL[name]
    fields = {**BASE, header: value[: 64 * 1024]}
    data = b"OPTIONS sip:a@b.com SIP/2.0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v) for k, v in fields.items())
    parse_or_error(data + b"\r\n")  # default limits: refused early
    parse_or_error(data + b"\r\n", BIG)  # limits lifted: the grammar itself runs over the whole value


def test_a_bare_line_feed_in_a_continuation_line_is_refused_as_on_a_first_line() -> None:
    """Found by the fuzzer: accepted folded, it unfolded into a header its own parser refuses."""
    folded = (b"OPTIONS sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nAccept: application/sdp,\r\n"
              b"        multi\npart/mixed\r\nContent-Length: 0\r\n\r\n")
    result = parse_or_error(folded)
    assert isinstance(result, SipParseError) and (result.status, result.reason) == (400, "Bare CR or LF in a header")
