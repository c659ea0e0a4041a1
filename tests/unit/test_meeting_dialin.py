"""Phone dial-in's prompt machine on a fake clock: every row of its table, its guards (attempts, empty entry,
first vs inter-digit timer, max digits), and the docs' rendering of the table. Plus the prompts' pure parts: the
resampler keeps speech and drops what 8 kHz cannot carry, a streamed WAV parses, silence is refused."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from callbridge.meetings import dialin
from callbridge.meetings.dialin import (
    DIALIN_TRANSITIONS,
    Action,
    Answered,
    CallerGone,
    DialinEvent,
    DialinMachine,
    DialinSettings,
    DialinState,
    Digit,
    HangUp,
    HangUpReason,
    Join,
    Lookup,
    Play,
    PromptFinished,
    StopPlaying,
    Told,
    Verdict,
)
from callbridge.meetings.dialin_session import PromptPlayer
from callbridge.meetings.prompts import Prompt, PromptError, check_voiced, parse_streamed_wav, resample
from callbridge.state_tables import InvalidTransition

SETTINGS = DialinSettings(first_digit_timeout_s=10.0, inter_digit_timeout_s=5.0, max_attempts=3, max_digits=6)
S, STOP = DialinState, StopPlaying()
visited: set[tuple[DialinState, DialinEvent]] = set()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Caller:
    """A machine, a fake clock, and every (state, event) the machine went through (for the coverage check)."""

    def __init__(self, settings: DialinSettings = SETTINGS) -> None:
        self.machine, self.clock = DialinMachine(settings), Clock()
        fire = self.machine._fire

        def recording(event: DialinEvent, now: float, digit: str) -> list[Action]:
            visited.add((self.machine.state, event))
            return fire(event, now, digit)

        self.machine._fire = recording  # type: ignore[method-assign]

    @property
    def state(self) -> DialinState:
        return self.machine.state

    def send(self, *inputs: dialin.Input) -> list[Action]:
        actions: list[Action] = []
        for received in inputs:
            actions += self.machine.handle(received, self.clock.now)
        return actions

    def keys(self, digits: str) -> list[Action]:
        return self.send(*(Digit(d) for d in digits))

    def wait(self, seconds: float) -> list[Action]:
        self.clock.advance(seconds)
        return self.machine.on_timer(self.clock.now)

    # states reached the way a caller reaches them
    def prompting(self) -> Caller:
        assert self.send(Answered()) == [Play(Prompt.WELCOME)]
        return self

    def collecting(self) -> Caller:
        self.prompting().send(PromptFinished())
        assert self.state is S.COLLECTING
        return self

    def looking_up(self, conference_id: str = "123") -> Caller:
        assert self.collecting().keys(conference_id + "#") == [Lookup(conference_id)]
        return self

    def lobby(self) -> Caller:
        assert self.looking_up().send(Told(Verdict.LOBBY)) == [Play(Prompt.LOBBY)]
        return self

    def joining(self) -> Caller:
        assert self.looking_up().send(Told(Verdict.FOUND)) == [Play(Prompt.JOINING)]
        return self

    def goodbye(self) -> Caller:
        self.collecting().wait(SETTINGS.first_digit_timeout_s)
        assert self.state is S.GOODBYE
        return self


@pytest.fixture
def caller() -> Caller:
    return Caller()


# -- asking and typing ----------------------------------------------------------------------------------------------
def test_answering_plays_the_welcome_and_no_timer_runs_while_it_plays(caller: Caller) -> None:
    assert caller.send(Answered()) == [Play(Prompt.WELCOME)]
    assert caller.state is S.PROMPTING and caller.machine.next_deadline() is None
    assert caller.wait(3600) == []


def test_the_first_digit_timer_starts_when_the_prompt_ends(caller: Caller) -> None:
    caller.prompting()
    caller.clock.advance(4.0)  # the prompt took 4 s
    assert caller.send(PromptFinished()) == []
    assert caller.machine.next_deadline() == caller.clock.now + SETTINGS.first_digit_timeout_s


def test_a_digit_during_the_prompt_stops_it_and_counts(caller: Caller) -> None:
    caller.prompting()
    assert caller.keys("4") == [STOP]
    assert caller.state is S.COLLECTING and caller.machine.entry == "4"
    assert caller.machine.next_deadline() == caller.clock.now + SETTINGS.inter_digit_timeout_s


@pytest.mark.parametrize("key", ["*", "#"])
def test_star_or_pound_during_the_prompt_stops_it_and_waits_for_a_first_digit(caller: Caller, key: str) -> None:
    caller.prompting()
    assert caller.keys(key) == [STOP]
    assert caller.state is S.COLLECTING and caller.machine.entry == ""
    assert caller.machine.next_deadline() == caller.clock.now + SETTINGS.first_digit_timeout_s


def test_digits_then_pound_look_the_id_up(caller: Caller) -> None:
    caller.collecting()
    assert caller.keys("42") == []
    caller.clock.advance(1.0)
    assert caller.keys("4") == []
    assert caller.machine.next_deadline() == caller.clock.now + SETTINGS.inter_digit_timeout_s  # re-armed per key
    assert caller.keys("2#") == [Lookup("4242")]
    assert caller.state is S.LOOKING_UP and caller.machine.next_deadline() is None


def test_star_clears_the_entry(caller: Caller) -> None:
    caller.collecting()
    caller.keys("99*")
    assert caller.machine.entry == "" and caller.machine.next_deadline() == caller.clock.now + 10.0
    assert caller.keys("7#") == [Lookup("7")]


def test_pound_on_an_empty_entry_submits_nothing_and_the_timer_runs_on(caller: Caller) -> None:
    caller.collecting()
    deadline = caller.machine.next_deadline()
    caller.clock.advance(3.0)
    assert caller.keys("#") == [] and caller.state is S.COLLECTING
    assert caller.machine.next_deadline() == deadline


def test_no_digit_in_time_says_goodbye_then_hangs_up(caller: Caller) -> None:
    caller.collecting()
    assert caller.wait(SETTINGS.first_digit_timeout_s - 0.001) == []  # not yet
    assert caller.wait(0.001) == [Play(Prompt.NO_DIGITS_GOODBYE)]
    assert caller.state is S.GOODBYE and caller.machine.next_deadline() is None
    assert caller.send(PromptFinished()) == [HangUp(HangUpReason.NO_DIGITS)]
    assert caller.machine.state is S.ENDED


def test_a_pause_after_digits_submits_them(caller: Caller) -> None:
    caller.collecting().keys("123")
    assert caller.wait(SETTINGS.inter_digit_timeout_s) == [Lookup("123")]
    assert caller.state is S.LOOKING_UP


def test_digits_past_the_maximum_are_dropped(caller: Caller) -> None:
    caller.collecting()
    assert caller.keys("123456789#") == [Lookup("123456")]


# -- verdicts -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verdict", [Verdict.FOUND, Verdict.ADMITTED])
def test_found_says_joining_then_joins(caller: Caller, verdict: Verdict) -> None:
    caller.looking_up("4242")
    assert caller.send(Told(verdict)) == [Play(Prompt.JOINING)]
    assert caller.keys("5*#") == []  # typing while it says so is dropped
    assert caller.send(PromptFinished()) == [Join("4242")]
    assert caller.state is S.JOINED


def test_a_wrong_id_asks_again_and_the_right_one_joins(caller: Caller) -> None:
    caller.looking_up("111")
    assert caller.send(Told(Verdict.NOT_FOUND)) == [Play(Prompt.NOT_FOUND_RETRY)]
    assert caller.state is S.PROMPTING and caller.machine.entry == "" and caller.machine.attempts == 1
    assert caller.keys("4") == [STOP]  # barge-in on the retry prompt too
    assert caller.keys("242#") == [Lookup("4242")]
    caller.send(Told(Verdict.FOUND))
    assert caller.send(PromptFinished()) == [Join("4242")]


def test_the_last_wrong_id_says_goodbye(caller: Caller) -> None:
    caller.looking_up("1")
    for attempt in (1, 2):
        assert caller.send(Told(Verdict.NOT_FOUND)) == [Play(Prompt.NOT_FOUND_RETRY)]
        assert caller.keys(f"{attempt}#") == [STOP, Lookup(str(attempt))]
    assert caller.send(Told(Verdict.NOT_FOUND)) == [Play(Prompt.NOT_FOUND_GOODBYE)]
    assert caller.machine.attempts == 3
    assert caller.send(PromptFinished()) == [HangUp(HangUpReason.NOT_FOUND)]


def test_one_attempt_allowed_means_the_first_wrong_id_says_goodbye() -> None:
    caller = Caller(DialinSettings(max_attempts=1))
    caller.looking_up()
    assert caller.send(Told(Verdict.NOT_FOUND)) == [Play(Prompt.NOT_FOUND_GOODBYE)]


@pytest.mark.parametrize(("verdict", "prompt", "reason"), [
    (Verdict.DENIED, Prompt.DENIED_GOODBYE, HangUpReason.DENIED),
    (Verdict.UNAVAILABLE, Prompt.UNAVAILABLE_GOODBYE, HangUpReason.UNAVAILABLE),
])
def test_a_refusal_or_a_failed_lookup_says_goodbye(caller: Caller, verdict: Verdict, prompt: Prompt,
                                                   reason: HangUpReason) -> None:
    caller.looking_up()
    assert caller.send(Told(verdict)) == [Play(prompt)]
    assert caller.keys("1*#") == []
    assert caller.send(PromptFinished()) == [HangUp(reason)]


def test_typing_while_the_service_looks_is_dropped(caller: Caller) -> None:
    caller.looking_up("123")
    assert caller.keys("9*#") == [] and caller.machine.entry == ""
    assert caller.state is S.LOOKING_UP


# -- the lobby ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verdict", [Verdict.ADMITTED, Verdict.FOUND])
def test_the_lobby_waits_until_admitted(caller: Caller, verdict: Verdict) -> None:
    caller.lobby()
    assert caller.keys("12*#") == []
    assert caller.send(PromptFinished()) == [] and caller.state is S.LOBBY
    assert caller.wait(3600) == []  # the lobby has no timer of its own: the meeting decides
    assert caller.send(Told(Verdict.LOBBY)) == []
    assert caller.send(Told(verdict)) == [STOP, Play(Prompt.JOINING)]
    assert caller.send(PromptFinished()) == [Join("123")]


@pytest.mark.parametrize(("verdict", "prompt"), [(Verdict.DENIED, Prompt.DENIED_GOODBYE),
                                                 (Verdict.UNAVAILABLE, Prompt.UNAVAILABLE_GOODBYE)])
def test_the_lobby_ends_in_goodbye_when_refused(caller: Caller, verdict: Verdict, prompt: Prompt) -> None:
    caller.lobby()
    assert caller.send(Told(verdict)) == [STOP, Play(prompt)]
    assert caller.state is S.GOODBYE


# -- the caller hangs up; what cannot happen ---------------------------------------------------------------------------
@pytest.mark.parametrize("reach", ["idle", "prompting", "collecting", "looking_up", "lobby", "joining", "goodbye"])
def test_the_caller_hanging_up_ends_it_from_every_live_state(reach: str) -> None:
    caller = Caller()
    if reach != "idle":
        getattr(caller, reach)()
    assert caller.send(CallerGone()) == []
    assert caller.state is S.ENDED and caller.machine.next_deadline() is None


def test_no_input_leaves_a_final_state_and_no_verdict_comes_unasked(caller: Caller) -> None:
    with pytest.raises(InvalidTransition):
        caller.send(Told(Verdict.FOUND))  # idle: nothing was looked up
    caller.joining().send(PromptFinished())
    for received in (Digit("1"), PromptFinished(), CallerGone(), Told(Verdict.FOUND)):
        with pytest.raises(InvalidTransition):
            caller.send(received)


def test_a_digit_is_a_keypad_key() -> None:
    for bad in ("A", "", "12", " "):
        with pytest.raises(ValueError):
            Digit(bad)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        DialinSettings(first_digit_timeout_s=0)
    with pytest.raises(ValueError):
        DialinSettings(max_attempts=0)


def test_every_row_of_the_table_is_exercised() -> None:
    """Runs last in this module: the tests above went through each (state, event) of the table."""
    assert set(DIALIN_TRANSITIONS) - visited == set()


def test_the_docs_show_the_table() -> None:
    table = dialin.describe()
    assert all(f"`{state}`" in table for state in DialinState)
    docs = Path(__file__).parents[2] / "docs" / "operations.md"
    assert table in docs.read_text()


# -- prompts' pure parts -----------------------------------------------------------------------------------------------
def tone(frequency: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * frequency * t) * 10_000).astype(np.int16)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples[200:-200].astype(np.float64) ** 2)))


def test_resampling_keeps_the_voice_band_and_drops_what_8_khz_cannot_carry() -> None:
    kept = resample(tone(1000, 22050), 22050, 8000)
    assert len(kept) == 8000 and abs(rms(kept) / (10_000 / np.sqrt(2)) - 1) < 0.01
    spectrum = np.abs(np.fft.rfft(kept[200:-200]))
    assert abs(np.argmax(spectrum) * 8000 / len(kept[200:-200]) - 1000) < 5
    # 6 kHz would fold to 2 kHz by decimation: it must be gone (more than 60 dB down)
    assert rms(resample(tone(6000, 22050), 22050, 8000)) < 10_000 / np.sqrt(2) / 1000


def streamed(samples: np.ndarray, rate: int) -> bytes:
    """A WAV as espeak-ng writes it to a pipe: placeholder sizes."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", 0x7FFFF000) + samples.astype("<i2").tobytes())


