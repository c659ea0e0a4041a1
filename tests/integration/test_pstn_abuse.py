"""The SIP port against bad input, with a call going on: malformed datagrams get 400 or nothing, requests for
dialogs nobody has get 481, a flood over a trunk's calls per second gets 503 with Retry-After, a source no trunk
lists gets 403 (or silence with ``sip_unlisted="drop"``), and a digest trunk challenges (401), refuses wrong
passwords, blocks repeated failures (403) and lets the right password through. The call in progress keeps its
state and both tones throughout. Also what a trunk asserts of the caller: P-Asserted-Identity over From, and
nobody when Privacy withholds it.

Raw UDP (``RawSip``) where the bytes matter; callbridge's own ``sip.UserAgent`` where a caller must answer a digest
challenge. Other sources than 127.0.0.1 are other loopback addresses (127.0.0.2, ...), which no trunk lists."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState, VirtualPhone
from callbridge.media.rtp_endpoint import PortRange
from callbridge.pstn import trunks
from callbridge.pstn.screening import Screening
from callbridge.sdk import TeamsCall, TeamsCallAgent, ToneSource
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.message import Response, parse
from callbridge.sip.offer_answer import build_offer
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_events import Answered, Failed, SessionEvent
from tests.conftest import Demo
from tests.integration.test_calling_audio import collect_incoming, heard, loopback_ice, until
from tests.integration.test_pstn_calls import AGENT_HZ, CUSTOMER, PHONE_HZ, alice, carrier, phone_hears, phone_platform

__all__ = ["alice", "carrier", "loopback_ice"]

WAIT = 5.0
UNKNOWN = "+14255550199"  # a number nobody has: an admitted INVITE to it ends 404 at once
OFFER = str(build_offer("127.0.0.1", 49_170))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server of this module's own (its trunks and limits change here), on the in-process media engine."""
    with phone_platform(tmp_path_factory, "aiortc", PortRange(44_500, 44_699)) as server:
        yield server


def screening(demo: Demo) -> Screening:
    bridge: Any = demo.platform.calling.phones
    found: Screening = bridge.screening
    return found


async def snapshot_has(demo: Demo, predicate: Any) -> None:
    """Waits for the screening snapshot (read again every 2 s) to show a change."""
    await until(lambda: predicate(screening(demo).trunks), timeout=10)


class RawSip(asyncio.DatagramProtocol):
    """A SIP peer made of one UDP socket: sends what it is given, keeps what comes back, ACKs final failures."""

    def __init__(self) -> None:
        self.transport: Any = None  # the loop's datagram transport
        self.datagrams: list[bytes] = []
        self.responses: list[Response] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.datagrams.append(data)
        with contextlib.suppress(Exception):
            message = parse(data)
            if isinstance(message, Response):
                self.responses.append(message)
                if message.cseq.method == "INVITE" and message.status >= 300:
                    self.send(_ack_for(message))

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    def finals(self, call_id: str) -> list[Response]:
        return [r for r in self.responses if r.call_id == call_id and r.status >= 200]

    async def final(self, call_id: str, timeout: float = WAIT) -> Response:
        await until(lambda: bool(self.finals(call_id)), timeout)
        return self.finals(call_id)[0]


@contextlib.asynccontextmanager
async def raw_sip(demo: Demo, host: str = "127.0.0.1") -> AsyncIterator[RawSip]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        RawSip, local_addr=(host, 0), remote_addr=("127.0.0.1", demo.settings.sip_port))
    try:
        yield protocol
    finally:
        transport.close()


def request(peer: RawSip, method: str, number: str, *, call_id: str | None = None, to_tag: str | None = None,
            body: str = "", omit: tuple[str, ...] = (), from_number: str = CUSTOMER) -> tuple[str, bytes]:
    """A request from ``peer`` to ``number`` at callbridge, and its Call-ID; ``omit`` leaves header fields out."""
    host, port = peer.local
    call_id = call_id or f"{secrets.token_hex(8)}@{host}"
    to = f"<sip:{number}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    fields = [("Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport"),
              ("Max-Forwards", "70"), ("From", f"<sip:{from_number}@{host}>;tag={secrets.token_hex(4)}"),
              ("To", to), ("Call-ID", call_id), ("CSeq", f"1 {method}"),
              ("Contact", f"<sip:{from_number}@{host}:{port}>")]
    if body:
        fields.append(("Content-Type", "application/sdp"))
    fields.append(("Content-Length", str(len(body.encode()))))
    head = f"{method} sip:{number}@127.0.0.1 SIP/2.0\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields if name not in omit)
    return call_id, (head + "\r\n" + body).encode()


