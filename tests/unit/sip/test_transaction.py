"""The transaction machines and layer (RFC 3261 section 17, RFC 6026) on a fake clock: every row of every table,
the retransmission schedules, timeouts, the ACK for a non-2xx, the Accepted states, request retransmissions,
CANCEL matching and the transitions that do not exist."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from callbridge.sip.fields import parse_name_addr, parse_via
from callbridge.sip.message import Request, Response
from callbridge.sip.responses import make_response
from callbridge.sip.transaction import (
    ClientKey,
    ClientTransaction,
    Output,
    RequestReceived,
    ResponseReceived,
    ServerKey,
    ServerTransaction,
    Terminated,
    Timeout,
    Transmit,
    TransportFailed,
    ack_for,
    cancel_for,
)
from callbridge.sip.transaction_layer import TransactionLayer, UnknownTransaction, server_key
from callbridge.sip.transaction_tables import (
    INVITE_CLIENT,
    INVITE_SERVER,
    MACHINES,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    Do,
    Event,
    MachineSpec,
    State,
    Timer,
    TimerSettings,
    describe,
)
from callbridge.sip.transport import Address, response_destination, stamp_received, stamped_via
from callbridge.state_tables import InvalidTransition

PEER_UDP = Address("192.0.2.10", 5060, "UDP")
PEER_TCP = Address("192.0.2.10", 5060, "TCP")
LOCAL = {"UDP": Address("192.0.2.1", 5070, "UDP"), "TCP": Address("192.0.2.1", 5070, "TCP")}
S, E = State, Event


def request(method: str = "INVITE", branch: str = "z9hG4bKclient1", transport: str = "UDP") -> Request:
    return Request.parse(
        (
            f"{method} sip:bob@192.0.2.10 SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 192.0.2.1:5070;branch={branch};rport\r\n"
            "Route: <sip:proxy.example.com;lr>\r\n"
            "Max-Forwards: 70\r\n"
            "From: Alice <sip:alice@example.com>;tag=a1\r\n"
            "To: Bob <sip:bob@example.com>\r\n"
            "Call-ID: call-1@192.0.2.1\r\n"
            f"CSeq: 1 {method}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )


def answer(req: Request, status: int) -> Response:
    return make_response(req, status, to_tag=None if status == 100 else "b1")


def transmitted(out: list[Output]) -> list[Transmit]:
    return [item for item in out if isinstance(item, Transmit)]


def run_timers(machine: ClientTransaction | ServerTransaction, until: float) -> list[tuple[float, Output]]:
    """Fire the machine's timers in order up to `until`, as a driver would: (time, output) pairs."""
    fired: list[tuple[float, Output]] = []
    while (deadline := machine.next_deadline()) is not None and deadline <= until:
        fired += [(deadline, item) for item in machine.timer(deadline)]
    return fired


# -- every row of every table -----------------------------------------------------------------------------------
PATHS: dict[str, dict[State, list[Event]]] = {
    INVITE_CLIENT.name: {S.CALLING: [], S.PROCEEDING: [E.PROVISIONAL], S.COMPLETED: [E.FAILURE],
                         S.ACCEPTED: [E.SUCCESS]},
    NON_INVITE_CLIENT.name: {S.TRYING: [], S.PROCEEDING: [E.PROVISIONAL], S.COMPLETED: [E.SUCCESS]},
    INVITE_SERVER.name: {S.PROCEEDING: [], S.COMPLETED: [E.TU_FAILURE], S.CONFIRMED: [E.TU_FAILURE, E.ACK],
                         S.ACCEPTED: [E.TU_SUCCESS]},
    NON_INVITE_SERVER.name: {S.TRYING: [], S.PROCEEDING: [E.TU_PROVISIONAL], S.COMPLETED: [E.TU_SUCCESS]},
}  # fmt: skip
STATUS = {E.PROVISIONAL: 180, E.SUCCESS: 200, E.FAILURE: 486, E.TU_PROVISIONAL: 180, E.TU_SUCCESS: 200,
          E.TU_FAILURE: 486}  # fmt: skip


