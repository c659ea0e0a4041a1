"""The SIP side of calls (use cases 1 and 2): each phone leg is an agent on the calling service's bus, carried
by a SIP session on a trunk, its media anchored in the media gateway.

- Out (``open_leg``): the call rings the leg; the leg sends the INVITE over the trunk (From and
  P-Asserted-Identity: the caller's own number) with the gateway's plain-RTP offer; 180 -> the call rings,
  200 -> it connects with the gateway's WebRTC answer; a refusal ends it with the phone network's reason; the
  phone hanging up ends it with 0/560000.
- In (``ua.incoming``): screened first (``Screening``: the trunk by source or digest, its limits); then the number's
  user; the call rings every agent of the user with the gateway's WebRTC offer and the caller's number and name;
  the first agent to answer gets the phone's 200; the carrier's CANCEL ends the ringing everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from callbridge import metrics
from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError, Leg
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.events import CallDtmf, CallIncoming, CallIncomingEnded, CallSdp, CallStateChanged, Event
from callbridge.calling.policy import PhoneCleared
from callbridge.calling.protocol import Accept, CallCommand, CallCommandKind, EarlyMedia, HangUp, Reject
from callbridge.calling.service import CallingService
from callbridge.calling.states import CallState
from callbridge.logs import Throttled
from callbridge.media.errors import BadSdp, MediaError
from callbridge.media.gateway import MediaGateway, Side
from callbridge.pstn.inbound import CALLED_USER, InboundRoute, Refusal, TrunkLimits, called_number, judge_user
from callbridge.pstn.legs import FromCall, FromPhone, Inbox
from callbridge.pstn.screening import Screening
from callbridge.sip.call_sdp import check_call_sdp
from callbridge.sip.offer_answer import NotAcceptableHere, is_hold, with_direction
from callbridge.sip.sdp import Attribute, Direction, SdpError, SessionDescription
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_events import Answered, Cancelled, Ended, Failed, Reinvited, ReinviteFailed, Ringing
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.sip.useragent_outgoing import OutgoingSession
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.pstn")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

# why a call to a user ended before an answer -> what the phone network hears
_INBOUND_STATUS = {(603, 0): (603, "Decline"), (487, 0): (487, "Request Terminated")}
_HOLD_STATES = (CallState.REMOTE_HOLD, CallState.CONNECTED)  # the agent held, or resumed: the phone is re-invited
K = CallCommandKind


WARN_AGENT = "callbridge"  # the warn-agent of Warning header fields (RFC 3261 section 20.43: a pseudonym)
FAILOVER_STATUSES: Final = frozenset({408, 500, 503, 504})  # the trunk (not the phone) failed: try the next


@dataclass
class _Attempt:
    """A call's INVITE over one trunk."""

    session: OutgoingSession
    may_fail_over: bool  # another trunk is left to try
    rang: bool = False  # a 18x came: the far end was reached, so its failure is the call's
    early: bool = False  # a 183 carried the answer (early media): the agent has it already