def _ack_for(response: Response) -> bytes:
    """The ACK of a final failure (RFC 3261 17.1.1.3): the INVITE's Via, From, Call-ID, the response's To."""
    via, to = response.header("Via"), response.header("To")
    request_uri = to.split("<", 1)[1].split(">", 1)[0] if to and "<" in to else "sip:127.0.0.1"
    return (f"ACK {request_uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {response.header('From')}\r\n"
            f"To: {to}\r\nCall-ID: {response.call_id}\r\nCSeq: {response.cseq.number} ACK\r\n"
            "Content-Length: 0\r\n\r\n").encode()


# -- a call in progress, to check nothing else disturbs it -----------------------------------------------------------
@contextlib.asynccontextmanager
async def call_in_progress(demo: Demo, carrier: Carrier, alice: TeamsCallAgent
                           ) -> AsyncIterator[tuple[VirtualPhone, TeamsCall]]:
    """A customer's phone calls Alice, who answers; both hear the other's tone. Hung up afterwards."""
    incoming = collect_incoming(alice)
    phone = carrier.phone(CUSTOMER)
    await phone.dial(demo.user("alice")["phone_number"])
    await until(lambda: bool(incoming))
    call = await incoming[0].accept(audio=ToneSource(AGENT_HZ))
    await call.wait_for_state("Connected")
    await until(lambda: phone.state is PhoneState.CONNECTED)
    await assert_two_way_audio(phone, call)
    try:
        yield phone, call
    finally:
        if call.state != "Disconnected":
            await call.hang_up()
        await until(lambda: phone.state is PhoneState.IDLE)


async def assert_two_way_audio(phone: VirtualPhone, call: TeamsCall) -> None:
    frequency, loudness = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15 and loudness > 0.05
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15


# -- malformed input and unknown dialogs -----------------------------------------------------------------------------
async def test_malformed_datagrams_get_400_or_nothing_and_the_call_goes_on(demo: Demo, carrier: Carrier,
                                                                           alice: TeamsCallAgent) -> None:
    async with call_in_progress(demo, carrier, alice) as (phone, call), raw_sip(demo) as peer:
        number = demo.user("alice")["phone_number"]
        _, invite = request(peer, "INVITE", number, body=OFFER)
        cases = [(b"\x00\xff" * 50, None), (b"hello there\r\n\r\n", None), (secrets.token_bytes(1400), None),
                 (b"\r\n\r\n", None),
                 (invite[: len(invite) // 2], b"SIP/2.0 400 "),  # truncated mid-header: no blank line
                 (invite.replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1), b"SIP/2.0 505 "),
                 (request(peer, "INVITE", number, body=OFFER, omit=("Call-ID",))[1], b"SIP/2.0 400 Missing Call-ID"),
                 (request(peer, "INVITE", number, body=OFFER, omit=("CSeq",))[1], b"SIP/2.0 400 ")]
        for data, expected in cases:
            seen = len(peer.datagrams)
            peer.send(data)
            await asyncio.sleep(0.4)
            answers = peer.datagrams[seen:]
            if expected is None:  # nothing to answer to: dropped
                assert answers == [], (data[:40], answers)
            else:
                assert len(answers) == 1 and answers[0].startswith(expected), (data[:40], answers)
        assert call.state == "Connected" and phone.state is PhoneState.CONNECTED
        await assert_two_way_audio(phone, call)


async def test_requests_for_dialogs_nobody_has_get_481(demo: Demo) -> None:
    async with raw_sip(demo) as peer:
        number = demo.user("alice")["phone_number"]
        bye_id, bye = request(peer, "BYE", number, to_tag=secrets.token_hex(4))
        stray_id, stray_bye = request(peer, "BYE", number)  # no To tag either
        info_id, info = request(peer, "CANCEL", number)
        for data in (bye, stray_bye, info):
            peer.send(data)
        for call_id in (bye_id, stray_id, info_id):
            assert (await peer.final(call_id)).status == 481


# -- limits, allowlists, digest --------------------------------------------------------------------------------------
@pytest.fixture
async def slow_trunk(demo: Demo) -> AsyncIterator[int]:
    """The demo trunk limited to 3 new calls per second (restored afterwards)."""
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "carrier", trunks.TrunkChanges(max_cps=3)))
    await snapshot_has(demo, lambda ts: any(t.name == "carrier" and t.max_cps == 3 for t in ts))
    yield 3
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "carrier", trunks.TrunkChanges(max_cps=50)))
    await snapshot_has(demo, lambda ts: any(t.name == "carrier" and t.max_cps == 50 for t in ts))


