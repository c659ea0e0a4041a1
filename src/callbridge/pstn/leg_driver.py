"""The I/O of one phone leg: reads its inbox, feeds each item to its `PhoneLeg` and carries out the actions, each
outcome fed back before the next item is read. Nothing here decides; a failure inside callbridge (a bug, an I/O
error no action expected) ends the call at once with 503/560503 and the phone with a 503 or a BYE."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from callbridge import metrics
from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError, Leg
from callbridge.calling.policy import PhoneCleared
from callbridge.calling.protocol import CallCommand, CallCommandKind, HangUp, Reject
from callbridge.calling.service import CallingService
from callbridge.logs import Throttled
from callbridge.media.errors import BadSdp, MediaError
from callbridge.media.gateway import MediaGateway
from callbridge.pstn import leg_io as io
from callbridge.pstn.inbound import CALLED_USER
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.legs import Inbox, News
from callbridge.pstn.screening import Screening
from callbridge.sip.offer_answer import NotAcceptableHere
from callbridge.sip.sdp import SdpError
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_events import Reinvited, ReinviteFailed
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.sip.useragent_outgoing import OutgoingSession

log = logging.getLogger("callbridge.pstn")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind
K = CallCommandKind


async def _no_invite(trunk: Any, cleared: PhoneCleared | None, plain: str) -> OutgoingSession:
    raise ValueError("this leg places no calls")


@dataclass(frozen=True)
class Ports:
    calling: CallingService
    ua: UserAgent
    media: MediaGateway
    screening: Screening
    invite: Callable[[Any, PhoneCleared | None, str], Awaitable[OutgoingSession]] = _no_invite  # the trunk's INVITE


class LegDriver:
    def __init__(self, ports: Ports, leg: str, machine: PhoneLeg, inbox: Inbox, *,
                 session: IncomingSession | None = None, trunk: Any = None, cleared: PhoneCleared | None = None,
                 attached: bool = False) -> None:
        self.ports, self.leg, self.machine, self.inbox = ports, leg, machine, inbox
        self.session: IncomingSession | OutgoingSession | None = session
        self.cleared = cleared
        self._trunk: Any = None  # the trunk whose place (a concurrent call) the leg holds
        self._inbound_trunk = trunk  # in: the trunk the INVITE came through
        self._attached = attached or cleared is not None  # an outbound (or dialled-in) leg is on the bus already
        self._media: bool = False  # the gateway has (or may have) a session for the leg
        self._do: dict[type, Callable[[Any], Awaitable[io.LegInput | None]]] = {
            io.MediaOffer: self._media_offer, io.MediaAnswer: self._media_answer, io.Invite: self._invite,
            io.Reinvite: self._reinvite, io.LookUpNumber: self._look_up, io.PlaceCall: self._place_call,
            io.Command: self._command, io.SendDtmf: self._send_dtmf, io.DeleteMedia: self._delete_media,
            io.HangUpPhone: self._hang_up, io.TakeTrunkPlace: self._take_place, io.FailedOver: self._failed_over,
            io.RecordRefused: self._record_refused}

    async def run(self, first: News | None = None) -> None:
        loop = asyncio.get_running_loop()
        try:
            if first is not None:
                await self.feed(first)
            while not self.machine.ended:
                deadline = self.machine.next_deadline()
                news = await self.inbox.next(None if deadline is None else max(0.0, deadline - loop.time()))
                if news is not None:
                    await self.feed(news)
                elif deadline is not None and loop.time() >= deadline:
                    await self.feed(io.TimerFired())
        except Exception as exc:
            _leg_failed(exc, self.leg, self.machine.call_id)
            await self._give_up(exc)
        finally:
            await self._close()

    async def feed(self, news: News) -> None:
        """One item, and the outcomes of its actions, through the machine."""
        queue: list[News] = [news]
        while queue:
            item = queue.pop(0)
            if isinstance(item, Reinvited):
                assert self.session is not None
                item = io.PhoneReoffered(item.offer, self.session.local_sdp, self.session.remote_sdp)
            for action in self.machine.handle(item, asyncio.get_running_loop().time()):
                outcome = await self._perform(action)
                if outcome is not None:
                    queue.append(outcome)

    async def _perform(self, action: io.Action) -> io.LegInput | None:
        doing = self._do.get(type(action))
        if doing is not None:
            return await doing(action)
        self._sip(action)
        return None

    def _sip(self, action: io.Action) -> None:
        """What the SIP session does at once: answers to its INVITE or re-INVITE, a CANCEL."""
        session = self.session
        assert session is not None
        if isinstance(action, io.Decline):
            assert isinstance(session, IncomingSession)
            if action.warning:
                log.info("INVITE refused: its offer", extra={"sip_call_id": session.call_id, "why": action.warning})
            session.decline(action.status, action.reason, headers=(("Warning", action.warning),) if action.warning
                            else ())
        elif isinstance(action, io.Ring):
            assert isinstance(session, IncomingSession)
            session.ring()
        elif isinstance(action, io.AnswerPhone):
            assert isinstance(session, IncomingSession)
            session.answer(action.sdp)
        elif isinstance(action, io.CancelInvite):
            assert isinstance(session, OutgoingSession)
            session.cancel()
        elif isinstance(action, io.AcceptReinvite):
            session.accept_reinvite(action.sdp)
        elif isinstance(action, io.RejectReinvite):
            throttled.warning("phone re-INVITE refused", extra={"leg": self.leg, "call_id": self.machine.call_id,
                                                                "why": action.why})
            session.reject_reinvite(action.status)
        else:
            raise TypeError(f"no way to carry out {action!r}")

    async def _take_place(self, action: io.TakeTrunkPlace) -> None:
        self._trunk = self._inbound_trunk
        self.ports.screening.limits.opened(self._trunk.id)

    async def _failed_over(self, action: io.FailedOver) -> None:
        metrics.TRUNK_FAILOVERS.labels(self._trunk.name).inc()
        throttled.warning("trunk failed the call: the next one is tried",
                          extra={"leg": self.leg, "trunk": self._trunk.name, "status": action.status})

    async def _record_refused(self, action: io.RecordRefused) -> None:
        assert isinstance(self.session, IncomingSession)
        self.ports.calling.record_refused(action.caller_raw_id, action.callee_raw_id, action.tenant_id,
                                          action.status, 0, self.session.call_id)

    # -- the gateway ------------------------------------------------------------------------------------------
    async def _media_offer(self, action: io.MediaOffer) -> io.LegInput:
        return await self._gateway(self.ports.media.offer(self.leg, action.sdp, towards=action.towards))

    async def _media_answer(self, action: io.MediaAnswer) -> io.LegInput:
        return await self._gateway(self.ports.media.answer(self.leg, action.sdp, towards=action.towards))

    async def _gateway(self, request: Awaitable[str]) -> io.LegInput:
        self._media = True
        try:
            return io.MediaReady(await request)
        except (MediaError, SdpError) as exc:
            throttled.warning("phone leg: media refused", extra={"leg": self.leg, "why": str(exc)[:200]})
            return io.MediaRefused(str(exc)[:200], bad_sdp=isinstance(exc, BadSdp))

    async def _send_dtmf(self, action: io.SendDtmf) -> None:
        await self.ports.media.send_dtmf(self.leg, action.tone)

    async def _delete_media(self, action: io.DeleteMedia | None = None) -> None:
        if self._media:
            self._media = False
            with contextlib.suppress(Exception):
                await self.ports.media.delete(self.leg)

    # -- the trunk --------------------------------------------------------------------------------------------
    async def _invite(self, action: io.Invite) -> io.LegInput | None:
        """The INVITE over the trunk, if it has a place for the call (each attempt holds one until the next)."""
        self._release_trunk()
        trunk = self.ports.screening.trunk(action.trunk_id)
        limits = self.ports.screening.limits
        if trunk is None or limits.admit(trunk, self.ports.calling.clock.now()) is not None:
            return io.TrunkUnusable("disabled since, or at its limits")
        limits.opened(trunk.id)
        self._trunk = trunk
        try:
            session = await self.ports.invite(trunk, self.cleared, action.sdp)
        except ValueError as exc:  # a transport SIP does not listen on here (`admin trunk` warns)
            throttled.error("trunk unusable", extra={"leg": self.leg, "trunk": trunk.name, "why": str(exc)})
            return io.TrunkUnusable(str(exc))
        self.session = session
        self.ports.calling.note_trunk_call(self.machine.call_id, session.call_id)
        self.inbox.listen_to(session.next_event)
        return None

    def _release_trunk(self) -> None:
        if self._trunk is not None:
            self.ports.screening.limits.closed(self._trunk.id)
            self._trunk = None

    async def _reinvite(self, action: io.Reinvite) -> io.LegInput:
        assert self.session is not None
        try:
            return io.ReinviteAnswered(await self.session.reinvite(action.sdp))
        except ReinviteFailed as exc:
            throttled.warning("the phone refused the re-INVITE", extra={"leg": self.leg, "status": exc.status})
            return io.ReinviteRefused(exc.status)

    async def _hang_up(self, action: io.HangUpPhone) -> None:
        assert self.session is not None
        await self.session.hang_up()

    # -- the call ---------------------------------------------------------------------------------------------
    async def _look_up(self, action: io.LookUpNumber) -> io.LegInput:
        rows = await self.ports.calling.db.prepared(CALLED_USER)({"number": action.number})
        return io.NumberFound(rows[0] if rows else None)

    async def _place_call(self, action: io.PlaceCall) -> io.LegInput:
        session, calling = self.session, self.ports.calling
        assert isinstance(session, IncomingSession)
        metrics.PHONE_LEGS.labels("in").inc()
        self.inbox.listen_to_call(calling.attach_leg(self.leg, action.caller_raw_id))
        self._attached = True
        route = action.route
        callee = Leg(f"8:orgid:{route.user_id}", route.user_name, route.tenant_id)
        call_id = await calling.start_from_phone(self.leg, Leg(action.caller_raw_id, action.caller_name, None),
                                                 callee, action.offer)
        calling.note_trunk_call(call_id, session.call_id)
        self.inbox.listen_to(session.next_event)
        return io.CallPlaced(call_id)

    async def _command(self, action: io.Command) -> None:
        try:
            await self.ports.calling.command(self.leg, action.command)
        except CallError as exc:  # the call moved on meanwhile (ended, answered elsewhere): nothing to do
            log.info("phone leg command not taken",
                     extra={"leg": self.leg, "command": action.command.kind.value, "why": str(exc)})

    # -- the end ----------------------------------------------------------------------------------------------
    async def _give_up(self, exc: Exception) -> None:
        """End the call from the leg's side, whatever it has come to (a refusal while the leg rings, else a hang-up),
        and the phone's session (a decline before its answer, else a BYE)."""
        call_id, reason = self.machine.call_id, reasons.TRUNK_BUSY
        for cmd in (CallCommand(K.REJECT, call_id, Reject(reason)), CallCommand(K.HANG_UP, call_id, HangUp(reason))):
            try:
                await self.ports.calling.command(self.leg, cmd)
                break
            except CallError:
                continue
        session = self.session
        with contextlib.suppress(Exception):  # the INVITE may have its answer, or the dialog be gone
            if isinstance(session, IncomingSession) and not session.answered:
                session.decline(488 if isinstance(exc, BadSdp) else 503,
                                "Not Acceptable Here" if isinstance(exc, BadSdp) else "Service Unavailable")
            elif session is not None:
                await session.hang_up()

    async def _close(self) -> None:
        self._release_trunk()
        await self.inbox.close()
        await self._delete_media()  # after a failure: the machine never reached Ended
        if self._attached:
            self.ports.calling.detach_leg(self.leg)


def _leg_failed(exc: Exception, leg: str, call_id: str) -> None:
    """One line for a leg that failed inside callbridge, from its ``except`` block: a warning when media or an SDP
    was refused (the gateway down or refusing, an offer or answer out of bounds), a traceback only for anything
    else (a bug). Both throttled: a peer can repeat them at will."""
    extra = {"leg": leg, "call_id": call_id, "why": str(exc)[:200]}
    if isinstance(exc, MediaError | SdpError | NotAcceptableHere):
        throttled.warning("phone leg failed: media refused", extra=extra)
    else:
        throttled.exception("phone leg failed: a bug", extra=extra)
