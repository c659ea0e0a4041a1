"""The phone leg's machine (`pstn.leg`) on its own: inputs in with a fake `now`, actions out. Each scenario is a
plain function, run by its own test and all together by the test that every row of the table is taken; every
(state, event) pair the table lacks is refused."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from callbridge.calling import end_reasons as reasons
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.events import (
    CallDtmf,
    CallIce,
    CallIncoming,
    CallIncomingEnded,
    CallSdp,
    CallStateChanged,
    Participant,
    ParticipantChanged,
)
from callbridge.calling.protocol import Accept, CallCommand, CallCommandKind, EarlyMedia, HangUp, Payload, Reject, Sdp
from callbridge.calling.states import CallState, ParticipantState
from callbridge.media.gateway import Side
from callbridge.pstn.inbound import InboundRoute
from callbridge.pstn.leg import PhoneLeg
from callbridge.pstn.leg_io import (
    AcceptReinvite,
    AnswerPhone,
    CallPlaced,
    CancelInvite,
    Command,
    Decline,
    DeleteMedia,
    FailedOver,
    HangUpPhone,
    Invite,
    LookUpNumber,
    MediaAnswer,
    MediaDead,
    MediaOffer,
    MediaReady,
    MediaRefused,
    NumberFound,
    PhoneInvite,
    PhoneReoffered,
    PlaceCall,
    RecordRefused,
    Reinvite,
    ReinviteAnswered,
    ReinviteRefused,
    RejectReinvite,
    Ring,
    SendDtmf,
    TakeTrunkPlace,
    TimerFired,
    TrunkUnusable,
)
from callbridge.pstn.leg_sdp import directed
from callbridge.pstn.leg_table import TRANSITIONS, LegEvent, LegState, describe, leg_next
from callbridge.sip.offer_answer import build_offer
from callbridge.sip.sdp import Direction
from callbridge.sip.useragent_events import Answered, Cancelled, Ended, Failed, Ringing
from callbridge.state_tables import InvalidTransition

K, S = CallCommandKind, LegState
DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
PHONE = str(build_offer("127.0.0.1", 49_170, session_id=11))  # the phone's SDP (plain RTP)
PLAIN = str(build_offer("127.0.0.1", 40_000, session_id=22))  # the gateway's plain SDP towards the phone
AGENT = str(build_offer("127.0.0.1", 50_000, session_id=33)).replace("a=sendrecv", "a=sendrecv\r\na=setup:actpass")
WEB = str(build_offer("127.0.0.1", 40_002, session_id=44)).replace("a=sendrecv", "a=sendrecv\r\na=setup:active")
PHONE_HOLDS = str(build_offer("127.0.0.1", 49_170, session_id=11, session_version=2, direction=Direction.SENDONLY))
PHONE_RESUMES = str(build_offer("127.0.0.1", 49_170, session_id=11, session_version=3))
MANY_STREAMS = PHONE.replace("o=- ", "o=other ") + "m=audio 50002 RTP/AVP 0\r\n"
TRUNK = SimpleNamespace(id="trunk-1", tenant_id="fabrikam")
CALLER = "+14255550100"
CALLED = "+14255550101"
SEEN: set[tuple[LegState, LegEvent]] = set()


class Recorded(PhoneLeg):
    """A leg that notes each (state, event) it takes, for the test that every row is taken."""

    def classify(self, item: Any) -> LegEvent:
        event = super().classify(item)
        SEEN.add((self.state, event))
        return event


def user(**changes: Any) -> SimpleNamespace:
    row = {"id": "u-alice", "tenant_id": "fabrikam", "display_name": "Alice", "account_enabled": True,
           "enterprise_voice_enabled": True, "interop": True, "teams": True, "phone": True, **changes}
    return SimpleNamespace(**row)


def tell(kind: CallCommandKind, payload: Payload | None = None, call_id: str = "c1") -> Command:
    return Command(CallCommand(kind, call_id, payload))


def state(view: CallState, reason: EndReason | None = None, call_id: str = "c1") -> CallStateChanged:
    return CallStateChanged(call_id, view, reason)


# -- out ------------------------------------------------------------------------------------------------------------

def outbound(trunks: tuple[str, ...] = ("t1", "t2", "t3"), down: tuple[str, ...] = ()) -> PhoneLeg:
    return Recorded.outbound_leg(trunks, lambda trunk: trunk in down, rng=random.Random(7))


def inviting(leg: PhoneLeg | None = None) -> PhoneLeg:
    leg = leg or outbound()
    assert leg.handle(CallIncoming("c1", None, "8:orgid:alice", "Alice", AGENT), 0) == [MediaOffer(AGENT, Side.TRUNK)]
    assert leg.state is S.OFFERING
    first = leg.handle(MediaReady(PLAIN), 0)
    assert leg.state is S.INVITING and first[0] == Invite(first[0].trunk_id, 0, PLAIN)  # type: ignore[union-attr]
    return leg


def connected_out() -> PhoneLeg:
    leg = inviting()
    assert leg.handle(Answered(PHONE), 1) == [MediaAnswer(PHONE, Side.AGENT)] and leg.state is S.ANSWERING
    assert leg.handle(MediaReady(WEB), 1) == [tell(K.ACCEPT, Accept(WEB))] and leg.state is S.CONNECTED
    return leg


def scenario_outbound_happy_path() -> None:
    leg = inviting()
    assert leg.handle(Ringing(180), 1) == [tell(K.ALERTING)] and leg.state is S.RINGING
    assert leg.handle(Ringing(180), 1) == [tell(K.ALERTING)]
    assert leg.handle(CallIce("c1", {"candidate": "x"}), 1) == [] and leg.state is S.RINGING
    assert leg.handle(CallSdp("c1", AGENT), 1) == []  # the agent's re-offer: the gateway keeps its side
    assert leg.handle(MediaDead(), 1) == [] and leg.state is S.RINGING  # no answer yet: no media is no news
    assert leg.handle(Answered(PHONE), 2) == [MediaAnswer(PHONE, Side.AGENT)] and leg.state is S.ANSWERING
    assert leg.handle(MediaReady(WEB), 2) == [tell(K.ACCEPT, Accept(WEB))] and leg.state is S.CONNECTED
    assert "a=setup:passive" in leg.peer_sdp  # the agent took the role opposite the gateway's (RFC 8842 5.3)
    for news in (state(CallState.CONNECTING), state(CallState.CONNECTED), state(CallState.LOCAL_HOLD),
                 ParticipantChanged("c1", Participant("8:orgid:alice", "Alice", ParticipantState.CONNECTED, True)),
                 CallSdp("c1", AGENT)):
        assert leg.handle(news, 3) == [] and leg.state is S.CONNECTED
    assert leg.handle(CallDtmf("c1", "5"), 3) == [SendDtmf("5")]
    assert leg.handle(Ended(True, "BYE"), 4) == [tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP)), DeleteMedia()]
    assert leg.ended


def scenario_answer_without_any_18x_and_the_agent_hangs_up() -> None:
    leg = connected_out()
    assert leg.handle(state(CallState.DISCONNECTED, reasons.HUNG_UP), 5) == [HangUpPhone(), DeleteMedia()]
    assert leg.ended


@pytest.mark.parametrize("status", [408, 500, 503, 504])
def test_a_trunk_failure_before_any_18x_fails_over(status: int) -> None:
    scenario_failover(status)


def scenario_failover(status: int) -> None:
    leg = inviting()
    assert leg.handle(Failed(status, "x"), 1) == [FailedOver("t1", status), Invite("t2", 1, PLAIN)]
    assert leg.state is S.INVITING
    assert leg.handle(Failed(status, "x"), 2) == [FailedOver("t2", status), Invite("t3", 2, PLAIN)]
    # the last trunk's failure is the call's, whatever it is
    assert leg.handle(Failed(status, "x"), 3) == [tell(K.REJECT, Reject(reasons.from_phone(status))), DeleteMedia()]


def scenario_keepalive_failures_are_tried_last() -> None:
    leg = inviting(outbound(("t1", "t2", "t3"), down=("t1",)))
    assert leg.handle(TrunkUnusable("at its limits"), 1) == [Invite("t3", 1, PLAIN)]
    assert leg.handle(Failed(503, "x"), 1) == [FailedOver("t3", 503), Invite("t1", 2, PLAIN)]
    assert leg.handle(Ringing(180), 1) == [tell(K.ALERTING)]


def scenario_unusable_trunks_end_with_the_last_failure() -> None:
    leg = inviting(outbound(("t1", "t2")))
    assert leg.handle(Failed(408, "x"), 1) == [FailedOver("t1", 408), Invite("t2", 1, PLAIN)]
    assert leg.handle(TrunkUnusable("disabled"), 1) == [tell(K.REJECT, Reject(reasons.from_phone(408))),
                                                        DeleteMedia()]
    leg = inviting(outbound(("t1",)))
    assert leg.handle(TrunkUnusable("at its limits"), 1) == [tell(K.REJECT, Reject(reasons.TRUNK_BUSY)),
                                                             DeleteMedia()]


def scenario_no_trunk_at_all() -> None:
    leg = outbound(())
    leg.handle(CallIncoming("c1", None, "8:orgid:alice", "Alice", AGENT), 0)
    assert leg.handle(MediaReady(PLAIN), 0) == [tell(K.REJECT, Reject(reasons.TRUNK_BUSY)), DeleteMedia()]
    assert leg.ended


@pytest.mark.parametrize("status", [408, 500, 503, 504, 486])
def test_no_failover_after_a_18x(status: int) -> None:
    leg = inviting()
    leg.handle(Ringing(180), 1)
    assert leg.handle(Failed(status, "x"), 2) == [tell(K.REJECT, Reject(reasons.from_phone(status))), DeleteMedia()]


def scenario_no_failover_after_a_18x() -> None:
    for status in (503, 486):
        test_no_failover_after_a_18x(status)


def scenario_news_that_changes_nothing_while_the_phone_rings() -> None:
    for how in ("inviting", "ringing", "early"):
        leg = ringing_leg(how)
        before = leg.state
        for news in (CallIce("c1", None), CallSdp("c1", AGENT), MediaDead(),
                     ParticipantChanged("c1", Participant("8:orgid:alice", "Alice", ParticipantState.CONNECTED, True))):
            assert leg.handle(news, 2) == [] and leg.state is before
    leg = calling_in()
    assert leg.handle(MediaDead(), 1) == [tell(K.HANG_UP, HangUp(reasons.MEDIA_LOST), "c2")]
    assert leg.state is S.CALLING


@pytest.mark.parametrize(("status", "reason"), [
    (486, reasons.PHONE_BUSY), (600, reasons.PHONE_BUSY), (480, EndReason(480, 560480, "")),
    (404, EndReason(404, 560404, "")), (603, EndReason(603, 560603, "")), (302, EndReason(302, 560302, "")),
    (487, reasons.CANCELLED)])
def test_a_refusal_ends_the_call_with_its_reason_and_never_fails_over(status: int, reason: EndReason) -> None:
    leg = inviting()
    actions = leg.handle(Failed(status, "x"), 1)
    refused = actions[0]
    assert isinstance(refused, Command) and refused.command.kind is K.REJECT
    ended = refused.command.payload_as(Reject).reason
    assert ended is not None and (ended.code, ended.sub_code) == (reason.code, reason.sub_code)
    assert actions[1:] == [DeleteMedia()] and leg.ended


def scenario_early_media_then_answer() -> None:
    leg = inviting()
    assert leg.handle(Ringing(183, PHONE), 1) == [MediaAnswer(PHONE, Side.AGENT)] and leg.state is S.EARLY_ANSWERING
    assert leg.handle(MediaReady(WEB), 1) == [tell(K.EARLY_MEDIA, EarlyMedia(WEB))] and leg.state is S.EARLY_MEDIA
    assert leg.handle(Ringing(180), 2) == [tell(K.ALERTING)]
    assert leg.handle(Ringing(183, PHONE), 2) == [tell(K.ALERTING)]  # the first 183's SDP was the early answer
    assert leg.handle(MediaDead(), 2) == []
    assert leg.handle(Answered(PHONE), 3) == [tell(K.ACCEPT, Accept(None))] and leg.state is S.CONNECTED


def scenario_ringing_then_early_media_then_a_refusal() -> None:
    leg = inviting()
    leg.handle(Ringing(180), 1)
    assert leg.handle(Ringing(183, PHONE), 1) == [MediaAnswer(PHONE, Side.AGENT)]
    leg.handle(MediaReady(WEB), 1)
    assert leg.handle(Failed(404, "Not Found"), 2) == [tell(K.REJECT, Reject(reasons.from_phone(404))),
                                                       DeleteMedia()]
    leg = inviting()
    leg.handle(Ringing(183, PHONE), 1)
    leg.handle(MediaReady(WEB), 1)
    assert leg.handle(Failed(503, "x"), 2)[0] == tell(K.REJECT, Reject(reasons.from_phone(503)))


def scenario_the_gateway_refuses_while_the_phone_rings() -> None:
    leg = outbound()
    leg.handle(CallIncoming("c1", None, "8:orgid:alice", "Alice", AGENT), 0)
    assert leg.handle(MediaRefused("engine down"), 0) == [tell(K.REJECT, Reject(reasons.TRUNK_BUSY)), DeleteMedia()]
    leg = inviting()
    leg.handle(Ringing(183, PHONE), 1)
    give_up = [tell(K.REJECT, Reject(reasons.TRUNK_BUSY)), HangUpPhone(), DeleteMedia()]
    assert leg.handle(MediaRefused("engine down"), 1) == give_up
    leg = inviting()
    leg.handle(Answered(PHONE), 1)
    assert leg.handle(MediaRefused("engine down"), 1) == give_up
    leg = inviting()  # an answer no call may take never reaches the gateway
    assert leg.handle(Answered(MANY_STREAMS), 1) == give_up and leg.ended
    leg = inviting()
    assert leg.handle(Ringing(183, MANY_STREAMS), 1) == give_up


@pytest.mark.parametrize("ringing", ["inviting", "ringing", "early"])
def test_either_side_ends_a_ringing_call(ringing: str) -> None:
    for news, actions in ((CallIncomingEnded("c1", reasons.CANCELLED), [CancelInvite()]),
                          (state(CallState.DISCONNECTED, reasons.HUNG_UP), [HangUpPhone()]),
                          (Ended(True, "BYE"), [tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP))])):
        leg = ringing_leg(ringing)
        assert leg.handle(news, 2) == [*actions, DeleteMedia()] and leg.ended


def ringing_leg(how: str) -> PhoneLeg:
    leg = inviting()
    if how == "ringing":
        leg.handle(Ringing(180), 1)
    elif how == "early":
        leg.handle(Ringing(183, PHONE), 1)
        leg.handle(MediaReady(WEB), 1)
    return leg


def scenario_either_side_ends_a_ringing_call() -> None:
    for how in ("inviting", "ringing", "early"):
        test_either_side_ends_a_ringing_call(how)


# -- in -------------------------------------------------------------------------------------------------------------

def inbound() -> PhoneLeg:
    return Recorded.inbound_leg(TRUNK, CALLER, "Customer", rng=random.Random(7))


ROUTE = InboundRoute("trunk-1", "fabrikam", CALLED, "u-alice", "Alice")


def calling_in() -> PhoneLeg:
    leg = inbound()
    assert leg.handle(PhoneInvite(PHONE, CALLED[1:]), 0) == [LookUpNumber(CALLED)] and leg.state is S.ROUTING
    assert leg.handle(NumberFound(user()), 0) == [TakeTrunkPlace("trunk-1"), MediaOffer(PHONE, Side.AGENT)]
    assert leg.state is S.PLACING
    assert leg.handle(MediaReady(WEB), 0) == [PlaceCall(f"4:{CALLER}", "Customer", ROUTE, WEB)]
    assert leg.handle(CallPlaced("c2"), 0) == [] and leg.state is S.CALLING and leg.call_id == "c2"
    assert leg.handle(state(CallState.CONNECTING, call_id="c2"), 0) == []
    return leg


def connected_in() -> PhoneLeg:
    leg = calling_in()
    assert leg.handle(state(CallState.RINGING, call_id="c2"), 1) == [Ring()] and leg.state is S.ALERTING
    assert leg.handle(CallSdp("c2", AGENT), 2) == [MediaAnswer(AGENT, Side.TRUNK)] and leg.state is S.ANSWERING_PHONE
    assert leg.handle(MediaReady(PLAIN), 2) == [AnswerPhone(PLAIN)] and leg.state is S.CONNECTED
    return leg


def scenario_inbound_ring_and_answer() -> None:
    leg = calling_in()
    assert leg.handle(state(CallState.RINGING, call_id="c2"), 1) == [Ring()]
    assert leg.handle(state(CallState.RINGING, call_id="c2"), 1) == []  # one 180 for every agent ringing
    assert leg.handle(ParticipantChanged("c2", Participant("x", None, ParticipantState.RINGING, False)), 1) == []
    assert leg.handle(MediaDead(), 1) == [tell(K.HANG_UP, HangUp(reasons.MEDIA_LOST), "c2")]
    assert leg.state is S.ALERTING
    assert leg.handle(CallSdp("c2", AGENT), 2) == [MediaAnswer(AGENT, Side.TRUNK)]
    assert leg.handle(MediaReady(PLAIN), 2) == [AnswerPhone(PLAIN)] and leg.state is S.CONNECTED
    assert leg.handle(state(CallState.CONNECTED, call_id="c2"), 2) == []
    assert leg.handle(CallDtmf("c2", "#"), 3) == [SendDtmf("#")]
    assert leg.handle(Ended(True, "BYE"), 4) == [tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP), "c2"),
                                                 DeleteMedia()]


def scenario_an_agent_answers_before_anything_rings() -> None:
    leg = calling_in()
    assert leg.handle(CallSdp("c2", AGENT), 1) == [MediaAnswer(AGENT, Side.TRUNK)]
    leg.handle(MediaReady(PLAIN), 1)
    assert leg.handle(state(CallState.DISCONNECTED, reasons.HUNG_UP, "c2"), 2) == [HangUpPhone(), DeleteMedia()]


def scenario_inbound_cancel_and_hang_up_before_the_answer() -> None:
    for ring in (False, True):
        for news, told in ((Cancelled(), tell(K.HANG_UP, None, "c2")),
                           (Ended(True, "BYE"), tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP), "c2"))):
            leg = calling_in()
            if ring:
                leg.handle(state(CallState.RINGING, call_id="c2"), 1)
            assert leg.handle(news, 2) == [told, DeleteMedia()] and leg.ended


@pytest.mark.parametrize(("reason", "status"), [
    (reasons.DECLINED, 603), (reasons.CANCELLED, 487), (reasons.NOT_ANSWERED, 480), (reasons.NO_ENDPOINT, 480),
    (None, 480)])
def test_a_call_that_ends_before_an_answer_declines_the_phone(reason: EndReason | None, status: int) -> None:
    for ring in (False, True):
        leg = calling_in()
        if ring:
            leg.handle(state(CallState.RINGING, call_id="c2"), 1)
        actions = leg.handle(state(CallState.DISCONNECTED, reason, "c2"), 2)
        assert isinstance(actions[0], Decline) and actions[0].status == status and actions[1:] == [DeleteMedia()]


def scenario_inbound_decline() -> None:
    test_a_call_that_ends_before_an_answer_declines_the_phone(reasons.DECLINED, 603)


def scenario_inbound_refusals_before_anything_is_allocated() -> None:
    leg = inbound()
    refused = leg.handle(PhoneInvite(None, CALLED), 0)  # no late offer
    assert isinstance(refused[0], Decline) and refused[0].status == 488 and "callbridge" in str(refused[0].warning)
    assert refused[1:] == [] and leg.ended  # nothing to delete: the gateway was never asked
    leg = inbound()
    assert leg.handle(PhoneInvite(MANY_STREAMS, CALLED), 0)[0].status == 488  # type: ignore[union-attr]
    leg = inbound()
    assert leg.handle(PhoneInvite(PHONE, "alice"), 0) == [Decline(404, "Not Found")]
    for row, callee, status in ((None, f"4:{CALLED}", 404), (user(tenant_id="contoso"), f"4:{CALLED}", 404),
                                (user(phone=False), "8:orgid:u-alice", 403),
                                (user(account_enabled=False), "8:orgid:u-alice", 480)):
        leg = inbound()
        leg.handle(PhoneInvite(PHONE, CALLED), 0)
        actions = leg.handle(NumberFound(row), 0)
        assert actions[0] == RecordRefused(f"4:{CALLER}", callee, "fabrikam", status)
        assert isinstance(actions[1], Decline) and actions[1].status == status and leg.ended


def scenario_inbound_media_refused() -> None:
    for bad_sdp, status, phrase in ((True, 488, "Not Acceptable Here"), (False, 503, "Service Unavailable")):
        leg = inbound()
        leg.handle(PhoneInvite(PHONE, CALLED), 0)
        leg.handle(NumberFound(user()), 0)
        assert leg.handle(MediaRefused("no", bad_sdp), 0) == [Decline(status, phrase), DeleteMedia()]
        leg = calling_in()
        assert leg.handle(CallSdp("c2", AGENT), 1) == [MediaAnswer(AGENT, Side.TRUNK)]
        actions = leg.handle(MediaRefused("no", bad_sdp), 1)
        assert actions[0] == tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY), "c2")
        assert isinstance(actions[1], Decline) and actions[1].status == status and leg.ended
    leg = calling_in()  # an agent's answer no call may take never reaches the gateway
    actions = leg.handle(CallSdp("c2", MANY_STREAMS), 1)
    assert actions[0] == tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY), "c2") and actions[1].status == 503  # type: ignore[union-attr]


# -- connected: hold, resume, re-INVITEs, DTMF, dead media -------------------------------------------------------------

def scenario_the_agent_holds_and_resumes_the_phone() -> None:
    for leg, owner in ((connected_out(), "c1"), (connected_in(), "c2")):
        assert leg.handle(state(CallState.REMOTE_HOLD, call_id=owner), 5) == [
            MediaOffer(directed(leg.peer_sdp, Direction.SENDONLY), Side.TRUNK)]
        assert leg.state is S.REOFFERING and leg.held
        assert leg.handle(MediaReady(PLAIN), 5) == [Reinvite(PLAIN)] and leg.state is S.REINVITING
        assert leg.handle(ReinviteAnswered(PHONE_HOLDS), 5) == [MediaAnswer(PHONE_HOLDS, Side.AGENT)]
        assert leg.state is S.SETTLING
        assert leg.handle(MediaReady(WEB), 5) == [] and leg.state is S.CONNECTED
        assert leg.handle(state(CallState.REMOTE_HOLD, call_id=owner), 6) == []  # held already
        assert leg.handle(state(CallState.CONNECTED, call_id=owner), 7) == [
            MediaOffer(directed(leg.peer_sdp, Direction.SENDRECV), Side.TRUNK)]
        assert not leg.held
        leg.handle(MediaReady(PLAIN), 7)
        assert leg.handle(ReinviteAnswered(None), 7) == [] and leg.state is S.CONNECTED
        leg.handle(state(CallState.REMOTE_HOLD, call_id=owner), 8)
        leg.handle(MediaReady(PLAIN), 8)
        assert leg.handle(ReinviteRefused(488), 8) == [] and leg.next_deadline() is None  # goes on as it was


def scenario_a_crossed_reinvite_is_tried_again_after_the_glare_delay() -> None:
    for leg, low, high in ((connected_out(), 2.1, 4.0), (connected_in(), 0.0, 2.0)):  # RFC 3261 14.1
        leg.handle(state(CallState.REMOTE_HOLD, call_id=leg.call_id), 10)
        leg.handle(MediaReady(PLAIN), 10)
        assert leg.handle(ReinviteRefused(491), 10) == [] and leg.state is S.CONNECTED
        deadline = leg.next_deadline()
        assert deadline is not None and 10 + low <= deadline <= 10 + high
        with pytest.raises(InvalidTransition):
            leg.handle(TimerFired(), deadline - 0.01)
        assert leg.handle(TimerFired(), deadline) == [
            MediaOffer(directed(leg.peer_sdp, Direction.SENDONLY), Side.TRUNK)]  # the hold, again
        assert leg.state is S.REOFFERING and leg.next_deadline() is None


def scenario_the_gateway_refuses_our_reoffer() -> None:
    for stage in ("offer", "answer"):
        leg = connected_out()
        leg.handle(state(CallState.REMOTE_HOLD), 5)
        if stage == "answer":
            leg.handle(MediaReady(PLAIN), 5)
            leg.handle(ReinviteAnswered(PHONE_HOLDS), 5)
        assert leg.handle(MediaRefused("engine down"), 5) == [tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY)),
                                                              HangUpPhone(), DeleteMedia()]


def scenario_the_phone_holds_and_resumes() -> None:
    leg = connected_in()
    offer = PhoneReoffered(PHONE_HOLDS, PLAIN, PHONE)
    assert leg.handle(offer, 5) == [MediaOffer(PHONE_HOLDS, Side.AGENT)] and leg.state is S.TAKING_OFFER
    assert leg.handle(MediaReady(WEB), 5) == [MediaAnswer(directed(AGENT, Direction.RECVONLY), Side.TRUNK)]
    assert leg.state is S.MAKING_ANSWER
    assert leg.handle(MediaReady(PLAIN), 5) == [AcceptReinvite(PLAIN), tell(K.HOLD, None, "c2")]
    assert leg.handle(state(CallState.LOCAL_HOLD, call_id="c2"), 5) == []  # its own hold: nothing to re-invite
    leg.handle(PhoneReoffered(PHONE_RESUMES, PLAIN, PHONE_HOLDS), 6)
    assert leg.handle(MediaReady(WEB), 6) == [MediaAnswer(directed(AGENT, Direction.SENDRECV), Side.TRUNK)]
    assert leg.handle(MediaReady(PLAIN), 6) == [AcceptReinvite(PLAIN), tell(K.RESUME, None, "c2")]


def scenario_session_refreshes_and_offers_the_leg_cannot_take() -> None:
    leg = connected_out()
    assert leg.handle(PhoneReoffered(None, PLAIN, PHONE), 5) == [AcceptReinvite(PLAIN)]  # RFC 4028, no SDP
    assert leg.handle(PhoneReoffered(PHONE, PLAIN, PHONE), 5) == [AcceptReinvite(PLAIN)]  # the same o= version
    refused = leg.handle(PhoneReoffered(MANY_STREAMS, PLAIN, PHONE), 5)
    assert len(refused) == 1 and isinstance(refused[0], RejectReinvite) and refused[0].status == 488
    for stage in ("offer", "answer"):
        leg.handle(PhoneReoffered(PHONE_HOLDS, PLAIN, PHONE), 6)
        if stage == "answer":
            leg.handle(MediaReady(WEB), 6)
        assert leg.handle(MediaRefused("no"), 6) == [RejectReinvite(488, "no")] and leg.state is S.CONNECTED


def scenario_dead_media_ends_the_call_which_hangs_up_the_phone() -> None:
    leg = connected_out()
    assert leg.handle(MediaDead(), 40) == [tell(K.HANG_UP, HangUp(reasons.MEDIA_LOST))] and leg.state is S.CONNECTED
    assert leg.handle(state(CallState.DISCONNECTING), 40) == []
    assert leg.handle(state(CallState.DISCONNECTED, reasons.MEDIA_LOST), 40) == [HangUpPhone(), DeleteMedia()]


# -- with the conference mixer -----------------------------------------------------------------------------------
MIXER = str(build_offer("127.0.0.1", 41_500, session_id=55))  # the mixer's plain offer (towards a discard address)
MOVED = str(build_offer("127.0.0.1", 41_502, session_id=55, session_version=2))  # its side at the phone's address


def direct(trunks: tuple[str, ...] = ("t1", "t2")) -> PhoneLeg:
    """A group call dials the phone: the INVITE carries the mixer's offer, no gateway."""
    leg = Recorded.outbound_leg(trunks, lambda trunk: False, rng=random.Random(7), direct=True)
    assert leg.handle(CallIncoming("c1", None, "8:orgid:alice", "Alice", MIXER), 0) == [Invite("t1", 0, MIXER)]
    assert leg.state is S.INVITING
    return leg


