"""Two SIP user agents on loopback UDP (and TCP) calling each other, and sipp's built-in scenarios against one.

Timers are small (T1 = 20 ms) so timeouts take about a second; every wait is bounded by `WAIT`.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.sip import digest, sdp
from callbridge.sip.digest import DigestVerifier
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.message import Request
from callbridge.sip.offer_answer import answer, build_offer, hold, is_hold, resume
from callbridge.sip.responses import make_response
from callbridge.sip.transaction import RequestReceived, ResponseReceived
from callbridge.sip.transaction_tables import TimerSettings
from callbridge.sip.transport import Address
from callbridge.sip.useragent import IncomingSession, OutgoingSession, UserAgent
from callbridge.sip.useragent_events import (
    ACCEPT,
    DROP,
    Answered,
    Cancelled,
    Ended,
    Failed,
    Reinvited,
    Respond,
    Ringing,
    Screening,
    SessionEvent,
)

WAIT = 5.0
FAST = TimerSettings(t1=0.02, t2=0.08, t4=0.1, d_unreliable=0.1)  # 64*T1 = 1.28 s
OFFER = str(build_offer("127.0.0.1", 40000))


def answer_to(offer: str | None, port: int = 50000) -> str:
    assert offer is not None
    return str(answer(sdp.parse(offer), "127.0.0.1", port))


async def start_ua(transport: str = "UDP", timers: TimerSettings = FAST) -> UserAgent:
    endpoint = Endpoint(lambda event: None, timers=timers)
    await endpoint.listen(transport)
    return UserAgent(endpoint)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[UserAgent, UserAgent]]:
    alice, bob = await start_ua(), await start_ua()
    yield alice, bob
    for ua in (alice, bob):
        await ua.close()
        await ua.endpoint.close()


def address_of(ua: UserAgent, transport: str = "UDP") -> Address:
    return ua.endpoint.transport.local[transport]


async def place(alice: UserAgent, bob: UserAgent, **kwargs: object) -> OutgoingSession:
    to = address_of(bob)
    return await alice.call(f"sip:bob@127.0.0.1:{to.port}", from_uri="sip:+15550001@127.0.0.1", from_name="Alice",
                            sdp=OFFER, destination=to, **kwargs)  # type: ignore[arg-type]


async def event(session: OutgoingSession | IncomingSession) -> SessionEvent:
    async with asyncio.timeout(WAIT):
        return await session.next_event()


async def incoming(ua: UserAgent) -> IncomingSession:
    async with asyncio.timeout(WAIT):
        return await ua.incoming.get()


async def establish(alice: UserAgent, bob: UserAgent) -> tuple[OutgoingSession, IncomingSession]:
    call = await place(alice, bob)
    callee = await incoming(bob)
    callee.ring()
    assert await event(call) == Ringing(180, None)
    callee.answer(answer_to(callee.offer))
    answered = await event(call)
    assert isinstance(answered, Answered) and answered.sdp is not None
    assert sdp.parse(answered.sdp).media[0].port == 50000
    async with asyncio.timeout(WAIT):
        await callee.acknowledged.wait()
    return call, callee


# -- basic calls ------------------------------------------------------------------------------------------------
async def test_ringing_answer_ack_and_bye_from_the_caller(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call, callee = await establish(alice, bob)
    assert (callee.from_name, callee.from_number, callee.call_id) == ("Alice", "+15550001", call.call_id)
    assert callee.request_uri is not None and callee.to.uri is not None and callee.header("Max-Forwards") == "70"
    assert callee.source == address_of(alice)
    assert callee.dialog is not None and not callee.dialog.awaiting_ack
    await asyncio.wait_for(call.hang_up(), WAIT)
    assert await event(call) == Ended(False, "hang up")
    assert await event(callee) == Ended(True, "BYE")
    assert len(alice.dialogs) == len(bob.dialogs) == 0


async def test_bye_from_the_callee(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call, callee = await establish(alice, bob)
    await asyncio.wait_for(callee.hang_up(), WAIT)
    assert await event(callee) == Ended(False, "hang up")
    assert await event(call) == Ended(True, "BYE")


@pytest.mark.parametrize(("status", "reason"), [(486, "Busy Here"), (603, "Decline")])
async def test_declined(pair: tuple[UserAgent, UserAgent], status: int, reason: str) -> None:
    alice, bob = pair
    call = await place(alice, bob)
    (await incoming(bob)).decline(status)
    assert await event(call) == Failed(status, reason)


async def test_cancel_while_ringing(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call = await place(alice, bob)
    callee = await incoming(bob)
    callee.ring()
    assert isinstance(await event(call), Ringing)
    call.cancel()
    assert await event(callee) == Cancelled()
    assert await event(call) == Failed(487, "Request Terminated")


async def test_no_answer_is_cancelled_after_the_ring_timeout(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    started = asyncio.get_running_loop().time()
    call = await place(alice, bob, ring_timeout=0.3)
    callee = await incoming(bob)
    callee.ring()
    assert isinstance(await event(call), Ringing)
    assert await event(callee) == Cancelled()
    assert await event(call) == Failed(408, "No answer")
    assert 0.3 <= asyncio.get_running_loop().time() - started < 2


async def test_screen_drop_makes_the_caller_time_out(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    bob.screen = lambda request, source: DROP
    call = await place(alice, bob)
    assert await event(call) == Failed(408, "Request Timeout")  # 64*T1 after the 100 Trying: CANCEL, 487
    assert bob.incoming.empty()


async def test_screen_responds(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    bob.screen = lambda request, source: Respond(404)
    call = await place(alice, bob)
    assert await event(call) == Failed(404, "Not Found")


# -- re-INVITE --------------------------------------------------------------------------------------------------
async def test_reinvite_hold_and_resume(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call, callee = await establish(alice, bob)
    callee.on_reinvite = lambda offer: answer_to(offer)
    held = await asyncio.wait_for(call.reinvite(str(hold(sdp.parse(OFFER)))), WAIT)
    assert held is not None and sdp.parse(held).media[0].direction is sdp.Direction.RECVONLY
    assert callee.remote_sdp is not None and is_hold(sdp.parse(callee.remote_sdp))
    resumed = await asyncio.wait_for(call.reinvite(str(resume(hold(sdp.parse(OFFER))))), WAIT)
    assert resumed is not None and sdp.parse(resumed).media[0].direction is sdp.Direction.SENDRECV


async def test_reinvite_from_the_callee_answered_by_the_owner(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call, callee = await establish(alice, bob)
    assert callee.local_sdp is not None
    reinvite = asyncio.create_task(callee.reinvite(str(hold(sdp.parse(callee.local_sdp)))))
    offered = await event(call)
    assert isinstance(offered, Reinvited) and offered.offer is not None and is_hold(sdp.parse(offered.offer))
    call.accept_reinvite(answer_to(offered.offer, 40000))
    held = await asyncio.wait_for(reinvite, WAIT)
    assert held is not None and sdp.parse(held).media[0].direction is sdp.Direction.RECVONLY


# -- digest -----------------------------------------------------------------------------------------------------
PASSWORDS = {"alice": "secret"}


def password_lookup() -> dict[str, object]:
    """The verifier's user lookup: by password, or by stored HA1 (the digest module is moving to the latter)."""
    if "ha1_of" not in inspect.signature(DigestVerifier.verify).parameters:
        return {"password_of": PASSWORDS.get}
    ha1 = digest.ha1  # type: ignore[attr-defined,unused-ignore]

    def ha1_of(username: str, realm: str, algorithm: str) -> str | None:
        password = PASSWORDS.get(username)
        return None if password is None else str(ha1(username, realm, password, algorithm))

    return {"ha1_of": ha1_of}


