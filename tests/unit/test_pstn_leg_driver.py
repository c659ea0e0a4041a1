"""The phone leg's I/O shell (`pstn.leg_driver`) on a real event loop with stand-ins for the call, the gateway and
the SIP session: outcomes go back into the machine before the next news, and the leg's timer wakes the driver
(the glare back-off after a 491, RFC 3261 14.1, drawn here at 30 ms)."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace
from typing import Any

from callbridge.calling import end_reasons as reasons
from callbridge.calling.events import CallStateChanged, Event
from callbridge.calling.protocol import CallCommand
from callbridge.calling.states import CallState
from callbridge.media.gateway import Side
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.leg_driver import LegDriver, Ports
from callbridge.pstn.leg_table import LegState
from callbridge.pstn.legs import Inbox
from callbridge.sip.offer_answer import build_offer
from callbridge.sip.useragent_events import ReinviteFailed

OFFER = str(build_offer("127.0.0.1", 49_170))
GLARE_30_MS = random.Random(31)  # glare_delay(False, ...) draws 0.03 s first


class Gateway:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Side, str]] = []
        self.deleted = 0

    async def offer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        self.asked.append(("offer", towards, sdp))
        return OFFER

    async def answer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        self.asked.append(("answer", towards, sdp))
        return OFFER

    async def delete(self, session_id: str) -> None:
        self.deleted += 1


class Session:
    """A connected phone that answers our first re-INVITE 491 (its own crossed ours), the next one 200."""

    local_sdp: str | None = OFFER
    remote_sdp: str | None = OFFER
    answered = True

    def __init__(self) -> None:
        self.reinvites: list[str] = []
        self.hung_up = False

    async def reinvite(self, sdp: str) -> str | None:
        self.reinvites.append(sdp)
        if len(self.reinvites) == 1:
            raise ReinviteFailed(491, "Request Pending")
        return OFFER

    async def hang_up(self) -> None:
        self.hung_up = True


class Calling:
    def __init__(self) -> None:
        self.sent: list[CallCommand] = []
        self.detached: list[str] = []

    async def command(self, leg: str, cmd: CallCommand) -> None:
        self.sent.append(cmd)

    def detach_leg(self, leg: str) -> None:
        self.detached.append(leg)


async def test_a_reinvite_answered_491_goes_again_when_the_glare_timer_fires() -> None:
    gateway, session, calling = Gateway(), Session(), Calling()
    machine = PhoneLeg(LegState.CONNECTED, outbound=False, rng=GLARE_30_MS)
    machine.call_id, machine.peer_sdp = "call", OFFER
    call: asyncio.Queue[Event] = asyncio.Queue()
    inbox = Inbox()
    inbox.listen_to_call(call)
    ports = Ports(calling, SimpleNamespace(), gateway, SimpleNamespace(limits=None))  # type: ignore[arg-type]
    driver: Any = LegDriver(ports, "leg", machine, inbox, session=session)  # type: ignore[arg-type]
    driver._attached = True
    running = asyncio.create_task(driver.run())
    call.put_nowait(CallStateChanged("call", CallState.REMOTE_HOLD))
    async with asyncio.timeout(2):
        while len(session.reinvites) < 2 or machine.state is not LegState.CONNECTED:
            await asyncio.sleep(0.005)
    call.put_nowait(CallStateChanged("call", CallState.DISCONNECTED, reasons.HUNG_UP))
    async with asyncio.timeout(2):
        await running
    assert len(session.reinvites) == 2
    assert all("a=sendonly" in sdp for kind, _, sdp in gateway.asked if kind == "offer")  # the hold, both times
    assert [(kind, side) for kind, side, _ in gateway.asked] == [("offer", Side.TRUNK), ("offer", Side.TRUNK),
                                                                 ("answer", Side.AGENT)]
    assert session.hung_up and gateway.deleted == 1 and calling.detached == ["leg"] and machine.ended