def new_machine(spec: MachineSpec, reliable: bool) -> ClientTransaction | ServerTransaction:
    method = "INVITE" if spec in (INVITE_CLIENT, INVITE_SERVER) else "OPTIONS"
    transport = "TCP" if reliable else "UDP"
    req = request(method, transport=transport)
    peer = PEER_TCP if reliable else PEER_UDP
    if spec in (INVITE_CLIENT, NON_INVITE_CLIENT):
        return ClientTransaction(req, peer)
    return ServerTransaction(stamp_received(req, peer), peer, server_key(req))


def drive(machine: ClientTransaction | ServerTransaction, event: Event, now: float) -> list[Output]:
    req = machine.request
    if event.name.startswith("TIMER_"):
        timer = Timer(event.name.removeprefix("TIMER_"))
        assert timer in machine.timers(), f"{event} is not armed in {machine.state}"
        return machine.timer(machine.timers()[timer])
    if event is E.TRANSPORT_ERROR:
        return machine.transport_error(now)
    if isinstance(machine, ClientTransaction):
        return machine.receive(answer(req, STATUS[event]), now)
    if event is E.REQUEST:
        return machine.receive(req, now)
    if event is E.ACK:
        return machine.receive(ack_for(req, answer(req, 486)), now)
    return machine.send_response(answer(req, STATUS[event]), now)


def expected_kinds(machine: ClientTransaction | ServerTransaction, actions: tuple[object, ...]) -> list[type]:
    passed = ResponseReceived if isinstance(machine, ClientTransaction) else RequestReceived
    kinds: dict[object, type] = {Do.SEND_REQUEST: Transmit, Do.SEND_ACK: Transmit, Do.SEND_TRYING: Transmit,
                                 Do.SEND_RESPONSE: Transmit, Do.RESEND_RESPONSE: Transmit, Do.PASS_UP: passed,
                                 Do.TIMEOUT: Timeout, Do.TRANSPORT_ERROR: TransportFailed}  # fmt: skip
    return [kinds[action] for action in actions if action in kinds]


ROWS = [
    pytest.param(spec, state, event, id=f"{spec.name}: {state} --{event}-->")
    for spec in MACHINES
    for (state, event) in spec.transitions
]


@pytest.mark.parametrize(("spec", "state", "event"), ROWS)
def test_every_transition(spec: MachineSpec, state: State, event: Event) -> None:
    # B, F and H are seen on a reliable transport, where the retransmission timers before them do not run
    machine = new_machine(spec, reliable=event in (E.TIMER_B, E.TIMER_F, E.TIMER_H))
    machine.start(0.0)
    for step in PATHS[spec.name][state]:
        drive(machine, step, 0.0)
    assert machine.state is state
    target, actions = spec.transitions[(state, event)]
    out = drive(machine, event, 0.01)
    assert machine.state is target
    kinds = expected_kinds(machine, actions) + ([Terminated] if target is S.TERMINATED else [])
    assert [type(item) for item in out] == kinds
    assert all(timer in spec.kept(target) for timer in machine.timers())


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_transitions_not_in_the_table_raise(spec: MachineSpec) -> None:
    missing = [(state, event) for state in spec.states for event in Event if (state, event) not in spec.transitions]
    assert (S.TERMINATED, E.TIMER_A) in missing
    for state, event in missing:
        with pytest.raises(InvalidTransition):
            spec.step(state, event)


def test_a_tu_answering_twice_or_too_late_raises() -> None:
    server = new_machine(NON_INVITE_SERVER, reliable=False)
    assert isinstance(server, ServerTransaction)
    server.start(0.0)
    server.send_response(answer(server.request, 200), 0.0)
    with pytest.raises(InvalidTransition, match="Completed on TU 1xx"):
        server.send_response(answer(server.request, 180), 0.1)
    run_timers(server, 100.0)
    assert server.terminated
    with pytest.raises(InvalidTransition):
        server.send_response(answer(server.request, 200), 100.0)


