"""The SIP side of calls (use cases 1 and 2): each phone leg is an agent on the calling service's bus, carried
by a SIP session on a trunk, its media anchored in the media gateway.

The bridge is the legs' I/O shell: it opens them (``open_leg`` for a call to a number, the user agent's
``incoming`` queue for a phone calling in), routes the gateway's dead-media news to them, and runs each as a
`pstn.leg_driver.LegDriver` around a sans-I/O `pstn.leg.PhoneLeg`, whose transition table (`pstn.leg_table`)
makes every decision:

- Out: the call rings the leg; the leg sends the INVITE over the route's trunks in turn (From and
  P-Asserted-Identity: the caller's own number) with the gateway's plain-RTP offer; 180 -> the call rings,
  183 with SDP -> early media, 200 -> it connects with the gateway's WebRTC answer; a refusal ends it with the
  phone network's reason; the phone hanging up ends it with 0/560000.
- In: screened first (``Screening``: the trunk by source or digest, its limits); then the number's user; the call
  rings every agent of the user with the gateway's WebRTC offer and the caller's number and name; the first agent
  to answer gets the phone's 200; the carrier's CANCEL ends the ringing everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from callbridge import metrics
from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError
from callbridge.calling.policy import PhoneCleared
from callbridge.calling.service import CallingService
from callbridge.logs import Throttled
from callbridge.media.gateway import MediaGateway
from callbridge.pstn.dialin import DialIn
from callbridge.pstn.inbound import TrunkLimits, called_number
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.leg_driver import LegDriver, Ports
from callbridge.pstn.leg_io import MediaDead, PhoneInvite
from callbridge.pstn.legs import Inbox
from callbridge.pstn.screening import Screening
from callbridge.sip.call_sdp import check_call_sdp
from callbridge.sip.offer_answer import NotAcceptableHere
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.sip.useragent_outgoing import OutgoingSession
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.pstn")
throttled = Throttled(log)


class Bridge:
    def __init__(self, calling: CallingService, ua: UserAgent, media: MediaGateway, screening: Screening) -> None:
        self.calling, self.ua, self.media, self.screening = calling, ua, media, screening
        self.dialin: DialIn | None = None  # set by the phone side when meetings' dial-in runs
        self.toll_numbers: frozenset[str] = frozenset()  # calls to these go to the dial-in
        self.limits: TrunkLimits = screening.limits
        self._tasks: set[asyncio.Task[None]] = set()
        self._legs: dict[str, LegDriver] = {}  # leg id -> its driver, while it runs
        self._accepting: asyncio.Task[None] | None = None
        self.trunk_down: Callable[[str], bool] = lambda trunk_id: False  # the keep-alive's verdict, once it runs

    @property
    def ports(self) -> Ports:
        return Ports(self.calling, self.ua, self.media, self.screening, self._invite)

    async def start(self) -> None:
        self.ua.screen = self.screening.screen
        self.media.on_dead_media(self._dead_media)
        self._accepting = asyncio.create_task(self._accept())

    async def stop(self) -> None:
        await cancelled(self._accepting, *self._tasks)

    def _spawn(self, flow: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(flow)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drive(self, driver: LegDriver, first: Any = None) -> None:
        """Run one leg to its end (the dial-in hands over its legs here too)."""
        self._legs[driver.leg] = driver
        try:
            await driver.run(first)
        finally:
            self._legs.pop(driver.leg, None)

    # -- use case 1: a call to a phone number -------------------------------------------------------------------
    async def open_leg(self, cleared: PhoneCleared, offer: str | None, *, direct: bool = False) -> str:
        try:
            check_call_sdp(offer)
        except NotAcceptableHere as exc:
            reason = reasons.BAD_OFFER
            raise CallError(reason.code, reason.sub_code, f"The offer cannot be taken: {exc.detail}.") from None
        leg = f"pstn-{uuid.uuid4().hex[:16]}"
        metrics.PHONE_LEGS.labels("out").inc()
        inbox = Inbox()
        inbox.listen_to_call(self.calling.attach_leg(leg, cleared.callee_raw_id))
        trunk_ids = [trunk_id for trunk_id in cleared.trunk_ids if self.screening.trunk(trunk_id) is not None]
        machine = PhoneLeg.outbound_leg(trunk_ids, self.trunk_down, direct=direct)  # trunks disabled since: out
        self._spawn(self.drive(LegDriver(self.ports, leg, machine, inbox, cleared=cleared)))
        return leg

    async def _invite(self, trunk: Any, cleared: PhoneCleared | None, plain: str) -> OutgoingSession:
        """The INVITE to the cleared number over ``trunk``: From and P-Asserted-Identity carry the caller's own
        number; the trunk's outbound credentials answer a challenge."""
        assert cleared is not None
        local = self.ua.local(trunk.transport.upper())
        caller = f"sip:{cleared.caller_number}@{local.host}"
        headers = (("P-Asserted-Identity", f'"{cleared.caller_name}" <{caller};user=phone>'),)
        credentials = ((trunk.outbound_username, trunk.outbound_password) if trunk.outbound_username else None)
        return await self.ua.call(f"sip:{cleared.number}@{trunk.host}:{trunk.port};user=phone", from_uri=caller,
                                  from_name=cleared.caller_name, sdp=plain,
                                  destination=Address(trunk.host, trunk.port, trunk.transport.upper()),
                                  headers=headers, credentials=credentials)

    # -- use case 2: a phone calls a user's number --------------------------------------------------------------
    async def _accept(self) -> None:
        while True:
            session = await self.ua.incoming.get()
            self._spawn(self._inbound(session))

    async def _inbound(self, session: IncomingSession) -> None:
        trunk = self.screening.admitted(session.call_id)
        if trunk is None:  # screened out meanwhile (it should not happen): refuse rather than guess
            return session.decline(503, "Service Unavailable")
        if called_number(getattr(session.request_uri, "user", None)) in self.toll_numbers:
            if self.dialin is None:
                return session.decline(503, "Service Unavailable")  # no prompts (espeak-ng missing): said at start
            return await self.dialin.answer(session)
        leg = f"pstn-{uuid.uuid4().hex[:16]}"
        machine = PhoneLeg.inbound_leg(trunk, *session.caller)
        driver = LegDriver(self.ports, leg, machine, Inbox(), session=session, trunk=trunk)
        await self.drive(driver, PhoneInvite(session.offer, getattr(session.request_uri, "user", None)))

    # -- both -----------------------------------------------------------------------------------------------------
    def _dead_media(self, leg: str) -> None:
        """No RTP from the phone for the configured time: the leg hears of it (and ends its call, 410/301005)."""
        driver = self._legs.get(leg)
        if driver is not None:
            throttled.warning("dead media on a phone leg", extra={"leg": leg, "call_id": driver.machine.call_id})
            driver.inbox.own.put_nowait(MediaDead())
