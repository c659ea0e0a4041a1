"""What one phone call's session description may hold, checked before the media gateway sees it.

A gateway allocates per m-line (rtpengine holds RTP and RTCP ports for every stream of an offer) and works per
codec and ICE candidate, so an offer from an agent or a trunk is held to what a G.711 call needs: one audio
stream, a bounded number of payload types and candidates, a bounded size. What asks for more is refused whole
(RFC 3264 section 6 lets an answerer reject streams; a call that needs one is simpler refused with 488 and a
Warning, RFC 3261 section 20.43, than half-answered):

    304 Media type not available      more than one m-line, or one that is not audio
    305 Incompatible media format     more payload types than ``max_payload_types``
    399 Miscellaneous warning         too large, too many lines or candidates, no SDP at all (late offer)

Counting lines happens before parsing, so an oversized description costs one pass over its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.sip.offer_answer import NotAcceptableHere
from callbridge.sip.sdp import SdpError, SessionDescription

MEDIA_NOT_AVAILABLE, INCOMPATIBLE_FORMAT, MISCELLANEOUS = 304, 305, 399


@dataclass(frozen=True)
class CallSdpLimits:
    max_bytes: int = 16 * 1024  # a browser's audio offer with a dozen candidates is 4-6 KiB
    max_lines: int = 200
    max_payload_types: int = 32  # a browser offers about 15 for audio
    max_candidates: int = 32  # a=candidate lines, over the session and its stream


CALL_SDP_LIMITS = CallSdpLimits()


def check_call_sdp(sdp: str | None, limits: CallSdpLimits = CALL_SDP_LIMITS) -> SessionDescription:
    """The description, parsed, when it fits one audio call; else ``NotAcceptableHere`` with the Warning code."""
    if not sdp:
        raise NotAcceptableHere("an SDP offer is required (late offer is not supported)", MISCELLANEOUS)
    if len(sdp.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise NotAcceptableHere(f"the SDP is over {limits.max_bytes} bytes", MISCELLANEOUS)
    if sdp.count("\n") > limits.max_lines:
        raise NotAcceptableHere(f"the SDP has over {limits.max_lines} lines", MISCELLANEOUS)
    if sdp.count("\nm=") != 1:
        raise NotAcceptableHere("a call takes exactly one audio stream (one m-line)", MEDIA_NOT_AVAILABLE)
    try:
        description = SessionDescription.parse(sdp)
    except SdpError as exc:
        raise NotAcceptableHere(f"the SDP cannot be read: {exc}", MISCELLANEOUS) from None
    [media] = description.media
    if media.media != "audio":
        raise NotAcceptableHere(f"a call takes one audio stream, not {media.media[:32]}", MEDIA_NOT_AVAILABLE)
    if len(media.formats) > limits.max_payload_types:
        raise NotAcceptableHere(f"over {limits.max_payload_types} payload types", INCOMPATIBLE_FORMAT)
    candidates = sum(a.name == "candidate" for a in (*description.attributes, *media.attributes))
    if candidates > limits.max_candidates:
        raise NotAcceptableHere(f"over {limits.max_candidates} ICE candidates", MISCELLANEOUS)
    return description