async def test_a_flood_over_max_cps_gets_503_with_retry_after_and_the_call_goes_on(
        demo: Demo, carrier: Carrier, alice: TeamsCallAgent, slow_trunk: int) -> None:
    async with call_in_progress(demo, carrier, alice) as (phone, call), raw_sip(demo) as peer:
        await asyncio.sleep(1.0)  # the bucket refills after the call's own INVITE
        sent = [request(peer, "INVITE", UNKNOWN, body=OFFER) for _ in range(20)]
        for _, data in sent:
            peer.send(data)
        finals = [await peer.final(call_id) for call_id, _ in sent]
        statuses = [r.status for r in finals]
        assert statuses.count(404) <= slow_trunk + 1 and statuses.count(404) >= 1, statuses  # admitted, unknown
        busy = [r for r in finals if r.status == 503]
        assert len(busy) == len(finals) - statuses.count(404) and len(busy) >= 20 - slow_trunk - 1
        assert all(int(r.header("Retry-After") or "0") >= 1 for r in busy)
        assert call.state == "Connected" and phone.state is PhoneState.CONNECTED
        await assert_two_way_audio(phone, call)


async def test_a_source_no_trunk_lists_gets_403_or_silence_when_told_to_drop(demo: Demo) -> None:
    number = demo.user("alice")["phone_number"]
    async with raw_sip(demo, "127.0.0.2") as peer:
        call_id, invite = request(peer, "INVITE", number, body=OFFER)
        peer.send(invite)
        assert (await peer.final(call_id)).status == 403

        screening(demo).unlisted = "drop"
        try:
            call_id, invite = request(peer, "INVITE", number, body=OFFER)
            peer.send(invite)
            await until(lambda: any(r.call_id == call_id for r in peer.responses))  # 100 Trying, then nothing
            await asyncio.sleep(1.5)
            assert peer.finals(call_id) == []
        finally:
            screening(demo).unlisted = "reject"