def dialled_in() -> PhoneLeg:
    return Recorded.dialled_in_leg("c1", CALLER, rng=random.Random(7))


def mixed() -> PhoneLeg:
    leg = dialled_in()
    assert leg.handle(CallSdp("c1", MIXER, 1), 1) == [Reinvite(MIXER)] and leg.state is S.MIXER_REINVITING
    assert leg.handle(ReinviteAnswered(PHONE), 1) == [tell(K.SDP, Sdp(PHONE))] and leg.state is S.MIXED
    return leg


def glared() -> PhoneLeg:
    leg = mixed()
    assert leg.handle(CallSdp("c1", MOVED), 2) == [Reinvite(MOVED)]
    assert leg.handle(ReinviteRefused(491), 2) == [] and leg.state is S.MIXER_GLARED
    return leg


def scenario_a_group_call_dials_a_phone_with_the_mixers_offer() -> None:
    leg = direct()
    assert leg.handle(Ringing(180), 1) == [tell(K.ALERTING)] and leg.state is S.RINGING
    assert leg.handle(Ringing(183, PHONE), 1) == [tell(K.EARLY_MEDIA, EarlyMedia(PHONE))]
    assert leg.handle(Ringing(183, PHONE), 1) == [tell(K.ALERTING)] and leg.state is S.EARLY_MEDIA
    assert leg.handle(CallSdp("c1", MOVED), 1) == []  # the mixer moved to the phone: kept until the 2xx
    assert leg.handle(Answered(None), 2) == [tell(K.ACCEPT, Accept(None)), Reinvite(MOVED)]
    assert leg.state is S.MIXER_REINVITING
    assert leg.handle(ReinviteAnswered(PHONE), 2) == [] and leg.state is S.MIXED  # nothing for the call to take
    assert leg.handle(Ended(True, "BYE"), 3) == [tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP))]  # no gateway
    assert leg.ended


