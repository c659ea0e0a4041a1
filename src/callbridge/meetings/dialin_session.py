"""Phone dial-in on real media: the asyncio shell that runs ``DialinMachine`` over one answered SIP call.

Given an ``IncomingSession`` already routed to dial-in, ``DialinSession.run()`` answers it with callbridge's own
plain RTP/AVP G.711 endpoint (``RtpEndpoint``, as the carrier's virtual phones use), plays the prompts as 20 ms
G.711 frames at real pace (silence between them, so the caller's network keeps the path open), turns RFC 4733
telephone-events into digits (``RtpStream`` counts each event once, at its first end packet, told apart from its
repeats by its RTP timestamp: RFC 4733 section 2.5.1.4), runs the machine's timers on the loop's clock, and asks
the injected ``lookup(conference_id)`` for a ``Verdict`` (bounded by ``lookup_timeout_s``; a failure or a time-out
is ``UNAVAILABLE``, so the caller hears a goodbye rather than silence).

It ends in one of two ways:

- ``DialinJoined``: the SIP session is still up and the endpoint still sends silence; the caller (the meetings
  service) moves the media to the mixer with a re-INVITE, then closes ``joined.rtp``.
- ``DialinEnded``: the goodbye was played and the BYE sent (or the caller hung up first); the port is closed.

    phone --INVITE--> UserAgent --IncomingSession--> DialinSession.run()
      <--200 (our RTP)--                               | Play / StopPlaying -> PromptPlayer -> RtpEndpoint
      ==RTP G.711 prompts==> / <==RFC 4733 digits==    | Digit, PromptFinished, timers -> DialinMachine
                                                       | Lookup -> lookup(id) -> Told(verdict)
                                                       '-> Join: DialinJoined   HangUp: goodbye, BYE: DialinEnded
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from callbridge.config import Settings
from callbridge.media.audio import Source
from callbridge.media.errors import BadSdp, MediaError
from callbridge.media.g711 import Samples
from callbridge.media.rtp_endpoint import Pacer, PortRange, RtpEndpoint
from callbridge.meetings.dialin import (
    Action,
    Answered,
    CallerGone,
    DialinMachine,
    DialinSettings,
    DialinState,
    Digit,
    HangUp,
    HangUpReason,
    Input,
    Join,
    Lookup,
    Play,
    PromptFinished,
    StopPlaying,
    Told,
    Verdict,
)
from callbridge.meetings.prompts import Prompts, Voice, synthesise
from callbridge.sip.useragent_events import Cancelled, Ended, Reinvited
from callbridge.sip.useragent_incoming import IncomingSession
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.meetings")

LookupFn = Callable[[str], Awaitable[Verdict]]  # conference id -> found, not found, lobby, ...
AdmissionFn = Callable[[str], Awaitable[Verdict]]  # after LOBBY: returns when the caller is admitted or denied


@dataclass(frozen=True)
class DialinJoined:
    conference_id: str
    rtp: RtpEndpoint  # still open and sending silence: close it once the media has moved


@dataclass(frozen=True)
class DialinEnded:
    reason: HangUpReason | None  # why callbridge hung up; None when the caller did (or the call never set up)
    detail: str


DialinOutcome = DialinJoined | DialinEnded


@dataclass(frozen=True)
class DialinMedia:
    """Where dial-in's RTP endpoint listens, and the address its SDP gives."""

    bind: str = "127.0.0.1"
    ports: PortRange = field(default_factory=PortRange)
    advertised: str | None = None


def dialin_settings(settings: Settings) -> DialinSettings:
    """The machine's timeouts and limits from ``CALLBRIDGE_DIALIN_*``."""
    return DialinSettings(first_digit_timeout_s=settings.dialin_first_digit_timeout_s,
                          inter_digit_timeout_s=settings.dialin_inter_digit_timeout_s,
                          max_attempts=settings.dialin_max_attempts, max_digits=settings.dialin_max_digits)


def dialin_media(settings: Settings) -> DialinMedia:
    """Dial-in's RTP on the media address and in the RTP port range the trunk side uses."""
    return DialinMedia(settings.media_address, PortRange(settings.rtp_port_min, settings.rtp_port_max))


async def prepare_prompts(settings: Settings) -> Prompts:
    """Every prompt synthesised (or found cached) under ``{data_dir}/prompts``, off the event loop: call once at
    start-up. Raises ``PromptError`` (naming the Debian package) when espeak-ng is missing or fails."""
    voice = Voice(settings.dialin_voice, settings.dialin_words_per_minute)
    return await synthesise(settings.data_dir / "prompts", voice, timeout_s=settings.dialin_synthesis_timeout_s)


class PromptPlayer(Source):
    """What the endpoint sends each 20 ms: the current prompt, then silence. Each ``play()`` has a number; the
    end of a prompt is reported with it once its last frame has gone out, so a stopped prompt's end is told apart
    from the next one's."""

    def __init__(self, finished: Callable[[int], None]) -> None:
        self._finished = finished
        self._samples: Samples = np.zeros(0, dtype=np.int16)
        self._position = 0
        self.number = 0
        self.playing = False

    def play(self, samples: Samples) -> None:
        self.number += 1
        self._samples, self._position, self.playing = samples, 0, True

    def stop(self) -> None:
        self.number += 1
        self.playing = False

    def next_frame(self, count: int) -> Samples:
        if self.playing and self._position >= len(self._samples):
            self.playing = False
            self._finished(self.number)
        if not self.playing:
            return np.zeros(count, dtype=np.int16)
        frame = self._samples[self._position:self._position + count]
        self._position += count
        return np.pad(frame, (0, count - len(frame))).astype(np.int16)


