"""A virtual phone: one number, one call at a time, its state in one transition table.

States: ``idle``, ``dialing`` (our INVITE is out), ``ringback`` (the far end rings), ``ringing`` (a call for us),
``connected``. A call that ends returns the phone to ``idle`` and leaves its outcome in ``last``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from callbridge.media.audio import Echo, Recording, Silence, Source, Tone, WavFile
from callbridge.media.rtp_endpoint import PortRange, RtpEndpoint
from callbridge.sip.sdp import Direction
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_events import Answered, Cancelled, Ended, Failed, Reinvited, Ringing, SessionEvent
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.sip.useragent_outgoing import OutgoingSession

log = logging.getLogger("callbridge.carrier")


class PhoneState(StrEnum):
    IDLE = "idle"
    DIALING = "dialing"
    RINGBACK = "ringback"
    RINGING = "ringing"
    CONNECTED = "connected"


class PhoneEvent(StrEnum):
    DIAL = "dial"
    REMOTE_RINGING = "remote_ringing"
    INCOMING = "incoming"
    ANSWERED = "answered"
    ENDED = "ended"


S, E = PhoneState, PhoneEvent
PHONE_TRANSITIONS: dict[tuple[PhoneState, PhoneEvent], PhoneState] = {
    (S.IDLE, E.DIAL): S.DIALING,
    (S.IDLE, E.INCOMING): S.RINGING,
    (S.DIALING, E.REMOTE_RINGING): S.RINGBACK,
    (S.RINGBACK, E.REMOTE_RINGING): S.RINGBACK,
    (S.DIALING, E.ANSWERED): S.CONNECTED,
    (S.RINGBACK, E.ANSWERED): S.CONNECTED,
    (S.RINGING, E.ANSWERED): S.CONNECTED,
    **{(state, E.ENDED): S.IDLE for state in (S.DIALING, S.RINGBACK, S.RINGING, S.CONNECTED)},
}


class PhoneBusy(Exception):
    """The phone cannot do that now (``state`` says why)."""


class AnswerMode(StrEnum):
    MANUAL = "manual"  # rings until someone answers or declines
    AUTO = "auto"  # answers at once
    BUSY = "busy"  # answers 486
    DECLINE = "decline"  # answers 603
    UNAVAILABLE = "unavailable"  # answers 480 (switched off, out of coverage)
    NO_ANSWER = "no-answer"  # rings, then the network gives up with 408 after the phone's ring timeout


RINGBACK_HZ = 425.0  # the ringback of early media (ITU-T E.180's common 425 Hz)

REFUSALS: dict[AnswerMode, tuple[int, str]] = {
    AnswerMode.BUSY: (486, "Busy Here"),
    AnswerMode.DECLINE: (603, "Decline"),
    AnswerMode.UNAVAILABLE: (480, "Temporarily Unavailable"),
}


@dataclass
class CallInfo:
    """The phone's current or last call, as its page and the CLI show it."""

    direction: str  # in | out
    peer: str  # the other side's number (caller id for calls in)
    peer_name: str | None = None
    sip_call_id: str | None = None
    outcome: str | None = None  # why it ended: "hung up by us", "486 Busy Here", ...