def test_the_protocol_doc_holds_the_generated_tables() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text()
    opening = doc.index("<!-- Generated by callbridge.sip.transaction_tables.describe()")
    start = doc.index("-->", opening) + 3
    end = doc.index("<!-- end of the generated block -->", start)
    assert doc[start:end] == "\n" + describe() + "\n", "docs/protocol.md is stale: paste describe() in"


# -- client retransmissions and timeouts ------------------------------------------------------------------------
def test_timer_a_doubles_on_udp_until_timer_b() -> None:
    """RFC 3261 17.1.1.2: INVITE retransmits at intervals doubling from T1 (A is not capped at T2, unlike E and
    G), and B ends the transaction at 64*T1 with a 408 for the TU."""
    client = ClientTransaction(request(), PEER_UDP)
    assert transmitted(client.start(0.0))[0].message == client.request
    fired = run_timers(client, 100.0)
    sent_at = [at for at, item in fired if isinstance(item, Transmit)]
    assert sent_at == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    (at, timeout), (_, terminated) = [(at, item) for at, item in fired if not isinstance(item, Transmit)]
    assert at == 32.0 and isinstance(timeout, Timeout) and isinstance(terminated, Terminated)
    assert timeout.response is not None and timeout.response.status == 408
    assert timeout.response.call_id == "call-1@192.0.2.1" and str(timeout.response.cseq) == "1 INVITE"
    assert client.state is S.TERMINATED and client.next_deadline() is None


def test_no_retransmission_on_tcp_and_a_configurable_t1() -> None:
    client = ClientTransaction(request(transport="TCP"), PEER_TCP, TimerSettings(t1=0.1))
    client.start(0.0)
    assert client.timers() == {Timer.B: pytest.approx(6.4)}
    fired = run_timers(client, 100.0)
    assert [type(item) for _, item in fired] == [Timeout, Terminated]
    assert fired[0][0] == pytest.approx(6.4)


def test_timer_e_doubles_to_t2_and_stays_at_t2_in_proceeding() -> None:
    client = ClientTransaction(request("OPTIONS"), PEER_UDP)
    client.start(0.0)
    sent_at = [at for at, item in run_timers(client, 12.0) if isinstance(item, Transmit)]
    assert sent_at == [0.5, 1.5, 3.5, 7.5, 11.5]
    client.receive(answer(client.request, 180), 12.0)
    assert client.state is S.PROCEEDING
    fired = run_timers(client, 64.0)
    sent_at = [at for at, item in fired if isinstance(item, Transmit)]
    assert sent_at == [15.5, 19.5, 23.5, 27.5, 31.5]
    assert [type(item) for at, item in fired if at == 32.0] == [Timeout, Terminated]


def test_timer_b_reaches_the_tu_through_the_layer_in_no_time() -> None:
    layer = TransactionLayer(LOCAL)
    started = time.thread_time()  # CPU, not wall time: the machine may be busy
    key, _ = layer.send_request(request(), PEER_UDP, 1000.0)
    out: list[Output] = []
    while (deadline := layer.next_deadline()) is not None:
        out += layer.on_timer(deadline)
    assert time.thread_time() - started < 0.05
    timeouts = [item for item in out if isinstance(item, Timeout)]
    assert len(timeouts) == 1 and timeouts[0].transaction == key and timeouts[0].response is not None
    assert timeouts[0].response.status == 408
    assert out[-1] == Terminated(key) and not layer.clients


