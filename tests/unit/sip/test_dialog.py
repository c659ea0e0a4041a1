"""INVITE dialogs (RFC 3261 12-15) between two pure dialog objects: every message crosses as bytes through
Request.parse/Response.parse, as it would on the wire. Forking, Record-Route through two proxies (loose and
strict), CSeq checks, re-INVITE hold/resume, glare, the UAS's 2xx retransmission on a fake clock, CANCEL, and the
transition table itself."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import pytest

from callbridge.sip import sdp
from callbridge.sip.dialog import (
    CallDoesNotExist,
    CSeqOutOfOrder,
    Dialog,
    DialogError,
    Dialogs,
    DialogStateError,
    IncomingInvite,
    InviteInProgress,
    OutgoingInvite,
    RequestPending,
    Role,
    build_invite,
    request_target,
)
from callbridge.sip.dialog_states import (
    DIALOG_TRANSITIONS,
    DialogEvent,
    DialogState,
    SuccessRetransmission,
    Timers,
    describe,
    dialog_next,
    glare_delay,
)
from callbridge.sip.fields import NameAddr, Via
from callbridge.sip.message import Request, Response
from callbridge.sip.offer_answer import answer, build_offer, hold, is_hold, resume
from callbridge.sip.transaction import cancel_for
from callbridge.sip.uri import SipUri
from callbridge.state_tables import InvalidTransition

DOCS = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
ALICE_VIA = Via("UDP", "alice.example.com", 5060, (("rport", None),))
BOB_VIA = Via("UDP", "bob.example.org", 5070)
ALICE_CONTACT = NameAddr(SipUri.parse("sip:alice@192.0.2.10:5060"))
BOB_CONTACT = NameAddr(SipUri.parse("sip:bob@198.51.100.20:5070"))
OFFER = bytes(build_offer("192.0.2.10", 40000, session_id=1))


def uri(text: str) -> SipUri:
    return SipUri.parse(text)


def wire_request(request: Request) -> Request:
    return Request.parse(bytes(request))


def wire_response(response: Response) -> Response:
    return Response.parse(bytes(response))


def invite(*, route_set: tuple[SipUri, ...] = (), request_uri: str = "sip:bob@example.org",
           body: bytes = OFFER) -> Request:
    return build_invite(
        uri(request_uri),
        from_=NameAddr(uri("sip:alice@example.com"), "Alice"),
        to=NameAddr(uri("sip:bob@example.org"), "Bob"),
        contact=ALICE_CONTACT,
        via=ALICE_VIA,
        route_set=route_set,
        body=body,
    )


@dataclass
class Proxy:
    """Just enough of a record-routing proxy: a Via and a Record-Route on the way in, its Via off on the way out."""

    host: str
    loose: bool = True

    @property
    def uri(self) -> str:
        return f"sip:{self.host}" + (";lr" if self.loose else "")

    def forward(self, request: Request) -> Request:
        request = request.with_header("Via", f"SIP/2.0/UDP {self.host};branch=z9hG4bK-{self.host}", first=True)
        return wire_request(request.with_header("Record-Route", f"<{self.uri}>", first=True))

    def back(self, response: Response) -> Response:
        fields = list(response.header_fields)
        fields.remove(next(field for field in fields if field[0] == "Via"))
        return wire_response(Response(response.status, response.reason, tuple(fields), response.body))


@dataclass
class Call:
    alice: Dialog
    bob: Dialog
    outgoing: OutgoingInvite
    incoming: IncomingInvite


def establish(*proxies: Proxy, now: float = 0.0) -> Call:
    """INVITE -> 180 -> 200 -> ACK through `proxies` (Alice's side first)."""
    request = invite()
    outgoing = OutgoingInvite(request)
    request = wire_request(request)
    for proxy in proxies:
        request = proxy.forward(request)
    incoming = IncomingInvite(request, contact=BOB_CONTACT, via=BOB_VIA)

    def to_alice(response: Response) -> Response:
        response = wire_response(response)
        for proxy in reversed(proxies):
            response = proxy.back(response)
        return response

    ringing = outgoing.on_response(to_alice(incoming.respond(180, now=now)))
    answer_sdp = bytes(answer(sdp.parse(request.body), "198.51.100.20", 50000, session_id=2))
    ok = outgoing.on_response(to_alice(incoming.respond(200, now=now, body=answer_sdp)))
    assert ringing.created and ok.dialog is ringing.dialog and ok.ack_again is None
    alice, bob = ok.dialog, incoming.dialog
    assert alice is not None and bob is not None
    bob.receive_request(wire_request(alice.build_ack()))
    return Call(alice, bob, outgoing, incoming)


# -- the whole exchange ---------------------------------------------------------------------------------------------


def test_invite_ringing_ok_ack_bye_ok_on_the_wire() -> None:
    request = invite()
    outgoing = OutgoingInvite(request)
    received = wire_request(request)
    assert received.header("Max-Forwards") == "70"
    assert received.from_.tag and received.to.tag is None
    assert received.top_via.has_rfc3261_branch and received.top_via.has_rport
    assert received.cseq.number == 1 and received.cseq.method == "INVITE"
    assert received.contacts == (ALICE_CONTACT,)
    assert received.content_type == "application/sdp" and received.body == OFFER

    incoming = IncomingInvite(received, contact=BOB_CONTACT, via=BOB_VIA)
    trying = wire_response(incoming.respond(100, now=0.0))
    assert trying.to.tag is None and outgoing.on_response(trying).dialog is None
    ringing = wire_response(incoming.respond(180, now=0.0))
    assert ringing.to.tag == incoming.local_tag and ringing.contacts == (BOB_CONTACT,)
    early = outgoing.on_response(ringing)
    alice, bob = early.dialog, incoming.dialog
    assert early.created and alice is not None and bob is not None
    assert alice.state is bob.state is DialogState.EARLY
    assert alice.remote_target == BOB_CONTACT.uri and bob.remote_target == ALICE_CONTACT.uri
    assert alice.id.local_tag == bob.id.remote_tag and alice.id.remote_tag == bob.id.local_tag
    assert alice.id.call_id == bob.id.call_id == received.call_id

    answer_sdp = bytes(answer(sdp.parse(received.body), "198.51.100.20", 50000))
    ok = wire_response(incoming.respond(200, now=0.0, body=answer_sdp))
    confirmed = outgoing.on_response(ok)
    assert confirmed.dialog is alice and not confirmed.created and ok.body == answer_sdp
    assert alice.state is bob.state is DialogState.CONFIRMED
    assert bob.awaiting_ack and bob.next_deadline == 0.5

    ack = wire_request(alice.build_ack())
    assert (ack.method, ack.cseq.number, ack.cseq.method) == ("ACK", 1, "ACK")
    assert ack.uri == BOB_CONTACT.uri and ack.top_via.branch != received.top_via.branch
    assert ack.top_via.has_rfc3261_branch and ack.to.tag == bob.id.local_tag
    dialogs = Dialogs()
    dialogs.add(bob)
    assert dialogs.receive(ack) is bob
    assert not bob.awaiting_ack and bob.next_deadline is None and bob.on_timer(100.0) == []

    bye = wire_request(alice.build_request("BYE"))
    assert (bye.cseq.number, bye.cseq.method, bye.uri) == (2, "BYE", BOB_CONTACT.uri)
    assert bye.header("Contact") is None and alice.state is DialogState.TERMINATING
    assert dialogs.receive(bye) is bob and bob.state is DialogState.TERMINATED and bob.remote_seq == 2
    bye_ok = wire_response(bob.respond(bye, 200, now=1.0))
    assert bye_ok.status == 200 and bye_ok.to.tag == bob.id.local_tag
    assert alice.on_response(bye_ok) is None and alice.state is DialogState.TERMINATED
    with pytest.raises(DialogStateError):
        alice.build_request("INFO")


def test_the_callee_can_hang_up_too_with_its_own_sequence_numbers() -> None:
    call = establish()
    assert call.bob.local_seq is None
    bye = wire_request(call.bob.build_request("BYE"))
    assert bye.uri == ALICE_CONTACT.uri and bye.top_via.host == BOB_VIA.host and bye.top_via.has_rfc3261_branch
    assert 0 < bye.cseq.number <= 2**31
    assert bye.from_.tag == call.bob.id.local_tag and bye.to.tag == call.alice.id.local_tag
    call.alice.receive_request(bye)
    assert call.alice.remote_seq == bye.cseq.number and call.alice.state is DialogState.TERMINATED
    call.bob.on_response(wire_response(call.alice.respond(bye, 200, now=2.0)))
    assert call.bob.state is DialogState.TERMINATED


def test_a_sips_request_uri_makes_the_dialog_secure() -> None:
    request = invite(request_uri="sips:bob@example.org")
    incoming = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA)
    outgoing = OutgoingInvite(request)
    dialog = outgoing.on_response(wire_response(incoming.respond(200, now=0.0))).dialog
    assert dialog is not None and dialog.secure and incoming.dialog is not None and incoming.dialog.secure
    assert not establish().alice.secure