def scenario_a_dialled_phone_answers_at_once_or_after_ringing() -> None:
    leg = direct()
    assert leg.handle(Answered(PHONE), 1) == [tell(K.ACCEPT, Accept(PHONE))] and leg.state is S.MIXED
    assert leg.handle(state(CallState.DISCONNECTED, reasons.HUNG_UP), 2) == [HangUpPhone()] and leg.ended
    leg = direct()
    assert leg.handle(Ringing(183, PHONE), 1) == [tell(K.EARLY_MEDIA, EarlyMedia(PHONE))]
    assert leg.handle(Answered(None), 1) == [tell(K.ACCEPT, Accept(None))] and leg.state is S.MIXED
    leg = direct()
    leg.handle(Ringing(180), 1)
    assert leg.handle(Answered(PHONE), 1) == [tell(K.ACCEPT, Accept(PHONE))] and leg.state is S.MIXED


def scenario_a_connected_phone_moves_to_the_mixer() -> None:
    leg = connected_out()
    assert leg.handle(CallSdp("c1", MIXER, 1), 5) == [DeleteMedia(), Reinvite(MIXER)]  # the gateway steps aside
    assert leg.handle(ReinviteAnswered(PHONE), 5) == [tell(K.SDP, Sdp(PHONE))] and leg.state is S.MIXED
    assert leg.handle(CallSdp("c1", MOVED), 5) == [Reinvite(MOVED)]
    assert leg.handle(ReinviteAnswered(PHONE), 5) == [] and leg.state is S.MIXED
    assert leg.handle(CallSdp("c1", MIXER, 2), 6) == [Reinvite(MIXER)]  # the mixer offers anew
    assert leg.handle(ReinviteAnswered(None), 6) == [tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY)), HangUpPhone()]
    assert leg.handle(state(CallState.DISCONNECTED, reasons.TRUNK_BUSY), 6) == [HangUpPhone()] and leg.ended
    leg = connected_out()
    leg.handle(CallSdp("c1", MIXER, 1), 7)
    assert leg.handle(ReinviteRefused(488), 7) == [tell(K.HANG_UP, HangUp(reasons.TRUNK_BUSY)), HangUpPhone()]
    assert leg.ended


