"""G.711 tables, RTP and RFC 4733 packets, the plain audio SDP, and the sans-I/O RTP stream."""

from __future__ import annotations

import numpy as np
import pytest

from callbridge.media import audio_sdp, g711
from callbridge.media.audio import Echo, Recording, Tone
from callbridge.media.audio_sdp import Direction
from callbridge.media.errors import BadSdp
from callbridge.media.g711 import Codec
from callbridge.media.gateway import DeadMediaWatch
from callbridge.media.rtp import (
    ReceptionCounter,
    RtpError,
    RtpPacket,
    TelephoneEvent,
    dtmf_event,
    is_rtcp,
    sequence_delta,
)
from callbridge.media.rtp_stream import AudioReceived, DigitReceived, RtpStream
from callbridge.sdk.media import dominant_frequency


# -- G.711 ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("codec", "samples", "codes"), [
    (Codec.PCMU, [0, -1, 1, 32767, -32768, 1000, -1000], "ff7fff8000ce4e"),
    (Codec.PCMA, [0, -1, 1, 32767, -32768, 1000, -1000], "d555d5aa2afa7a"),
])
def test_g711_encodes_known_values(codec: Codec, samples: list[int], codes: str) -> None:
    assert g711.encode(codec, samples).hex() == codes


@pytest.mark.parametrize(("codec", "codes", "samples"), [
    (Codec.PCMU, "ff7f0080", [0, 0, -32124, 32124]),
    (Codec.PCMA, "d5552aaa", [8, -8, -32256, 32256]),
])
def test_g711_decodes_known_values(codec: Codec, codes: str, samples: list[int]) -> None:
    assert g711.decode(codec, bytes.fromhex(codes)).tolist() == samples


@pytest.mark.parametrize("codec", list(Codec))
def test_g711_round_trips(codec: Codec) -> None:
    every = np.arange(256, dtype=np.uint8).tobytes()
    again = g711.encode(codec, g711.decode(codec, every))
    differing = [code for code in range(256) if again[code] != every[code]]
    assert differing == ([0x7F] if codec is Codec.PCMU else [])  # mu-law has two zeros; 0x7F decodes like 0xFF
    pcm = np.arange(-32768, 32768, 7)
    error = np.abs(g711.decode(codec, g711.encode(codec, pcm)).astype(int) - pcm)
    loud = np.abs(pcm) > 1024
    assert (error[loud] / np.abs(pcm[loud])).max() < 0.07  # logarithmic: a few per cent of the value
    assert error[~loud].max() <= 64


def test_g711_keeps_a_tone() -> None:
    tone = Tone(440).next_frame(8000)
    for codec in Codec:
        assert dominant_frequency(g711.decode(codec, g711.encode(codec, tone)).astype(float), 8000) == 440


# -- RTP and RFC 4733 -------------------------------------------------------------------------------------------
PCMU_PACKET = bytes.fromhex("8080 0001 000000a0 12345678") + b"\xff" * 160
WITH_EVERYTHING = bytes.fromhex("b1 65 ffff 00000000 00000001 00000002 bede0001 10ab0000") + b"xy" + b"\x00\x00\x03"


def test_rtp_parses_and_writes_a_g711_packet() -> None:
    packet = RtpPacket.parse(PCMU_PACKET)
    assert (packet.payload_type, packet.marker, packet.sequence, packet.timestamp, packet.ssrc) == (
        0, True, 1, 160, 0x12345678)
    assert packet.payload == b"\xff" * 160
    assert bytes(packet) == PCMU_PACKET


def test_rtp_csrcs_extension_and_padding() -> None:
    packet = RtpPacket.parse(WITH_EVERYTHING)
    assert packet.csrcs == (2,) and packet.extension == (0xBEDE, bytes.fromhex("10ab0000"))
    assert packet.payload == b"xy" and packet.payload_type == 101 and packet.sequence == 0xFFFF
    assert RtpPacket.parse(bytes(packet)) == packet


