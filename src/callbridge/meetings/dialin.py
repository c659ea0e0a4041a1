"""Phone dial-in's prompt machine, sans I/O: which prompt plays, which digits count, when to look the conference
up, and when to join or say goodbye. One transition table (``DIALIN_TRANSITIONS``); anything not in it raises.

Inputs (``handle(input, now)`` and ``on_timer(now)``): the call was answered, a digit (0-9, ``*``, ``#``), the
prompt finished, a timer, the conference id's verdict (found, not found, lobby, admitted, denied, unavailable), the
caller hung up. Outputs: typed actions, ``Play``, ``StopPlaying``, ``Lookup``, ``Join`` and ``HangUp``, which the
shell (``dialin_session``) carries out on real media.

Why the guards are in ``_classify`` and not in the table: an input becomes one ``DialinEvent`` by looking at the
entry (``#`` on an empty entry is not a submission; a timer is the first-digit one while nothing is typed, the
inter-digit one after) and at the attempts left (the last "not found" says goodbye); the table then stays plain
data that ``describe()`` renders for docs/operations.md.

- A digit typed while a prompt plays stops the prompt (barge-in) and counts.
- ``*`` clears the entry; ``#`` submits it; so does the inter-digit timeout (the caller forgot ``#``). Digits past
  ``max_digits`` are dropped (the lookup of what was kept then says "not found").
- No digit within ``first_digit_timeout_s`` of the prompt's end: goodbye. ``max_attempts`` ids not found: goodbye.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from callbridge.meetings.prompts import Prompt
from callbridge.state_tables import InvalidTransition, moves_by_state


# -- inputs -------------------------------------------------------------------------------------------------------
class Verdict(StrEnum):
    """What the meeting service says of an entered conference id (and later of a caller waiting in its lobby)."""

    FOUND = "found"  # join now
    NOT_FOUND = "not found"
    LOBBY = "lobby"  # the meeting exists; the caller waits until someone lets them in (ADMITTED or DENIED)
    ADMITTED = "admitted"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"  # the lookup failed or timed out: the caller is told to call again later


@dataclass(frozen=True)
class Answered:
    pass


@dataclass(frozen=True)
class Digit:
    digit: str  # 0-9, *, #

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in "0123456789*#":
            raise ValueError(f"not a keypad digit: {self.digit!r}")


@dataclass(frozen=True)
class PromptFinished:
    pass


@dataclass(frozen=True)
class Told:
    verdict: Verdict


@dataclass(frozen=True)
class CallerGone:
    pass


Input = Answered | Digit | PromptFinished | Told | CallerGone


# -- outputs ------------------------------------------------------------------------------------------------------
class HangUpReason(StrEnum):
    NO_DIGITS = "no digits"
    NOT_FOUND = "conference id not found"
    DENIED = "not admitted"
    UNAVAILABLE = "meeting service unavailable"


@dataclass(frozen=True)
class Play:
    prompt: Prompt


@dataclass(frozen=True)
class StopPlaying:
    pass


@dataclass(frozen=True)
class Lookup:
    conference_id: str


@dataclass(frozen=True)
class Join:
    conference_id: str


@dataclass(frozen=True)
class HangUp:
    reason: HangUpReason


Action = Play | StopPlaying | Lookup | Join | HangUp


# -- the table ----------------------------------------------------------------------------------------------------
class DialinState(StrEnum):
    IDLE = "idle"  # not answered yet
    PROMPTING = "prompting"  # asking for the id (first time or again): digits barge in
    COLLECTING = "collecting"  # the caller types
    LOOKING_UP = "looking up"  # the meeting service is asked
    LOBBY = "lobby"  # told to wait; waits for ADMITTED or DENIED
    JOINING = "joining"  # "you are now joining"; then Join
    GOODBYE = "goodbye"  # a goodbye prompt; then HangUp
    JOINED = "joined"  # final: the shell hands the call on
    ENDED = "ended"  # final


class DialinEvent(StrEnum):
    ANSWERED = "answered"
    DIGIT = "0-9"
    STAR = "*"
    SUBMIT = "# (entry)"
    POUND_EMPTY = "# (no entry)"
    PROMPT_FINISHED = "prompt finished"
    FIRST_DIGIT_TIMEOUT = "first-digit timeout"
    INTER_DIGIT_TIMEOUT = "inter-digit timeout"
    FOUND = "found"
    NOT_FOUND = "not found (attempts left)"
    NOT_FOUND_LAST = "not found (last attempt)"
    LOBBY = "lobby"
    ADMITTED = "admitted"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"
    CALLER_GONE = "caller gone"


class Step(StrEnum):
    """What a row does besides the actions it names: each touches the entry, the timer or the attempts."""

    ADD_DIGIT = "add digit"
    CLEAR = "clear entry"
    ARM_FIRST = "arm first-digit timer"
    ARM_INTER = "arm inter-digit timer"
    DISARM = "disarm timer"
    LOOKUP = "look up entry"
    COUNT_ATTEMPT = "count attempt"
    JOIN = "join"
    HANG_UP = "hang up"


Do = Step | Play | StopPlaying
Row = tuple[DialinState, tuple[Do, ...]]

S, E = DialinState, DialinEvent
_STOP = StopPlaying()
_TYPING = (E.DIGIT, E.STAR, E.POUND_EMPTY)  # the entry is empty in these states: no SUBMIT
_LIVE = (S.PROMPTING, S.COLLECTING, S.LOOKING_UP, S.LOBBY, S.JOINING, S.GOODBYE)


def _ignore_typing(state: DialinState) -> dict[tuple[DialinState, DialinEvent], Row]:
    """Keys pressed while nothing is asked for (RFC 4733 events keep coming): heard and dropped."""
    return {(state, event): (state, ()) for event in _TYPING}


DIALIN_TRANSITIONS: Final[Mapping[tuple[DialinState, DialinEvent], Row]] = {
    (S.IDLE, E.ANSWERED): (S.PROMPTING, (Play(Prompt.WELCOME),)),
    (S.IDLE, E.CALLER_GONE): (S.ENDED, ()),
    # barge-in: a key stops the prompt and counts (the entry is always empty while asking)
    (S.PROMPTING, E.DIGIT): (S.COLLECTING, (_STOP, Step.ADD_DIGIT, Step.ARM_INTER)),
    (S.PROMPTING, E.STAR): (S.COLLECTING, (_STOP, Step.ARM_FIRST)),
    (S.PROMPTING, E.POUND_EMPTY): (S.COLLECTING, (_STOP, Step.ARM_FIRST)),
    (S.PROMPTING, E.PROMPT_FINISHED): (S.COLLECTING, (Step.ARM_FIRST,)),
    (S.COLLECTING, E.DIGIT): (S.COLLECTING, (Step.ADD_DIGIT, Step.ARM_INTER)),
    (S.COLLECTING, E.STAR): (S.COLLECTING, (Step.CLEAR, Step.ARM_FIRST)),
    (S.COLLECTING, E.POUND_EMPTY): (S.COLLECTING, ()),  # nothing to submit; the first-digit timer runs on
    (S.COLLECTING, E.SUBMIT): (S.LOOKING_UP, (Step.DISARM, Step.LOOKUP)),
    (S.COLLECTING, E.INTER_DIGIT_TIMEOUT): (S.LOOKING_UP, (Step.LOOKUP,)),
    (S.COLLECTING, E.FIRST_DIGIT_TIMEOUT): (S.GOODBYE, (Play(Prompt.NO_DIGITS_GOODBYE),)),
    **_ignore_typing(S.LOOKING_UP),
    (S.LOOKING_UP, E.FOUND): (S.JOINING, (Play(Prompt.JOINING),)),
    (S.LOOKING_UP, E.ADMITTED): (S.JOINING, (Play(Prompt.JOINING),)),
    (S.LOOKING_UP, E.NOT_FOUND): (S.PROMPTING, (Step.COUNT_ATTEMPT, Step.CLEAR, Play(Prompt.NOT_FOUND_RETRY))),
    (S.LOOKING_UP, E.NOT_FOUND_LAST): (S.GOODBYE, (Step.COUNT_ATTEMPT, Play(Prompt.NOT_FOUND_GOODBYE))),
    (S.LOOKING_UP, E.LOBBY): (S.LOBBY, (Play(Prompt.LOBBY),)),
    (S.LOOKING_UP, E.DENIED): (S.GOODBYE, (Play(Prompt.DENIED_GOODBYE),)),
    (S.LOOKING_UP, E.UNAVAILABLE): (S.GOODBYE, (Play(Prompt.UNAVAILABLE_GOODBYE),)),
    **_ignore_typing(S.LOBBY),
    (S.LOBBY, E.PROMPT_FINISHED): (S.LOBBY, ()),
    (S.LOBBY, E.LOBBY): (S.LOBBY, ()),  # told again: still waiting
    (S.LOBBY, E.ADMITTED): (S.JOINING, (_STOP, Play(Prompt.JOINING))),
    (S.LOBBY, E.FOUND): (S.JOINING, (_STOP, Play(Prompt.JOINING))),
    (S.LOBBY, E.DENIED): (S.GOODBYE, (_STOP, Play(Prompt.DENIED_GOODBYE))),
    (S.LOBBY, E.UNAVAILABLE): (S.GOODBYE, (_STOP, Play(Prompt.UNAVAILABLE_GOODBYE))),
    **_ignore_typing(S.JOINING),
    (S.JOINING, E.PROMPT_FINISHED): (S.JOINED, (Step.JOIN,)),
    **_ignore_typing(S.GOODBYE),
    (S.GOODBYE, E.PROMPT_FINISHED): (S.ENDED, (Step.HANG_UP,)),
    **{(state, E.CALLER_GONE): (S.ENDED, (Step.DISARM,)) for state in _LIVE},
}

# the goodbye that was played says why the call ends
GOODBYES: Final[Mapping[Prompt, HangUpReason]] = {
    Prompt.NO_DIGITS_GOODBYE: HangUpReason.NO_DIGITS,
    Prompt.NOT_FOUND_GOODBYE: HangUpReason.NOT_FOUND,
    Prompt.DENIED_GOODBYE: HangUpReason.DENIED,
    Prompt.UNAVAILABLE_GOODBYE: HangUpReason.UNAVAILABLE,
}
_VERDICT_EVENTS: Final[Mapping[Verdict, DialinEvent]] = {
    Verdict.FOUND: E.FOUND, Verdict.LOBBY: E.LOBBY, Verdict.ADMITTED: E.ADMITTED, Verdict.DENIED: E.DENIED,
    Verdict.UNAVAILABLE: E.UNAVAILABLE,
}


@dataclass(frozen=True)
class DialinSettings:
    first_digit_timeout_s: float = 10.0  # after a prompt ends (or * clears), the first key must come within this
    inter_digit_timeout_s: float = 5.0  # a pause this long after a key submits what was typed
    max_attempts: int = 3  # conference ids not found before goodbye
    max_digits: int = 15  # longer entries are cut here

    def __post_init__(self) -> None:
        if self.first_digit_timeout_s <= 0 or self.inter_digit_timeout_s <= 0:
            raise ValueError("dial-in timeouts are positive")
        if self.max_attempts < 1 or self.max_digits < 1:
            raise ValueError("dial-in allows at least one attempt of at least one digit")


class DialinMachine:
    def __init__(self, settings: DialinSettings = DialinSettings()) -> None:
        self.settings = settings
        self.state = DialinState.IDLE
        self.entry = ""
        self.attempts = 0  # ids not found so far
        self.conference_id: str | None = None  # the id last looked up
        self._deadline: float | None = None
        self._playing: Prompt | None = None  # the last prompt asked for

    def next_deadline(self) -> float | None:
        return self._deadline

    def on_timer(self, now: float) -> list[Action]:
        """The armed timer, if it is due (a timer that is not due, or none armed, does nothing)."""
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        event = E.INTER_DIGIT_TIMEOUT if self.entry else E.FIRST_DIGIT_TIMEOUT
        return self._fire(event, now, "")

    def handle(self, received: Input, now: float) -> list[Action]:
        digit = received.digit if isinstance(received, Digit) else ""
        return self._fire(self._classify(received), now, digit)

    def _classify(self, received: Input) -> DialinEvent:
        if isinstance(received, Answered):
            return E.ANSWERED
        if isinstance(received, PromptFinished):
            return E.PROMPT_FINISHED
        if isinstance(received, CallerGone):
            return E.CALLER_GONE
        if isinstance(received, Digit):
            if received.digit == "*":
                return E.STAR
            if received.digit == "#":
                return E.SUBMIT if self.entry else E.POUND_EMPTY
            return E.DIGIT
        if received.verdict is Verdict.NOT_FOUND:
            return E.NOT_FOUND if self.attempts + 1 < self.settings.max_attempts else E.NOT_FOUND_LAST
        return _VERDICT_EVENTS[received.verdict]

    def _fire(self, event: DialinEvent, now: float, digit: str) -> list[Action]:
        try:
            self.state, steps = DIALIN_TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition("dial-in", self.state, event) from None
        actions: list[Action] = []
        for step in steps:
            if isinstance(step, Step):
                actions += self._carry_out(step, now, digit)
            else:
                if isinstance(step, Play):
                    self._playing = step.prompt
                actions.append(step)
        return actions

    def _carry_out(self, step: Step, now: float, digit: str) -> list[Action]:
        settings = self.settings
        if step is Step.ADD_DIGIT and len(self.entry) < settings.max_digits:
            self.entry += digit
        elif step is Step.CLEAR:
            self.entry = ""
        elif step is Step.ARM_FIRST:
            self._deadline = now + settings.first_digit_timeout_s
        elif step is Step.ARM_INTER:
            self._deadline = now + settings.inter_digit_timeout_s
        elif step is Step.DISARM:
            self._deadline = None
        elif step is Step.COUNT_ATTEMPT:
            self.attempts += 1
        elif step is Step.LOOKUP:
            self.conference_id, self.entry = self.entry, ""
            return [Lookup(self.conference_id)]
        elif step is Step.JOIN:
            assert self.conference_id is not None
            return [Join(self.conference_id)]
        elif step is Step.HANG_UP:
            assert self._playing is not None
            return [HangUp(GOODBYES[self._playing])]
        return []


def describe() -> str:
    """The table as Markdown (docs/operations.md embeds it; a unit test keeps the two equal)."""
    def move(state: DialinState, event: DialinEvent) -> str | None:
        if (state, event) not in DIALIN_TRANSITIONS:
            return None
        target, steps = DIALIN_TRANSITIONS[state, event]
        return f"`{target}`{_steps(steps)}"
    return "\n".join(moves_by_state("state | event → next state: what is done", DialinState, DialinEvent, move,
                                     joined_by="; ")) + "\n"


def _steps(steps: tuple[Do, ...]) -> str:
    if not steps:
        return ""
    return ": " + ", ".join(f"play {step.prompt}" if isinstance(step, Play) else "stop playing"
                            if isinstance(step, StopPlaying) else str(step) for step in steps)