@dataclass(frozen=True)
class _Finished:
    number: int  # the play() it ends


class DialinSession:
    def __init__(self, session: IncomingSession, prompts: Prompts, lookup: LookupFn, *,
                 settings: DialinSettings | None = None, media: DialinMedia | None = None,
                 lookup_timeout_s: float = 10.0, admission: AdmissionFn | None = None,
                 pacer: Pacer | None = None) -> None:
        """``admission`` is awaited after a LOBBY verdict (None: the caller waits until they hang up);
        ``pacer`` is real time unless a test speeds it up."""
        self.session, self.prompts, self.lookup, self.admission = session, prompts, lookup, admission
        self.lookup_timeout_s = lookup_timeout_s
        self.machine = DialinMachine(settings or DialinSettings())
        media = media or DialinMedia()
        self.player = PromptPlayer(self._prompt_finished)
        self.rtp = RtpEndpoint(bind=media.bind, ports=media.ports, advertised=media.advertised, source=self.player,
                               pacer=pacer)
        self._inputs: asyncio.Queue[Input | _Finished] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> DialinOutcome:
        joined = False
        try:
            await self.rtp.open()
        except MediaError as exc:  # no free port: the caller hears the network's busy, not silence
            self.session.decline(503, "Service Unavailable")
            return DialinEnded(None, f"no media: {exc}")
        try:
            try:
                answer = self.rtp.answer(self.session.offer or "")
            except BadSdp as exc:
                self.session.decline(488, "Not Acceptable Here")
                return DialinEnded(None, f"offer refused: {exc}")
            self.rtp.on_digit = self._digit
            self.session.answer(answer)
            self.rtp.start()
            self._spawn(self._follow_session())
            self._inputs.put_nowait(Answered())
            outcome = await self._drive()
            joined = isinstance(outcome, DialinJoined)
            return outcome
        except BaseException:
            with contextlib.suppress(Exception):
                await self.session.hang_up("dial-in failed")
            raise
        finally:
            await cancelled(*self._tasks)
            if not joined:
                await self.rtp.close()

    async def _drive(self) -> DialinOutcome:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self.machine.next_deadline()
            try:
                async with asyncio.timeout_at(deadline):
                    received = await self._inputs.get()
            except TimeoutError:
                actions = self.machine.on_timer(loop.time())
            else:
                if isinstance(received, _Finished):
                    if received.number != self.player.number:
                        continue  # the end of a prompt that was stopped meanwhile
                    received = PromptFinished()
                actions = self.machine.handle(received, loop.time())
            for action in actions:
                outcome = await self._carry_out(action)
                if outcome is not None:
                    return outcome
            if self.machine.state is DialinState.ENDED:
                return DialinEnded(None, "the caller hung up")

    async def _carry_out(self, action: Action) -> DialinOutcome | None:
        if isinstance(action, Play):
            self.player.play(self.prompts.samples[action.prompt])
        elif isinstance(action, StopPlaying):
            self.player.stop()
        elif isinstance(action, Lookup):
            self._spawn(self._ask(action.conference_id))
        elif isinstance(action, Join):
            log.info("dial-in caller joins", extra={"sip_call_id": self.session.call_id})
            return DialinJoined(action.conference_id, self.rtp)
        elif isinstance(action, HangUp):
            log.info("dial-in hangs up", extra={"sip_call_id": self.session.call_id, "why": action.reason.value})
            await self.session.hang_up(action.reason.value)
            return DialinEnded(action.reason, action.reason.value)
        return None

    # -- what comes in --------------------------------------------------------------------------------------------
    def _digit(self, digit: str) -> None:
        if digit in "0123456789*#":  # A-D (RFC 4733 events 12-15) are not on a phone's keypad
            self._inputs.put_nowait(Digit(digit))

    def _prompt_finished(self, number: int) -> None:
        self._inputs.put_nowait(_Finished(number))

    async def _ask(self, conference_id: str) -> None:
        verdict = await self._bounded(self.lookup(conference_id), self.lookup_timeout_s)
        self._inputs.put_nowait(Told(verdict))
        if verdict is Verdict.LOBBY and self.admission is not None:
            self._inputs.put_nowait(Told(await self._bounded(self.admission(conference_id), None)))

    async def _bounded(self, asked: Awaitable[Verdict], timeout_s: float | None) -> Verdict:
        try:
            async with asyncio.timeout(timeout_s):
                return Verdict(await asked)
        except Exception as exc:  # the meeting service failed or was slow: the caller hears a goodbye
            log.warning("dial-in lookup failed", extra={"sip_call_id": self.session.call_id, "why": repr(exc)})
            return Verdict.UNAVAILABLE

    async def _follow_session(self) -> None:
        while True:
            event = await self.session.next_event()
            if isinstance(event, (Ended, Cancelled)):
                self._inputs.put_nowait(CallerGone())
                return
            if isinstance(event, Reinvited):  # e.g. the phone's own hold: answered from the same endpoint
                try:
                    self.session.accept_reinvite(self.rtp.answer(event.offer or ""))
                except BadSdp:
                    self.session.reject_reinvite(488)

    def _spawn(self, flow: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(flow)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
