"""A phone leg, sans-I/O: the call's events, the SIP session's events and the outcomes of its own requests go in
with ``now``; actions for the I/O shell (`pstn.bridge`) come out, and the next deadline.

Every decision of a phone leg lives here and in its table (`pstn.leg_table`): which trunk to try next and when a
failure is the trunk's rather than the phone's (``FAILOVER_STATUSES`` before any 18x, keep-alive failures tried
last), which end reason a SIP status becomes, when early media starts, what a re-INVITE is (hold, resume, a
session refresh, an offer to refuse), what the phone hears when the call ends before an answer. The shell only
carries actions out and feeds their outcomes back, one input at a time.

The leg's WebRTC side is "the peer": its SDP comes in with ``CallIncoming`` (its offer) or ``CallSdp`` (its
answer) and is kept as ``peer_sdp`` to answer and re-offer with; the gateway's WebRTC SDP goes back to it in
``Accept``/``EarlyMedia`` commands. An agent is the peer of a 1:1 call.

In a group call or a meeting the peer is the conference mixer, and the phone's media goes straight to it as plain
RTP (the gateway steps aside: Janus 1.1.2 takes plain RTP from a phone, not WebRTC through the gateway). The
mixer's offer comes as ``CallSdp`` with a media session (the phone is re-invited with it and its answer goes to
the call), or with ``CallIncoming`` when the call dials the phone (the INVITE carries it); when the mixer's side
moves to the phone's address, a ``CallSdp`` without a session re-invites the phone once more.

Timers: one, the glare back-off (RFC 3261 14.1) after our re-INVITE crossed the phone's and got 491; it fires
``TimerFired`` at ``next_deadline()`` and the re-offer goes again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Final

from callbridge.calling import end_reasons as reasons
from callbridge.calling.events import (
    AudioConferencing,
    CallDtmf,
    CallIce,
    CallIncoming,
    CallIncomingEnded,
    CallSdp,
    CallStarted,
    CallStateChanged,
    CapabilitiesChanged,
    DominantSpeakers,
    Event,
    HandChanged,
    MutedByOthers,
    ParticipantAdded,
    ParticipantChanged,
    RoleChanged,
)
from callbridge.calling.protocol import Accept, CallCommand, CallCommandKind, EarlyMedia, HangUp, Payload, Reject, Sdp
from callbridge.calling.states import CallState
from callbridge.media.gateway import Side
from callbridge.pstn import leg_io as io
from callbridge.pstn.inbound import InboundRoute, Refusal, called_number, judge_user
from callbridge.pstn.leg_sdp import directed, same_version, settled_setup
from callbridge.pstn.leg_table import LegEvent, LegState, Step, leg_next
from callbridge.sip.call_sdp import check_call_sdp
from callbridge.sip.dialog_states import glare_delay
from callbridge.sip.offer_answer import NotAcceptableHere, is_hold
from callbridge.sip.sdp import Direction
from callbridge.sip.useragent_events import Answered, Cancelled, Ended, Failed, Ringing, SessionEvent
from callbridge.state_tables import InvalidTransition

WARN_AGENT: Final = "callbridge"  # the warn-agent of Warning header fields (RFC 3261 section 20.43: a pseudonym)
FAILOVER_STATUSES: Final = frozenset({408, 500, 503, 504})  # the trunk (not the phone) failed: try the next
# why a call to a user ended before an answer -> what the phone network hears (else 480)
INBOUND_STATUS: Final = {(603, 0): (603, "Decline"), (487, 0): (487, "Request Terminated")}
K, E, S = CallCommandKind, LegEvent, LegState
Input = Event | SessionEvent | io.LegInput


class _NoTrunkLeft:
    """Said to itself when the last trunk could not take the INVITE."""


class PhoneLeg:
    """One phone leg, either way: ``outbound_leg`` (use case 1) starts awaiting the call's ``CallIncoming``,
    ``inbound_leg`` (use case 2) a ``PhoneInvite``."""

    def __init__(self, state: LegState, *, outbound: bool, trunk_ids: Sequence[str] = (), trunk: Any = None,
                 caller: tuple[str | None, str | None] = (None, None), rng: random.Random | None = None) -> None:
        self.state = state
        self.outbound = outbound
        self.call_id = ""
        self.peer_sdp = ""  # the WebRTC side's last SDP (the agent's), settled to the DTLS role it took
        self.held = False  # the peer holds the phone: it was re-invited sendonly
        self.direct = False  # the phone's media goes to the mixer, not through the gateway
        self._mixer_sdp = ""  # the mixer's SDP our last re-INVITE carries
        self._tell_answer = False  # that re-INVITE's answer goes to the call (it answers the mixer's offer)
        self._moved: str | None = None  # the mixer's side moved before the phone's 2xx: re-invite after it
        self._trunks = tuple(trunk_ids)
        self._attempt = -1
        self._failure = reasons.TRUNK_BUSY  # why the call ends if no trunk takes it
        self._plain = ""  # the gateway's plain offer for the trunks
        self._trunk = trunk  # in: the trunk the INVITE came through (its id and tenant)
        self._caller_number, self._caller_name = caller
        self._offer: str | None = None  # in: the phone's offer
        self._number = ""
        self._route: InboundRoute | None = None
        self._phone_holds = False  # the phone's pending re-offer holds
        self._media_used = False
        self._deadline: float | None = None
        self._now = 0.0
        self._rng = rng or random.Random()
        self._then: list[Input | _NoTrunkLeft] = []  # what a step said to the leg itself, handled next
        self._steps: dict[Step, Callable[[Any], list[io.Action]]] = {
            step: getattr(self, f"_{step.name.lower()}") for step in Step}

    @classmethod
    def outbound_leg(cls, trunk_ids: Sequence[str], down: Callable[[str], bool],
                     rng: random.Random | None = None, *, direct: bool = False) -> PhoneLeg:
        """A leg to a phone number over ``trunk_ids`` (the route's failover order), those whose last keep-alive
        failed (``down``) moved to the end; ``direct``: the call's offer is the mixer's plain one (a group call
        dials the phone), no gateway."""
        order = sorted(trunk_ids, key=down)
        leg = cls(S.AWAITING_CALL, outbound=True, trunk_ids=order, rng=rng)
        leg.direct = direct
        return leg

    @classmethod
    def inbound_leg(cls, trunk: Any, caller_number: str | None, caller_name: str | None,
                    rng: random.Random | None = None) -> PhoneLeg:
        """A leg for an INVITE that came through ``trunk`` (its ``id`` and ``tenant_id`` are read)."""
        return cls(S.INVITED, outbound=False, trunk=trunk, caller=(caller_number, caller_name), rng=rng)

    @classmethod
    def dialled_in_leg(cls, call_id: str, caller_number: str | None, rng: random.Random | None = None) -> PhoneLeg:
        """A phone the dial-in answered (on its own RTP) and joined to the meeting ``call_id``: the mixer's offer
        comes next."""
        leg = cls(S.DIALLED_IN, outbound=False, caller=(caller_number, None), rng=rng)
        leg.call_id, leg.direct = call_id, True
        return leg

    @property
    def ended(self) -> bool:
        return self.state is S.ENDED

    @property
    def caller_raw_id(self) -> str:
        return f"4:{self._caller_number or 'anonymous'}"

    def next_deadline(self) -> float | None:
        return self._deadline

    # -- the machine ------------------------------------------------------------------------------------------
    def handle(self, item: Input, now: float) -> list[io.Action]:
        """One input: its transition's actions, then those of what the step said to the leg itself."""
        self._now = now
        actions = self._step(item)
        while self._then:
            actions += self._step(self._then.pop(0))
        return actions

    def _step(self, item: Input | _NoTrunkLeft) -> list[io.Action]:
        if isinstance(item, io.TimerFired) and (self._deadline is None or self._now < self._deadline):
            raise InvalidTransition("phone leg", self.state, "a timer not due")
        target, step = leg_next(self.state, self.classify(item))
        actions = self._steps[step](item)
        self.state = target
        if target is S.ENDED:
            self._deadline = None
            if self._media_used:
                actions.append(io.DeleteMedia())
        return actions

    def classify(self, item: Input | _NoTrunkLeft) -> LegEvent:  # noqa: C901 (one case each)
        """Which event of the table an input is (some inputs are one of several, by what they carry)."""
        if isinstance(item, CallStateChanged):
            return self._call_state(item.state)
        simple = _SIMPLE.get(type(item))
        if simple is not None:
            return simple
        if isinstance(item, Ringing):
            if not item.sdp:
                return E.PHONE_RINGING
            return E.PHONE_EARLY_MEDIA_DIRECT if self.direct else E.PHONE_EARLY_MEDIA
        if isinstance(item, Answered):
            return E.PHONE_ANSWERED_DIRECT if self.direct else E.PHONE_ANSWERED
        if isinstance(item, CallIncoming):
            return E.CALL_INCOMING_DIRECT if self.direct else E.CALL_INCOMING
        if isinstance(item, CallSdp):
            return self._call_sdp(item)
        if isinstance(item, Failed):
            if item.status in FAILOVER_STATUSES and self._attempt < len(self._trunks) - 1:
                return E.TRUNK_FAILED
            return E.PHONE_REFUSED
        if isinstance(item, io.PhoneReoffered):
            if not item.offer or same_version(item.offer, item.remote_sdp):
                return E.PHONE_REFRESH
            return E.PHONE_BAD_REOFFER if _refusal(item.offer) else E.PHONE_REOFFER
        if isinstance(item, io.PhoneInvite):
            if _refusal(item.offer):
                return E.PHONE_BAD_OFFER
            return E.PHONE_INVITED if called_number(item.called) else E.PHONE_NO_NUMBER
        if isinstance(item, io.NumberFound):
            return E.NUMBER_REFUSED if isinstance(self._judge(item), Refusal) else E.NUMBER_ROUTED
        if isinstance(item, io.ReinviteAnswered):
            return E.REINVITE_ANSWERED if item.sdp else E.REINVITE_ANSWERED_EMPTY
        if isinstance(item, io.ReinviteRefused):
            return E.REINVITE_GLARE if item.status == 491 else E.REINVITE_REFUSED
        raise TypeError(f"a phone leg takes no {type(item).__name__}")

    def _call_sdp(self, item: CallSdp) -> LegEvent:
        if item.media_session is not None:
            return E.MIXER_OFFER
        if self.direct and self.state in (S.MIXED, S.MIXER_GLARED, S.EARLY_MEDIA):
            return E.MIXER_MOVED
        return E.CALL_SDP

    def _call_state(self, state: CallState) -> LegEvent:
        if state is CallState.DISCONNECTED:
            return E.CALL_ENDED
        if state is CallState.RINGING and not self.outbound:  # the user's agents ring for the phone calling in
            return E.CALL_RINGING
        if self.state is S.CONNECTED and state is CallState.REMOTE_HOLD and not self.held:
            return E.AGENT_HOLDS
        if self.state is S.CONNECTED and state is CallState.CONNECTED and self.held:
            return E.AGENT_RESUMES
        return E.CALL_NOTICE  # Connecting, the leg's own hold, a hold it knows, news before it has a session

    def _judge(self, found: io.NumberFound) -> InboundRoute | Refusal:
        return judge_user(found.user, self._trunk, self._number)

    def _tell(self, kind: CallCommandKind, payload: Payload | None = None) -> io.Command:
        return io.Command(CallCommand(kind, self.call_id, payload))

    def _media(self, action: io.MediaOffer | io.MediaAnswer) -> list[io.Action]:
        self._media_used = True
        return [action]

    def _checked(self, sdp: str | None) -> str | None:
        """``sdp`` when it may reach the gateway; else the leg tells itself the media is refused."""
        refusal = _refusal(sdp)
        if refusal is not None:
            self._then.append(io.MediaRefused(refusal.detail))
            return None
        return sdp

    # -- steps: out -------------------------------------------------------------------------------------------
    def _nothing(self, item: object) -> list[io.Action]:
        return []

    def _offer_to_trunk(self, item: CallIncoming) -> list[io.Action]:
        self.call_id, self.peer_sdp = item.call_id, item.sdp or ""
        return self._media(io.MediaOffer(self.peer_sdp, Side.TRUNK))

    def _invite_first(self, item: io.MediaReady) -> list[io.Action]:
        self._plain = item.sdp
        return self._invite_next(item)

    def _invite_next(self, item: object) -> list[io.Action]:
        self._attempt += 1
        if self._attempt >= len(self._trunks):
            self._then.append(_NoTrunkLeft())
            return []
        return [io.Invite(self._trunks[self._attempt], self._attempt, self._plain)]

    def _fail_over(self, item: Failed) -> list[io.Action]:
        self._failure = reasons.from_phone(item.status)
        return [io.FailedOver(self._trunks[self._attempt], item.status), *self._invite_next(item)]

    def _reject_with_failure(self, item: object) -> list[io.Action]:
        return [self._tell(K.REJECT, Reject(self._failure))]

    def _reject_with_status(self, item: Failed) -> list[io.Action]:
        return [self._tell(K.REJECT, Reject(reasons.from_phone(item.status)))]

    def _reject_trunk_busy(self, item: object) -> list[io.Action]:
        return [self._tell(K.REJECT, Reject(reasons.TRUNK_BUSY))]

    def _alert(self, item: object) -> list[io.Action]:
        return [self._tell(K.ALERTING)]

    def _early_answer(self, item: Ringing | Answered) -> list[io.Action]:
        sdp = self._checked(item.sdp)
        return [] if sdp is None else self._media(io.MediaAnswer(sdp, Side.AGENT))

    def _send_early_media(self, item: io.MediaReady) -> list[io.Action]:
        self.peer_sdp = settled_setup(self.peer_sdp, item.sdp)
        return [self._tell(K.EARLY_MEDIA, EarlyMedia(item.sdp))]

    def _accept(self, item: io.MediaReady) -> list[io.Action]:
        self.peer_sdp = settled_setup(self.peer_sdp, item.sdp)
        return [self._tell(K.ACCEPT, Accept(item.sdp))]

    def _accept_early(self, item: object) -> list[io.Action]:
        return [self._tell(K.ACCEPT, Accept(None))]

    def _give_up_ringing(self, item: object) -> list[io.Action]:
        return [self._tell(K.REJECT, Reject(reasons.TRUNK_BUSY)), io.HangUpPhone()]

    def _cancel_invite(self, item: object) -> list[io.Action]:
        return [io.CancelInvite()]

    def _hang_up_phone(self, item: object) -> list[io.Action]:
        return [io.HangUpPhone()]

    def _tell_hung_up(self, item: object) -> list[io.Action]:
        return [self._tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP))]

    def _tell_cancelled(self, item: object) -> list[io.Action]:
        return [self._tell(K.HANG_UP)]

    def _tell_media_lost(self, item: object) -> list[io.Action]:
        return [self._tell(K.HANG_UP, HangUp(reasons.MEDIA_LOST))]

    # -- steps: in --------------------------------------------------------------------------------------------
    def _look_up(self, item: io.PhoneInvite) -> list[io.Action]:
        self._offer, self._number = item.offer, called_number(item.called) or ""
        return [io.LookUpNumber(self._number)]

    def _decline_offer(self, item: io.PhoneInvite) -> list[io.Action]:
        refusal = _refusal(item.offer)
        assert refusal is not None
        return [io.Decline(refusal.status, refusal.reason_phrase, refusal.warning(WARN_AGENT))]

    def _decline_not_found(self, item: object) -> list[io.Action]:
        return [io.Decline(404, "Not Found")]

    def _decline_route(self, item: io.NumberFound) -> list[io.Action]:
        refusal = self._judge(item)
        assert isinstance(refusal, Refusal)
        user = item.user
        callee = f"4:{self._number}"
        if user is not None and user.tenant_id == self._trunk.tenant_id:  # a number of this tenant: its user
            callee = f"8:orgid:{user.id}"
        status = refusal.status or 404
        return [io.RecordRefused(self.caller_raw_id, callee, self._trunk.tenant_id, status),
                io.Decline(status, refusal.reason)]

    def _offer_to_agents(self, item: io.NumberFound) -> list[io.Action]:
        route = self._judge(item)
        assert isinstance(route, InboundRoute)
        self._route = route
        return [io.TakeTrunkPlace(route.trunk_id), *self._media(io.MediaOffer(self._offer or "", Side.AGENT))]

    def _place_call(self, item: io.MediaReady) -> list[io.Action]:
        assert self._route is not None
        return [io.PlaceCall(self.caller_raw_id, self._caller_name, self._route, item.sdp)]

    def _note_call(self, item: io.CallPlaced) -> list[io.Action]:
        self.call_id = item.call_id
        return []

    def _decline_unavailable(self, item: io.MediaRefused) -> list[io.Action]:
        return [io.Decline(488, "Not Acceptable Here") if item.bad_sdp else io.Decline(503, "Service Unavailable")]

    def _ring(self, item: object) -> list[io.Action]:
        return [io.Ring()]

    def _answer_for_phone(self, item: CallSdp) -> list[io.Action]:
        sdp = self._checked(item.sdp)
        if sdp is None:
            return []
        self.peer_sdp = sdp
        return self._media(io.MediaAnswer(sdp, Side.TRUNK))

    def _answer_phone(self, item: io.MediaReady) -> list[io.Action]:
        return [io.AnswerPhone(item.sdp)]

    def _give_up_caller(self, item: io.MediaRefused) -> list[io.Action]:
        return [self._tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY)), *self._decline_unavailable(item)]

    def _decline_for_call(self, item: CallStateChanged) -> list[io.Action]:
        reason = item.end_reason
        status, phrase = INBOUND_STATUS.get((reason.code, reason.sub_code) if reason else (0, 0),
                                            (480, "Temporarily Unavailable"))
        return [io.Decline(status, phrase)]

    # -- steps: connected -------------------------------------------------------------------------------------
    def _reoffer(self, item: object) -> list[io.Action]:
        """The agent held (sendonly to the phone) or resumed (sendrecv), or the glare timer fired: offer again."""
        if not isinstance(item, io.TimerFired):
            self.held = not self.held
        self._deadline = None
        direction = Direction.SENDONLY if self.held else Direction.SENDRECV
        return self._media(io.MediaOffer(directed(self.peer_sdp, direction), Side.TRUNK))

    def _reinvite(self, item: io.MediaReady) -> list[io.Action]:
        return [io.Reinvite(item.sdp)]

    def _settle(self, item: io.ReinviteAnswered) -> list[io.Action]:
        assert item.sdp is not None
        return self._media(io.MediaAnswer(item.sdp, Side.AGENT))

    def _arm_glare_timer(self, item: object) -> list[io.Action]:
        self._deadline = self._now + glare_delay(self.outbound, self._rng)
        return []

    def _give_up_connected(self, item: object) -> list[io.Action]:
        return [self._tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY)), io.HangUpPhone()]

    def _take_reoffer(self, item: io.PhoneReoffered) -> list[io.Action]:
        assert item.offer is not None
        self._phone_holds = is_hold(check_call_sdp(item.offer))
        return self._media(io.MediaOffer(item.offer, Side.AGENT))

    def _answer_reoffer(self, item: io.MediaReady) -> list[io.Action]:
        """The agent's last SDP answers, its direction mirroring the phone's (RFC 3264 6.1)."""
        direction = Direction.RECVONLY if self._phone_holds else Direction.SENDRECV
        return self._media(io.MediaAnswer(directed(self.peer_sdp, direction), Side.TRUNK))

    def _accept_reoffer(self, item: io.MediaReady) -> list[io.Action]:
        return [io.AcceptReinvite(item.sdp), self._tell(K.HOLD if self._phone_holds else K.RESUME)]

    def _accept_refresh(self, item: io.PhoneReoffered) -> list[io.Action]:
        return [io.AcceptReinvite(item.local_sdp or "")]

    def _refuse_reoffer(self, item: io.PhoneReoffered | io.MediaRefused) -> list[io.Action]:
        if isinstance(item, io.MediaRefused):
            return [io.RejectReinvite(488, item.why)]
        refusal = _refusal(item.offer)
        return [io.RejectReinvite(488, refusal.detail if refusal else "")]

    def _send_dtmf(self, item: CallDtmf) -> list[io.Action]:
        return [io.SendDtmf(item.tone)]

    # -- steps: with the mixer --------------------------------------------------------------------------------
    def _invite_direct(self, item: CallIncoming) -> list[io.Action]:
        self.direct = True
        self.call_id, self.peer_sdp = item.call_id, item.sdp or ""
        self._plain = self.peer_sdp
        return self._invite_next(item)

    def _send_early_media_direct(self, item: Ringing) -> list[io.Action]:
        return [self._tell(K.EARLY_MEDIA, EarlyMedia(item.sdp))]

    def _accept_direct(self, item: Answered) -> list[io.Action]:
        return [self._tell(K.ACCEPT, Accept(item.sdp))]

    def _accept_early_direct(self, item: Answered) -> list[io.Action]:
        if self._moved is not None:  # handled in Mixed, after this step
            self._then.append(CallSdp(self.call_id, self._moved))
            self._moved = None
        return [self._tell(K.ACCEPT, Accept(None))]

    def _keep_mixer_sdp(self, item: CallSdp) -> list[io.Action]:
        self._moved = item.sdp
        return []

    def _reinvite_for_mixer(self, item: CallSdp) -> list[io.Action]:
        """The phone's media goes to the mixer now: the gateway's session (if any) goes, and the phone is
        re-invited with the mixer's SDP; the answer is the call's when the mixer offered a media session."""
        self.direct, self._mixer_sdp, self._deadline = True, item.sdp, None
        if self.state is not S.MIXER_GLARED or item.media_session is not None:  # a newer side keeps what the
            self._tell_answer = item.media_session is not None  # glared re-INVITE's answer was for
        actions: list[io.Action] = []
        if self._media_used:
            self._media_used = False
            actions.append(io.DeleteMedia())
        return [*actions, io.Reinvite(item.sdp)]

    def _answer_mixer(self, item: io.ReinviteAnswered) -> list[io.Action]:
        if not self._tell_answer:
            return []
        if item.sdp is None:  # an offer must be answered with an SDP (RFC 3264): the phone cannot join the mix
            return self._give_up_connected(item)
        return [self._tell(K.SDP, Sdp(item.sdp))]

    def _reinvite_again(self, item: io.TimerFired) -> list[io.Action]:
        self._deadline = None
        return [io.Reinvite(self._mixer_sdp)]


_SIMPLE: Final[dict[type, LegEvent]] = {
    CallIncomingEnded: E.CALL_CANCELLED, CallDtmf: E.CALL_DTMF, Ended: E.PHONE_ENDED, Cancelled: E.PHONE_CANCELLED,
    io.CallPlaced: E.CALL_PLACED, io.TrunkUnusable: E.TRUNK_UNUSABLE, _NoTrunkLeft: E.NO_TRUNK_LEFT,
    io.MediaReady: E.MEDIA_READY, io.MediaRefused: E.MEDIA_REFUSED, io.MediaDead: E.MEDIA_DEAD,
    io.TimerFired: E.TIMER,
    **{kind: E.CALL_NOTICE for kind in (  # news for agents
        CallStarted, CallIce, ParticipantChanged, ParticipantAdded, RoleChanged, CapabilitiesChanged, MutedByOthers,
        HandChanged, DominantSpeakers, AudioConferencing)}}


def _refusal(sdp: str | None) -> NotAcceptableHere | None:
    """Why ``sdp`` may not reach the gateway (``sip.call_sdp``: one audio stream within bounds), or None."""
    try:
        check_call_sdp(sdp)
    except NotAcceptableHere as exc:
        return exc
    return None