def scenario_a_crossed_reinvite_to_the_mixer_goes_again() -> None:
    leg = glared()
    deadline = leg.next_deadline()
    assert deadline is not None
    assert leg.handle(TimerFired(), deadline) == [Reinvite(MOVED)] and leg.state is S.MIXER_REINVITING
    leg.handle(ReinviteRefused(491), deadline)
    newer = MOVED.replace("41502", "41504")
    assert leg.handle(CallSdp("c1", newer), deadline) == [Reinvite(newer)] and leg.next_deadline() is None
    assert leg.handle(ReinviteAnswered(PHONE), deadline) == [] and leg.state is S.MIXED
    leg = glared()
    assert leg.handle(CallSdp("c1", MIXER, 2), 3) == [Reinvite(MIXER)]
    assert leg.handle(ReinviteAnswered(PHONE), 3) == [tell(K.SDP, Sdp(PHONE))]


def scenario_news_for_a_phone_with_the_mixer() -> None:
    for make in (dialled_in, mixed, glared):
        for news in (CallIce("c1", None), CallDtmf("c1", "5"), MediaDead(), state(CallState.CONNECTED),
                     ParticipantChanged("c1", Participant(CALLER, None, ParticipantState.CONNECTED, False))):
            leg = make()
            before = leg.state
            assert leg.handle(news, 9) == [] and leg.state is before
        leg = make()
        assert leg.handle(PhoneReoffered(PHONE_HOLDS, MIXER, PHONE), 9) == [AcceptReinvite(MIXER)]
        assert leg.handle(PhoneReoffered(None, MIXER, PHONE), 9) == [AcceptReinvite(MIXER)]
        assert leg.handle(PhoneReoffered(MANY_STREAMS, MIXER, PHONE), 9)[0].status == 488  # type: ignore[union-attr]
        assert leg.handle(Ended(True, "BYE"), 9) == [tell(K.HANG_UP, HangUp(reasons.PHONE_HUNG_UP))]
        leg = make()
        assert leg.handle(state(CallState.DISCONNECTED, reasons.ENDED_FOR_EVERYONE), 9) == [HangUpPhone()]
    leg = dialled_in()
    assert leg.handle(CallSdp("c1", AGENT), 9) == [] and leg.state is S.DIALLED_IN