def test_a_2xx_without_a_provisional_creates_a_confirmed_dialog() -> None:
    request = invite()
    incoming = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA, local_tag="b0b")
    result = OutgoingInvite(request).on_response(wire_response(incoming.respond(200, now=0.0)))
    assert result.created and result.dialog is not None and result.dialog.state is DialogState.CONFIRMED
    assert incoming.dialog is not None and incoming.dialog.state is DialogState.CONFIRMED
    assert result.dialog.id.remote_tag == "b0b"
    with pytest.raises(DialogStateError):
        incoming.respond(200, now=0.0)


def test_an_invite_without_contact_is_a_400() -> None:
    request = invite().without_header("Contact")
    incoming = IncomingInvite(request, contact=BOB_CONTACT, via=BOB_VIA)
    with pytest.raises(DialogError) as refused:
        incoming.respond(180, now=0.0)
    assert refused.value.response_to(request, to_tag="x").status == 400


# -- forking --------------------------------------------------------------------------------------------------------


def test_a_forked_invite_makes_one_dialog_per_tag_and_the_second_2xx_gets_ack_and_bye() -> None:
    request = invite()
    outgoing = OutgoingInvite(request)
    forked = wire_request(request)
    desk = IncomingInvite(forked, contact=BOB_CONTACT, via=BOB_VIA)
    mobile_contact = NameAddr(uri("sip:bob@203.0.113.7:5062"))
    mobile = IncomingInvite(forked, contact=mobile_contact, via=Via("TCP", "203.0.113.7", 5062))
    assert outgoing.on_response(wire_response(desk.respond(180, now=0.0))).created
    assert outgoing.on_response(wire_response(mobile.respond(183, now=0.0))).created
    assert len(outgoing.dialogs) == 2

    first = outgoing.on_response(wire_response(desk.respond(200, now=0.0)))
    second = outgoing.on_response(wire_response(mobile.respond(200, now=0.0)))
    assert first.dialog is not None and second.dialog is not None and first.dialog is not second.dialog
    assert first.dialog.state is second.dialog.state is DialogState.CONFIRMED
    assert desk.dialog is not None and mobile.dialog is not None

    dialogs = Dialogs()
    dialogs.add(desk.dialog)
    dialogs.add(mobile.dialog)
    ack_desk = first.dialog.build_ack()
    dialogs.receive(wire_request(ack_desk))
    ack_mobile = wire_request(second.dialog.build_ack())
    assert ack_mobile.uri == mobile_contact.uri and ack_mobile.to.tag == mobile.local_tag
    assert dialogs.receive(ack_mobile) is mobile.dialog and not mobile.dialog.awaiting_ack
    bye = wire_request(second.dialog.build_request("BYE"))
    assert bye.uri == mobile_contact.uri and bye.to.tag == mobile.local_tag
    assert dialogs.receive(bye) is mobile.dialog and mobile.dialog.state is DialogState.TERMINATED
    assert desk.dialog.state is DialogState.CONFIRMED and first.dialog.state is DialogState.CONFIRMED

    assert desk.final is not None
    again = outgoing.on_response(wire_response(desk.final))  # a 2xx repeated after its ACK
    assert again.dialog is first.dialog and again.ack_again is ack_desk and not again.created


