"""The SDP a phone leg keeps of its WebRTC side (the agent's), and what it makes of it for re-offers and answers:
pure functions on `sip.sdp` values, each leaving an SDP it cannot read as it is."""

from __future__ import annotations

from dataclasses import replace

from callbridge.sip.offer_answer import with_direction
from callbridge.sip.sdp import Attribute, Direction, SdpError, SessionDescription


def same_version(offer: str, previous: str | None) -> bool:
    """Whether ``offer`` is ``previous`` again: the same o= line, session version included (RFC 3264 section 8)."""
    try:
        return previous is not None and SessionDescription.parse(offer).origin == SessionDescription.parse(
            previous).origin
    except SdpError:
        return False


def settled_setup(agent_offer: str, gateway_answer: str) -> str:
    """The agent's offer as the answer it now amounts to: ``a=setup:actpass`` becomes the DTLS role the agent took,
    the opposite of the gateway's (RFC 8842 5.3), so it can answer the gateway's later re-offers."""
    try:
        agent, gateway = SessionDescription.parse(agent_offer), SessionDescription.parse(gateway_answer)
    except SdpError:
        return agent_offer
    theirs = next((value for media in gateway.media for value in media.values("setup")),
                  next((a.value for a in gateway.attributes if a.name == "setup"), None))
    role = {"active": "passive", "passive": "active"}.get(theirs or "")
    if role is None:
        return agent_offer

    def settled(attributes: tuple[Attribute, ...]) -> tuple[Attribute, ...]:
        return tuple(Attribute("setup", role) if (a.name, a.value) == ("setup", "actpass") else a for a in attributes)

    return str(replace(agent, attributes=settled(agent.attributes),
                       media=tuple(replace(media, attributes=settled(media.attributes)) for media in agent.media)))


def directed(sdp: str, direction: Direction) -> str:
    """``sdp`` with every active m-line set to ``direction`` (left as it is if it cannot be read)."""
    try:
        return str(with_direction(SessionDescription.parse(sdp), direction))
    except SdpError:
        return sdp
