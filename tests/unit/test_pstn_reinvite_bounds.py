"""A phone's re-INVITE whose offer is more than one call needs is refused (488) before the media gateway sees it:
a connected leg's driver with a gateway that counts what it is asked, and a session that keeps its answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from callbridge.calling.protocol import CallCommand
from callbridge.media.gateway import Side
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.leg_driver import LegDriver, Ports
from callbridge.pstn.leg_table import LegState
from callbridge.pstn.legs import Inbox
from callbridge.sip.offer_answer import build_offer
from callbridge.sip.useragent_events import Reinvited

OFFER = str(build_offer("127.0.0.1", 49_170))


class CountingGateway:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Side]] = []

    async def offer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        self.asked.append(("offer", towards))
        return OFFER

    async def answer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        self.asked.append(("answer", towards))
        return OFFER


class Session:
    remote_sdp: str | None = None
    local_sdp: str | None = OFFER

    def __init__(self) -> None:
        self.rejected: int | None = None
        self.accepted: str | None = None

    def reject_reinvite(self, status: int) -> None:
        self.rejected = status

    def accept_reinvite(self, sdp: str) -> None:
        self.accepted = sdp


class Calling:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def command(self, leg: str, cmd: CallCommand) -> None:
        self.sent.append(cmd.kind.value)


def driver(media: CountingGateway, session: Session, calling: Calling | None = None) -> Any:
    """A connected leg's driver, the agent's last SDP being ``OFFER``."""
    leg = PhoneLeg(LegState.CONNECTED, outbound=False)
    leg.call_id, leg.peer_sdp = "call", OFFER
    ports = Ports(calling or SimpleNamespace(), SimpleNamespace(), media, SimpleNamespace(limits=None))  # type: ignore[arg-type]
    return LegDriver(ports, "leg", leg, Inbox(), session=session)  # type: ignore[arg-type]


async def test_a_reinvite_of_many_streams_gets_488_and_the_gateway_is_not_asked() -> None:
    media, session = CountingGateway(), Session()
    many = OFFER.replace("o=- ", "o=other ") + "".join(f"m=audio {50_000 + 2 * i} RTP/AVP 0\r\n" for i in range(123))
    await driver(media, session).feed(Reinvited(many))
    assert (session.rejected, session.accepted, media.asked) == (488, None, [])


async def test_a_reinvite_of_one_audio_stream_reaches_the_gateway() -> None:
    media, session, calling = CountingGateway(), Session(), Calling()
    sent = calling.sent
    await driver(media, session, calling).feed(Reinvited(OFFER.replace("a=sendrecv", "a=sendonly")))
    assert session.accepted is not None and media.asked == [("offer", Side.AGENT), ("answer", Side.TRUNK)]
    assert sent == ["hold"]
