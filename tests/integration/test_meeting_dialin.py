"""Phone dial-in with real SIP and real media: a virtual phone of the built-in carrier (its own SIP endpoint and
RTP G.711 endpoint on loopback) dials a number that callbridge's user agent hands to a ``DialinSession`` with a
fake meeting service that knows one conference id. The prompts are espeak-ng's, synthesised for the module.

What the caller would notice is asserted: speech (not silence) in what the phone receives, its envelope matching
the prompt's; the id typed on the keypad (RFC 4733) reaching the lookup; the goodbye heard and the BYE received.
Tests (c) and (d) play prompts 4x faster than real time (the pacer's test speed) to stay short; (a) and (b) play
at real pace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from callbridge.carrier.network import Carrier, PhoneSpec
from callbridge.carrier.phone import PhoneState, VirtualPhone
from callbridge.config import Settings
from callbridge.media.rtp_endpoint import Pacer, PortRange
from callbridge.meetings.dialin import DialinSettings, DialinState, HangUpReason, Verdict
from callbridge.meetings.dialin_session import (
    DialinEnded,
    DialinJoined,
    DialinMedia,
    DialinOutcome,
    DialinSession,
    dialin_media,
    dialin_settings,
    prepare_prompts,
)
from callbridge.meetings.prompts import Prompt, PromptError, Prompts, synthesise_now, voiced_fraction
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.useragent import UserAgent

TOLL, CALLER, KNOWN_ID = "+14255550100", "+15550001", "4242"
DIALIN_PORTS, PHONE_PORTS = PortRange(46_000, 46_099), PortRange(46_100, 46_199)
FRAME = 160  # 20 ms at 8 kHz
SHORT = DialinSettings(first_digit_timeout_s=0.5, inter_digit_timeout_s=2.0, max_attempts=3, max_digits=8)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def envelope(samples: np.ndarray) -> np.ndarray:
    frames = len(samples) // FRAME
    pcm = samples[:frames * FRAME].astype(np.float64) / 32768
    return np.asarray(np.sqrt(np.mean(pcm.reshape(frames, FRAME) ** 2, axis=1)), dtype=np.float64)


def likeness(heard: np.ndarray, prompt: np.ndarray, max_lag: int = 10) -> float:
    """The best correlation of the two 20 ms envelopes, one shifted against the other by up to ``max_lag`` frames
    (either way: what was heard may start a little before or after the prompt's first frame)."""
    said, got = envelope(prompt), envelope(heard)
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        a, b = (got[lag:], said) if lag >= 0 else (got, said[-lag:])
        n = min(len(a), len(b))
        if n > 25:
            best = max(best, float(np.corrcoef(a[:n], b[:n])[0, 1]))
    return best


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Prompts:
    return synthesise_now(Path(tmp_path_factory.mktemp("prompts")))


@dataclass
class Line:
    """callbridge's user agent, the carrier with one phone, and the fake meeting service's log."""

    ua: UserAgent
    carrier: Carrier
    phone: VirtualPhone
    prompts: Prompts
    lookups: list[str] = field(default_factory=list)

    async def lookup(self, conference_id: str) -> Verdict:
        self.lookups.append(conference_id)
        return Verdict.FOUND if conference_id == KNOWN_ID else Verdict.NOT_FOUND

    async def call_in(self, settings: DialinSettings = SHORT,
                      speed: float = 1.0) -> tuple[DialinSession, asyncio.Task[DialinOutcome]]:
        await self.phone.dial(TOLL)
        async with asyncio.timeout(5):
            session = await self.ua.incoming.get()
        assert getattr(session.request_uri, "user", None) == TOLL
        dialin = DialinSession(session, self.prompts, self.lookup, settings=settings,
                               media=DialinMedia(ports=DIALIN_PORTS), pacer=Pacer(speed=speed))
        running = asyncio.create_task(dialin.run())
        await until(lambda: self.phone.state is PhoneState.CONNECTED)
        return dialin, running

    def heard_since(self, mark: int) -> np.ndarray:
        return np.asarray(self.phone.recording.since(mark))


@pytest.fixture
async def line(prompts: Prompts) -> AsyncIterator[Line]:
    endpoint = Endpoint(lambda event: None)
    address = await endpoint.listen("UDP")
    ua = UserAgent(endpoint)
    carrier = Carrier(address, rtp_ports=PHONE_PORTS)
    await carrier.start([PhoneSpec(CALLER, "Caller")])
    phone = carrier.phone(CALLER)
    phone.play("silence")  # the caller says nothing: all the phone hears is what dial-in plays
    yield Line(ua, carrier, phone, prompts)
    await carrier.stop()
    await ua.close()
    await endpoint.close()


async def outcome_of(running: asyncio.Task[DialinOutcome], timeout: float = 10.0) -> DialinOutcome:
    async with asyncio.timeout(timeout):
        return await running


async def test_a_the_caller_hears_the_welcome_prompt_spoken(line: Line, prompts: Prompts) -> None:
    dialin, running = await line.call_in()
    started = time.monotonic()
    await until(lambda: len(line.heard_since(0)) >= 100 * FRAME)
    assert 1.7 < time.monotonic() - started < 3.0, "100 frames of 20 ms take 2 s: real pace"
    heard = line.heard_since(0)[:100 * FRAME]
    assert voiced_fraction(heard) > 0.5, "speech, not silence"
    assert 10 * np.log10(np.mean((heard / 32768.0) ** 2)) > -30
    assert likeness(heard, prompts.samples[Prompt.WELCOME]) > 0.8, "the welcome prompt, not any noise"
    assert dialin.machine.state is DialinState.PROMPTING

    await line.phone.hang_up()
    assert await outcome_of(running) == DialinEnded(None, "the caller hung up")
    assert dialin.rtp.port and dialin.rtp._transport is None  # the port is freed


async def test_b_a_wrong_id_then_the_right_one_joins_with_the_call_up(line: Line, prompts: Prompts) -> None:
    dialin, running = await line.call_in()
    await until(lambda: line.phone.recording.mark() >= 25)  # half a second into the welcome
    await line.phone.send_dtmf("123#")  # typed over the prompt
    await until(lambda: line.lookups == ["123"] and dialin.machine.state is DialinState.PROMPTING)
    retry = line.phone.recording.mark()
    before = line.heard_since(0)
    welcome = prompts.samples[Prompt.WELCOME]
    assert voiced_fraction(before) * len(before) < 0.5 * voiced_fraction(welcome) * len(welcome), \
        "the keys stopped the welcome (barge-in)"
    await until(lambda: line.phone.recording.mark() >= retry + 50)
    assert likeness(line.heard_since(retry), prompts.samples[Prompt.NOT_FOUND_RETRY]) > 0.8

    await line.phone.send_dtmf(KNOWN_ID + "#")
    await until(lambda: len(line.lookups) == 2)
    joining = line.phone.recording.mark()
    outcome = await outcome_of(running)
    assert isinstance(outcome, DialinJoined) and outcome.conference_id == KNOWN_ID
    assert line.lookups == ["123", KNOWN_ID]  # each key once, though its RFC 4733 end packet came three times
    assert likeness(line.heard_since(joining), prompts.samples[Prompt.JOINING]) > 0.8
    assert line.phone.state is PhoneState.CONNECTED, "the SIP session stays up for the meeting to take over"
    mark = line.phone.recording.mark()
    await until(lambda: line.phone.recording.mark() >= mark + 5)  # the endpoint keeps sending (silence)
    await outcome.rtp.close()
    await line.phone.hang_up()


async def test_c_no_digits_get_the_goodbye_and_a_bye_in_time(line: Line, prompts: Prompts) -> None:
    speed = 4.0
    started = time.monotonic()
    _, running = await line.call_in(speed=speed)
    outcome = await outcome_of(running)
    took = time.monotonic() - started
    assert outcome == DialinEnded(HangUpReason.NO_DIGITS, HangUpReason.NO_DIGITS.value)
    await until(lambda: line.phone.state is PhoneState.IDLE)
    assert line.phone.call is not None and line.phone.call.outcome == "hung up by the other side (BYE)"
    spoken = (prompts.seconds(Prompt.WELCOME) + prompts.seconds(Prompt.NO_DIGITS_GOODBYE)) / speed
    assert spoken + SHORT.first_digit_timeout_s - 0.1 < took < spoken + SHORT.first_digit_timeout_s + 1.5
    goodbye = prompts.samples[Prompt.NO_DIGITS_GOODBYE]
    heard = line.heard_since(0)
    assert likeness(heard[-len(goodbye) - 10 * FRAME:], goodbye, max_lag=20) > 0.8, "the goodbye was heard"
    assert line.lookups == []


async def test_d_three_wrong_ids_get_the_goodbye_and_a_bye(line: Line, prompts: Prompts) -> None:
    dialin, running = await line.call_in(speed=4.0)
    for attempt in range(1, 4):
        await until(lambda: dialin.machine.state is DialinState.PROMPTING)
        await line.phone.send_dtmf(f"{attempt}9#")
        await until(lambda: len(line.lookups) == attempt)  # noqa: B023 (awaited within the iteration)
    goodbye = line.phone.recording.mark()
    outcome = await outcome_of(running)
    assert outcome == DialinEnded(HangUpReason.NOT_FOUND, HangUpReason.NOT_FOUND.value)
    assert line.lookups == ["19", "29", "39"]
    assert likeness(line.heard_since(goodbye), prompts.samples[Prompt.NOT_FOUND_GOODBYE], max_lag=20) > 0.8
    await until(lambda: line.phone.state is PhoneState.IDLE)
    assert line.phone.call is not None and line.phone.call.outcome == "hung up by the other side (BYE)"


async def test_a_meeting_with_a_lobby_says_wait_then_joins_once_admitted(line: Line, prompts: Prompts) -> None:
    let_in = asyncio.Event()

    async def lobby(conference_id: str) -> Verdict:
        return Verdict.LOBBY

    async def admission(conference_id: str) -> Verdict:
        await let_in.wait()
        return Verdict.ADMITTED

    await line.phone.dial(TOLL)
    async with asyncio.timeout(5):
        session = await line.ua.incoming.get()
    dialin = DialinSession(session, prompts, lobby, settings=SHORT, media=DialinMedia(ports=DIALIN_PORTS),
                           admission=admission, pacer=Pacer(speed=4.0))
    running = asyncio.create_task(dialin.run())
    await until(lambda: line.phone.state is PhoneState.CONNECTED)
    await line.phone.send_dtmf("5#")
    await until(lambda: dialin.machine.state is DialinState.LOBBY)
    waiting = line.phone.recording.mark()
    await until(lambda: not dialin.player.playing)  # the lobby prompt was said; the caller waits in silence
    assert likeness(line.heard_since(waiting), prompts.samples[Prompt.LOBBY], max_lag=20) > 0.8
    await asyncio.sleep(0.3)
    assert not running.done() and dialin.machine.state is DialinState.LOBBY
    let_in.set()
    outcome = await outcome_of(running)
    assert isinstance(outcome, DialinJoined) and outcome.conference_id == "5"
    await outcome.rtp.close()
    await line.phone.hang_up()


async def test_a_failing_meeting_service_gets_a_goodbye_not_silence(line: Line, prompts: Prompts) -> None:
    async def broken(conference_id: str) -> Verdict:
        raise ConnectionError("meeting service down")

    line.lookup = broken  # type: ignore[method-assign]
    _, running = await line.call_in(speed=4.0)
    await line.phone.send_dtmf("7#")
    assert await outcome_of(running) == DialinEnded(HangUpReason.UNAVAILABLE, HangUpReason.UNAVAILABLE.value)
    await until(lambda: line.phone.state is PhoneState.IDLE)


# -- the prompts' files ------------------------------------------------------------------------------------------------
async def test_prompts_are_made_once_and_again_when_the_voice_changes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = await prepare_prompts(settings)
    assert {path.parent for path in first.files.values()} == {tmp_path / "prompts"}
    made = {path: path.stat().st_mtime_ns for path in first.files.values()}
    again = await prepare_prompts(settings)
    assert {path: path.stat().st_mtime_ns for path in again.files.values()} == made  # reused, not remade
    faster = await prepare_prompts(Settings(data_dir=tmp_path, dialin_words_per_minute=220))
    assert set(faster.files.values()).isdisjoint(made)
    assert sorted((tmp_path / "prompts").iterdir()) == sorted(faster.files.values())  # the old ones are gone
    assert faster.seconds(Prompt.WELCOME) < 0.8 * first.seconds(Prompt.WELCOME)
    for prompt in Prompt:
        assert voiced_fraction(faster.samples[prompt]) > 0.5


async def test_a_missing_espeak_ng_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptError, match="Debian package espeak-ng"):
        await prepare_prompts(Settings(data_dir=tmp_path))


async def test_an_unknown_voice_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="voice 'xx-nonesuch'"):
        await prepare_prompts(Settings(data_dir=tmp_path, dialin_voice="xx-nonesuch"))


def test_the_settings_reach_the_machine_and_the_media() -> None:
    settings = Settings(dialin_first_digit_timeout_s=7, dialin_inter_digit_timeout_s=3, dialin_max_attempts=2,
                        dialin_max_digits=9, media_address="127.0.0.2", rtp_port_min=41000, rtp_port_max=41100)
    assert dialin_settings(settings) == DialinSettings(7, 3, 2, 9)
    assert dialin_media(settings) == DialinMedia("127.0.0.2", PortRange(41000, 41100))
