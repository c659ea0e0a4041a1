"""A phone leg's states, the events it reacts to, and its one transition table.

A row maps (state, event) to (next state, step): the step is what the leg does on the way (`pstn.leg` carries it
out as actions for its I/O shell, `pstn.bridge`). A pair not in the table raises ``InvalidTransition``: news that can
legitimately arrive in a state (an ICE candidate while the phone rings, a repeated 18x) has its own row, so only a
broken driver or peer raises.

Each gateway request (``MediaOffer``/``MediaAnswer``) has a state of its own while it runs (``Offering``,
``Answering``, ``Reoffering``...): its result is the next event, ``media ready`` or ``media refused``, and what that
result is for is the state it arrives in. The shell feeds one input at a time, the results of its actions first,
so news from the call or the phone never reaches a state that waits for the gateway or the phone's answer to our
re-INVITE. ``describe()`` renders the table for docs/architecture.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from callbridge.state_tables import InvalidTransition


class LegState(StrEnum):
    # use case 1, out: the call rings the leg, the leg calls the phone over a trunk
    AWAITING_CALL = "AwaitingCall"  # attached to the bus; the call's CallIncoming not yet read
    OFFERING = "Offering"  # the gateway turns the agent's offer into the trunk's plain offer
    INVITING = "Inviting"  # an INVITE on one trunk, no 18x yet: a trunk failure may fail over
    RINGING = "Ringing"  # a 180 (or 183 without SDP) came: the far end was reached, its failure is the call's
    EARLY_ANSWERING = "EarlyAnswering"  # the gateway turns a 183's SDP into the agent's answer
    EARLY_MEDIA = "EarlyMedia"  # the agent has the early answer; the 200 will repeat it
    ANSWERING = "Answering"  # the gateway turns the 200's SDP into the agent's answer
    # use case 2, in: a phone calls a user's number
    INVITED = "Invited"  # an INVITE the screening admitted, nothing allocated
    ROUTING = "Routing"  # the called number's user being looked up
    PLACING = "Placing"  # the gateway makes the agents' WebRTC offer, then the call rings them
    CALLING = "Calling"  # the call exists; no agent rings yet
    ALERTING = "Alerting"  # agents ring: the phone has its 180
    ANSWERING_PHONE = "AnsweringPhone"  # an agent answered: the gateway makes the phone's answer
    # a phone with the conference mixer (a group call or a meeting): its media straight to the mixer, plain RTP
    DIALLED_IN = "DialledIn"  # the dial-in answered it and joined it to a meeting: the mixer's offer comes next
    MIXED = "Mixed"  # connected, media with the mixer (no gateway)
    MIXER_REINVITING = "MixerReinviting"  # our re-INVITE with the mixer's SDP awaits the phone's answer
    MIXER_GLARED = "MixerGlared"  # that re-INVITE crossed the phone's (491): it goes again when the timer fires
    # both
    CONNECTED = "Connected"
    REOFFERING = "Reoffering"  # the agent held or resumed: the gateway makes the phone's plain re-offer
    REINVITING = "Reinviting"  # our re-INVITE awaits the phone's answer
    SETTLING = "Settling"  # the gateway takes the phone's answer to our re-INVITE
    TAKING_OFFER = "TakingOffer"  # the phone re-invited: the gateway takes its offer
    MAKING_ANSWER = "MakingAnswer"  # the gateway makes the phone's answer from the agent's last SDP
    ENDED = "Ended"


class LegEvent(StrEnum):
    # from the call (calling.events), as `PhoneLeg.classify` reads them
    CALL_INCOMING = "call incoming"  # the call rings this leg, with the agent's offer
    CALL_INCOMING_DIRECT = "call incoming, plain offer"  # a group call dials the phone with the mixer's offer
    MIXER_OFFER = "mixer offer"  # call sdp with a media session: the call's media moves to the mixer
    MIXER_MOVED = "mixer moved"  # call sdp, the leg with the mixer: the mixer's side moved to the phone's address
    CALL_CANCELLED = "call incoming ended"  # the caller cancelled, or nobody answered in time
    CALL_RINGING = "call ringing"  # a user's agent rings (call.state Ringing)
    CALL_SDP = "call sdp"  # the agent's SDP: its answer (in), or a re-offer (ignored: the gateway keeps its side)
    AGENT_HOLDS = "agent holds"  # call.state RemoteHold while the phone is not held
    AGENT_RESUMES = "agent resumes"  # call.state Connected while the phone is held
    CALL_DTMF = "call dtmf"
    CALL_ENDED = "call disconnected"  # call.state Disconnected
    CALL_NOTICE = "call notice"  # nothing for the phone: ICE, the roster, other states, a hold unchanged
    # from the phone (sip.useragent_events, and our re-INVITE's outcome)
    PHONE_INVITED = "INVITE"  # an offer the gateway may take, a number in the Request-URI
    PHONE_BAD_OFFER = "INVITE, offer refused"
    PHONE_NO_NUMBER = "INVITE, no number"
    PHONE_RINGING = "18x"  # a 180, or a 183 without SDP
    PHONE_EARLY_MEDIA = "183 with SDP"
    PHONE_ANSWERED = "2xx"
    PHONE_EARLY_MEDIA_DIRECT = "183 with SDP, with the mixer"
    PHONE_ANSWERED_DIRECT = "2xx, with the mixer"
    TRUNK_FAILED = "408/500/503/504, a trunk left"  # the trunk (not the phone) failed, another may take the call
    PHONE_REFUSED = "3xx-6xx"  # any other final failure (a trunk's failure on the last trunk too)
    PHONE_CANCELLED = "CANCEL"
    PHONE_ENDED = "BYE"  # the phone hung up (or its dialog is gone)
    PHONE_REOFFER = "re-INVITE"  # a new offer: hold or resume
    PHONE_REFRESH = "re-INVITE, same SDP"  # no SDP, or the same o= version (RFC 4028, RFC 3264 8)
    PHONE_BAD_REOFFER = "re-INVITE, offer refused"
    REINVITE_ANSWERED = "re-INVITE 2xx"
    REINVITE_ANSWERED_EMPTY = "re-INVITE 2xx, no SDP"
    REINVITE_GLARE = "re-INVITE 491"  # both sides re-invited at once (RFC 3261 14.1): try again later
    REINVITE_REFUSED = "re-INVITE refused"
    # from the leg's own work
    NUMBER_ROUTED = "number routed"  # the number is a user of the trunk's tenant who takes phone calls
    NUMBER_REFUSED = "number refused"  # `pstn.inbound.judge_user` refused it
    CALL_PLACED = "call placed"  # the call rings the user's agents: the leg has its call id
    TRUNK_UNUSABLE = "trunk unusable"  # at its limits, disabled since, or a transport SIP does not listen on
    NO_TRUNK_LEFT = "no trunk left"
    MEDIA_READY = "media ready"  # the gateway's rewritten SDP
    MEDIA_REFUSED = "media refused"  # the gateway (or the SDP checks before it) refused
    MEDIA_DEAD = "dead media"  # no RTP from the phone for the configured time
    TIMER = "glare timer"


class Step(StrEnum):
    """What the leg does on a transition (each a method of `PhoneLeg`)."""

    NOTHING = "-"
    OFFER_TO_TRUNK = "gateway offer for the trunk"
    INVITE_FIRST = "INVITE over the first trunk"
    INVITE_NEXT = "INVITE over the next trunk"
    FAIL_OVER = "count the failover, INVITE over the next trunk"
    REJECT_WITH_FAILURE = "reject: the last trunk's failure"
    REJECT_WITH_STATUS = "reject: the status's end reason"
    REJECT_TRUNK_BUSY = "reject 503/560503"
    ALERT = "alerting"
    EARLY_ANSWER = "gateway answer for the agent"
    SEND_EARLY_MEDIA = "early media with the answer"
    ACCEPT = "accept with the answer"
    ACCEPT_EARLY = "accept (early media gave the answer)"
    GIVE_UP_RINGING = "reject 503/560503, hang up the phone"
    CANCEL_INVITE = "CANCEL"
    HANG_UP_PHONE = "BYE (CANCEL unanswered)"
    TELL_HUNG_UP = "hang up 0/560000"
    TELL_CANCELLED = "hang up (a cancel)"
    TELL_MEDIA_LOST = "hang up 410/301005"
    LOOK_UP = "look the number up"
    DECLINE_OFFER = "488 with a Warning"
    DECLINE_NOT_FOUND = "404"
    DECLINE_ROUTE = "record, refuse with the route's status"
    OFFER_TO_AGENTS = "take a place on the trunk, gateway offer for the agents"
    PLACE_CALL = "ring the user's agents"
    NOTE_CALL = "keep the call's id"
    DECLINE_UNAVAILABLE = "488 (an offer the gateway refused) or 503"
    RING = "180"
    ANSWER_FOR_PHONE = "gateway answer for the phone"
    ANSWER_PHONE = "200 with the answer"
    GIVE_UP_CALLER = "hang up 503/560503, 488 or 503"
    DECLINE_FOR_CALL = "603, 487 or 480 as the call ended"
    REOFFER = "gateway re-offer, sendonly or sendrecv"
    REINVITE = "re-INVITE"
    SETTLE = "gateway takes the answer"
    ARM_GLARE_TIMER = "arm the glare timer"
    GIVE_UP_CONNECTED = "hang up 503/560503, BYE"
    TAKE_REOFFER = "gateway takes the phone's offer"
    ANSWER_REOFFER = "gateway answer from the agent's last SDP"
    ACCEPT_REOFFER = "200, hold or resume"
    ACCEPT_REFRESH = "200 with the current SDP"
    REFUSE_REOFFER = "488"
    SEND_DTMF = "RFC 4733 digit"
    INVITE_DIRECT = "INVITE with the mixer's offer over the first trunk"
    SEND_EARLY_MEDIA_DIRECT = "early media with the phone's answer"
    ACCEPT_DIRECT = "accept with the phone's answer"
    ACCEPT_EARLY_DIRECT = "accept; re-INVITE if the mixer moved meanwhile"
    KEEP_MIXER_SDP = "keep the mixer's side for after the answer"
    REINVITE_FOR_MIXER = "the gateway's session goes; re-INVITE with the mixer's SDP"
    ANSWER_MIXER = "the phone's answer to the mixer's offer"
    REINVITE_AGAIN = "re-INVITE with the mixer's SDP again"


S, E, D = LegState, LegEvent, Step
Row = tuple[LegState, Step]
_OUT_RINGING = (S.INVITING, S.RINGING, S.EARLY_MEDIA)
_IN_RINGING = (S.CALLING, S.ALERTING)
_STABLE = (*_OUT_RINGING, *_IN_RINGING, S.CONNECTED)  # the states that read news from the call and the phone
_WITH_MIXER = (S.DIALLED_IN, S.MIXED, S.MIXER_GLARED)  # those of a phone whose media is the mixer's

TRANSITIONS: Final[dict[tuple[LegState, LegEvent], Row]] = {
    # -- out ----------------------------------------------------------------------------------------------------
    (S.AWAITING_CALL, E.CALL_INCOMING): (S.OFFERING, D.OFFER_TO_TRUNK),
    (S.OFFERING, E.MEDIA_READY): (S.INVITING, D.INVITE_FIRST),
    (S.OFFERING, E.MEDIA_REFUSED): (S.ENDED, D.REJECT_TRUNK_BUSY),
    (S.INVITING, E.TRUNK_UNUSABLE): (S.INVITING, D.INVITE_NEXT),
    (S.INVITING, E.TRUNK_FAILED): (S.INVITING, D.FAIL_OVER),  # before any 18x: the next trunk may take it
    (S.INVITING, E.NO_TRUNK_LEFT): (S.ENDED, D.REJECT_WITH_FAILURE),
    (S.RINGING, E.TRUNK_FAILED): (S.ENDED, D.REJECT_WITH_STATUS),  # after a 18x the failure is the call's
    (S.EARLY_MEDIA, E.TRUNK_FAILED): (S.ENDED, D.REJECT_WITH_STATUS),
    **{(state, E.PHONE_REFUSED): (S.ENDED, D.REJECT_WITH_STATUS) for state in _OUT_RINGING},
    (S.INVITING, E.PHONE_RINGING): (S.RINGING, D.ALERT),
    (S.RINGING, E.PHONE_RINGING): (S.RINGING, D.ALERT),
    (S.EARLY_MEDIA, E.PHONE_RINGING): (S.EARLY_MEDIA, D.ALERT),
    (S.INVITING, E.PHONE_EARLY_MEDIA): (S.EARLY_ANSWERING, D.EARLY_ANSWER),
    (S.RINGING, E.PHONE_EARLY_MEDIA): (S.EARLY_ANSWERING, D.EARLY_ANSWER),
    (S.EARLY_MEDIA, E.PHONE_EARLY_MEDIA): (S.EARLY_MEDIA, D.ALERT),  # the first 183's SDP is the early answer
    (S.EARLY_ANSWERING, E.MEDIA_READY): (S.EARLY_MEDIA, D.SEND_EARLY_MEDIA),
    (S.EARLY_ANSWERING, E.MEDIA_REFUSED): (S.ENDED, D.GIVE_UP_RINGING),
    (S.INVITING, E.PHONE_ANSWERED): (S.ANSWERING, D.EARLY_ANSWER),
    (S.RINGING, E.PHONE_ANSWERED): (S.ANSWERING, D.EARLY_ANSWER),
    (S.EARLY_MEDIA, E.PHONE_ANSWERED): (S.CONNECTED, D.ACCEPT_EARLY),  # RFC 3261 13.2.1: the 2xx repeats it
    (S.ANSWERING, E.MEDIA_READY): (S.CONNECTED, D.ACCEPT),
    (S.ANSWERING, E.MEDIA_REFUSED): (S.ENDED, D.GIVE_UP_RINGING),
    **{(state, E.CALL_CANCELLED): (S.ENDED, D.CANCEL_INVITE) for state in _OUT_RINGING},
    **{(state, E.CALL_ENDED): (S.ENDED, D.HANG_UP_PHONE) for state in _OUT_RINGING},
    **{(state, E.PHONE_ENDED): (S.ENDED, D.TELL_HUNG_UP) for state in _OUT_RINGING},
    **{(state, E.MEDIA_DEAD): (state, D.NOTHING) for state in _OUT_RINGING},  # no answer yet: silence is no news
    # -- in -----------------------------------------------------------------------------------------------------
    (S.INVITED, E.PHONE_INVITED): (S.ROUTING, D.LOOK_UP),
    (S.INVITED, E.PHONE_BAD_OFFER): (S.ENDED, D.DECLINE_OFFER),
    (S.INVITED, E.PHONE_NO_NUMBER): (S.ENDED, D.DECLINE_NOT_FOUND),
    (S.ROUTING, E.NUMBER_ROUTED): (S.PLACING, D.OFFER_TO_AGENTS),
    (S.ROUTING, E.NUMBER_REFUSED): (S.ENDED, D.DECLINE_ROUTE),
    (S.PLACING, E.MEDIA_READY): (S.PLACING, D.PLACE_CALL),
    (S.PLACING, E.MEDIA_REFUSED): (S.ENDED, D.DECLINE_UNAVAILABLE),
    (S.PLACING, E.CALL_PLACED): (S.CALLING, D.NOTE_CALL),
    (S.CALLING, E.CALL_RINGING): (S.ALERTING, D.RING),
    (S.ALERTING, E.CALL_RINGING): (S.ALERTING, D.NOTHING),
    (S.CALLING, E.CALL_SDP): (S.ANSWERING_PHONE, D.ANSWER_FOR_PHONE),  # the first agent to accept
    (S.ALERTING, E.CALL_SDP): (S.ANSWERING_PHONE, D.ANSWER_FOR_PHONE),
    (S.ANSWERING_PHONE, E.MEDIA_READY): (S.CONNECTED, D.ANSWER_PHONE),
    (S.ANSWERING_PHONE, E.MEDIA_REFUSED): (S.ENDED, D.GIVE_UP_CALLER),
    **{(state, E.PHONE_CANCELLED): (S.ENDED, D.TELL_CANCELLED) for state in _IN_RINGING},
    **{(state, E.PHONE_ENDED): (S.ENDED, D.TELL_HUNG_UP) for state in _IN_RINGING},
    **{(state, E.CALL_ENDED): (S.ENDED, D.DECLINE_FOR_CALL) for state in _IN_RINGING},
    **{(state, E.MEDIA_DEAD): (state, D.TELL_MEDIA_LOST) for state in _IN_RINGING},
    # -- with the mixer -------------------------------------------------------------------------------------------
    (S.AWAITING_CALL, E.CALL_INCOMING_DIRECT): (S.INVITING, D.INVITE_DIRECT),
    (S.INVITING, E.PHONE_EARLY_MEDIA_DIRECT): (S.EARLY_MEDIA, D.SEND_EARLY_MEDIA_DIRECT),
    (S.RINGING, E.PHONE_EARLY_MEDIA_DIRECT): (S.EARLY_MEDIA, D.SEND_EARLY_MEDIA_DIRECT),
    (S.EARLY_MEDIA, E.PHONE_EARLY_MEDIA_DIRECT): (S.EARLY_MEDIA, D.ALERT),
    (S.INVITING, E.PHONE_ANSWERED_DIRECT): (S.MIXED, D.ACCEPT_DIRECT),
    (S.RINGING, E.PHONE_ANSWERED_DIRECT): (S.MIXED, D.ACCEPT_DIRECT),
    (S.EARLY_MEDIA, E.PHONE_ANSWERED_DIRECT): (S.MIXED, D.ACCEPT_EARLY_DIRECT),
    (S.EARLY_MEDIA, E.MIXER_MOVED): (S.EARLY_MEDIA, D.KEEP_MIXER_SDP),  # no re-INVITE before the 2xx
    **{(state, E.MIXER_OFFER): (S.MIXER_REINVITING, D.REINVITE_FOR_MIXER)
       for state in (S.CONNECTED, *_WITH_MIXER)},
    (S.MIXED, E.MIXER_MOVED): (S.MIXER_REINVITING, D.REINVITE_FOR_MIXER),
    (S.MIXER_GLARED, E.MIXER_MOVED): (S.MIXER_REINVITING, D.REINVITE_FOR_MIXER),  # the newer SDP goes now
    (S.MIXER_REINVITING, E.REINVITE_ANSWERED): (S.MIXED, D.ANSWER_MIXER),
    (S.MIXER_REINVITING, E.REINVITE_ANSWERED_EMPTY): (S.MIXED, D.ANSWER_MIXER),
    (S.MIXER_REINVITING, E.REINVITE_REFUSED): (S.ENDED, D.GIVE_UP_CONNECTED),
    (S.MIXER_REINVITING, E.REINVITE_GLARE): (S.MIXER_GLARED, D.ARM_GLARE_TIMER),
    (S.MIXER_GLARED, E.TIMER): (S.MIXER_REINVITING, D.REINVITE_AGAIN),
    (S.DIALLED_IN, E.CALL_SDP): (S.DIALLED_IN, D.NOTHING),  # no media session yet: nothing to re-invite with
    **{(state, E.PHONE_ENDED): (S.ENDED, D.TELL_HUNG_UP) for state in _WITH_MIXER},
    **{(state, E.CALL_ENDED): (S.ENDED, D.HANG_UP_PHONE) for state in _WITH_MIXER},
    **{(state, E.PHONE_REOFFER): (state, D.ACCEPT_REFRESH) for state in _WITH_MIXER},  # no hold from the phone
    **{(state, E.PHONE_REFRESH): (state, D.ACCEPT_REFRESH) for state in _WITH_MIXER},
    **{(state, E.PHONE_BAD_REOFFER): (state, D.REFUSE_REOFFER) for state in _WITH_MIXER},
    **{(state, event): (state, D.NOTHING) for state in _WITH_MIXER  # no gateway: no DTMF to send, no RTP watch
       for event in (E.CALL_NOTICE, E.CALL_DTMF, E.MEDIA_DEAD)},
    # -- connected ----------------------------------------------------------------------------------------------
    (S.CONNECTED, E.AGENT_HOLDS): (S.REOFFERING, D.REOFFER),  # RFC 3264 8.4: sendonly, then sendrecv
    (S.CONNECTED, E.AGENT_RESUMES): (S.REOFFERING, D.REOFFER),
    (S.CONNECTED, E.TIMER): (S.REOFFERING, D.REOFFER),
    (S.REOFFERING, E.MEDIA_READY): (S.REINVITING, D.REINVITE),
    (S.REOFFERING, E.MEDIA_REFUSED): (S.ENDED, D.GIVE_UP_CONNECTED),
    (S.REINVITING, E.REINVITE_ANSWERED): (S.SETTLING, D.SETTLE),
    (S.REINVITING, E.REINVITE_ANSWERED_EMPTY): (S.CONNECTED, D.NOTHING),
    (S.REINVITING, E.REINVITE_GLARE): (S.CONNECTED, D.ARM_GLARE_TIMER),
    (S.REINVITING, E.REINVITE_REFUSED): (S.CONNECTED, D.NOTHING),  # the session goes on as it was
    (S.SETTLING, E.MEDIA_READY): (S.CONNECTED, D.NOTHING),
    (S.SETTLING, E.MEDIA_REFUSED): (S.ENDED, D.GIVE_UP_CONNECTED),
    (S.CONNECTED, E.PHONE_REOFFER): (S.TAKING_OFFER, D.TAKE_REOFFER),
    (S.CONNECTED, E.PHONE_REFRESH): (S.CONNECTED, D.ACCEPT_REFRESH),
    (S.CONNECTED, E.PHONE_BAD_REOFFER): (S.CONNECTED, D.REFUSE_REOFFER),
    (S.TAKING_OFFER, E.MEDIA_READY): (S.MAKING_ANSWER, D.ANSWER_REOFFER),
    (S.TAKING_OFFER, E.MEDIA_REFUSED): (S.CONNECTED, D.REFUSE_REOFFER),
    (S.MAKING_ANSWER, E.MEDIA_READY): (S.CONNECTED, D.ACCEPT_REOFFER),
    (S.MAKING_ANSWER, E.MEDIA_REFUSED): (S.CONNECTED, D.REFUSE_REOFFER),
    (S.CONNECTED, E.CALL_DTMF): (S.CONNECTED, D.SEND_DTMF),
    (S.CONNECTED, E.MEDIA_DEAD): (S.CONNECTED, D.TELL_MEDIA_LOST),  # the call's Disconnected brings the BYE
    (S.CONNECTED, E.PHONE_ENDED): (S.ENDED, D.TELL_HUNG_UP),
    (S.CONNECTED, E.CALL_ENDED): (S.ENDED, D.HANG_UP_PHONE),
    # -- news that changes nothing, wherever news is read ---------------------------------------------------------
    **{(state, E.CALL_NOTICE): (state, D.NOTHING) for state in _STABLE},
    **{(state, E.CALL_SDP): (state, D.NOTHING) for state in (*_OUT_RINGING, S.CONNECTED)},
}


def leg_next(state: LegState, event: LegEvent) -> Row:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition("phone leg", state, event) from None


def describe() -> str:
    """The table as Markdown, one line per row (docs/architecture.md embeds this text; a unit test keeps them
    equal)."""
    rows = ["| phone leg state | event | next state | what the leg does |", "|---|---|---|---|"]
    for state in LegState:
        for event in LegEvent:
            if (state, event) in TRANSITIONS:
                target, step = TRANSITIONS[state, event]
                rows.append(f"| `{state}` | {event} | `{target}` | {step} |")
    return "\n".join(rows) + "\n"