class Bridge:
    def __init__(self, calling: CallingService, ua: UserAgent, media: MediaGateway, screening: Screening) -> None:
        self.calling, self.ua, self.media, self.screening = calling, ua, media, screening
        self.limits: TrunkLimits = screening.limits
        self._legs: set[asyncio.Task[None]] = set()
        self._agent_sdp: dict[str, str] = {}  # leg -> the agent's last SDP (for re-offers on hold and resume)
        self._held: dict[str, bool] = {}  # leg -> whether the agent holds the phone
        self._calls: dict[str, str] = {}  # leg -> its call, while both live
        self._accepting: asyncio.Task[None] | None = None
        self.trunk_down: Callable[[str], bool] = lambda trunk_id: False  # the keep-alive's verdict, once it runs

    async def start(self) -> None:
        self.ua.screen = self.screening.screen
        self.media.on_dead_media(self._dead_media)
        self._accepting = asyncio.create_task(self._accept())

    async def stop(self) -> None:
        await cancelled(self._accepting, *self._legs)

    def _spawn(self, flow: Any) -> None:
        task = asyncio.create_task(flow)
        self._legs.add(task)
        task.add_done_callback(self._legs.discard)

    # -- use case 1: a call to a phone number -------------------------------------------------------------------
    async def open_leg(self, cleared: PhoneCleared, offer: str | None) -> str:
        try:
            check_call_sdp(offer)
        except NotAcceptableHere as exc:
            reason = reasons.BAD_OFFER
            raise CallError(reason.code, reason.sub_code, f"The offer cannot be taken: {exc.detail}.") from None
        leg = f"pstn-{uuid.uuid4().hex[:16]}"
        metrics.PHONE_LEGS.labels("out").inc()
        inbox = Inbox(self.calling.attach_leg(leg, cleared.callee_raw_id))
        self._spawn(self._outbound(leg, inbox, cleared))
        return leg

    async def _outbound(self, leg: str, inbox: Inbox, cleared: PhoneCleared) -> None:
        call_id, attempt = "", None
        try:
            first = await inbox.next()
            assert isinstance(first, FromCall) and isinstance(first.event, CallIncoming)
            call_id = first.event.call_id
            self._agent_sdp[leg] = first.event.sdp or ""
            self._calls[leg] = call_id
            plain = await self.media.offer(leg, self._agent_sdp[leg], towards=Side.TRUNK)
            failure, trunks = reasons.TRUNK_BUSY, self._failover_order(cleared.trunk_ids)
            for n, trunk in enumerate(trunks):
                if self.limits.admit(trunk, self.calling.clock.now()) is not None:
                    continue
                self.limits.opened(trunk.id)
                try:
                    try:
                        session = await self._invite(trunk, cleared, plain)
                    except ValueError as exc:  # a transport SIP does not listen on here (`admin trunk` warns)
                        throttled.error("trunk unusable", extra={"leg": leg, "trunk": trunk.name, "why": str(exc)})
                        continue
                    attempt = _Attempt(session, may_fail_over=n < len(trunks) - 1)
                    self.calling.note_trunk_call(call_id, attempt.session.call_id)
                    inbox.listen_to(attempt.session.next_event)
                    if (trunk_failed := await self._outbound_events(leg, call_id, inbox, attempt)) is None:
                        return
                finally:
                    self.limits.closed(trunk.id)
                failure = trunk_failed
                metrics.TRUNK_FAILOVERS.labels(trunk.name).inc()
                throttled.warning("trunk failed the call: the next one is tried",
                                  extra={"leg": leg, "trunk": trunk.name, "status": failure.code})
            # no trunk took it (or none was free)
            await self._command(leg, CallCommand(K.REJECT, call_id, Reject(failure)))
        except Exception as exc:
            _leg_failed(exc, leg, call_id)
            await self._give_up(leg, call_id, reasons.TRUNK_BUSY)
            if attempt is not None:
                with contextlib.suppress(Exception):  # the far end may be gone already
                    await attempt.session.hang_up()
        finally:
            await self._close_leg(leg, inbox)

    def _failover_order(self, trunk_ids: tuple[str, ...]) -> list[Any]:
        """The policy's trunks as the current snapshot has them (one disabled since is left out), those whose last
        keep-alive failed moved to the end."""
        trunks = [trunk for trunk in map(self.screening.trunk, trunk_ids) if trunk is not None]
        return sorted(trunks, key=lambda trunk: self.trunk_down(trunk.id))

    async def _invite(self, trunk: Any, cleared: PhoneCleared, plain: str) -> OutgoingSession:
        local = self.ua.local(trunk.transport.upper())
        caller = f"sip:{cleared.caller_number}@{local.host}"
        headers = (("P-Asserted-Identity", f'"{cleared.caller_name}" <{caller};user=phone>'),)
        credentials = ((trunk.outbound_username, trunk.outbound_password) if trunk.outbound_username else None)
        return await self.ua.call(f"sip:{cleared.number}@{trunk.host}:{trunk.port};user=phone", from_uri=caller,
                                  from_name=cleared.caller_name, sdp=plain,
                                  destination=Address(trunk.host, trunk.port, trunk.transport.upper()),
                                  headers=headers, credentials=credentials)

    async def _outbound_events(self, leg: str, call_id: str, inbox: Inbox, attempt: _Attempt) -> EndReason | None:
        """The call over one trunk, to its end (None), or the trunk's own failure when another trunk may take it."""
        session = attempt.session
        while True:
            item = await inbox.next()
            if isinstance(item, FromPhone):
                event = item.event
                if isinstance(event, Ringing):
                    await self._phone_rings(leg, call_id, event, attempt)
                elif isinstance(event, Answered):
                    await self._phone_answered(leg, call_id, event, attempt.early)
                elif isinstance(event, Failed):
                    return await self._phone_failed(leg, call_id, event, attempt)
                elif isinstance(event, Ended):
                    await self._command(leg, CallCommand(K.HANG_UP, call_id, HangUp(reasons.PHONE_HUNG_UP)))
                    return None
                elif isinstance(event, Reinvited):
                    await self._phone_reinvited(leg, call_id, session, event.offer)
                continue
            if isinstance(item.event, CallIncomingEnded):  # the caller cancelled, or nobody answered in time
                session.cancel()
                return None
            if isinstance(item.event, CallStateChanged) and item.event.state is CallState.DISCONNECTED:
                await session.hang_up()
                return None
            await self._from_call(leg, item.event, session)

    async def _phone_rings(self, leg: str, call_id: str, event: Ringing, attempt: _Attempt) -> None:
        """A 180, or a 183 whose SDP starts early media (the first one does)."""
        attempt.rang = True
        if event.sdp and not attempt.early:
            attempt.early = True
            answer = await self._answer_agent(leg, event.sdp)
            return await self._command(leg, CallCommand(K.EARLY_MEDIA, call_id, EarlyMedia(answer)))
        await self._command(leg, CallCommand(K.ALERTING, call_id))

    async def _phone_failed(self, leg: str, call_id: str, event: Failed, attempt: _Attempt) -> EndReason | None:
        """A final failure ends the call, unless the trunk itself failed (408, 500, 503 or 504 before any 18x)
        and another trunk is left: then that reason is returned, and the next trunk is tried."""
        reason = reasons.from_phone(event.status)
        if attempt.may_fail_over and not attempt.rang and event.status in FAILOVER_STATUSES:
            return reason
        await self._command(leg, CallCommand(K.REJECT, call_id, Reject(reason)))
        return None

    async def _phone_answered(self, leg: str, call_id: str, event: Answered, early: bool) -> None:
        """The 200: the agent gets the gateway's answer, unless early media gave it already (RFC 3261 13.2.1: the
        2xx repeats the early answer)."""
        answer = None if early else await self._answer_agent(leg, event.sdp or "")
        await self._command(leg, CallCommand(K.ACCEPT, call_id, Accept(answer)))

    async def _answer_agent(self, leg: str, phone_answer: str) -> str:
        """The phone's answer through the gateway: the agent's answer, its own offer now settled to it."""
        check_call_sdp(phone_answer)
        answer = await self.media.answer(leg, phone_answer, towards=Side.AGENT)
        self._agent_sdp[leg] = _settled_setup(self._agent_sdp[leg], answer)
        return answer

    # -- use case 2: a phone calls a user's number --------------------------------------------------------------
    async def _accept(self) -> None:
        while True:
            session = await self.ua.incoming.get()
            self._spawn(self._inbound(session))

    async def _inbound(self, session: IncomingSession) -> None:
        trunk = self.screening.admitted(session.call_id)
        if trunk is None:  # screened out meanwhile (it should not happen): refuse rather than guess
            return session.decline(503, "Service Unavailable")
        try:  # before anything is allocated: one audio stream within limits, and no late offer
            check_call_sdp(session.offer)
        except NotAcceptableHere as exc:
            log.info("INVITE refused: its offer", extra={"sip_call_id": session.call_id, "why": exc.detail})
            return session.decline(exc.status, exc.reason_phrase, headers=(("Warning", exc.warning(WARN_AGENT)),))
        routed, callee_raw_id = await self._route(session, trunk)
        caller_number, caller_name = session.caller
        caller_raw_id = f"4:{caller_number or 'anonymous'}"
        if isinstance(routed, Refusal):
            status = routed.status or 404
            if callee_raw_id is not None:  # a number was called: the refused call is recorded
                self.calling.record_refused(caller_raw_id, callee_raw_id, trunk.tenant_id, status, 0, session.call_id)
            return session.decline(status, routed.reason)
        leg, call_id = f"pstn-{uuid.uuid4().hex[:16]}", ""
        metrics.PHONE_LEGS.labels("in").inc()
        inbox = Inbox(self.calling.attach_leg(leg, caller_raw_id))
        self.limits.opened(trunk.id)
        try:
            offer = await self.media.offer(leg, session.offer or "", towards=Side.AGENT)
            callee = Leg(f"8:orgid:{routed.user_id}", routed.user_name, routed.tenant_id)
            call_id = await self.calling.start_from_phone(leg, Leg(caller_raw_id, caller_name, None), callee, offer)
            self.calling.note_trunk_call(call_id, session.call_id)
            self._calls[leg] = call_id
            inbox.listen_to(session.next_event)
            await self._inbound_events(leg, call_id, inbox, session)
        except Exception as exc:
            _leg_failed(exc, leg, call_id)
            await self._give_up(leg, call_id, reasons.TRUNK_BUSY)
            with contextlib.suppress(Exception):  # the INVITE may have its answer, or the dialog be gone
                if not session.answered and isinstance(exc, BadSdp):
                    session.decline(488, "Not Acceptable Here")  # the phone's offer is none the gateway can take
                elif not session.answered:
                    session.decline(503, "Service Unavailable")
                else:
                    await session.hang_up()
        finally:
            self.limits.closed(trunk.id)
            await self._close_leg(leg, inbox)

    async def _route(self, session: IncomingSession, trunk: Any) -> tuple[InboundRoute | Refusal, str | None]:
        """Who the call is for, and the raw id of the callee for its record: the user when the number is one of
        the trunk's tenant's, else the number (None when the Request-URI names no number)."""
        number = called_number(getattr(session.request_uri, "user", None))
        if number is None:
            return Refusal(404, "Not Found"), None
        rows = await self.calling.db.prepared(CALLED_USER)({"number": number})
        user = rows[0] if rows else None
        callee = f"8:orgid:{user.id}" if user is not None and user.tenant_id == trunk.tenant_id else f"4:{number}"
        return judge_user(user, trunk, number), callee

    async def _inbound_events(self, leg: str, call_id: str, inbox: Inbox, session: IncomingSession) -> None:
        rang = False
        while True:
            item = await inbox.next()
            if isinstance(item, FromPhone):
                if isinstance(item.event, Cancelled):
                    return await self._command(leg, CallCommand(K.HANG_UP, call_id))
                if isinstance(item.event, Ended):
                    return await self._command(leg, CallCommand(K.HANG_UP, call_id, HangUp(reasons.PHONE_HUNG_UP)))
                if isinstance(item.event, Reinvited):
                    await self._phone_reinvited(leg, call_id, session, item.event.offer)
                continue
            told = item.event
            if isinstance(told, CallStateChanged) and told.state is CallState.RINGING and not rang:
                session.ring()
                rang = True
            elif isinstance(told, CallSdp) and not session.answered:
                check_call_sdp(told.sdp)
                self._agent_sdp[leg] = told.sdp
                session.answer(await self.media.answer(leg, told.sdp, towards=Side.TRUNK))
            elif isinstance(told, CallStateChanged) and told.state is CallState.DISCONNECTED:
                return await self._ended_by_call(session, told.end_reason)
            else:
                await self._from_call(leg, told, session)

    async def _ended_by_call(self, session: IncomingSession, reason: EndReason | None) -> None:
        if session.answered:
            await session.hang_up()
            return
        status, phrase = _INBOUND_STATUS.get((reason.code, reason.sub_code) if reason else (0, 0),
                                             (480, "Temporarily Unavailable"))
        session.decline(status, phrase)

    # -- both -----------------------------------------------------------------------------------------------------
    async def _from_call(self, leg: str, event: Event, session: OutgoingSession | IncomingSession) -> None:
        """What a connected call tells its phone leg: DTMF to send, and the agent holding or resuming (the phone is
        re-invited sendonly, then sendrecv: RFC 3264 8.4)."""
        if isinstance(event, CallDtmf):
            await self.media.send_dtmf(leg, event.tone)
        elif isinstance(event, CallStateChanged) and event.state in _HOLD_STATES and session.answered:
            held = event.state is CallState.REMOTE_HOLD
            if self._held.get(leg, False) != held:
                self._held[leg] = held
                await self._reinvite_phone(leg, session, Direction.SENDONLY if held else Direction.SENDRECV)

    async def _reinvite_phone(self, leg: str, session: OutgoingSession | IncomingSession,
                              direction: Direction) -> None:
        agent_sdp = _directed(self._agent_sdp.get(leg, ""), direction)
        plain = await self.media.offer(leg, agent_sdp, towards=Side.TRUNK)
        try:
            answer = await session.reinvite(plain)
        except ReinviteFailed as exc:
            throttled.warning("the phone refused the re-INVITE", extra={"leg": leg, "status": exc.status})
            return
        if answer:
            await self.media.answer(leg, answer, towards=Side.AGENT)

    async def _phone_reinvited(self, leg: str, call_id: str, session: OutgoingSession | IncomingSession,
                               offer: str | None) -> None:
        """The phone holds (sendonly or inactive) or resumes: its new offer goes through the gateway, the agent's
        last SDP answers it with the mirrored direction, and the call shows the hold. A session refresh (RFC 4028:
        no SDP, or the last one again, RFC 3264 8) gets the current SDP and changes nothing. An offer the gateway
        cannot take is refused (488) and the call goes on as it was."""
        if not offer or _same_version(offer, session.remote_sdp):
            return session.accept_reinvite(session.local_sdp or "")
        try:
            held = is_hold(check_call_sdp(offer))
            await self.media.offer(leg, offer, towards=Side.AGENT)
            agent_answer = _directed(self._agent_sdp.get(leg, ""), Direction.RECVONLY if held else Direction.SENDRECV)
            answer = await self.media.answer(leg, agent_answer, towards=Side.TRUNK)
        except (SdpError, MediaError, NotAcceptableHere) as exc:
            throttled.warning("phone re-INVITE refused", extra={"leg": leg, "call_id": call_id, "why": str(exc)})
            return session.reject_reinvite(488)
        session.accept_reinvite(answer)
        await self._command(leg, CallCommand(K.HOLD if held else K.RESUME, call_id))

    async def _command(self, leg: str, cmd: CallCommand) -> None:
        try:
            await self.calling.command(leg, cmd)
        except CallError as exc:  # the call moved on meanwhile (ended, answered elsewhere): nothing to do
            log.info("phone leg command not taken", extra={"leg": leg, "command": cmd.kind.value, "why": str(exc)})

    async def _give_up(self, leg: str, call_id: str, reason: EndReason) -> None:
        """End the call from the phone leg's side, whatever it has come to: a refusal while the leg rings, else a
        hang-up (nothing when the call has ended, or never started)."""
        for cmd in (CallCommand(K.REJECT, call_id, Reject(reason)), CallCommand(K.HANG_UP, call_id, HangUp(reason))):
            try:
                return await self.calling.command(leg, cmd)
            except CallError:
                continue

    def _dead_media(self, leg: str) -> None:
        """No RTP from the phone for the configured time: the call ends (410/301005), which hangs the phone up."""
        call_id = self._calls.get(leg)
        if call_id is not None:
            throttled.warning("dead media on a phone leg", extra={"leg": leg, "call_id": call_id})
            self._spawn(self._command(leg, CallCommand(K.HANG_UP, call_id, HangUp(reasons.MEDIA_LOST))))

    async def _close_leg(self, leg: str, inbox: Inbox) -> None:
        self._calls.pop(leg, None)
        self._agent_sdp.pop(leg, None)
        self._held.pop(leg, None)
        await inbox.close()
        with contextlib.suppress(Exception):
            await self.media.delete(leg)
        self.calling.detach_leg(leg)


