"""The offer/answer model (RFC 3264) for a G.711 gateway: plain RTP/AVP audio, one stream, RFC 4733 events.

Choices this module makes, where RFC 3264 leaves room:

* **Codec**: the answer carries exactly one audio codec, the first one *in the offerer's order* that we support
  (RFC 3264 section 6.1 recommends keeping the offerer's relative order; one codec means neither side ever
  switches codec mid-call, which a transcoding-free gateway cannot follow). Payload type numbers are the offer's.
* **Streams**: the first offered audio stream we can take is accepted; every other m-line (video, application,
  a second audio stream, SRTP or WebRTC profiles, port 0) is answered with port 0, keeping count and order.
  No stream accepted raises ``NotAcceptableHere`` (SIP 488).
* **telephone-event** is answered when offered at the chosen codec's clock rate, with the offer's fmtp
  (0-15, 0-16, ...) echoed; without one, RFC 4733 has the receiver assume 0-15.
* **Hold**: an offer holds us when its direction does not receive (sendonly, inactive) or, in the RFC 2543 form
  (RFC 3264 section 8.4), its connection address is 0.0.0.0 - unless the stream uses ICE, where 0.0.0.0 with
  port 9 is only the placeholder of RFC 8839.
* **Versions**: ``reoffer(previous, updated)`` keeps our o= line and bumps sess-version only when something else
  changed; ``previous`` is the last description *we* sent in this session. Use it for every description after
  the first, answers to re-INVITEs included: ``reoffer(last_sent, answer(new_offer, ...))``.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from callbridge.sip.sdp import (
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
)

TELEPHONE_EVENT = "telephone-event"
DEFAULT_EVENTS = "0-16"  # RFC 4733 section 3.2: DTMF digits 0-9, *, #, A-D (0-15) and flash (16)
PLAIN_RTP = "RTP/AVP"
_DIRECTIONS = frozenset(direction.value for direction in Direction)


class NotAcceptableHere(Exception):
    """No media stream of the offer (or answer) is usable: answered with a SIP 488 and a Warning (305 unless
    said otherwise)."""

    status = 488
    reason_phrase = "Not Acceptable Here"

    def __init__(self, detail: str, warning_code: int = 305) -> None:
        self.detail = detail
        self.warning_code = warning_code  # RFC 3261 section 20.43: 305 Incompatible media format, 304, 399...
        super().__init__(f"488 Not Acceptable Here: {detail}")

    def warning(self, agent: str) -> str:
        """The Warning header field's value: ``code agent "text"`` (RFC 3261 section 20.43)."""
        text = self.detail.replace("\\", "").replace('"', "'")
        return f'{self.warning_code} {agent} "{text}"'


class Role(Enum):
    """Which side of the offer/answer exchange we were."""

    OFFERER = "offerer"
    ANSWERER = "answerer"


@dataclass(frozen=True, slots=True)
class Codec:
    """An audio codec we can send and receive, with the payload type we offer it under."""

    encoding: str
    clock_rate: int
    payload_type: int
    channels: int = 1

    @property
    def rtpmap(self) -> RtpMap:
        return RtpMap(self.payload_type, self.encoding, self.clock_rate, self.channels)


