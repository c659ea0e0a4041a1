"""The calling service: agents connect and disconnect, commands go to the switchboard after the directory's
checks, messages go out through the bus, timers fire, and ended calls are written as call records."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

from callbridge import metrics
from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import Call, CallError, Leg, Out, Send
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.events import CallStarted, Event, ParticipantAdded
from callbridge.calling.identifiers import Kind, parse_raw_id
from callbridge.calling.meeting import Admission, Meeting, Meetings
from callbridge.calling.mixer_runner import MixerRunner
from callbridge.calling.mixing import DialPhone, Mixer
from callbridge.calling.policy import PhoneCleared, clear_call, clear_phone_call
from callbridge.calling.protocol import AddParticipant, CallCommand, JoinMeeting, StartCall
from callbridge.calling.quota import CallerLimits, CallerQuota
from callbridge.calling.records import CallRecords, refused_record, rows_of
from callbridge.calling.registry import AgentRegistry, Bus
from callbridge.calling.switchboard import Switchboard
from callbridge.clock import Clock
from callbridge.logs import Throttled
from callbridge.store.db import Database
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.calling")
DEFAULT_LIMITS = CallerLimits()
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind


class PhoneNetwork(Protocol):
    """The SIP side (pstn): it opens a phone leg for a cleared call to a number, as an agent on the bus."""

    async def open_leg(self, cleared: PhoneCleared, offer: str | None, *, direct: bool = False) -> str:
        """The leg's id; a ``CallError`` (before anything is allocated) when ``offer`` is not one it can take.
        ``direct``: the offer is the mixer's plain RTP (a group call dials the number), not an agent's."""


class TooManyAgents(Exception):
    """The identity has as many agents connected as it may (``max_agents``): this one is refused."""


class CallingService:
    def __init__(self, db: Database, clock: Clock, registry: AgentRegistry, bus: Bus, ring_time_s: float,
                 grace_s: float, caller_limits: CallerLimits = DEFAULT_LIMITS, max_agents: int = 16) -> None:
        self.db, self.clock, self.registry, self.bus = db, clock, registry, bus
        self.quota, self.max_agents = CallerQuota(caller_limits), max_agents  # max_agents: per identity
        self._quota_held: dict[str, str] = {}  # call -> the caller whose quota place it holds
        self.switchboard = Switchboard(timedelta(seconds=ring_time_s), timedelta(seconds=grace_s),
                                       lambda: str(uuid.uuid4()))
        self._owners: dict[str, str] = {}  # agent id -> raw id, kept while the agent is connected or in a call
        self._generation: dict[str, int] = {}  # agent id -> its current connection (a resume makes a new one)
        self._wake = asyncio.Event()
        self._timers: asyncio.Task[None] | None = None
        self.records = CallRecords(db)
        self.phones: PhoneNetwork | None = None  # set by bootstrap when the SIP side runs
        self.mixing: MixerRunner | None = None  # set by ``use_mixer`` when a conference mixer runs
        self.meetings: Meetings | None = None  # set by bootstrap: the directory's meetings
        self._dialling: dict[tuple[str, str], PhoneCleared] = {}  # (call, participant) -> a number to dial
        self._tasks: set[asyncio.Task[None]] = set()
        metrics.LIVE.add(self)

    def gauges(self) -> dict[str, int]:
        """This node's calling gauges (``metrics.LIVE_GAUGES``), read at each scrape."""
        calls = list(self.switchboard.calls.values())
        return {"callbridge_calls_active": len(calls), "callbridge_agents_connected": len(self._owners),
                "callbridge_meetings_active": sum(isinstance(call, Meeting) for call in calls),
                "callbridge_mixed_participants": sum(sum(1 for _ in c.live_legs()) for c in calls if c.mixed)}

    # -- life -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._timers = asyncio.create_task(self._run_timers())
        self.records.start()

    async def stop(self) -> None:
        metrics.LIVE.remove(self)
        await cancelled(self._timers)
        for task in list(self._tasks):
            await cancelled(task)
        if self.mixing is not None:
            await self.mixing.stop()
        await self.records.stop()

    def use_mixer(self, mixer: Mixer) -> None:
        """Group calls (and meetings) mix their media on ``mixer``."""
        self.mixing = MixerRunner(mixer, self._mixer_sdp, self._mixer_failed)

    def heard_talking(self, call_id: str, participant_id: str, talking: bool) -> None:
        """The mixer heard a participant start or stop talking (called on its reader: the work is spawned)."""
        self._spawn(self.talking(call_id, participant_id, talking))

    # -- agents ---------------------------------------------------------------------------------------------
    async def connect(self, raw_id: str, resume: str | None) -> tuple[str, int, asyncio.Queue[Event]]:
        """A new agent, or the same agent back (``resume`` names it; it must be the same identity's). Returns the
        agent, its connection's generation (for ``disconnect``) and the queue of its messages."""
        agent_id = resume if resume and self._owners.get(resume) == raw_id else f"agent-{uuid.uuid4().hex[:16]}"
        if not await self.registry.register(agent_id, raw_id, self.max_agents):
            raise TooManyAgents(f"{raw_id} has {self.max_agents} agents connected")
        self._owners[agent_id] = raw_id
        generation = self._generation.get(agent_id, 0) + 1
        self._generation[agent_id] = generation
        queue = self.bus.attach(agent_id)
        self.switchboard.agent_back(agent_id)
        self._wake.set()
        return agent_id, generation, queue

    async def disconnect(self, agent_id: str, generation: int) -> None:
        """The connection ``generation`` of the agent closed; a stale one (the agent came back on a newer
        connection first) changes nothing."""
        if self._generation.get(agent_id) != generation:
            return
        del self._generation[agent_id]
        await self.registry.unregister(agent_id)
        self.bus.detach(agent_id)
        await self._after(self.switchboard.agent_gone(agent_id, self.clock.now()))
        self._forget_idle([agent_id])

    # -- calls ----------------------------------------------------------------------------------------------
    async def start_call(self, agent_id: str, caller_oid: str, cmd: StartCall) -> None:
        """The caller's quota first (one place taken at once, or 429), then the directory's checks and the call."""
        caller = self._owners[agent_id]
        self.quota.take(caller, self.clock.now())
        try:
            place = self._place_phone_call if parse_raw_id(cmd.target).kind is Kind.PHONE_NUMBER else self._place_call
            call, sends = await place(agent_id, caller_oid, cmd)
        except BaseException:
            self.quota.release(caller)
            raise
        self._quota_held[call.id] = caller
        started = Send(agent_id, CallStarted(cmd.request_id, call.id))
        await self._after([started, *sends])

    async def _place_call(self, agent_id: str, caller_oid: str, cmd: StartCall) -> tuple[Call, list[Out]]:
        cleared = await clear_call(self.db.fetch_all, caller_oid, cmd.target, cmd.thread_id)
        callee_agents = await self.registry.agents_of(cleared.callee_raw_id)
        caller = Leg(self._owners[agent_id], cleared.caller_name, cleared.caller_tenant, agent_id=agent_id)
        callee = Leg(cleared.callee_raw_id, cleared.callee_name, cleared.callee_tenant)
        return self.switchboard.start(caller, callee, callee_agents, cleared.thread_id, cmd.sdp, self.clock.now())

    async def _place_phone_call(self, agent_id: str, caller_oid: str, cmd: StartCall) -> tuple[Call, list[Out]]:
        """Use case 1: the call leaves over the tenant's trunk; the phone leg rings when the network says so."""
        try:
            cleared = await clear_phone_call(self.db.fetch_all, caller_oid, cmd.target)
            if self.phones is None:
                reason = reasons.NO_PHONE_CONNECTIVITY
                raise CallError(reason.code, reason.sub_code, "This deployment has no SIP side running.")
            leg = await self.phones.open_leg(cleared, cmd.sdp)
        except CallError as refused:
            self.record_refused(self._owners[agent_id], cmd.target, None, refused.code, refused.sub_code)
            raise
        caller = Leg(self._owners[agent_id], cleared.caller_name, cleared.caller_tenant, agent_id=agent_id)
        callee = Leg(cleared.callee_raw_id, None, cleared.caller_tenant)
        return self.switchboard.start(caller, callee, [leg], None, cmd.sdp, self.clock.now(), alerting=False)

    async def start_from_phone(self, leg: str, caller: Leg, callee: Leg, offer: str | None) -> str:
        """Use case 2: a phone (the leg ``leg``, attached with ``attach_leg``) calls a user; every agent of the
        user rings. Returns the call's id."""
        caller.agent_id = leg
        callee_agents = await self.registry.agents_of(callee.raw_id)
        call, sends = self.switchboard.start(caller, callee, callee_agents, None, offer, self.clock.now())
        await self._after(sends)
        return call.id

    def attach_leg(self, leg: str, raw_id: str) -> asyncio.Queue[Event]:
        """A phone leg joins the bus like an agent: what the call tells it arrives on the returned queue."""
        self._owners[leg] = raw_id
        return self.bus.attach(leg)

    def record_refused(self, caller: str, callee: str, tenant_id: str | None, code: int, sub_code: int,
                       trunk_call_id: str | None = None) -> None:
        """The call record of a phone call refused before anyone rang (``refused_record``)."""
        self.records.add([refused_record(str(uuid.uuid4()), caller, callee, tenant_id, code, sub_code,
                                         self.clock.now(), trunk_call_id)])

    def note_trunk_call(self, call_id: str, sip_call_id: str) -> None:
        """The SIP Call-ID of a call's phone leg, for its call record."""
        call = self.switchboard.calls.get(call_id)
        if call is not None:
            call.trunk_call_id = sip_call_id

    def detach_leg(self, leg: str) -> None:
        self.bus.detach(leg)
        self._forget_idle([leg])

    async def command(self, agent_id: str, cmd: CallCommand) -> None:
        await self._after(self.switchboard.command(agent_id, cmd, self.clock.now()))

    # -- meetings -------------------------------------------------------------------------------------------
    async def join_meeting(self, agent_id: str, cmd: JoinMeeting, client: str | None = None) -> None:
        """An agent joins a meeting by its link, or its id and passcode: into it or its lobby, as the meeting's
        settings decide for this joiner; refused with the code of why not."""
        raw_id = self._owners[agent_id]
        meetings = self._meetings_running()
        admission = await meetings.admission(raw_id, meeting_link=cmd.meeting_link, meeting_id=cmd.meeting_id,
                                             passcode=cmd.passcode, display_name=cmd.display_name)
        meeting, sends = self._join(agent_id, raw_id, admission, client)
        await self._after([Send(agent_id, CallStarted(cmd.request_id, meeting.id)), *sends])

    async def join_from_phone(self, leg: str, caller_raw_id: str, conference_id: str) -> str:
        """A phone that dialled in and gave a conference id joins its meeting (the leg attached with
        ``attach_leg``); the mixer then offers the leg its media session. Returns the meeting's call id."""
        admission = await self._meetings_running().phone_admission(caller_raw_id, conference_id)
        meeting, sends = self._join(leg, caller_raw_id, admission, "phone")
        await self._after(sends)
        return meeting.id

    def _meetings_running(self) -> Meetings:
        if self.meetings is None or self.mixing is None:
            raise CallError(503, 10144, "Meetings need the conference mixer (Janus), which is not running here.")
        return self.meetings

    def _join(self, agent_id: str, raw_id: str, admission: Admission, client: str | None) -> tuple[Call, list[Out]]:
        assert self.meetings is not None
        leg = Leg(raw_id, admission.display_name, admission.tenant_id, role=admission.role, client=client)
        return self.switchboard.join(agent_id, admission.facts, self.meetings.roles, self.meetings.lobby_timeout,
                                     leg, self.clock.now(), lobby=admission.lobby)

    async def meeting_changed(self, thread_id: str) -> None:
        """The organizer changed the meeting's settings (Graph): the roles of those in it now follow them."""
        meeting = self.switchboard.meeting_of(thread_id)
        if meeting is None or self.meetings is None:
            return
        parties = [(leg.id, leg.raw_id) for leg in meeting.live_legs()]
        roles = await self.meetings.roles_now(thread_id, parties)
        await self._after(self.switchboard.change_roles(meeting.id, roles))

    async def talking(self, call_id: str, participant_id: str, talking: bool) -> None:
        """The mixer heard a participant start or stop talking."""
        await self._after(self.switchboard.talking(call_id, participant_id, talking, self.clock.now()))

    # -- more than two parties ------------------------------------------------------------------------------
    async def add_participant(self, agent_id: str, adder_oid: str, cmd: CallCommand) -> None:
        """A party adds a Teams user (with the thread) or a phone number, after the same checks as calling them;
        the call becomes a group call on the mixer."""
        add = cmd.payload_as(AddParticipant)
        call = self.switchboard.call_of(agent_id, cmd.call_id)  # 404 before any directory work
        if self.mixing is None:
            raise CallError(503, 10144, "Group calls need the conference mixer (Janus), which is not running here.")
        now = self.clock.now()
        phone = parse_raw_id(add.target).kind is Kind.PHONE_NUMBER
        payer = adder_oid
        if isinstance(call, Meeting):  # may this role add? then a meeting dials with its organizer's number
            call.require(agent_id, "addPhoneNumber" if phone else "addTeamsUser")
            if phone and call.facts.organizer_id:
                payer = call.facts.organizer_id
        if phone:
            cleared = await clear_phone_call(self.db.fetch_all, payer, add.target)
            if self.phones is None:
                reason = reasons.NO_PHONE_CONNECTIVITY
                raise CallError(reason.code, reason.sub_code, "This deployment has no SIP side running.")
            leg = Leg(cleared.callee_raw_id, None, cleared.caller_tenant)
            out = self.switchboard.add_participant(agent_id, cmd.call_id, leg, [], now)
            self._dialling[(cmd.call_id, leg.id)] = cleared
        else:
            teams = await clear_call(self.db.fetch_all, adder_oid, add.target, add.thread_id)
            agents = await self.registry.agents_of(teams.callee_raw_id)
            leg = Leg(teams.callee_raw_id, teams.callee_name, teams.callee_tenant)
            out = self.switchboard.add_participant(agent_id, cmd.call_id, leg, agents, now)
        await self._after([*out, Send(agent_id, ParticipantAdded(add.request_id, cmd.call_id, leg.id))])

    async def _mixer_sdp(self, call_id: str, participant_id: str, sdp: str) -> None:
        await self._after(self.switchboard.mixer_sdp(call_id, participant_id, sdp))

    async def _mixer_failed(self, call_id: str, participant_id: str, why: str,
                            reason: EndReason = reasons.MIXER_FAILED) -> None:
        self._dialling.pop((call_id, participant_id), None)
        await self._after(self.switchboard.mixer_failed(call_id, participant_id, self.clock.now(), reason))

    async def _dial(self, action: DialPhone) -> None:
        """Open the phone leg of a number added to a group call, with the mixer's offer."""
        cleared = self._dialling.pop((action.call_id, action.participant_id), None)
        if cleared is None or self.phones is None:
            return
        try:
            leg = await self.phones.open_leg(cleared, action.offer, direct=True)
        except CallError as refused:
            reason = EndReason(refused.code, refused.sub_code, str(refused))
            await self._mixer_failed(action.call_id, action.participant_id, str(refused), reason)
            return
        await self._after(self.switchboard.reach(action.call_id, action.participant_id, [leg], action.offer,
                                                 self.clock.now()))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after(self, outs: Iterable[Out]) -> None:
        sends: list[Send] = []
        for out in outs:
            if isinstance(out, Send):
                sends.append(out)
            elif isinstance(out, DialPhone):
                self._spawn(self._dial(out))
            elif self.mixing is not None:
                self.mixing.submit(out)
        await self.bus.deliver(sends)
        ended = self.switchboard.take_ended()
        if ended:
            self.records.add_rows(row for call in ended for row in rows_of(call))
            for call in ended:
                if (holder := self._quota_held.pop(call.id, None)) is not None:
                    self.quota.release(holder)
                assert call.end_reason is not None
                metrics.CALLS_ENDED.labels(call.end_reason.code, call.end_reason.sub_code).inc()
                log.info("call ended", extra={"call_id": call.id, "code": call.end_reason.code,
                                              "sub_code": call.end_reason.sub_code})
            for call in ended:
                for leg in call.legs():
                    self._dialling.pop((call.id, leg.id), None)
            self._forget_idle([leg.agent_id for call in ended for leg in call.legs() if leg.agent_id])
        self._wake.set()

    def _forget_idle(self, agents: list[str]) -> None:
        """Of these agents, those neither connected nor in a call cannot come back: forget them."""
        busy = self.switchboard.agents_in_calls()
        for agent in agents:
            if agent not in self._generation and agent not in busy:
                self._owners.pop(agent, None)

    # -- timers ---------------------------------------------------------------------------------------------
    async def _run_timers(self) -> None:
        while True:
            self._wake.clear()  # before reading the deadline: a change made after this wakes the wait below
            deadline = self.switchboard.next_deadline()
            wait = None if deadline is None else max(0.0, (deadline - self.clock.now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
                continue
            try:
                await self._after(self.switchboard.on_timer(self.clock.now()))
            except Exception:  # a timer must never stop the others
                throttled.exception("call timer failed")

    async def recent_calls(self, raw_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return await self.records.recent(raw_id, limit)

    async def call_participants(self, call_id: str, raw_id: str) -> list[dict[str, Any]] | None:
        return await self.records.participants(call_id, raw_id)


def error_frame(exc: CallError, request_id: str | None = None, call_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": exc.code, "subCode": exc.sub_code, "message": str(exc)}
    if request_id is not None:
        frame["requestId"] = request_id
    if call_id is not None:
        frame["callId"] = call_id
    return frame