def test_a_failure_ends_every_early_dialog() -> None:
    request = invite()
    outgoing = OutgoingInvite(request)
    forks = [IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA) for _ in range(2)]
    for fork in forks:
        outgoing.on_response(wire_response(fork.respond(180, now=0.0)))
    busy = outgoing.on_response(wire_response(forks[0].respond(486, now=0.0)))
    assert busy.dialog is outgoing.dialogs[forks[0].local_tag]
    assert all(dialog.state is DialogState.TERMINATED for dialog in outgoing.dialogs.values())
    assert forks[0].dialog is not None and forks[0].dialog.state is DialogState.TERMINATED
    assert outgoing.on_response(wire_response(forks[0].final or forks[0].respond(486, now=0.0))).ack_again is None


def test_early_dialogs_left_when_the_invite_transaction_ends_are_ended() -> None:
    request = invite()
    outgoing = OutgoingInvite(request)
    fork = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA)
    outgoing.on_response(wire_response(fork.respond(180, now=0.0)))
    (ended,) = outgoing.finish()
    assert ended.state is DialogState.TERMINATED and outgoing.finish() == ()


def test_the_caller_may_bye_an_early_dialog_and_the_callee_answers_the_invite_487() -> None:
    request = invite()
    outgoing = OutgoingInvite(request)
    incoming = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA)
    alice = outgoing.on_response(wire_response(incoming.respond(180, now=0.0))).dialog
    bob = incoming.dialog
    assert alice is not None and bob is not None
    with pytest.raises(DialogStateError, match="callee"):
        bob.build_request("BYE")
    with pytest.raises(DialogStateError, match="INVITE transaction"):
        alice.build_request("INVITE")
    bye = wire_request(alice.build_request("BYE"))
    bob.receive_request(bye)
    assert bob.state is DialogState.TERMINATED and alice.state is DialogState.TERMINATING
    terminated = wire_response(incoming.respond(487, now=0.0))
    assert terminated.status == 487 and bob.state is DialogState.TERMINATED
    alice.on_response(wire_response(bob.respond(bye, 200, now=0.0)))
    outgoing.on_response(terminated)
    assert alice.state is DialogState.TERMINATED