def digest_screen(verifier: DigestVerifier) -> object:
    lookup = password_lookup()

    def screen(request: Request, source: Address) -> Screening:
        verdict = verifier.verify(request, source=source.host, now=asyncio.get_running_loop().time(),
                                  **lookup)  # type: ignore[arg-type]
        if verdict.accepted:
            return ACCEPT
        assert verdict.status is not None
        return Respond(verdict.status, header_fields=verdict.header_fields)

    return screen


async def test_401_answered_with_credentials(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    bob.screen = digest_screen(DigestVerifier("callbridge", b"k" * 32))  # type: ignore[assignment]
    call = await place(alice, bob, credentials=("alice", "secret"))
    callee = await incoming(bob)
    assert callee.header("Authorization") is not None and callee.request.cseq.number == 2
    callee.answer(answer_to(callee.offer))
    assert isinstance(await event(call), Answered)


async def test_wrong_credentials_fail_then_are_forbidden(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    bob.screen = digest_screen(DigestVerifier("callbridge", b"k" * 32, max_failures=2))  # type: ignore[assignment]
    outcomes = []
    for _ in range(3):
        call = await place(alice, bob, credentials=("alice", "wrong"))
        outcomes.append(await event(call))
    assert outcomes == [Failed(401, "Unauthorized"), Failed(401, "Unauthorized"), Failed(403, "Forbidden")]
    assert bob.incoming.empty()


# -- the callee's timers and forks ------------------------------------------------------------------------------
async def test_no_ack_ends_the_call_with_a_bye(pair: tuple[UserAgent, UserAgent]) -> None:
    """A caller that never ACKs: the 200 is resent, then after 64*T1 the callee sends BYE."""
    _, bob = pair
    seen: list[object] = []
    raw = Endpoint(seen.append, timers=FAST)
    await raw.listen("UDP")
    try:
        to = address_of(bob)
        mine = raw.transport.local["UDP"]
        fields = (("Max-Forwards", "70"), ("From", "<sip:raw@127.0.0.1>;tag=r1"), ("To", "<sip:bob@127.0.0.1>"),
                  ("Call-ID", "no-ack-1"), ("CSeq", "1 INVITE"), ("Contact", f"<sip:raw@127.0.0.1:{mine.port}>"),
                  ("Content-Type", "application/sdp"))
        raw.send_request(Request("INVITE", bob.contact("UDP").uri, fields, OFFER.encode()), to)
        callee = await incoming(bob)
        callee.answer(answer_to(callee.offer))
        assert await event(callee) == Ended(False, "no ACK")
        async with asyncio.timeout(WAIT):  # the BYE is on its way as Ended is reported
            while not any(isinstance(e, RequestReceived) and e.request.method == "BYE" for e in seen):
                await asyncio.sleep(0.01)
        oks = [e for e in seen if isinstance(e, ResponseReceived) and e.response.status == 200]
        assert len(oks) >= 3
    finally:
        await raw.close()


async def test_a_second_2xx_from_another_fork_is_acked_and_hung_up(pair: tuple[UserAgent, UserAgent]) -> None:
    """RFC 3261 13.2.2.4: a proxy forked the INVITE and two phones answered. The caller keeps the first (one
    Answered), ACKs both 2xx and sends the second fork a BYE; the kept call still hangs up normally."""
    alice, _ = pair
    seen: list[object] = []
    forks = Endpoint(seen.append, timers=FAST)
    mine = await forks.listen("UDP")

    def requests(method: str, tag: str) -> list[Request]:
        return [e.request for e in seen if isinstance(e, RequestReceived) and e.request.method == method
                and e.request.to.tag == tag]

    async def until_seen(method: str, tag: str) -> Request:
        async with asyncio.timeout(WAIT):
            while not requests(method, tag):
                await asyncio.sleep(0.01)
        return requests(method, tag)[0]

    try:
        call = await alice.call(f"sip:bob@127.0.0.1:{mine.port}", from_uri="sip:alice@127.0.0.1", sdp=OFFER,
                                destination=mine)
        async with asyncio.timeout(WAIT):
            while not (invites := [e for e in seen if isinstance(e, RequestReceived)]):
                await asyncio.sleep(0.01)
        invite, key = invites[0].request, invites[0].transaction
        assert key is not None
        for tag, port in (("desk", 50000), ("mobile", 50002)):
            ok = make_response(invite, 200, to_tag=tag, body=answer_to(OFFER, port).encode(), header_fields=(
                ("Contact", f"<sip:{tag}@127.0.0.1:{mine.port}>"), ("Content-Type", "application/sdp")))
            if tag == "desk":
                forks.send_response(key, ok)
            else:
                forks.send_stateless(ok, address_of(alice))
        answered = await event(call)
        assert isinstance(answered, Answered) and sdp.parse(answered.sdp or "").media[0].port == 50000
        await until_seen("ACK", "desk")
        await until_seen("ACK", "mobile")
        bye = await until_seen("BYE", "mobile")
        assert bye.uri.user == "mobile"  # type: ignore[union-attr]  # to the second fork's own Contact
        assert not requests("BYE", "desk") and call.dialog is not None
        assert call.dialog.id.remote_tag == "desk"
        hang_up = asyncio.create_task(call.hang_up())
        await until_seen("BYE", "desk")
        hang_up.cancel()
    finally:
        await forks.close()


async def test_options_ping_and_unknown_methods(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    assert await asyncio.wait_for(alice.options(address_of(bob)), WAIT) == 200
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        nowhere = Address("127.0.0.1", silent.getsockname()[1])
        assert await asyncio.wait_for(alice.options(nowhere), WAIT) is None


async def test_in_dialog_request_for_an_unknown_dialog_gets_481(pair: tuple[UserAgent, UserAgent]) -> None:
    alice, bob = pair
    call, callee = await establish(alice, bob)
    assert call.dialog is not None
    bob.dialogs.discard(callee.dialog)  # type: ignore[arg-type]
    bob.sessions.clear()
    with pytest.raises(Exception, match="481"):
        await asyncio.wait_for(call.reinvite(OFFER), WAIT)


# -- TCP --------------------------------------------------------------------------------------------------------
async def test_a_call_over_tcp() -> None:
    alice, bob = await start_ua("TCP"), await start_ua("TCP")
    try:
        to = address_of(bob, "TCP")
        call = await alice.call(f"sip:bob@127.0.0.1:{to.port};transport=tcp", from_uri="sip:alice@127.0.0.1",
                                sdp=OFFER, destination=to)
        callee = await incoming(bob)
        callee.answer(answer_to(callee.offer))
        assert isinstance(await event(call), Answered)
        await asyncio.wait_for(call.hang_up(), WAIT)
        assert await event(callee) == Ended(True, "BYE")
    finally:
        for ua in (alice, bob):
            await ua.close()
            await ua.endpoint.close()


# -- sipp -------------------------------------------------------------------------------------------------------
def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_sipp(tmp_path: Path, *args: str) -> tuple[int, str]:
    sipp = shutil.which("sipp")
    assert sipp is not None, "sipp missing: apt-get install sip-tester (scripts/system-deps.sh does)"
    process = await asyncio.create_subprocess_exec(
        sipp, *args, "-m", "5", "-nostdin", "-timeout", "20", "-timeout_error", "-i", "127.0.0.1",
        "-trace_err", "-error_file", str(tmp_path / "errors.log"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        raise
    errors = (tmp_path / "errors.log").read_text() if (tmp_path / "errors.log").exists() else ""
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")[-3000:] + errors[-3000:]


async def test_sipp_uac_calls_an_answering_user_agent(tmp_path: Path) -> None:
    ua = await start_ua(timers=TimerSettings())
    answered: list[IncomingSession] = []

    async def answer_all() -> None:
        while True:
            session = await ua.incoming.get()
            session.ring()
            session.answer(answer_to(session.offer))
            answered.append(session)

    answering = asyncio.create_task(answer_all())
    try:
        code, output = await run_sipp(tmp_path, "-sn", "uac", f"127.0.0.1:{address_of(ua).port}", "-r", "5",
                                      "-p", str(free_udp_port()))
        assert code == 0, output
        assert len(answered) == 5
        assert [await event(session) for session in answered] == [Ended(True, "BYE")] * 5
    finally:
        answering.cancel()
        await ua.close()
        await ua.endpoint.close()


async def test_sipp_uas_answers_calls_we_place_and_hang_up(tmp_path: Path) -> None:
    ua = await start_ua(timers=TimerSettings())
    port = free_udp_port()
    sipp = asyncio.create_task(run_sipp(tmp_path, "-sn", "uas", "-p", str(port)))
    try:
        destination = Address("127.0.0.1", port)
        await asyncio.wait_for(wait_until_listening(destination), WAIT)
        for _ in range(5):
            call = await ua.call(f"sip:service@127.0.0.1:{port}", from_uri="sip:alice@127.0.0.1", sdp=OFFER,
                                 destination=destination)
            while not isinstance(outcome := await event(call), Answered):
                assert isinstance(outcome, Ringing), outcome
            await asyncio.wait_for(call.hang_up(), WAIT)
        code, output = await asyncio.wait_for(sipp, 30)
        assert code == 0, output
    finally:
        sipp.cancel()
        await ua.close()
        await ua.endpoint.close()


async def wait_until_listening(destination: Address) -> None:
    """sipp listens once datagrams to its port draw no ICMP refusal (the caller bounds the wait)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((destination.host, destination.port))
            probe.send(b"\r\n")
            await asyncio.sleep(0.05)
            try:
                probe.send(b"\r\n")
                await asyncio.sleep(0.05)
                probe.recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except ConnectionRefusedError:
                continue