SCENARIOS: list[Callable[[], None]] = [
    scenario_outbound_happy_path, scenario_answer_without_any_18x_and_the_agent_hangs_up,
    lambda: scenario_failover(503), scenario_keepalive_failures_are_tried_last,
    scenario_unusable_trunks_end_with_the_last_failure, scenario_no_trunk_at_all, scenario_early_media_then_answer,
    scenario_ringing_then_early_media_then_a_refusal, scenario_the_gateway_refuses_while_the_phone_rings,
    scenario_either_side_ends_a_ringing_call, scenario_no_failover_after_a_18x,
    scenario_news_that_changes_nothing_while_the_phone_rings, scenario_inbound_ring_and_answer,
    scenario_an_agent_answers_before_anything_rings, scenario_inbound_cancel_and_hang_up_before_the_answer,
    scenario_inbound_decline, scenario_inbound_refusals_before_anything_is_allocated, scenario_inbound_media_refused,
    scenario_the_agent_holds_and_resumes_the_phone, scenario_a_crossed_reinvite_is_tried_again_after_the_glare_delay,
    scenario_the_gateway_refuses_our_reoffer, scenario_the_phone_holds_and_resumes,
    scenario_session_refreshes_and_offers_the_leg_cannot_take,
    scenario_dead_media_ends_the_call_which_hangs_up_the_phone,
    scenario_a_group_call_dials_a_phone_with_the_mixers_offer,
    scenario_a_dialled_phone_answers_at_once_or_after_ringing,
    scenario_a_connected_phone_moves_to_the_mixer, scenario_a_crossed_reinvite_to_the_mixer_goes_again,
    scenario_news_for_a_phone_with_the_mixer,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.removeprefix("scenario_"))
