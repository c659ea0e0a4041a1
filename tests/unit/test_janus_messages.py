"""What the Janus adapter reads in AudioBridge's answers and notifications (shapes measured on Janus 1.1.2), and
the payload-type repair of its own G.711 offers."""

from __future__ import annotations

from callbridge.media import audio_sdp
from callbridge.media.conference import (
    AlreadyJoined,
    ConferenceRejected,
    Left,
    LeftReason,
    NoSuchParticipant,
    NoSuchRoom,
    RoomExists,
    Talking,
)
from callbridge.media.g711 import Codec
from callbridge.media.janus import notification, plugin_error, static_g711_payload


def event(data: dict[str, object]) -> dict[str, object]:
    return {"janus": "event", "sender": 7, "plugindata": {"plugin": "janus.plugin.audiobridge", "data": data}}


def test_plugin_errors_are_typed_with_janus_code() -> None:
    assert isinstance(plugin_error({"error_code": 485, "error": "No such room"}), NoSuchRoom)
    assert isinstance(plugin_error({"error_code": 486, "error": "Room exists"}), RoomExists)
    assert isinstance(plugin_error({"error_code": 487, "error": "No such user"}), NoSuchParticipant)
    assert isinstance(plugin_error({"error_code": 491, "error": "Already in a room"}), AlreadyJoined)
    other = plugin_error({"error_code": 489, "error": "Unauthorized"})
    assert isinstance(other, ConferenceRejected) and other.code == 489 and "Unauthorized" in str(other)
    assert plugin_error({"audiobridge": "success"}) is None


def test_talking_is_taken_only_about_the_handle_own_participant() -> None:
    assert notification("m", "w", event({"audiobridge": "talking", "room": "m", "id": "w"})) == Talking("m", "w", True)
    assert notification("m", "w", event({"audiobridge": "stopped-talking", "room": "m", "id": "w"})) == Talking(
        "m", "w", False)
    assert notification("m", "a", event({"audiobridge": "talking", "room": "m", "id": "w"})) is None


def test_kicked_destroyed_and_hangup_mean_left() -> None:
    assert notification("m", "b", event({"audiobridge": "event", "room": "m", "kicked": "b"})) == Left(
        "m", "b", LeftReason.KICKED)
    assert notification("m", "a", event({"audiobridge": "event", "room": "m", "kicked": "b"})) is None
    assert notification("m", "a", event({"audiobridge": "destroyed", "room": "m"})) == Left(
        "m", "a", LeftReason.ROOM_CLOSED)
    assert notification("m", "w", {"janus": "hangup", "sender": 7, "reason": "Close PC"}) == Left(
        "m", "w", LeftReason.HANGUP)
    assert notification("m", "a", event({"audiobridge": "event", "room": "m", "leaving": "b"})) is None


JANUS_PCMU_OFFER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 192.0.2.2", "s=AudioBridge r", "t=0 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 192.0.2.2", "a=sendrecv", "a=mid:0", "a=rtcp-mux", "a=rtpmap:111 PCMU/8000",
    "a=rtcp-fb:111 transport-cc", "a=candidate:1 1 udp 2015363327 192.0.2.2 41419 typ host", ""])


def test_janus_g711_offer_gets_the_static_payload_type_it_sends() -> None:
    fixed = static_g711_payload(JANUS_PCMU_OFFER)
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" in fixed
    assert "a=rtpmap:0 PCMU/8000" in fixed and "a=rtcp-fb:0 transport-cc" in fixed and ":111" not in fixed
    assert audio_sdp.read(fixed).codecs[0] is Codec.PCMU
    assert "a=candidate:1 1 udp 2015363327 192.0.2.2 41419 typ host" in fixed


def test_opus_offers_are_left_alone() -> None:
    opus = JANUS_PCMU_OFFER.replace("PCMU/8000", "opus/48000/2")
    assert static_g711_payload(opus) == opus
