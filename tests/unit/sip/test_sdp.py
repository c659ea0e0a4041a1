"""SDP (RFC 8866) and offer/answer (RFC 3264) for the G.711 gateway: captured-style descriptions from Chromium,
baresip, sipp and rtpengine round-trip byte for byte, every malformed line is an SdpError naming it, answers pick
the codec, events and direction a peer would see, and hold/resume re-offers carry the right o= version."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbridge.sip.offer_answer import (
    PCMA,
    PCMU,
    Codec,
    Negotiated,
    NotAcceptableHere,
    Role,
    answer,
    build_offer,
    hold,
    is_hold,
    negotiated,
    reoffer,
    resume,
)
from callbridge.sip.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
    parse,
)

FIXTURES = Path(__file__).parent / "sdp"
G722 = Codec("G722", 8000, 9)


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.sdp").read_text()


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


def offer_text(*media_lines: str, session: tuple[str, ...] = ("c=IN IP4 198.51.100.1",)) -> str:
    return sdp("v=0", "o=alice 100 1 IN IP4 198.51.100.1", "s=-", *session, "t=0 0", *media_lines)


# --- parse / serialise -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chromium_offer", "baresip_offer", "sipp_offer", "rtpengine_answer"])
def test_fixtures_round_trip_byte_for_byte(name: str) -> None:
    text = fixture(name)
    parsed = parse(text)  # LF-only line ends, as a file on disk has them
    assert str(parsed) == crlf(text)
    assert bytes(parsed) == crlf(text).encode()
    assert parse(crlf(text).encode()) == parsed
    assert parse(str(parsed)) == parsed


def test_chromium_offer_reads_its_streams_and_keeps_ice_and_dtls_verbatim() -> None:
    sd = parse(fixture("chromium_offer"))
    assert sd.origin == Origin("-", 4611731400430051336, 2, "IN", "IP4", "127.0.0.1")
    assert [(m.media, m.port, m.proto) for m in sd.media] == [
        ("audio", 9, "UDP/TLS/RTP/SAVPF"), ("video", 9, "UDP/TLS/RTP/SAVPF"),
        ("application", 9, "UDP/DTLS/SCTP")]
    audio, video, data = sd.media
    assert audio.payload_types == (111, 63, 9, 0, 8, 13, 110, 126)
    assert audio.rtpmap(111) == RtpMap(111, "opus", 48000, 2)
    assert audio.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert audio.rtpmap(126) == RtpMap(126, "telephone-event", 8000)
    assert audio.fmtp(111) == "minptime=10;useinbandfec=1"
    assert audio.fmtp(0) is None
    assert audio.rtcp == Rtcp(9, Connection("IN", "IP4", "0.0.0.0"))
    assert audio.rtcp_mux and not data.rtcp_mux
    assert sd.direction_of(audio) is Direction.SENDRECV
    assert audio.values("ice-ufrag") == ("Xk3q",)
    assert audio.values("setup") == ("actpass",)
    assert audio.values("fingerprint")[0] == ("sha-256 4A:9C:1E:72:0B:DD:53:86:F1:27:AC:60:3E:B9:45:D8:12:7F:E0:9A:"
                                             "C4:36:5B:81:2D:F7:68:0E:B3:49:A5:1C")
    assert len(audio.values("candidate")) == 2
    assert video.fmtp(98) == "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
    assert data.formats == ("webrtc-datachannel",) and data.payload_types == ()
    assert sd.attributes[2] == Attribute("msid-semantic", " WMS 5c3b1e0e-3f4b-4d55-9a7e-2f6a4c1d8b90")
    assert Attribute("extmap-allow-mixed") in sd.attributes


def test_baresip_and_rtpengine_descriptions_read_bandwidth_ptime_and_rtcp() -> None:
    baresip = parse(fixture("baresip_offer"))
    audio = baresip.media[0]
    assert audio.bandwidths == (Bandwidth("AS", 128),)
    assert audio.ptime == 20 and audio.maxptime is None
    assert audio.fmtp(101) == "0-15"
    assert [rtpmap.encoding for rtpmap in audio.rtpmaps] == ["opus", "G722", "PCMU", "PCMA", "telephone-event"]
    assert baresip.attributes == (Attribute("tool", "baresip 3.10.1"),)

    rtpengine = parse(fixture("rtpengine_answer"))
    media = rtpengine.media[0]
    assert rtpengine.connection is None
    assert rtpengine.connection_of(media) == Connection("IN", "IP4", "203.0.113.10")
    assert media.rtcp == Rtcp(30001)
    assert rtpengine.session_name == "tester"


def test_static_payload_types_need_no_rtpmap_and_unknown_dynamic_ones_stay_unknown() -> None:
    sd = parse(offer_text("m=audio 5004 RTP/AVP 0 8 97"))
    media = sd.media[0]
    assert media.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert media.rtpmap(8) == RtpMap(8, "PCMA", 8000)
    assert media.rtpmap(97) is None
    assert [rtpmap.payload_type for rtpmap in media.rtpmaps] == [0, 8]


def test_packet_times_read_as_whole_milliseconds() -> None:
    media = parse(offer_text("m=audio 5004 RTP/AVP 0", "a=ptime:30.0", "a=maxptime:40")).media[0]
    assert (media.ptime, media.maxptime) == (30, 40)


def test_direction_is_inherited_from_the_session_unless_the_media_section_has_its_own() -> None:
    sd = parse(offer_text("m=audio 5004 RTP/AVP 0", "m=audio 5006 RTP/AVP 0", "a=recvonly",
                          session=("c=IN IP4 198.51.100.1", "a=sendonly")))
    first, second = sd.media
    assert sd.direction is Direction.SENDONLY
    assert first.direction is None and sd.direction_of(first) is Direction.SENDONLY
    assert sd.direction_of(second) is Direction.RECVONLY
    assert parse(offer_text("m=audio 5004 RTP/AVP 0")).direction_of(first) is Direction.SENDRECV


def test_lines_out_of_order_are_read_and_written_back_in_the_rfc_order() -> None:
    text = ("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=call\na=tool:x\nt=0 0\nr=7d 1h 0 25h\nc=IN IP4 192.0.2.1\n"
            "b=AS:64\ni=info\nm=audio  5004/2  RTP/AVP 0\na=sendonly\nb=TIAS:64000\nc=IN IP4 192.0.2.2\n")
    assert str(parse(text)) == sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=call", "i=info", "c=IN IP4 192.0.2.1", "b=AS:64", "t=0 0",
        "r=7d 1h 0 25h", "a=tool:x", "m=audio 5004/2 RTP/AVP 0", "c=IN IP4 192.0.2.2", "b=TIAS:64000",
        "a=sendonly")
    assert parse(text).media[0].port_count == 2


MINIMAL = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "m=audio 5004 RTP/AVP 0 101",
           "a=rtpmap:101 telephone-event/8000"]


@pytest.mark.parametrize(("index", "bad"), [
    (6, "artpmap:0 PCMU/8000"),            # missing '='
    (6, "a"),                              # a bare letter
    (5, "m=audio 70000 RTP/AVP 0"),        # port out of range
    (5, "m=audio five RTP/AVP 0"),         # port not a number
    (5, "m=audio 5004/x RTP/AVP 0"),       # port count not a number
    (5, "m=audio 5004 RTP/AVP PCMU"),      # non-numeric payload type on an RTP profile
    (5, "m=audio 5004 RTP/AVP 128"),       # payload type out of range
    (5, "m=audio 5004 RTP/AVP"),           # no formats
    (6, "a=rtpmap:101 telephone-event"),   # rtpmap without a clock rate
    (6, "a=rtpmap:x telephone-event/8000"),
    (6, "a=rtpmap"),                       # rtpmap without a value
    (6, "a=ptime:twenty"),
    (6, "a=fmtp:"),                        # fmtp without a format
    (6, "a=rtcp:9 IN IP4"),                # rtcp with half an address
    (6, "a=:value"),                       # empty attribute name
    (6, "a=na me:value"),
    (3, "o=- 1 1 IN IP4 192.0.2.1"),       # o= twice
    (6, "x=unknown"),                      # a type letter RFC 8866 does not define
    (6, "Z=0"),
    (6, "o=- 1 1 IN IP4 192.0.2.1"),       # o= inside a media section
    (1, "o=- 1 IN IP4 192.0.2.1"),         # o= with five fields
    (1, "o=- 12345678901234567890123 1 IN IP4 192.0.2.1"),  # sess-id beyond 64 bits' digits
    (1, "o=- x 1 IN IP4 192.0.2.1"),
    (3, "c=IN IP4"),
    (4, "t=0"),
    (4, "r=7d 1h 0 25h"),                  # r= before any t=
    (3, "b=AS"),
    (0, "v=1"),
    (0, "o=- 1 1 IN IP4 192.0.2.1"),       # does not start with v=
    (6, "a=ok\rcontinued"),                # a bare CR inside a line
    (6, "a=nul\0"),
])
def test_malformed_lines_raise_sdp_error_naming_the_line(index: int, bad: str) -> None:
    lines = [*MINIMAL]
    lines[index] = bad
    with pytest.raises(SdpError) as caught:
        parse(sdp(*lines))
    assert (caught.value.number, caught.value.line) == (index + 1, bad.removesuffix("\r"))
    assert f"line {index + 1}" in str(caught.value)


@pytest.mark.parametrize(("text", "reason"), [
    (b"", "empty session description"),
    (b"\r\n\r\n", "empty session description"),
    (b"v=0\r\no=- 1 1 IN IP4 x\r\nt=0 0\r\n", "no s= line"),
    (b"v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\n", "no t= line"),
    (b"v=0\r\ns=-\r\nt=0 0\r\n", "no o= line"),
    (b"v=0\r\ns=\xff\r\n", "not UTF-8 at byte 7"),
])
def test_descriptions_missing_required_lines_raise_sdp_error(text: bytes, reason: str) -> None:
    with pytest.raises(SdpError, match=reason):
        parse(text)


def test_a_media_section_has_at_most_one_connection_line() -> None:
    with pytest.raises(SdpError) as caught:
        parse(sdp(*MINIMAL[:6], "c=IN IP4 192.0.2.2", "c=IN IP4 192.0.2.3"))
    assert (caught.value.number, caught.value.reason) == (8, "more than one c= line")


def test_attribute_values_keep_colons_and_empty_values() -> None:
    sd = parse(offer_text("m=audio 5004 RTP/AVP 0", "a=fingerprint:sha-1 AA:BB", "a=empty:", "a=flag"))
    assert sd.media[0].attributes == (
        Attribute("fingerprint", "sha-1 AA:BB"), Attribute("empty", ""), Attribute("flag"))
    assert "a=empty:\r\na=flag\r\n" in str(sd)


# --- offer / answer --------------------------------------------------------------------------------------------


def test_build_offer_writes_pcmu_pcma_and_telephone_event() -> None:
    offer = build_offer("192.0.2.10", 40000, session_id=4242, session_version=7)
    assert str(offer) == sdp(
        "v=0", "o=- 4242 7 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
        "m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv")


def test_build_offer_for_ipv6_without_events_and_with_a_random_session_id() -> None:
    offer = build_offer("2001:db8::10", 40000, (PCMA,), telephone_event=None, direction=Direction.RECVONLY)
    assert offer.origin.addrtype == "IP6" and offer.connection == Connection("IN", "IP6", "2001:db8::10")
    assert offer.media[0].formats == ("8",) and offer.media[0].direction is Direction.RECVONLY
    assert build_offer("192.0.2.10", 1).origin.session_id != build_offer("192.0.2.10", 1).origin.session_id


def test_answer_to_a_pcmu_only_sipp_offer() -> None:
    offer = parse(fixture("sipp_offer"))
    reply = answer(offer, "192.0.2.10", 40000, session_id=9, session_version=1)
    assert str(reply) == sdp(
        "v=0", "o=- 9 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
        "m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=ptime:20", "a=sendrecv")
    assert negotiated(offer, reply, role=Role.ANSWERER) == Negotiated(
        "127.0.1.1", 6000, 0, "PCMU", 8000, None, None, Direction.SENDRECV, on_hold=False)


def test_answer_takes_the_first_common_codec_in_the_offerers_order() -> None:
    offer = build_offer("198.51.100.1", 5004, (PCMA, PCMU), session_id=1)
    reply = answer(offer, "192.0.2.10", 40000, (PCMU, PCMA))
    assert reply.media[0].formats == ("8", "101")
    assert negotiated(offer, reply, role=Role.ANSWERER).encoding == "PCMA"
    only_pcmu = answer(offer, "192.0.2.10", 40000, (PCMU,))
    assert only_pcmu.media[0].rtpmaps[0] == RtpMap(0, "PCMU", 8000)


def test_answer_to_baresip_keeps_telephone_event_and_its_fmtp() -> None:
    reply = answer(parse(fixture("baresip_offer")), "192.0.2.10", 40000, session_id=9)
    media = reply.media[0]
    assert media.formats == ("0", "101")
    assert media.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert media.fmtp(101) == "0-15"


def test_answer_uses_the_offered_event_payload_type_at_the_codecs_clock_rate() -> None:
    offer = parse(offer_text("m=audio 5004 RTP/AVP 8 110 96", "a=rtpmap:110 telephone-event/48000",
                             "a=rtpmap:96 telephone-event/8000"))
    reply = answer(offer, "192.0.2.10", 40000)
    assert reply.media[0].formats == ("8", "96")
    assert reply.media[0].fmtp(96) is None  # none offered: RFC 4733's default 0-15 applies
    assert negotiated(offer, reply, role=Role.ANSWERER).telephone_event == 96


def test_telephone_event_absent_from_the_answer_when_not_offered_or_not_wanted() -> None:
    offered_without = parse(offer_text("m=audio 5004 RTP/AVP 0 8"))
    assert answer(offered_without, "192.0.2.10", 40000).media[0].formats == ("0",)
    offered_with = build_offer("198.51.100.1", 5004, session_id=1)
    reply = answer(offered_with, "192.0.2.10", 40000, telephone_event=False)
    assert reply.media[0].formats == ("0",)
    assert negotiated(offered_with, reply, role=Role.OFFERER).telephone_event is None


@pytest.mark.parametrize("offer", [
    offer_text("m=audio 5004 RTP/AVP 9 18"),                         # G.722 and G.729 only
    offer_text("m=audio 5004 RTP/AVP 96", "a=rtpmap:96 opus/48000/2"),
    offer_text("m=audio 5004 RTP/SAVP 0 8"),                         # SRTP: not a plain RTP gateway's
    offer_text("m=audio 0 RTP/AVP 0 8"),                             # the only stream already disabled
    offer_text("m=video 5004 RTP/AVP 31"),
    offer_text("m=audio 5004 RTP/AVP 0", session=()),                # no c= anywhere
    fixture("chromium_offer"),                                       # DTLS-SRTP needs a media bridge
])
def test_an_offer_without_a_usable_stream_is_488(offer: str) -> None:
    with pytest.raises(NotAcceptableHere) as caught:
        answer(parse(offer), "192.0.2.10", 40000, (PCMU, PCMA))
    assert (caught.value.status, caught.value.reason_phrase, caught.value.warning_code) == (
        488, "Not Acceptable Here", 305)


def test_a_codec_we_do_not_support_is_not_chosen_even_when_first() -> None:
    offer = parse(offer_text("m=audio 5004 RTP/AVP 9 8"))
    assert answer(offer, "192.0.2.10", 40000, (PCMU, PCMA)).media[0].formats == ("8",)
    assert answer(offer, "192.0.2.10", 40000, (G722, PCMA)).media[0].formats == ("9",)


def test_other_m_lines_are_rejected_with_port_zero_keeping_count_and_order() -> None:
    offer = parse(offer_text(
        "m=video 5006 RTP/AVP 31 34", "a=rtpmap:31 H261/90000",
        "m=audio 0 RTP/AVP 0",
        "m=audio 5004 RTP/AVP 0 8",
        "m=audio 5008 RTP/AVP 8",
        "m=application 5010 UDP/DTLS/SCTP webrtc-datachannel"))
    reply = answer(offer, "192.0.2.10", 40000)
    assert [(m.media, m.port, m.proto, m.formats) for m in reply.media] == [
        ("video", 0, "RTP/AVP", ("31", "34")),
        ("audio", 0, "RTP/AVP", ("0",)),
        ("audio", 40000, "RTP/AVP", ("0",)),
        ("audio", 0, "RTP/AVP", ("8",)),
        ("application", 0, "UDP/DTLS/SCTP", ("webrtc-datachannel",))]
    assert "m=video 0 RTP/AVP 31 34\r\n" in str(reply)
    assert negotiated(offer, reply, role=Role.ANSWERER).remote_port == 5004


@pytest.mark.parametrize(("offered", "answered"), [
    ("sendrecv", Direction.SENDRECV),
    ("sendonly", Direction.RECVONLY),
    ("recvonly", Direction.SENDONLY),
    ("inactive", Direction.INACTIVE),
])
def test_answered_direction_follows_rfc_3264_section_6_1(offered: str, answered: Direction) -> None:
    offer = parse(offer_text("m=audio 5004 RTP/AVP 0", f"a={offered}"))
    reply = answer(offer, "192.0.2.10", 40000)
    assert reply.media[0].direction is answered
    assert is_hold(offer) is (offered in ("sendonly", "inactive"))  # recvonly: the offerer only listens
    result = negotiated(offer, reply, role=Role.ANSWERER)
    assert (result.direction, result.on_hold) == (answered, answered is not Direction.SENDRECV)


def test_our_own_hold_narrows_the_answered_direction() -> None:
    sendrecv = parse(offer_text("m=audio 5004 RTP/AVP 0"))
    assert answer(sendrecv, "192.0.2.10", 1, direction=Direction.SENDONLY).media[0].direction is Direction.SENDONLY
    sendonly = parse(offer_text("m=audio 5004 RTP/AVP 0", "a=sendonly"))
    assert answer(sendonly, "192.0.2.10", 1, direction=Direction.SENDONLY).media[0].direction is Direction.INACTIVE


def test_session_level_direction_of_the_offer_is_honoured() -> None:
    offer = parse(offer_text("m=audio 5004 RTP/AVP 0", session=("c=IN IP4 198.51.100.1", "a=sendonly")))
    assert answer(offer, "192.0.2.10", 1).media[0].direction is Direction.RECVONLY


def test_the_old_zero_address_hold_of_rfc_2543_is_recognised() -> None:
    offer = parse(offer_text("m=audio 5004 RTP/AVP 0", session=("c=IN IP4 0.0.0.0",)))
    assert is_hold(offer)
    reply = answer(offer, "192.0.2.10", 40000)
    assert reply.media[0].direction is Direction.RECVONLY  # nothing may be sent to 0.0.0.0
    result = negotiated(offer, reply, role=Role.ANSWERER)
    assert (result.remote_address, result.direction, result.on_hold) == ("0.0.0.0", Direction.RECVONLY, True)
    assert is_hold(parse(offer_text("m=audio 5004 RTP/AVP 0", "c=IN IP6 ::")))


def test_ice_placeholder_address_is_not_a_hold() -> None:
    assert not is_hold(parse(fixture("chromium_offer")))
    assert not is_hold(parse(fixture("baresip_offer")))


def test_negotiated_from_the_offerers_side_against_an_rtpengine_answer() -> None:
    offer = build_offer("192.0.2.10", 40000, session_id=1)
    result = negotiated(offer, parse(fixture("rtpengine_answer")), role=Role.OFFERER)
    assert result == Negotiated("203.0.113.10", 30000, 8, "PCMA", 8000, 101, 20, Direction.SENDRECV, False)


def test_negotiated_sends_with_the_payload_types_the_remote_side_listed() -> None:
    offer = build_offer("192.0.2.10", 40000, session_id=1)  # telephone-event as 101
    their_answer = parse(offer_text("m=audio 6000 RTP/AVP 0 96", "a=rtpmap:96 telephone-event/8000"))
    assert negotiated(offer, their_answer, role=Role.OFFERER).telephone_event == 96


def test_negotiated_refuses_an_answer_that_does_not_match_the_offer() -> None:
    offer = build_offer("192.0.2.10", 40000, session_id=1)
    with pytest.raises(NotAcceptableHere, match="2 m-lines for 1"):
        negotiated(offer, parse(offer_text("m=audio 6000 RTP/AVP 0", "m=video 0 RTP/AVP 31")), role=Role.OFFERER)
    with pytest.raises(NotAcceptableHere, match="accepted no audio stream"):
        negotiated(offer, parse(offer_text("m=audio 0 RTP/AVP 0")), role=Role.OFFERER)
    with pytest.raises(NotAcceptableHere, match="no codec or no address"):
        negotiated(offer, parse(offer_text("m=audio 6000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000")),
                   role=Role.OFFERER)


def test_hold_and_resume_re_offers_bump_the_version_only_when_changed() -> None:
    offer = build_offer("192.0.2.10", 40000, session_id=77, session_version=1)
    held = hold(offer)
    assert held.media[0].direction is Direction.SENDONLY
    assert held.origin == Origin("-", 77, 2, "IN", "IP4", "192.0.2.10")
    assert held.media[0].formats == offer.media[0].formats
    assert hold(held).origin.session_version == 2          # unchanged re-offer keeps the version
    inactive = hold(held, Direction.INACTIVE)
    assert (inactive.media[0].direction, inactive.origin.session_version) == (Direction.INACTIVE, 3)
    resumed = resume(inactive)
    assert (resumed.media[0].direction, resumed.origin.session_version) == (Direction.SENDRECV, 4)
    assert resume(resumed).origin.session_version == 4
    assert str(held).count("a=sendonly") == 1 and "a=sendrecv" not in str(held)


def test_a_hold_re_offer_answered_by_a_peer_puts_media_on_hold_both_ways() -> None:
    ours = build_offer("192.0.2.10", 40000, session_id=77)
    held = hold(ours)
    their_answer = answer(held, "198.51.100.1", 6000, session_id=5)
    assert their_answer.media[0].direction is Direction.RECVONLY
    assert negotiated(held, their_answer, role=Role.OFFERER).direction is Direction.SENDONLY
    assert negotiated(held, their_answer, role=Role.ANSWERER).on_hold


def test_hold_removes_a_session_level_direction_and_leaves_rejected_streams_alone() -> None:
    sd = parse(offer_text("m=audio 5004 RTP/AVP 0", "m=video 0 RTP/AVP 31",
                          session=("c=IN IP4 198.51.100.1", "a=sendrecv")))
    held = hold(sd)
    assert held.attributes == () and held.media[1] == sd.media[1]
    assert held.direction_of(held.media[0]) is Direction.SENDONLY
    with pytest.raises(ValueError, match="does not receive"):
        hold(sd, Direction.RECVONLY)


def test_answers_to_re_invites_keep_our_origin_and_bump_the_version_when_they_change() -> None:
    first_offer = parse(fixture("sipp_offer"))
    first_answer = answer(first_offer, "192.0.2.10", 40000, session_id=9, session_version=1)
    refresh = reoffer(first_answer, answer(first_offer, "192.0.2.10", 40000))  # session refresh, same media
    assert refresh == first_answer
    held_by_them = parse(fixture("sipp_offer").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000\na=sendonly"))
    second_answer = reoffer(first_answer, answer(held_by_them, "192.0.2.10", 40000))
    assert second_answer.origin == Origin("-", 9, 2, "IN", "IP4", "192.0.2.10")
    assert second_answer.media[0].direction is Direction.RECVONLY


def test_reoffer_keeps_the_origin_and_bumps_for_any_change() -> None:
    previous = build_offer("192.0.2.10", 40000, session_id=5, session_version=10)
    moved = build_offer("192.0.2.10", 40002, session_id=999, session_version=1)
    assert reoffer(previous, moved).origin == Origin("-", 5, 11, "IN", "IP4", "192.0.2.10")
    same = build_offer("192.0.2.10", 40000, session_id=999, session_version=1)
    assert reoffer(previous, same) == previous


# --- properties ------------------------------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=8)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"), max_size=12)
numbers = st.integers(0, 2**63)
connections = st.builds(Connection, tokens, tokens, tokens)
bandwidths = st.builds(Bandwidth, tokens, numbers)
free_attributes = st.builds(
    Attribute, tokens.filter(lambda name: name not in {"rtpmap", "fmtp", "ptime", "maxptime", "rtcp"}),
    st.none() | texts)
rtpmap_attributes = st.builds(RtpMap, st.integers(0, 127), tokens.filter(lambda t: "/" not in t),
                              st.integers(1, 96000), st.integers(1, 8)).map(lambda m: Attribute("rtpmap", str(m)))
attributes = st.lists(free_attributes | rtpmap_attributes, max_size=4).map(tuple)


@st.composite
def media_sections(draw: st.DrawFn) -> MediaDescription:
    proto = draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udp", "UDP/DTLS/SCTP"]))
    fmt = st.integers(0, 127).map(str) if "RTP/" in proto else tokens
    return MediaDescription(
        draw(tokens), draw(st.integers(0, 65535)), proto, tuple(draw(st.lists(fmt, min_size=1, max_size=4))),
        draw(st.integers(1, 4)), draw(st.none() | texts), draw(st.none() | connections),
        tuple(draw(st.lists(bandwidths, max_size=2))), draw(st.none() | texts), draw(attributes))


descriptions = st.builds(
    SessionDescription,
    origin=st.builds(Origin, tokens, numbers, numbers, tokens, tokens, tokens),
    session_name=texts,
    timings=st.lists(st.builds(Timing, numbers, numbers, st.lists(texts, max_size=2).map(tuple)),
                     min_size=1, max_size=2).map(tuple),
    connection=st.none() | connections,
    attributes=attributes,
    media=st.lists(media_sections(), max_size=3).map(tuple),
    information=st.none() | texts,
    uri=st.none() | texts,
    emails=st.lists(texts, max_size=2).map(tuple),
    phones=st.lists(texts, max_size=2).map(tuple),
    bandwidths=st.lists(bandwidths, max_size=2).map(tuple),
    zone=st.none() | texts,
    key=st.none() | texts,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(descriptions)
def test_every_description_round_trips_through_its_text(sd: SessionDescription) -> None:
    assert parse(str(sd)) == sd
    assert parse(bytes(sd)) == sd
    try:
        reply = answer(sd, "192.0.2.10", 40000)
    except NotAcceptableHere:
        return
    assert len(reply.media) == len(sd.media)
    assert parse(str(reply)) == reply


sdp_like_lines = st.tuples(st.sampled_from("vosiuepcbtrzkamx"), st.sampled_from("=:= "), texts).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.text() | st.lists(sdp_like_lines, max_size=12).map("\n".join)
       | st.lists(sdp_like_lines, max_size=8).map(lambda lines: "\r\n".join([*MINIMAL, *lines])))
def test_random_text_raises_nothing_but_sdp_error(text: str) -> None:
    try:
        parse(text)
    except SdpError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 400))
def test_random_bytes_and_cut_fixtures_raise_nothing_but_sdp_error(noise: bytes, cut: int) -> None:
    for data in (noise, crlf(fixture("baresip_offer")).encode()[:cut] + noise):
        try:
            parse(data)
        except SdpError:
            pass
