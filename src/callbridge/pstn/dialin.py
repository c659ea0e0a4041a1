"""Phone dial-in to meetings, end to end: a call to the meetings' toll number is answered by the dial-in
(``meetings.dialin_session``: spoken prompts, the conference id as RFC 4733 digits); the id joins the phone to its
meeting (or the meeting's lobby, where an organizer lets it in) as a participant of its own, and then the phone leg
(``pstn.leg``, from ``DialledIn``) moves the phone's media to the meeting's mixer with a re-INVITE.

While the dial-in speaks, the call's news for the phone (its state in the meeting, the mixer's offer...) is read
here to answer the dial-in's questions and kept; the phone leg then reads it first, in order.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from callbridge.calling.call import CallError
from callbridge.calling.events import CallStateChanged, Event
from callbridge.calling.protocol import CallCommand, CallCommandKind, HangUp
from callbridge.calling.states import CallState
from callbridge.config import Settings
from callbridge.logs import Throttled
from callbridge.meetings.dialin import Verdict
from callbridge.meetings.dialin_guard import WrongIdGuard
from callbridge.meetings.dialin_session import (
    DialinJoined,
    DialinSession,
    dialin_media,
    dialin_settings,
)
from callbridge.meetings.prompts import Prompts
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.leg_driver import LegDriver, Ports
from callbridge.pstn.legs import Inbox
from callbridge.sip.useragent_incoming import IncomingSession

log = logging.getLogger("callbridge.pstn")
_throttled = Throttled(log)
_IN = (CallState.CONNECTED,)
_WAITING = (CallState.IN_LOBBY,)
_GONE = (CallState.DISCONNECTED,)
_JOINED = {CallState.CONNECTED: Verdict.FOUND, CallState.IN_LOBBY: Verdict.LOBBY}


class DialIn:
    """Answers calls to the toll number; ``drive`` runs the phone leg once the phone is in its meeting."""

    def __init__(self, ports: Ports, prompts: Prompts, settings: Settings,
                 drive: Callable[[LegDriver], Coroutine[Any, Any, None]], now: Callable[[], datetime]) -> None:
        self.ports, self.prompts, self.settings, self._drive, self._now = ports, prompts, settings, drive, now
        self.wrong_ids = WrongIdGuard(settings.dialin_wrong_ids_per_number, settings.dialin_wrong_ids_window_s)

    async def answer(self, session: IncomingSession) -> None:
        caller_number, _ = session.caller
        caller = f"4:{caller_number or 'anonymous'}"
        leg = f"pstn-{uuid.uuid4().hex[:16]}"
        calling = self.ports.calling
        queue = calling.attach_leg(leg, caller)
        seen: deque[Event] = deque()  # the call's news read while the dial-in speaks, for the phone leg
        meeting: list[str] = []  # the call the phone joined

        async def until_state(states: tuple[CallState, ...]) -> CallState:
            while True:
                event = await queue.get()
                seen.append(event)
                if isinstance(event, CallStateChanged) and event.state in (*states, *_GONE):
                    return event.state

        async def lookup(conference_id: str) -> Verdict:
            refused = await self._join(caller_number, lambda: calling.join_from_phone(leg, caller, conference_id),
                                       meeting)
            return refused or _JOINED.get(await until_state(_IN + _WAITING), Verdict.DENIED)

        async def admission(conference_id: str) -> Verdict:
            return Verdict.ADMITTED if await until_state(_IN) is CallState.CONNECTED else Verdict.DENIED

        dialin = DialinSession(session, self.prompts, lookup, settings=dialin_settings(self.settings),
                               media=dialin_media(self.settings), admission=admission,
                               lookup_timeout_s=self.settings.dialin_lookup_timeout_s)
        try:
            outcome = await dialin.run()
        except BaseException:
            await self._leave(leg, meeting)
            raise
        if not isinstance(outcome, DialinJoined) or not meeting:
            await self._leave(leg, meeting)
            return
        await outcome.rtp.close()  # a moment of silence until the mixer's re-INVITE
        async def next_call_event() -> Event:  # what was seen first, in order, then what comes
            return seen.popleft() if seen else await queue.get()

        inbox = Inbox()
        inbox.listen_to_call(next_call_event)
        inbox.listen_to(session.next_event)
        machine = PhoneLeg.dialled_in_leg(meeting[-1], caller_number)
        await self._drive(LegDriver(self.ports, leg, machine, inbox, session=session, attached=True))

    async def _join(self, number: str | None, join: Callable[[], Coroutine[Any, Any, str]],
                    meeting: list[str]) -> Verdict | None:
        """The phone joins the meeting of the id it typed (``meeting`` gets the call), or the verdict why not: a
        number that typed too many wrong ids is not even looked up (``WrongIdGuard``)."""
        if self.wrong_ids.blocked(number, self._now()):
            _throttled.warning("dial-in: too many wrong conference ids from one number", key="wrong ids",
                               extra={"caller": number or "anonymous"})
            return Verdict.UNAVAILABLE
        try:
            meeting.append(await join())
        except CallError as refused:
            if refused.code != 404:
                return Verdict.DENIED
            self.wrong_ids.wrong(number, self._now())
            return Verdict.NOT_FOUND
        return None

    async def _leave(self, leg: str, meeting: list[str]) -> None:
        """The dial-in ended (a goodbye, or the caller hung up): out of the meeting, off the bus."""
        calling = self.ports.calling
        if meeting:
            with contextlib.suppress(CallError):
                await calling.command(leg, CallCommand(CallCommandKind.HANG_UP, meeting[-1], HangUp()))
        calling.detach_leg(leg)