# -- Record-Route and the route set ---------------------------------------------------------------------------------


def test_record_route_through_two_proxies_gives_each_side_its_route_set_in_order() -> None:
    near_alice, near_bob = Proxy("p1.example.com"), Proxy("p2.example.net")
    call = establish(near_alice, near_bob)
    assert call.alice.route_set == (uri(near_alice.uri), uri(near_bob.uri))
    assert call.bob.route_set == (uri(near_bob.uri), uri(near_alice.uri))

    bye = wire_request(call.alice.build_request("BYE"))
    assert bye.uri == BOB_CONTACT.uri
    assert [str(route.uri) for route in bye.routes] == [near_alice.uri, near_bob.uri]
    ack = call.alice.last_ack
    assert ack is not None and [str(route.uri) for route in ack.routes] == [near_alice.uri, near_bob.uri]

    reverse = wire_request(establish(near_alice, near_bob).bob.build_request("BYE"))
    assert reverse.uri == ALICE_CONTACT.uri
    assert [str(route.uri) for route in reverse.routes] == [near_bob.uri, near_alice.uri]


def test_a_strict_router_becomes_the_request_uri_and_the_remote_target_goes_last() -> None:
    strict, loose = Proxy("p1.example.com", loose=False), Proxy("p2.example.net")
    call = establish(strict, loose)
    bye = wire_request(call.alice.build_request("BYE"))
    assert bye.uri == uri("sip:p1.example.com")
    assert [str(route.uri) for route in bye.routes] == [loose.uri, str(BOB_CONTACT.uri)]
    from_bob = wire_request(call.bob.build_request("INFO", body=b"Signal=1\r\n", content_type="application/dtmf"))
    assert from_bob.uri == ALICE_CONTACT.uri and [str(r.uri) for r in from_bob.routes] == [loose.uri, strict.uri]