@pytest.mark.parametrize("data", [b"", b"\x80\x00", bytes(12), bytes.fromhex("8f00000100000000 00000000"),
                                  bytes.fromhex("9000000100000000 00000000 bede"),
                                  bytes.fromhex("a000000100000000 00000000 00")])
def test_rtp_rejects_malformed_packets(data: bytes) -> None:
    with pytest.raises(RtpError):
        RtpPacket.parse(data)


def test_rtcp_is_told_apart() -> None:
    assert is_rtcp(bytes.fromhex("80c8000600000001")) and not is_rtcp(PCMU_PACKET)


def test_telephone_event_payload() -> None:
    event = TelephoneEvent.parse(bytes.fromhex("0b8a0320"))
    assert event == TelephoneEvent(11, end=True, volume=10, duration=800) and event.digit == "#"
    assert bytes(event).hex() == "0b8a0320"
    assert bytes(TelephoneEvent(5, volume=63, duration=160)).hex() == "053f00a0"
    assert dtmf_event("*") == 10 and dtmf_event("d") == 15
    with pytest.raises(ValueError, match="DTMF"):
        dtmf_event("x")
    with pytest.raises(RtpError):
        TelephoneEvent.parse(b"\x01")


def test_sequence_arithmetic_and_loss() -> None:
    assert sequence_delta(2, 0xFFFE) == 4 and sequence_delta(0xFFFE, 2) == -4
    counter = ReceptionCounter()
    for sequence in (0xFFFD, 0xFFFE, 1, 0, 3):  # wraps; 0xFFFF and 2 lost, 0 late
        counter.count(sequence)
    assert counter.received == 5 and counter.lost == 2
    counter.new_source()
    counter.count(500)
    counter.count(501)
    assert counter.lost == 2


# -- SDP --------------------------------------------------------------------------------------------------------
def test_audio_sdp_written_and_read() -> None:
    sdp = audio_sdp.write("192.0.2.7", 40002, [Codec.PCMA, Codec.PCMU], direction=Direction.SENDONLY)
    assert "m=audio 40002 RTP/AVP 8 0 101\r\n" in sdp and "a=fmtp:101 0-16\r\n" in sdp and "a=ptime:20" in sdp
    read = audio_sdp.read(sdp)
    assert (read.address, read.port, read.protocol) == ("192.0.2.7", 40002, "RTP/AVP")
    assert read.codecs == [Codec.PCMA, Codec.PCMU] and read.telephone_event == 101
    assert read.direction is Direction.SENDONLY


def test_audio_sdp_reads_media_level_address_and_first_audio_line_only() -> None:
    sdp = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=recvonly\r\n"
           "m=audio 5004 RTP/AVP 18 8 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 telephone-event/8000\r\n"
           "m=audio 6000 RTP/AVP 0\r\na=inactive\r\n")
    read = audio_sdp.read(sdp)
    assert (read.address, read.port, read.codecs, read.telephone_event) == ("10.0.0.2", 5004, [Codec.PCMA], 96)
    assert read.direction is Direction.RECVONLY and audio_sdp.direction_of(sdp) is Direction.RECVONLY
    with pytest.raises(BadSdp):
        audio_sdp.read("v=0\r\nm=video 5000 RTP/AVP 96\r\n")
    with pytest.raises(BadSdp):
        audio_sdp.read("v=0\r\nm=audio x RTP/AVP 0\r\n")


@pytest.mark.parametrize(("offer", "wanted", "answer"), [
    (Direction.SENDRECV, Direction.SENDRECV, Direction.SENDRECV),
    (Direction.SENDONLY, Direction.SENDRECV, Direction.RECVONLY),
    (Direction.RECVONLY, Direction.SENDRECV, Direction.SENDONLY),
    (Direction.INACTIVE, Direction.SENDRECV, Direction.INACTIVE),
    (Direction.SENDRECV, Direction.SENDONLY, Direction.SENDONLY),
    (Direction.SENDONLY, Direction.SENDONLY, Direction.INACTIVE),
])
def test_answer_directions(offer: Direction, wanted: Direction, answer: Direction) -> None:
    assert offer.answered(wanted) is answer