def test_scenario(scenario: Callable[[], None]) -> None:
    scenario()


def test_every_row_of_the_table_is_taken_by_a_scenario() -> None:
    SEEN.clear()
    for scenario in SCENARIOS:
        scenario()
    assert set(TRANSITIONS) - SEEN == set()


# -- the table itself -----------------------------------------------------------------------------------------------

def test_every_pair_not_in_the_table_is_refused() -> None:
    missing = [(state_, event) for state_ in LegState for event in LegEvent if (state_, event) not in TRANSITIONS]
    assert missing
    for state_, event in missing:
        with pytest.raises(InvalidTransition):
            leg_next(state_, event)


def test_news_a_state_does_not_expect_is_refused_by_the_leg() -> None:
    leg = connected_out()
    for news in (Answered(PHONE), Ringing(180), Cancelled(), CallIncoming("c1", None, "x", None, AGENT),
                 MediaReady(PLAIN), TimerFired(), CallPlaced("c")):
        with pytest.raises(InvalidTransition):
            leg.handle(news, 9)
    with pytest.raises(TypeError):
        leg.handle(object(), 9)  # type: ignore[arg-type]
    leg.handle(Ended(True, "BYE"), 9)
    with pytest.raises(InvalidTransition):  # Ended is final
        leg.handle(state(CallState.DISCONNECTED), 9)


def test_ended_is_final_and_every_other_state_can_end() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.ENDED]
    reachable = {S.AWAITING_CALL, S.INVITED, S.DIALLED_IN} | {target for target, _ in TRANSITIONS.values()}
    assert reachable == set(LegState)


def test_the_architecture_doc_holds_the_table() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    opening = doc.index("<!-- Generated by callbridge.pstn.leg_table.describe()")
    start = doc.index("-->\n", opening) + len("-->\n")
    end = doc.index("<!-- end of the generated block -->", start)
    assert doc[start:end] == "\n" + describe() + "\n", "docs/architecture.md is stale: paste leg_table.describe() in"