def test_request_uri_drops_what_a_request_uri_may_not_carry() -> None:
    strict = uri("sip:proxy.example.com;transport=tcp;method=INVITE?Subject=x")
    target, routes = request_target(uri("sip:bob@198.51.100.20"), [strict, uri("sip:p2.example.net;lr")])
    assert str(target) == "sip:proxy.example.com;transport=tcp"
    assert [str(route) for route in routes] == ["sip:p2.example.net;lr", "sip:bob@198.51.100.20"]
    assert request_target(uri("sip:bob@x.example"), []) == (uri("sip:bob@x.example"), ())


def test_a_preloaded_outbound_proxy_goes_in_route() -> None:
    request = wire_request(invite(route_set=(uri("sip:outbound.example.com;lr"),)))
    assert request.uri == uri("sip:bob@example.org")
    assert [str(route.uri) for route in request.routes] == ["sip:outbound.example.com;lr"]


# -- CSeq and unknown dialogs ---------------------------------------------------------------------------------------


def test_a_request_for_no_dialog_is_481_and_a_stale_cseq_is_500() -> None:
    call = establish()
    dialogs = Dialogs()
    dialogs.add(call.bob)
    info = wire_request(call.alice.build_request("INFO"))
    assert dialogs.receive(info) is call.bob and call.bob.remote_seq == 2

    for stale in (info, info.replacing_header("CSeq", "1 INFO")):
        with pytest.raises(CSeqOutOfOrder) as out_of_order:
            dialogs.receive(stale)
        answer_ = wire_response(out_of_order.value.response_to(stale))
        assert answer_.status == 500 and answer_.cseq == stale.cseq

    stranger = info.replacing_header("To", str(call.alice.remote.with_tag("not-a-dialog")))
    with pytest.raises(CallDoesNotExist) as missing:
        dialogs.receive(stranger)
    gone = wire_response(missing.value.response_to(stranger))
    assert gone.status == 481 and gone.reason == "Call/Transaction Does Not Exist"

    dialogs.discard(call.bob)
    assert len(dialogs) == 0 and dialogs.get(call.bob.id) is None
    with pytest.raises(CallDoesNotExist):
        dialogs.receive(wire_request(call.alice.build_request("INFO")))


def test_a_terminated_dialog_answers_481_and_still_takes_an_ack() -> None:
    call = establish()
    call.bob.receive_request(wire_request(call.alice.build_request("BYE")))
    call.bob.receive_request(wire_request(call.alice.build_ack()))  # an ACK is never answered, only taken
    late_info = Request("INFO", BOB_CONTACT.uri, call.alice.build_ack().header_fields).replacing_header(
        "CSeq", "9 INFO")
    dialogs = Dialogs()
    dialogs.add(call.bob)
    assert list(dialogs) == [call.bob]
    with pytest.raises(CallDoesNotExist) as gone:
        dialogs.receive(wire_request(late_info))
    assert gone.value.response_to(late_info).status == 481


def test_481_or_408_to_an_in_dialog_request_ends_the_dialog() -> None:
    call = establish()
    info = wire_request(call.alice.build_request("INFO"))
    call.alice.on_response(wire_response(call.bob.respond(info, 200, now=0.0)))
    assert call.alice.state is DialogState.CONFIRMED
    call.alice.on_response(wire_response(CallDoesNotExist("gone").response_to(info)))
    assert call.alice.state is DialogState.TERMINATED
    assert call.alice.on_response(wire_response(call.bob.respond(info, 481, now=0.0))) is None

    other = establish()
    options = other.bob.build_request("OPTIONS")
    other.bob.on_timeout(options)
    assert other.bob.state is DialogState.TERMINATED

    bye_lost = establish()
    bye = bye_lost.alice.build_request("BYE")
    bye_lost.alice.on_timeout(bye)
    assert bye_lost.alice.state is DialogState.TERMINATED


# -- re-INVITE: hold and resume, target refresh, glare --------------------------------------------------------------