# -- the RTP stream, sans I/O --------------------------------------------------------------------------------------
def test_stream_audio_round_trip_and_counters() -> None:
    sender, receiver = RtpStream(Codec.PCMA), RtpStream()
    frames = [sender.audio_packet(Tone(1000).next_frame(160)) for _ in range(3)]
    first, second = RtpPacket.parse(frames[0]), RtpPacket.parse(frames[1])
    assert first.marker and not second.marker and first.payload_type == 8
    assert second.timestamp - first.timestamp == 160 and sequence_delta(second.sequence, first.sequence) == 1
    events = receiver.receive(frames[0]) + receiver.receive(frames[2]) + receiver.receive(b"junk")
    assert [type(e) for e in events] == [AudioReceived, AudioReceived]
    assert receiver.stats.packets_received == 2 and receiver.stats.packets_lost == 1
    assert sender.stats.packets_sent == 3 and sender.stats.bytes_sent == 3 * 172


def test_stream_dtmf_plan_and_detection_once_per_event() -> None:
    sender, receiver = RtpStream(), RtpStream()
    start = RtpPacket.parse(sender.audio_packet(np.zeros(160, dtype=np.int16))).timestamp + 160
    plan = sender.dtmf_packets("9", 100)
    packets = [RtpPacket.parse(data) for _, data in plan]
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert [at for at, _ in plan] == pytest.approx([0, 0, 0, 0.02, 0.04, 0.06, 0.08, 0.08, 0.08])
    assert [p.marker for p in packets] == [True] + [False] * 8
    assert {p.timestamp for p in packets} == {start} and {p.payload_type for p in packets} == {101}
    assert [e.end for e in events] == [False] * 6 + [True] * 3 and events[-1].duration == 800
    assert len({p.sequence for p in packets}) == 9
    next_audio = RtpPacket.parse(sender.audio_packet(np.zeros(160, dtype=np.int16)))
    assert next_audio.timestamp == start + 800
    heard = [e for _, data in plan for e in receiver.receive(data)]
    heard += [e for _, data in sender.dtmf_packets("A", 40) for e in receiver.receive(data)]
    assert heard == [DigitReceived("9", 100), DigitReceived("A", 40)]


def test_stream_without_telephone_event_refuses_digits() -> None:
    with pytest.raises(ValueError, match="telephone-event"):
        RtpStream(telephone_event=None).dtmf_packets("1")


def test_echo_and_recording() -> None:
    echo, recording = Echo(), Recording()
    assert not echo.next_frame(160).any()
    heard = Tone(440).next_frame(240)
    echo.hear(heard)
    assert echo.next_frame(160).tolist() == heard[:160].tolist()
    assert echo.next_frame(160).tolist() == heard[160:].tolist() + [0] * 80
    recording.add(heard)
    assert 0.2 < recording.level() < 0.22 and recording.since(recording.mark()).size == 0


# -- dead media, on a fake clock -----------------------------------------------------------------------------------
def test_dead_media_fires_once_after_the_timeout_and_not_on_hold() -> None:
    watch = DeadMediaWatch(2.0)
    assert not watch.observe("s", 10, 0.0)
    assert not watch.observe("s", 20, 1.0)
    assert not watch.observe("s", 20, 2.9)
    assert watch.observe("s", 20, 3.0)
    assert not watch.observe("s", 20, 9.0)
    assert not watch.observe("held", 5, 0.0, trunk_sends=False)
    assert not watch.observe("held", 5, 10.0, trunk_sends=False)
    assert not watch.observe("held", 5, 11.0)
    assert watch.observe("held", 5, 12.0)
    assert not DeadMediaWatch(0).observe("off", 1, 100.0)