@dataclass
class VirtualPhone:
    number: str
    name: str
    ua: UserAgent
    trunk: Address  # where calls to callbridge go
    rtp_ports: PortRange = field(default_factory=lambda: PortRange(42_000, 42_999))
    answer_mode: AnswerMode = AnswerMode.MANUAL
    ring_timeout_s: float = 20.0  # how long a no-answer phone rings before the 408
    early_media: bool = False  # calls to it hear the network's ringback (RINGBACK_HZ) in a 183 until it answers
    source_factory: Callable[[], Source] = field(default=lambda: Tone(440.0))
    state: PhoneState = PhoneState.IDLE
    call: CallInfo | None = None
    recording: Recording = field(default_factory=Recording)
    digits: list[str] = field(default_factory=list)
    held: bool = False  # this phone holds the other side
    on_change: Callable[[VirtualPhone], None] | None = None
    _session: OutgoingSession | IncomingSession | None = None
    _rtp: RtpEndpoint | None = None
    _watch: asyncio.Task[None] | None = None
    _ringing_out: asyncio.Task[None] | None = None
    _early_sdp: str | None = None  # the answer sent in the 183, repeated in the 200

    def _step(self, event: PhoneEvent) -> None:
        try:
            self.state = PHONE_TRANSITIONS[(self.state, event)]
        except KeyError:
            raise PhoneBusy(f"{self.number} is {self.state}: cannot {event}") from None
        if self.on_change is not None:
            self.on_change(self)

    # -- calls out -------------------------------------------------------------------------------------------------
    async def dial(self, number: str) -> None:
        if self.state is not PhoneState.IDLE:
            raise PhoneBusy(f"{self.number} is {self.state}")
        rtp = await self._open_rtp()
        self.call = CallInfo("out", number)
        self._step(PhoneEvent.DIAL)
        host = self.ua.local(self.trunk.transport).host
        try:
            session = await self.ua.call(f"sip:{number}@{self.trunk.host}:{self.trunk.port}",
                                         from_uri=f"sip:{self.number}@{host}", from_name=self.name, sdp=rtp.offer(),
                                         destination=self.trunk)
        except Exception:
            await self._finish("could not send the INVITE")
            raise
        self._session, self.call.sip_call_id = session, session.call_id
        self._watch = asyncio.create_task(self._follow(session))

    # -- calls in --------------------------------------------------------------------------------------------------
    async def offered(self, session: IncomingSession) -> None:
        """A call for this phone (the carrier routed it here by number)."""
        refusal = REFUSALS[AnswerMode.BUSY] if self.state is not PhoneState.IDLE else REFUSALS.get(self.answer_mode)
        if refusal is not None:
            session.decline(*refusal)
            return
        self._session = session
        self.call = CallInfo("in", session.from_number or "anonymous", session.from_name, session.call_id)
        self._step(PhoneEvent.INCOMING)
        if self.early_media:  # the network's ringback, as media in a 183, until the phone answers
            rtp = await self._open_rtp()
            rtp.source = Tone(RINGBACK_HZ)
            self._early_sdp = rtp.answer(session.offer or "")
            session.ring(183, self._early_sdp)
            rtp.start()
        else:
            session.ring()
        self._watch = asyncio.create_task(self._follow(session))
        if self.answer_mode is AnswerMode.AUTO:
            await self.answer()
        elif self.answer_mode is AnswerMode.NO_ANSWER:
            self._ringing_out = asyncio.create_task(self._ring_out(session))

    async def _ring_out(self, session: IncomingSession) -> None:
        await asyncio.sleep(self.ring_timeout_s)
        if self._session is session and self.state is PhoneState.RINGING:
            await self.decline(408)

    async def answer(self) -> None:
        session = self._session
        if self.state is not PhoneState.RINGING or not isinstance(session, IncomingSession):
            raise PhoneBusy(f"{self.number} is {self.state}: nothing to answer")
        rtp = self._rtp if self._early_sdp is not None and self._rtp is not None else await self._open_rtp()
        session.answer(self._early_sdp or rtp.answer(session.offer or ""))  # the 200 repeats the 183's answer
        rtp.source = self.source_factory()
        self._step(PhoneEvent.ANSWERED)
        rtp.start()

    async def decline(self, status: int = 603) -> None:
        session = self._session
        if self.state is not PhoneState.RINGING or not isinstance(session, IncomingSession):
            raise PhoneBusy(f"{self.number} is {self.state}: nothing to decline")
        session.decline(status)
        await self._finish(f"declined with {status}")

    async def hang_up(self) -> None:
        session = self._session
        if session is None or self.state is PhoneState.IDLE:
            raise PhoneBusy(f"{self.number} is idle")
        if self.state is PhoneState.RINGING and isinstance(session, IncomingSession):
            return await self.decline(603)
        watch, self._watch = self._watch, None  # our own BYE's end is not news: this call ends here
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await session.hang_up()
        await self._finish("hung up here")

    async def hold(self) -> None:
        """Put the other side on hold with a re-INVITE (RFC 3264 8.4): sendonly, so what it plays is music on
        hold; the phone stops hearing."""
        await self._reoffer(held=True)

    async def resume(self) -> None:
        await self._reoffer(held=False)

    async def _reoffer(self, *, held: bool) -> None:
        session, rtp = self._session, self._rtp
        if session is None or rtp is None or self.state is not PhoneState.CONNECTED:
            raise PhoneBusy(f"{self.number} is not in a call")
        answer = await session.reinvite(rtp.offer(Direction.SENDONLY if held else Direction.SENDRECV))
        if answer:
            rtp.accept(answer)
        self.held = held
        if self.on_change is not None:
            self.on_change(self)

    # -- media -------------------------------------------------------------------------------------------------------
    def play(self, what: str) -> None:
        """``tone:<Hz>``, ``silence``, ``echo`` or ``wav:<path>``: what the phone sends from now on."""
        self.source_factory = source_from(what)
        if self._rtp is not None:
            self._rtp.source = self.source_factory()

    async def send_dtmf(self, digits: str) -> None:
        if self._rtp is None or self.state is not PhoneState.CONNECTED:
            raise PhoneBusy(f"{self.number} is not in a call")
        for digit in digits:
            await self._rtp.send_dtmf(digit)

    async def _open_rtp(self) -> RtpEndpoint:
        rtp = RtpEndpoint(bind=self.ua.local(self.trunk.transport).host, ports=self.rtp_ports,
                          source=self.source_factory())
        await rtp.open()
        self.recording = rtp.recording = Recording()
        self.digits = rtp.digits = []
        self._rtp = rtp
        return rtp

    # -- the session's news ------------------------------------------------------------------------------------------
    async def _follow(self, session: OutgoingSession | IncomingSession) -> None:
        while self._session is session:
            event = await session.next_event()
            if await self._handle(event):
                return

    async def _handle(self, event: SessionEvent) -> bool:
        rtp = self._rtp
        if isinstance(event, Ringing):
            self._step(PhoneEvent.REMOTE_RINGING)
        elif isinstance(event, Answered):
            if rtp is not None and event.sdp:
                rtp.accept(event.sdp)
                rtp.start()
            self._step(PhoneEvent.ANSWERED)
        elif isinstance(event, Reinvited) and rtp is not None:
            session = self._session
            if session is not None:
                session.accept_reinvite(rtp.answer(event.offer or ""))
        elif isinstance(event, Failed):
            await self._finish(f"{event.status} {event.reason}")
            return True
        elif isinstance(event, (Ended, Cancelled)):
            await self._finish("cancelled by the caller" if isinstance(event, Cancelled)
                               else f"hung up by the other side ({event.reason})" if event.by_remote
                               else f"ended ({event.reason})")
            return True
        return False

    async def _finish(self, outcome: str) -> None:
        self._session, self.held, self._early_sdp = None, False, None
        for task in (self._watch, self._ringing_out):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._watch = self._ringing_out = None
        if self.call is not None:
            self.call.outcome = outcome
        rtp, self._rtp = self._rtp, None
        if rtp is not None:
            with contextlib.suppress(Exception):
                await rtp.close()
        if self.state is not PhoneState.IDLE:
            self._step(PhoneEvent.ENDED)


def source_from(what: str) -> Callable[[], Source]:
    kind, _, value = what.partition(":")
    if kind == "tone":
        frequency = float(value or 440)
        if not 20 <= frequency <= 3900:
            raise ValueError("a tone is between 20 and 3900 Hz (G.711 carries up to 4 kHz)")
        return lambda: Tone(frequency)
    if kind == "silence":
        return Silence
    if kind == "echo":
        return Echo
    if kind == "wav":
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"no WAV file at {value!r}")
        return lambda: WavFile(path)
    raise ValueError(f"play what? tone:<Hz>, silence, echo or wav:<path>, not {what!r}")