def test_reinvite_hold_and_resume_pass_the_sdp_through() -> None:
    call = establish()
    offered = sdp.parse(OFFER)
    dialogs = Dialogs()
    dialogs.add(call.bob)
    for step, (offer, expect_hold) in enumerate(((hold(offered), True), (resume(hold(offered)), False)), start=2):
        reinvite = wire_request(call.alice.build_request("INVITE", body=bytes(offer)))
        assert reinvite.cseq.number == step and reinvite.contacts == (ALICE_CONTACT,)
        assert reinvite.uri == BOB_CONTACT.uri and reinvite.content_type == "application/sdp"
        assert dialogs.receive(reinvite) is call.bob and call.bob.server_invite == step
        assert is_hold(sdp.parse(reinvite.body)) is expect_hold and reinvite.body == bytes(offer)
        answered = bytes(answer(sdp.parse(reinvite.body), "198.51.100.20", 50000))
        ok = wire_response(call.bob.respond(reinvite, 200, now=float(step), body=answered))
        assert ok.contacts == (BOB_CONTACT,) and ok.header("Record-Route") is None
        assert call.alice.on_response(ok) is None and ok.body == answered
        assert call.alice.client_invite is None and call.bob.awaiting_ack
        ack = wire_request(call.alice.build_ack())
        assert ack.cseq.number == step and ack.cseq.method == "ACK"
        assert call.alice.on_response(ok) is call.alice.last_ack  # a repeated 2xx gets the same ACK
        dialogs.receive(ack)
        assert not call.bob.awaiting_ack and not call.bob.invite_in_progress
    assert call.alice.state is call.bob.state is DialogState.CONFIRMED


def test_a_reinvite_refreshes_the_remote_target() -> None:
    call = establish()
    moved = NameAddr(uri("sip:alice@192.0.2.99:5080;transport=tcp"))
    call.alice.local_target = moved
    reinvite = wire_request(call.alice.build_request("INVITE", body=OFFER))
    call.bob.receive_request(reinvite)
    assert call.bob.remote_target == moved.uri
    ok = wire_response(call.bob.respond(reinvite, 200, now=0.0, body=OFFER))
    call.bob.local_target = BOB_CONTACT
    call.alice.on_response(ok)
    call.bob.receive_request(wire_request(call.alice.build_ack()))
    assert wire_request(call.bob.build_request("BYE")).uri == moved.uri


def test_a_rejected_reinvite_keeps_the_dialog() -> None:
    call = establish()
    reinvite = wire_request(call.alice.build_request("INVITE", body=OFFER))
    call.bob.receive_request(reinvite)
    refused = wire_response(call.bob.respond(reinvite, 488, now=0.0))
    assert call.alice.on_response(refused) is None
    assert call.alice.state is call.bob.state is DialogState.CONFIRMED
    assert not call.alice.invite_in_progress and not call.bob.invite_in_progress


def test_glare_both_reinvites_get_491_and_each_side_backs_off_by_its_own_range() -> None:
    call = establish()
    from_alice = wire_request(call.alice.build_request("INVITE", body=OFFER))
    from_bob = wire_request(call.bob.build_request("INVITE", body=OFFER))
    with pytest.raises(DialogStateError):
        call.alice.build_request("INVITE", body=OFFER)
    refusals = []
    for receiver, request in ((call.bob, from_alice), (call.alice, from_bob)):  # the INVITEs cross
        with pytest.raises(RequestPending) as pending:
            receiver.receive_request(request)
        refusals.append(wire_response(pending.value.response_to(request)))
    for sender, refused in zip((call.alice, call.bob), refusals, strict=True):
        assert (refused.status, refused.reason) == (491, "Request Pending")
        sender.on_response(refused)
        assert sender.client_invite is None and sender.state is DialogState.CONFIRMED
    assert call.alice.role is Role.UAC and call.bob.role is Role.UAS
    rng = random.Random(7)
    owner = [call.alice.glare_delay(rng) for _ in range(200)]
    other = [call.bob.glare_delay(rng) for _ in range(200)]
    assert 2.1 <= min(owner) and max(owner) <= 4.0 and 0.0 <= min(other) and max(other) <= 2.0
    assert all(round(delay * 100) == pytest.approx(delay * 100) for delay in owner + other)  # 10 ms units
    assert 0.0 <= call.alice.glare_delay() <= 4.0
    retry = wire_request(call.alice.build_request("INVITE", body=OFFER))
    call.bob.receive_request(retry)
    assert retry.cseq.number == from_alice.cseq.number + 1


