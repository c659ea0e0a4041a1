"""A phone's re-INVITE whose offer is more than one call needs is refused (488) before the media gateway sees it:
the bridge with a gateway that counts what it is asked, and a session that keeps its answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from callbridge.calling.protocol import CallCommand
from callbridge.media.gateway import Side
from callbridge.pstn.bridge import Bridge
from callbridge.sip.offer_answer import build_offer

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


def bridge(media: CountingGateway) -> Any:
    found = Bridge(SimpleNamespace(), SimpleNamespace(), media, SimpleNamespace(limits=None))  # type: ignore[arg-type]
    found._agent_sdp["leg"] = OFFER
    return found


async def test_a_reinvite_of_many_streams_gets_488_and_the_gateway_is_not_asked() -> None:
    media, session = CountingGateway(), Session()
    many = OFFER.replace("o=- ", "o=other ") + "".join(f"m=audio {50_000 + 2 * i} RTP/AVP 0\r\n" for i in range(123))
    await bridge(media)._phone_reinvited("leg", "call", session, many)
    assert (session.rejected, session.accepted, media.asked) == (488, None, [])


async def test_a_reinvite_of_one_audio_stream_reaches_the_gateway() -> None:
    media, session = CountingGateway(), Session()
    sent: list[str] = []
    found = bridge(media)

    async def command(leg: str, cmd: CallCommand) -> None:
        sent.append(cmd.kind.value)

    found._command = command
    await found._phone_reinvited("leg", "call", session, OFFER.replace("a=sendrecv", "a=sendonly"))
    assert session.accepted is not None and media.asked == [("offer", Side.AGENT), ("answer", Side.TRUNK)]
    assert sent == ["hold"]