# -- the INVITE client: ACK for non-2xx, Accepted for 2xx -------------------------------------------------------
def test_the_ack_for_a_non_2xx_final_response() -> None:
    """RFC 3261 17.1.1.3: same Request-URI, the INVITE's top Via (same branch), Route set, From, Call-ID and CSeq
    number; the To of the response, with its tag; sent where the INVITE went."""
    invite = request()
    client = ClientTransaction(invite, PEER_UDP)
    client.start(0.0)
    client.receive(answer(invite, 180), 0.1)
    out = client.receive(answer(invite, 486), 0.2)
    (ack_sent,) = transmitted(out)
    ack = ack_sent.message
    assert isinstance(ack, Request) and ack.method == "ACK" and ack_sent.destination == PEER_UDP
    assert ack.uri == invite.uri and ack.top_via.branch == "z9hG4bKclient1" and len(ack.vias) == 1
    assert ack.to.tag == "b1" and ack.to.uri == invite.to.uri
    assert ack.from_ == invite.from_ and ack.call_id == invite.call_id and str(ack.cseq) == "1 ACK"
    assert ack.headers("Route") == ("<sip:proxy.example.com;lr>",) and ack.max_forwards == 70
    assert [type(item) for item in out] == [Transmit, ResponseReceived]
    # the 486 retransmitted: the same ACK again, nothing for the TU
    again = client.receive(answer(invite, 486), 1.0)
    assert [item.message for item in transmitted(again)] == [ack] and len(again) == 1
    fired = run_timers(client, 100.0)
    assert [(at, type(item)) for at, item in fired] == [(32.2, Terminated)]


def test_a_2xx_goes_to_the_tu_and_accepted_takes_its_retransmissions() -> None:
    layer = TransactionLayer(LOCAL)
    key, _ = layer.send_request(request(), PEER_UDP, 0.0)
    ok = answer(layer.clients[key].request, 200)
    out = layer.receive(ok, PEER_UDP, 0.1)
    assert out == [ResponseReceived(ok, key)]  # no ACK from the transaction: the TU's core sends it
    assert layer.clients[key].state is S.ACCEPTED
    assert layer.receive(ok, PEER_UDP, 0.6) == [ResponseReceived(ok, key)]  # RFC 6026 7.2, still this transaction
    assert layer.receive(answer(layer.clients[key].request, 180), PEER_UDP, 0.7) == []
    assert layer.on_timer(32.1) == [Terminated(key)]
    assert layer.receive(ok, PEER_UDP, 40.0) == [ResponseReceived(ok, None)]  # stray now


def test_an_invite_over_tcp_ends_at_once_after_its_ack() -> None:
    client = ClientTransaction(request(transport="TCP"), PEER_TCP)
    client.start(0.0)
    out = client.receive(answer(client.request, 404), 0.1)
    assert [type(item) for item in out] == [Transmit, ResponseReceived, Terminated]  # D is 0 on TCP


def test_a_transport_error_ends_the_client_transaction() -> None:
    layer = TransactionLayer(LOCAL)
    key, _ = layer.send_request(request("OPTIONS"), PEER_TCP, 0.0)
    assert layer.on_transport_error(key, 0.1) == [TransportFailed(key), Terminated(key)]
    assert layer.on_transport_error(key, 0.2) == [] and layer.next_deadline() is None


# -- server transactions ------------------------------------------------------------------------------------------
def test_server_resends_its_last_response_on_a_retransmitted_request() -> None:
    layer = TransactionLayer(LOCAL)
    options = stamp_received(request("OPTIONS", branch="z9hG4bKsrv1"), PEER_UDP)
    (received,) = layer.receive(options, PEER_UDP, 0.0)
    assert isinstance(received, RequestReceived) and received.transaction is not None
    assert layer.receive(options, PEER_UDP, 0.5) == []  # Trying: nothing to resend yet
    ok = answer(options, 200)
    (sent,) = layer.send_response(received.transaction, ok, 0.6)
    assert isinstance(sent, Transmit) and sent.message == ok
    assert sent.destination == PEER_UDP  # rport: back to the source
    again = layer.receive(options, PEER_UDP, 1.0)
    assert [item.message for item in transmitted(again)] == [ok]
    assert layer.on_timer(0.6 + 32) == [Terminated(received.transaction)]  # Timer J, 64*T1 on UDP


def test_invite_server_answers_100_and_resends_the_latest_provisional() -> None:
    layer = TransactionLayer(LOCAL)
    invite = stamp_received(request(branch="z9hG4bKsrv2"), PEER_UDP)
    out = layer.receive(invite, PEER_UDP, 0.0)
    assert [type(item) for item in out] == [Transmit, RequestReceived]
    trying = transmitted(out)[0].message
    assert isinstance(trying, Response) and trying.status == 100 and trying.to.tag is None
    assert [item.message for item in transmitted(layer.receive(invite, PEER_UDP, 0.5))] == [trying]
    key = server_key(invite)
    ringing = answer(invite, 180)
    layer.send_response(key, ringing, 0.6)
    assert [item.message for item in transmitted(layer.receive(invite, PEER_UDP, 1.0))] == [ringing]


