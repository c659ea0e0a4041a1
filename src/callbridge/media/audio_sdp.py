"""The little SDP (RFC 4566, offer/answer of RFC 3264) a plain RTP/AVP G.711 endpoint needs: write its own offer or
answer, read the first audio m-line of the other side's, and tell the direction of any SDP (WebRTC ones too).

    v=0
    o=- <session id> <version> IN IP4 <address>
    s=-
    c=IN IP4 <address>
    t=0 0
    m=audio <port> RTP/AVP 0 8 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=ptime:20
    a=sendrecv
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callbridge.media.errors import BadSdp
from callbridge.media.g711 import Codec
from callbridge.sip.sdp import Direction as Direction  # the one direction type of every SDP (re-exported)

TELEPHONE_EVENT = "telephone-event"
DEFAULT_TELEPHONE_EVENT_PT = 101
_DIRECTIONS = frozenset(direction.value for direction in Direction)


@dataclass(frozen=True)
class AudioDescription:
    """The first audio m-line of an SDP, with the connection address that applies to it."""

    address: str
    port: int
    protocol: str
    payload_types: tuple[int, ...]
    encodings: dict[int, str] = field(default_factory=dict)  # payload type -> encoding name, upper case
    direction: Direction = Direction.SENDRECV

    @property
    def codecs(self) -> list[Codec]:
        """The G.711 codecs offered, in the order of preference of the m-line."""
        known = {codec.value: codec for codec in Codec}
        return [known[pt] for pt in self.payload_types if pt in known and self.encodings.get(pt, known[pt].name)
                == known[pt].name]

    @property
    def telephone_event(self) -> int | None:
        return next((pt for pt in self.payload_types if self.encodings.get(pt) == TELEPHONE_EVENT.upper()), None)


def read(sdp: str) -> AudioDescription:
    session_address, media_address, media, direction = "", "", None, Direction.SENDRECV
    encodings: dict[int, str] = {}
    for line in sdp.splitlines():
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            if media is not None:
                break  # only the first audio m-line counts
            if value.startswith("audio "):
                media = value.split()
        elif kind == "c":
            address = value.split()[-1].split("/")[0]
            media_address, session_address = (address, session_address) if media else ("", address)
        elif kind == "a":
            direction = _attribute(value, direction, encodings)
    if media is None or len(media) < 4:
        raise BadSdp("no audio m-line")
    try:
        port, payload_types = int(media[1]), tuple(int(pt) for pt in media[3:])
    except ValueError as exc:
        raise BadSdp(f"bad audio m-line: {' '.join(media)}") from exc
    return AudioDescription(media_address or session_address, port, media[2], payload_types, encodings, direction)


def _attribute(value: str, direction: Direction, encodings: dict[int, str]) -> Direction:
    if value in _DIRECTIONS:
        return Direction(value)
    if value.startswith("rtpmap:"):
        pt, _, encoding = value[len("rtpmap:"):].partition(" ")
        if pt.isdigit():
            encodings[int(pt)] = encoding.split("/")[0].upper()
    return direction


def direction_of(sdp: str) -> Direction:
    """The direction of the first audio m-line (or of the session), of any SDP."""
    direction, in_audio = Direction.SENDRECV, False
    for line in sdp.splitlines():
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            if in_audio:
                break
            in_audio = value.startswith("audio ")
        elif kind == "a" and value in _DIRECTIONS:
            direction = Direction(value)
    return direction


def write(address: str, port: int, codecs: list[Codec], *, telephone_event: int | None = DEFAULT_TELEPHONE_EVENT_PT,
          direction: Direction = Direction.SENDRECV, session_id: int = 0, version: int = 0) -> str:
    payload_types = [codec.value for codec in codecs] + ([telephone_event] if telephone_event is not None else [])
    lines = ["v=0", f"o=- {session_id} {version} IN IP4 {address}", "s=-", f"c=IN IP4 {address}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(map(str, payload_types))}"]
    lines += [f"a=rtpmap:{codec.value} {codec.name}/8000" for codec in codecs]
    if telephone_event is not None:
        lines += [f"a=rtpmap:{telephone_event} {TELEPHONE_EVENT}/8000", f"a=fmtp:{telephone_event} 0-16"]
    lines += ["a=ptime:20", f"a={direction.value}"]
    return "\r\n".join(lines) + "\r\n"


def is_plain_rtp(sdp: str) -> bool:
    """An SDP of plain RTP (a phone's, or a mixer's plain leg), not WebRTC (ICE, DTLS-SRTP)."""
    return "RTP/AVP" in sdp and "a=ice-ufrag" not in sdp and "a=fingerprint" not in sdp