def _same_version(offer: str, previous: str | None) -> bool:
    """Whether ``offer`` is ``previous`` again: the same o= line, session version included (RFC 3264 section 8)."""
    try:
        return previous is not None and SessionDescription.parse(offer).origin == SessionDescription.parse(
            previous).origin
    except SdpError:
        return False


def _settled_setup(agent_offer: str, gateway_answer: str) -> str:
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


def _directed(sdp: str, direction: Direction) -> str:
    """``sdp`` with every active m-line set to ``direction`` (left as it is if it cannot be read)."""
    try:
        return str(with_direction(SessionDescription.parse(sdp), direction))
    except SdpError:
        return sdp


def _leg_failed(exc: Exception, leg: str, call_id: str) -> None:
    """One line for a leg that failed inside callbridge, from its ``except`` block: a warning when media or an SDP
    was refused (the gateway down or refusing, an offer or answer out of bounds), a traceback only for anything
    else (a bug). Both throttled: a peer can repeat them at will."""
    extra = {"leg": leg, "call_id": call_id, "why": str(exc)[:200]}
    if isinstance(exc, MediaError | SdpError | NotAcceptableHere):
        throttled.warning("phone leg failed: media refused", extra=extra)
    else:
        throttled.exception("phone leg failed: a bug", extra=extra)