def test_invite_server_non_2xx_retransmits_with_g_until_the_ack() -> None:
    invite = stamp_received(request(branch="z9hG4bKsrv3"), PEER_UDP)
    server = ServerTransaction(invite, PEER_UDP, server_key(invite))
    server.start(0.0)
    busy = answer(invite, 486)
    server.send_response(busy, 0.0)
    fired = run_timers(server, 12.0)
    assert [at for at, item in fired if isinstance(item, Transmit)] == [0.5, 1.5, 3.5, 7.5, 11.5]  # capped at T2
    assert all(isinstance(item, Transmit) and item.message == busy for _, item in fired)
    assert server.receive(ack_for(invite, busy), 12.0) == []  # absorbed, not for the TU
    assert server.state is S.CONFIRMED and set(server.timers()) == {Timer.I}
    assert server.receive(ack_for(invite, busy), 13.0) == []
    assert run_timers(server, 100.0) == [(17.0, Terminated(server.key))]  # Timer I, T4


def test_invite_server_timer_h_without_an_ack() -> None:
    invite = stamp_received(request(branch="z9hG4bKsrv4", transport="TCP"), PEER_TCP)
    server = ServerTransaction(invite, PEER_TCP, server_key(invite))
    server.start(0.0)
    server.send_response(answer(invite, 500), 1.0)
    assert server.timers() == {Timer.H: 33.0}  # no G on TCP
    assert run_timers(server, 100.0) == [(33.0, Timeout(server.key, None)), (33.0, Terminated(server.key))]


def test_invite_server_accepted_absorbs_invites_and_sends_the_tus_2xx_retransmissions() -> None:
    invite = stamp_received(request(branch="z9hG4bKsrv5"), PEER_UDP)
    server = ServerTransaction(invite, PEER_UDP, server_key(invite))
    server.start(0.0)
    ok = answer(invite, 200)
    server.send_response(ok, 1.0)
    assert server.state is S.ACCEPTED and server.timers() == {Timer.L: 33.0}
    assert server.receive(invite, 1.5) == []
    assert [item.message for item in transmitted(server.send_response(ok, 1.5))] == [ok]
    assert run_timers(server, 100.0) == [(33.0, Terminated(server.key))]


# -- the layer: keys, CANCEL, ACK for 2xx, deadlines -------------------------------------------------------------
def test_send_request_adds_a_via_with_a_fresh_branch() -> None:
    layer = TransactionLayer(LOCAL, branch=lambda: "z9hG4bKfixed")
    bare = request("OPTIONS").without_header("Via")
    key, out = layer.send_request(bare, PEER_UDP, 0.0)
    assert key == ClientKey("z9hG4bKfixed", "OPTIONS")
    (sent,) = transmitted(out)
    via = sent.message.top_via
    assert (via.transport, via.sent_by, via.branch, via.has_rport) == ("UDP", "192.0.2.1:5070", "z9hG4bKfixed", True)
    with pytest.raises(ValueError, match="branch"):
        layer.send_request(bare, PEER_UDP, 0.0)
    with pytest.raises(ValueError, match="send_stateless"):
        layer.send_request(request("ACK"), PEER_UDP, 0.0)


def test_cancel_matches_its_invite_server_transaction() -> None:
    layer = TransactionLayer(LOCAL)
    invite = stamp_received(request(branch="z9hG4bKinv"), PEER_UDP)
    layer.receive(invite, PEER_UDP, 0.0)
    cancel = stamp_received(cancel_for(request(branch="z9hG4bKinv")), PEER_UDP)
    assert cancel.method == "CANCEL" and str(cancel.cseq) == "1 CANCEL" and cancel.to == invite.to
    (received,) = layer.receive(cancel, PEER_UDP, 0.1)
    assert isinstance(received, RequestReceived)
    assert received.cancels == ServerKey("z9hG4bKinv", "192.0.2.1:5070", "INVITE")
    assert received.transaction == ServerKey("z9hG4bKinv", "192.0.2.1:5070", "CANCEL")
    other = stamp_received(cancel_for(request(branch="z9hG4bKother")), PEER_UDP)
    (unmatched,) = layer.receive(other, PEER_UDP, 0.2)
    assert isinstance(unmatched, RequestReceived) and unmatched.cancels is None  # the TU answers 481