def test_an_invite_before_the_last_one_is_answered_is_500_with_retry_after() -> None:
    call = establish()
    first = wire_request(call.alice.build_request("INVITE", body=OFFER))
    call.bob.receive_request(first)
    call.alice.client_invite = None  # a misbehaving peer sends a second one
    second = wire_request(call.alice.build_request("INVITE", body=OFFER))
    with pytest.raises(InviteInProgress) as busy:
        call.bob.receive_request(second)
    refused = wire_response(busy.value.response_to(second))
    retry_after = refused.header("Retry-After")
    assert refused.status == 500 and retry_after is not None and 0 <= int(retry_after) <= 10


def test_glare_delay_ranges() -> None:
    rng = random.Random(1)
    assert {glare_delay(True, rng) for _ in range(2000)} <= {n / 100 for n in range(210, 401)}
    assert {glare_delay(False, rng) for _ in range(2000)} <= {n / 100 for n in range(201)}


# -- the UAS's 2xx retransmission -----------------------------------------------------------------------------------


def test_the_2xx_is_resent_from_t1_doubling_to_t2_and_given_up_with_a_bye_at_64_t1() -> None:
    request = invite()
    incoming = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA)
    ok = incoming.respond(200, now=100.0, body=OFFER)
    bob = incoming.dialog
    assert bob is not None
    sent: list[float] = []
    assert bob.on_timer(100.4) == []
    while (deadline := bob.next_deadline) is not None:
        out = bob.on_timer(deadline)
        if out == [ok]:
            sent.append(deadline - 100.0)
            continue
        (bye,) = out
        assert isinstance(bye, Request) and bye.method == "BYE" and deadline == 132.0
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert bob.state is DialogState.TERMINATING and not bob.awaiting_ack and bob.on_timer(500.0) == []
    bye = wire_request(bye)
    assert bye.uri == ALICE_CONTACT.uri and bye.cseq.method == "BYE"


def test_a_late_timer_sends_once_and_keeps_the_schedule() -> None:
    incoming = IncomingInvite(wire_request(invite()), contact=BOB_CONTACT, via=BOB_VIA)
    incoming.respond(200, now=0.0)
    bob = incoming.dialog
    assert bob is not None and len(bob.on_timer(10.0)) == 1 and bob.next_deadline == 11.5
    assert bob.on_timer(10.0) == []


def test_the_ack_of_another_invite_does_not_stop_the_retransmission() -> None:
    call = establish()
    stale_ack = call.alice.build_ack().replacing_header("CSeq", "0 ACK")
    reinvite = wire_request(call.alice.build_request("INVITE", body=OFFER))
    call.bob.receive_request(reinvite)
    call.bob.respond(reinvite, 200, now=0.0)
    call.bob.receive_request(stale_ack)
    assert call.bob.awaiting_ack
    with pytest.raises(DialogStateError, match="ACK"):
        call.bob.build_request("BYE")
    call.bob.receive_request(wire_request(call.alice.build_ack()))
    assert not call.bob.awaiting_ack


def test_timers_are_configurable() -> None:
    retransmission = SuccessRetransmission(3, 0.0, Timers(t1=0.1, t2=0.3))
    times = []
    now = 0.0
    while (action := retransmission.on_timer(now := retransmission.next_deadline)) is not None:
        times.append(round(now, 6))
        if action == "give_up":
            break
    assert times[:4] == [0.1, 0.3, 0.6, 0.9] and times[-1] == pytest.approx(6.4)


# -- CANCEL ---------------------------------------------------------------------------------------------------------