PCMU = Codec("PCMU", 8000, 0)
PCMA = Codec("PCMA", 8000, 8)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the media plane needs once offer and answer are both known, from our point of view."""

    remote_address: str
    remote_port: int
    payload_type: int  # the payload type we send the codec with: the number the remote side listed
    encoding: str
    clock_rate: int
    telephone_event: int | None  # the payload type for RFC 4733 events we send, when both sides have them
    ptime: int | None  # the remote side's preferred packet time
    direction: Direction  # our direction: sendonly means we send and do not expect to receive
    on_hold: bool  # media does not flow both ways: one side has put the other on hold


def _origin(username: str, session_id: int | None, session_version: int, address: str) -> Origin:
    sess_id = secrets.randbits(62) if session_id is None else session_id
    return Origin(username, sess_id, session_version, "IN", _addrtype(address), address)


def _addrtype(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:  # a host name: RFC 8866 allows one, and it is IPv4 far more often than not
        return "IP4"


def _audio(port: int, codecs: Sequence[RtpMap], events: RtpMap | None, fmtp: str | None,
           ptime: int | None, direction: Direction) -> MediaDescription:
    maps = [*codecs, *([events] if events else [])]
    attributes = [Attribute("rtpmap", str(rtpmap)) for rtpmap in maps]
    if events is not None and fmtp:
        attributes.append(Attribute("fmtp", f"{events.payload_type} {fmtp}"))
    if ptime is not None:
        attributes.append(Attribute("ptime", str(ptime)))
    attributes.append(Attribute(direction.value))
    formats = tuple(str(rtpmap.payload_type) for rtpmap in maps)
    return MediaDescription("audio", port, PLAIN_RTP, formats, attributes=tuple(attributes))


def _session(origin: Origin, address: str, media: tuple[MediaDescription, ...]) -> SessionDescription:
    return SessionDescription(origin, "-", connection=Connection("IN", origin.addrtype, address), media=media)


def build_offer(address: str, port: int, codecs: Sequence[Codec] = (PCMU, PCMA), *,
                telephone_event: int | None = 101, direction: Direction = Direction.SENDRECV,
                session_id: int | None = None, session_version: int = 1, ptime: int | None = 20,
                username: str = "-") -> SessionDescription:
    """An initial offer of one plain RTP audio stream; ``session_id`` is random unless given."""
    if not codecs:
        raise ValueError("an offer needs at least one codec")
    events = RtpMap(telephone_event, TELEPHONE_EVENT, 8000) if telephone_event is not None else None
    media = _audio(port, [codec.rtpmap for codec in codecs], events, DEFAULT_EVENTS, ptime, direction)
    return _session(_origin(username, session_id, session_version, address), address, (media,))


def answer(offer: SessionDescription, address: str, port: int, codecs: Sequence[Codec] = (PCMU, PCMA), *,
           telephone_event: bool = True, direction: Direction = Direction.SENDRECV,
           session_id: int | None = None, session_version: int = 1, ptime: int | None = 20,
           username: str = "-") -> SessionDescription:
    """Answer ``offer`` (RFC 3264 section 6): one m-line per offered m-line, all but one audio stream at port 0.

    ``codecs`` says which codecs we take; the offer's order picks among them. ``direction`` is what we want
    locally (sendonly when we hold); the answered direction also honours the offer's. Raises
    ``NotAcceptableHere`` when no stream can be accepted."""
    media: list[MediaDescription] = []
    accepted = False
    for offered in offer.media:
        taken = None if accepted else _accept(offer, offered, port, codecs, telephone_event, direction, ptime)
        accepted = accepted or taken is not None
        media.append(taken if taken is not None else _rejected(offered))
    if not accepted:
        raise NotAcceptableHere("no plain RTP/AVP audio stream with a common codec")
    return _session(_origin(username, session_id, session_version, address), address, tuple(media))


def _rejected(offered: MediaDescription) -> MediaDescription:
    return MediaDescription(offered.media, 0, offered.proto, offered.formats)


def _accept(offer: SessionDescription, offered: MediaDescription, port: int, codecs: Sequence[Codec],
            telephone_event: bool, direction: Direction, ptime: int | None) -> MediaDescription | None:
    usable = offered.media == "audio" and offered.port != 0 and offered.proto == PLAIN_RTP
    if not usable or offer.connection_of(offered) is None:
        return None
    ours = [codec.rtpmap for codec in codecs]
    chosen = next((rtpmap for rtpmap in offered.rtpmaps if any(rtpmap.same_codec(our) for our in ours)), None)
    if chosen is None:
        return None
    events = _events(offered, chosen.clock_rate) if telephone_event else None
    fmtp = offered.fmtp(events.payload_type) if events is not None else None
    answered = _offered_direction(offer, offered).answered(direction)
    return _audio(port, [chosen], events, fmtp, ptime, answered)


def _events(media: MediaDescription, clock_rate: int) -> RtpMap | None:
    return next((rtpmap for rtpmap in media.rtpmaps
                 if rtpmap.encoding.casefold() == TELEPHONE_EVENT and rtpmap.clock_rate == clock_rate), None)


def _offered_direction(sd: SessionDescription, media: MediaDescription) -> Direction:
    """The direction of a remote stream, with a 0.0.0.0 connection (RFC 3264 section 8.4) as not receiving."""
    direction = sd.direction_of(media)
    return Direction.of(sends=direction.sends, receives=direction.receives and not _held_by_address(sd, media))


def _held_by_address(sd: SessionDescription, media: MediaDescription) -> bool:
    connection = sd.connection_of(media)
    uses_ice = media.has("ice-ufrag") or any(attribute.name == "ice-ufrag" for attribute in sd.attributes)
    return connection is not None and connection.is_unspecified and not uses_ice


def is_hold(sd: SessionDescription) -> bool:
    """Whether a remote offer puts us on hold (RFC 3264 section 8.4): an active audio stream of it does not want
    to receive (sendonly, inactive, or a 0.0.0.0 connection outside ICE)."""
    active = [media for media in sd.media if media.media == "audio" and media.port != 0]
    return any(not _offered_direction(sd, media).receives for media in active)


def negotiated(offer: SessionDescription, answer: SessionDescription, *, role: Role) -> Negotiated:
    """The stream both sides agreed on: the first audio m-line the answer accepted."""
    if len(offer.media) != len(answer.media):
        raise NotAcceptableHere(f"the answer has {len(answer.media)} m-lines for {len(offer.media)} offered")
    local, remote = (offer, answer) if role is Role.OFFERER else (answer, offer)
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True)):
        if offered.port and answered.port and answered.media == "audio" and answered.is_rtp:
            return _negotiated(local, local.media[index], remote, remote.media[index], answered)
    raise NotAcceptableHere("the answer accepted no audio stream")


def _negotiated(local: SessionDescription, ours: MediaDescription, remote: SessionDescription,
                theirs: MediaDescription, answered: MediaDescription) -> Negotiated:
    codec = next((rtpmap for rtpmap in answered.rtpmaps if rtpmap.encoding.casefold() not in _NOT_CODECS), None)
    connection = remote.connection_of(theirs)
    if codec is None or connection is None:
        raise NotAcceptableHere("the accepted audio stream has no codec or no address")
    sent = next((rtpmap for rtpmap in theirs.rtpmaps if rtpmap.same_codec(codec)), codec)
    events = _events(theirs, codec.clock_rate) if _events(ours, codec.clock_rate) else None
    direction = _offered_direction(remote, theirs).answered(local.direction_of(ours))
    return Negotiated(connection.address, theirs.port, sent.payload_type, sent.encoding, sent.clock_rate,
                      events.payload_type if events else None, theirs.ptime, direction,
                      direction is not Direction.SENDRECV)


_NOT_CODECS = frozenset({TELEPHONE_EVENT, "cn", "red"})


def with_direction(sd: SessionDescription, direction: Direction) -> SessionDescription:
    """Every active m-line set to ``direction``; session-level direction attributes dropped."""

    def directed(media: MediaDescription) -> MediaDescription:
        if media.port == 0:
            return media
        kept = tuple(attribute for attribute in media.attributes if attribute.name not in _DIRECTIONS)
        return replace(media, attributes=(*kept, Attribute(direction.value)))

    session_attributes = tuple(attribute for attribute in sd.attributes if attribute.name not in _DIRECTIONS)
    return replace(sd, attributes=session_attributes, media=tuple(directed(media) for media in sd.media))


def reoffer(previous: SessionDescription, updated: SessionDescription) -> SessionDescription:
    """``updated`` under ``previous``'s o= line: sess-version + 1 if anything else changed, else unchanged
    (RFC 3264 section 8: the origin stays, the version increases by one for every changed description)."""
    unchanged = replace(updated, origin=previous.origin) == previous
    version = previous.origin.session_version + (0 if unchanged else 1)
    return replace(updated, origin=replace(previous.origin, session_version=version))


def hold(previous: SessionDescription, direction: Direction = Direction.SENDONLY) -> SessionDescription:
    """A re-offer putting the remote side on hold: sendonly (we may still play music) or inactive
    (when the remote side already holds us)."""
    if direction.receives:
        raise ValueError(f"a hold offer does not receive: {direction.value}")
    return reoffer(previous, with_direction(previous, direction))


def resume(previous: SessionDescription) -> SessionDescription:
    """A re-offer taking the remote side off hold (sendrecv)."""
    return reoffer(previous, with_direction(previous, Direction.SENDRECV))