def test_an_ack_for_a_2xx_has_its_own_branch_and_goes_to_the_tu() -> None:
    layer = TransactionLayer(LOCAL)
    invite = stamp_received(request(branch="z9hG4bKinv2"), PEER_UDP)
    layer.receive(invite, PEER_UDP, 0.0)
    layer.send_response(server_key(invite), answer(invite, 200), 0.1)
    ack = ack_for(request(branch="z9hG4bKack2"), answer(invite, 200))
    assert layer.receive(ack, PEER_UDP, 0.2) == [RequestReceived(ack, PEER_UDP, None)]


def test_the_same_branch_from_another_sent_by_is_another_transaction() -> None:
    layer = TransactionLayer(LOCAL)
    one = request("OPTIONS", branch="z9hG4bKsame")
    two = Request.parse(bytes(one).replace(b"192.0.2.1:5070", b"192.0.2.99:5070"))
    assert len(layer.receive(one, PEER_UDP, 0.0)) == 1 and len(layer.receive(two, PEER_UDP, 0.0)) == 1
    assert len(layer.servers) == 2


def test_rfc_2543_requests_still_absorb_their_retransmissions() -> None:
    old = Request.parse(bytes(request("OPTIONS")).replace(b";branch=z9hG4bKclient1", b""))
    layer = TransactionLayer(LOCAL)
    assert len(layer.receive(old, PEER_UDP, 0.0)) == 1 and layer.receive(old, PEER_UDP, 0.5) == []


def test_deadlines_across_transactions_come_in_order() -> None:
    layer = TransactionLayer(LOCAL)
    late, _ = layer.send_request(request("OPTIONS", transport="TCP"), PEER_TCP, 0.0)  # F at 32
    early, _ = layer.send_request(request("INVITE", branch="z9hG4bKearly"), PEER_UDP, 1.0)  # A at 1.5
    assert layer.next_deadline() == 1.5
    assert [type(item) for item in layer.on_timer(1.5)] == [Transmit]
    assert layer.next_deadline() == 2.5
    out = layer.on_timer(32.0)
    assert [item.transaction for item in out if isinstance(item, Timeout)] == [late]
    assert [item.transaction for item in out if isinstance(item, Terminated)] == [late]
    assert early in layer.clients and late not in layer.clients
    with pytest.raises(UnknownTransaction):
        layer.send_response(ServerKey("z9hG4bKnone", "192.0.2.1:5070", "INVITE"), answer(request(), 200), 0.0)


# -- where responses go (the transport's pure rules) ------------------------------------------------------------
def test_received_and_rport_are_stamped_and_route_the_response() -> None:
    source = Address("198.51.100.7", 40123, "UDP")
    stamped = stamp_received(request(), source)
    via = stamped.top_via
    assert (via.received, via.rport, via.branch) == ("198.51.100.7", 40123, "z9hG4bKclient1")
    assert response_destination(via, source) == source
    without_rport = parse_via("SIP/2.0/UDP client.example.com:5080;branch=z9hG4bK1")
    assert stamped_via(without_rport, source).received == "198.51.100.7"
    assert response_destination(stamped_via(without_rport, source), source) == Address("198.51.100.7", 5080)
    same_host = parse_via("SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1")
    assert stamped_via(same_host, source) is same_host
    assert response_destination(same_host, source) == Address("198.51.100.7", 5060)
    assert response_destination(via, Address("198.51.100.7", 40999, "TCP")) == Address("198.51.100.7", 40999, "TCP")
    assert parse_name_addr(str(stamped.to), "To") == stamped.to