async def test_a_thousand_unlisted_invites_log_a_handful_of_lines(demo: Demo,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    number = demo.user("alice")["phone_number"]
    answered: set[str] = set()
    with caplog.at_level(logging.INFO, logger="callbridge"):
        caplog.clear()
        async with raw_sip(demo, "127.0.0.3") as peer:
            for _batch in range(20):  # 50 at a time: what a socket buffer surely holds
                sent = [request(peer, "INVITE", number, body=OFFER) for _ in range(50)]
                for _, invite in sent:
                    peer.send(invite)
                await until(lambda sent=sent: all(peer.finals(call_id) for call_id, _ in sent), timeout=10)
                answered |= {call_id for call_id, _ in sent if peer.finals(call_id)[0].status == 403}
    records = [r for r in caplog.records if r.name.startswith("callbridge")]
    assert len(answered) == 1000
    assert len(records) <= 3, [r.getMessage() for r in records]


@pytest.mark.parametrize("sdp", ["v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nc=IN IP4 127.0.0.1\r\n"])
async def test_a_trunks_unusable_offer_gets_488_and_no_traceback(demo: Demo, sdp: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    number = demo.user("alice")["phone_number"]
    with caplog.at_level(logging.INFO, logger="callbridge"):
        async with raw_sip(demo) as peer:  # 127.0.0.1: the carrier's trunk lists it
            call_id, invite = request(peer, "INVITE", number, body=sdp)
            peer.send(invite)
            assert (await peer.final(call_id)).status == 488
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


DIGEST_USER, DIGEST_PASSWORD = "carrier-b", "s3cret-Pa55"


@pytest.fixture
async def digest_trunk(demo: Demo) -> AsyncIterator[str]:
    """A second trunk of Alice's tenant that lists no source and challenges for digest credentials instead."""
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.add_trunk(s, tenant, "digest-only", trunks.TrunkChanges(
        host="127.0.0.1", port=9, number_prefixes=["+999"],
        inbound=trunks.Credentials(DIGEST_USER, DIGEST_PASSWORD, "carrier-b.example"))))
    await snapshot_has(demo, lambda ts: any(t.name == "digest-only" for t in ts))
    yield "carrier-b.example"
    await demo.change(lambda s: trunks.remove_trunk(s, tenant, "digest-only"))
    await snapshot_has(demo, lambda ts: all(t.name != "digest-only" for t in ts))


@contextlib.asynccontextmanager
async def user_agent(host: str) -> AsyncIterator[UserAgent]:
    endpoint = Endpoint(lambda event: None)
    await endpoint.listen("UDP", host)
    ua = UserAgent(endpoint)
    try:
        yield ua
    finally:
        await ua.close()
        await endpoint.close()


async def dial(demo: Demo, ua: UserAgent, password: str | None) -> SessionEvent:
    number = demo.user("alice")["phone_number"]
    session = await ua.call(f"sip:{number}@127.0.0.1:{demo.settings.sip_port}", from_uri=f"sip:{CUSTOMER}@carrier-b",
                            sdp=OFFER, destination=Address("127.0.0.1", demo.settings.sip_port),
                            credentials=(DIGEST_USER, password) if password is not None else None, ring_timeout=10)
    async with asyncio.timeout(15):
        while True:
            event = await session.next_event()
            if isinstance(event, Answered):
                await session.hang_up()
                return event
            if isinstance(event, Failed):
                return event


async def test_a_digest_trunk_challenges_refuses_blocks_and_admits(demo: Demo, alice: TeamsCallAgent,
                                                                   digest_trunk: str) -> None:
    async with raw_sip(demo, "127.0.0.3") as peer:
        call_id, invite = request(peer, "INVITE", demo.user("alice")["phone_number"], body=OFFER)
        peer.send(invite)
        challenge = await peer.final(call_id)
        assert challenge.status == 401
        assert any(f'realm="{digest_trunk}"' in c for c in challenge.headers("WWW-Authenticate"))

    incoming = collect_incoming(alice)
    alice.on("incoming_call", lambda args: asyncio.ensure_future(args.incoming_call.accept(audio=ToneSource(AGENT_HZ))))
    async with user_agent("127.0.0.4") as ua:
        assert isinstance(await dial(demo, ua, DIGEST_PASSWORD), Answered)  # the right password: Alice answers
        assert len(incoming) == 1 and incoming[0].caller_info.identifier.raw_id == f"4:{CUSTOMER}"
        wrong = await dial(demo, ua, "not-the-password")
        assert isinstance(wrong, Failed) and wrong.status == 401  # challenged again: the answer was wrong
        for _ in range(4):
            await dial(demo, ua, "still-wrong")
        blocked = await dial(demo, ua, DIGEST_PASSWORD)  # 5 failures: even the right password is refused now
        assert isinstance(blocked, Failed) and blocked.status == 403
    assert len(incoming) == 1


@pytest.mark.parametrize(("headers", "raw_id", "name"), [
    ((), "4:+19995550000", "Front Desk"),  # From
    ((("P-Asserted-Identity", '"Kim Akers" <sip:+12065550100@carrier.example;user=phone>'),),
     "4:+12065550100", "Kim Akers"),  # what the trunk asserts (RFC 3325) over From
    ((("P-Asserted-Identity", "<tel:+12065550100>"),), "4:+12065550100", "Front Desk"),  # its name from From
    ((("P-Asserted-Identity", "<tel:+12065550100>"), ("Privacy", "id")), "4:anonymous", None),  # withheld
], ids=["from", "asserted", "asserted-number", "withheld"])
async def test_the_caller_is_who_the_trunk_asserts_or_nobody_when_withheld(
        demo: Demo, alice: TeamsCallAgent, headers: tuple[tuple[str, str], ...], raw_id: str, name: str | None) -> None:
    incoming = collect_incoming(alice)
    number, port = demo.user("alice")["phone_number"], demo.settings.sip_port
    async with user_agent("127.0.0.1") as ua:
        session = await ua.call(f"sip:{number}@127.0.0.1:{port}", from_uri="sip:+19995550000@carrier.example",
                                from_name="Front Desk", sdp=OFFER, destination=Address("127.0.0.1", port),
                                headers=headers)
        await until(lambda: bool(incoming))
        assert (incoming[0].caller_info.identifier.raw_id, incoming[0].caller_info.display_name) == (raw_id, name)
        await incoming[0].reject()
        async with asyncio.timeout(WAIT):
            while not isinstance(await session.next_event(), Failed):
                pass