def test_cancel_copies_the_invites_branch_uri_call_id_from_to_cseq_number_and_route() -> None:
    request = invite(route_set=(uri("sip:outbound.example.com;lr"),))
    outgoing = OutgoingInvite(request)
    cancel = wire_request(outgoing.cancel())
    assert cancel.method == "CANCEL" and cancel.uri == request.uri
    assert cancel.top_via == request.top_via and len(cancel.vias) == 1
    assert (cancel.call_id, cancel.from_, cancel.to) == (request.call_id, request.from_, request.to)
    assert (cancel.cseq.number, cancel.cseq.method) == (request.cseq.number, "CANCEL")
    assert cancel.routes == request.routes and cancel.body == b"" and cancel.header("Max-Forwards") == "70"
    assert cancel_for(request) == outgoing.cancel()

    incoming = IncomingInvite(wire_request(request), contact=BOB_CONTACT, via=BOB_VIA)
    outgoing.on_response(wire_response(incoming.respond(180, now=0.0)))
    assert incoming.dialog is not None
    incoming.dialog.receive_request(cancel.replacing_header("To", str(request.to.with_tag(incoming.local_tag))))
    outgoing.on_response(wire_response(incoming.respond(487, now=0.0)))
    assert incoming.dialog.state is DialogState.TERMINATED
    assert all(dialog.state is DialogState.TERMINATED for dialog in outgoing.dialogs.values())
    with pytest.raises(DialogStateError):
        outgoing.cancel()


# -- misuse ---------------------------------------------------------------------------------------------------------


def test_builders_refuse_what_they_cannot_build() -> None:
    call = establish()
    for method in ("ACK", "CANCEL"):
        with pytest.raises(ValueError, match="build_"):
            call.alice.build_request(method)
    with pytest.raises(ValueError, match="tag"):
        build_invite(uri("sip:b@example.org"), from_=ALICE_CONTACT, to=BOB_CONTACT.with_tag("x"),
                     contact=ALICE_CONTACT, via=ALICE_VIA)
    with pytest.raises(ValueError):
        OutgoingInvite(call.alice.build_request("INFO"))
    with pytest.raises(ValueError):
        IncomingInvite(call.alice.build_request("INVITE"), contact=BOB_CONTACT, via=BOB_VIA)
    with pytest.raises(ValueError):
        Dialog.for_uac(invite(), Response(200, "OK", invite().header_fields))
    given = build_invite(uri("sip:b@example.org"), from_=ALICE_CONTACT.with_tag("a1"), to=BOB_CONTACT,
                         contact=ALICE_CONTACT, via=ALICE_VIA, call_id="c@x", cseq=7)
    assert (given.from_.tag, given.call_id, given.cseq.number, given.header("Content-Type")) == ("a1", "c@x", 7, None)
    assert wire_request(call.alice.build_request("OPTIONS", branch="z9hG4bK-given")).top_via.branch == "z9hG4bK-given"


# -- the transition table -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event"), sorted(DIALOG_TRANSITIONS))
def test_every_transition_in_the_table(state: DialogState, event: DialogEvent) -> None:
    assert dialog_next(state, event) is DIALOG_TRANSITIONS[state, event]


@pytest.mark.parametrize(("state", "event"),
                         [pair for pair in product(DialogState, DialogEvent) if pair not in DIALOG_TRANSITIONS])
def test_every_other_transition_raises(state: DialogState, event: DialogEvent) -> None:
    with pytest.raises(InvalidTransition, match=f"no transition from {state} on {event}"):
        dialog_next(state, event)


def test_describe_has_a_row_for_every_state_and_the_docs_hold_it() -> None:
    text = describe()
    for state in DialogState:
        assert f"\n| `{state}` |" in text
    assert text.count("| final |") == 1
    doc = DOCS.read_text(encoding="utf-8")
    opening = doc.index("<!-- Generated by callbridge.sip.dialog_states.describe()")
    start = doc.index("-->\n", opening) + len("-->\n")
    end = doc.index("<!-- end of the generated block -->", start)
    assert doc[start:end] == "\n" + text + "\n", "docs/architecture.md is stale: paste dialog_states.describe() in"