def test_a_streamed_wav_is_read_to_its_end_whatever_its_header_claims() -> None:
    samples = tone(440, 22050, 0.1)
    parsed, rate = parse_streamed_wav(streamed(samples, 22050))
    assert rate == 22050 and np.array_equal(parsed, samples)
    for bad in (b"", b"RIFF\0\0\0\0WAVE", b"not a wav at all"):
        with pytest.raises(PromptError):
            parse_streamed_wav(bad)


def test_a_silent_prompt_is_refused() -> None:
    with pytest.raises(PromptError, match="silent"):
        check_voiced(Prompt.WELCOME, np.zeros(8000, dtype=np.int16))
    check_voiced(Prompt.WELCOME, tone(300, 8000))


def test_the_player_sends_the_prompt_then_silence_and_tells_its_end_once() -> None:
    ended: list[int] = []
    player = PromptPlayer(ended.append)
    assert not player.next_frame(160).any()  # silence before any prompt
    player.play(np.full(400, 1000, dtype=np.int16))  # 2.5 frames
    frames = [player.next_frame(160) for _ in range(3)]
    assert [int(np.count_nonzero(f)) for f in frames] == [160, 160, 80] and ended == []
    assert not player.next_frame(160).any() and ended == [1]  # told after the last frame went out
    player.next_frame(160)
    assert ended == [1]


def test_a_stopped_prompt_is_silent_at_once_and_its_end_is_never_told() -> None:
    ended: list[int] = []
    player = PromptPlayer(ended.append)
    player.play(np.full(1600, 1000, dtype=np.int16))
    player.next_frame(160)
    player.stop()
    assert not any(player.next_frame(160).any() for _ in range(20)) and ended == []
    player.play(np.full(160, 5, dtype=np.int16))
    for _ in range(2):
        player.next_frame(160)
    assert ended == [3]  # the number of the play() that ended: the stopped one's (1) never comes


@pytest.fixture(autouse=True, scope="module")
def _fresh_coverage() -> Iterator[None]:
    visited.clear()
    yield
