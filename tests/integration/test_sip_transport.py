"""The SIP transport, transaction layer and endpoint on real loopback sockets (UDP, TCP, TLS), and against sipp.

Two endpoints exchange an OPTIONS and an INVITE/200/ACK; raw sockets send what a broken peer would (garbage,
malformed requests, a lying Via, a message in many TCP fragments, two in one segment); sipp's built-in `uac`
scenario places five calls on a tiny UAS built on the endpoint.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from callbridge.sip import sdp
from callbridge.sip.endpoint import Endpoint, TuEvent
from callbridge.sip.framing import StreamFramer
from callbridge.sip.message import Message, Request, Response, parse
from callbridge.sip.offer_answer import answer, build_offer
from callbridge.sip.responses import make_response
from callbridge.sip.transaction import RequestReceived, ResponseReceived
from callbridge.sip.transport import Address, TransportLimits
from callbridge.sip.uri import SipUri
from callbridge.tls import ensure_local_tls

WAIT = 5.0  # seconds any one step may take on loopback

# Every test runs on both event loops (tests/conftest.py): asyncio's, and uvloop, which `callbridge serve` runs on.
LOOPS = ("asyncio", "uvloop")
pytestmark = pytest.mark.asyncio(loop_scope="module")


class Peer:
    """An endpoint with a tiny UAS: INVITE gets 180 then 200 with an SDP answer; OPTIONS, BYE and CANCEL get
    200 (unless `answering` is off); every event is recorded."""

    def __init__(
        self,
        tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
        *,
        answering: bool = True,
        limits: TransportLimits | None = None,
    ) -> None:
        server, client = tls or (None, None)
        self.endpoint = Endpoint(self.on_event, tls_server=server, tls_client=client, limits=limits)
        self.answering = answering
        self.events: list[TuEvent] = []
        self._changed = asyncio.Event()

    async def start(self, *transports: str) -> Peer:
        for transport in transports:
            await self.endpoint.listen(transport)
        return self

    def address(self, transport: str) -> Address:
        return self.endpoint.transport.local[transport]

    def on_event(self, event: TuEvent) -> None:
        self.events.append(event)
        self._changed.set()
        if self.answering and isinstance(event, RequestReceived) and event.transaction is not None:
            self.answer(event)

    def answer(self, event: RequestReceived) -> None:
        request, key = event.request, event.transaction
        assert key is not None
        tag = secrets.token_hex(4)
        if request.method != "INVITE":
            self.endpoint.send_response(key, make_response(request, 200, to_tag=tag))
            return
        self.endpoint.send_response(key, make_response(request, 180, to_tag=tag))
        local = self.address(event.source.transport)
        body = bytes(answer(sdp.parse(request.body), "127.0.0.1", 40000)) if request.body else b""
        fields = (("Contact", f"<sip:uas@127.0.0.1:{local.port};transport={local.transport.lower()}>"),
                  ("Content-Type", "application/sdp"))  # fmt: skip
        self.endpoint.send_response(key, make_response(request, 200, to_tag=tag, header_fields=fields, body=body))

    async def wait_for(self, wanted: Callable[[TuEvent], bool]) -> TuEvent:
        async with asyncio.timeout(WAIT):
            while True:
                for event in self.events:
                    if wanted(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def response(self, status: int, method: str = "INVITE") -> Response:
        event = await self.wait_for(
            lambda e: isinstance(e, ResponseReceived) and e.response.status == status
            and e.response.cseq.method == method
        )  # fmt: skip
        assert isinstance(event, ResponseReceived)
        return event.response

    async def request(self, method: str) -> RequestReceived:
        event = await self.wait_for(lambda e: isinstance(e, RequestReceived) and e.request.method == method)
        assert isinstance(event, RequestReceived)
        return event


def make_request(method: str, to: Address, *, body: bytes = b"", call_id: str | None = None) -> Request:
    uri = SipUri("127.0.0.1", user="bob", port=to.port, params=(("transport", to.transport.lower()),))
    fields = [
        ("Max-Forwards", "70"),
        ("From", f"<sip:alice@127.0.0.1>;tag={secrets.token_hex(4)}"),
        ("To", "<sip:bob@127.0.0.1>"),
        ("Call-ID", call_id or secrets.token_hex(8)),
        ("CSeq", f"1 {method}"),
    ]
    if body:
        fields.append(("Content-Type", "application/sdp"))
    return Request(method, uri, tuple(fields), body)


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    files = ensure_local_tls(tmp_path_factory.mktemp("sip-tls"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert_file, files.key_file)
    client = ssl.create_default_context(cafile=str(files.ca_file))
    return server, client


@pytest_asyncio.fixture(loop_scope="module")
async def pair(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> AsyncIterator[tuple[Peer, Peer]]:
    alice = await Peer(tls_contexts).start("UDP", "TCP", "TLS")
    bob = await Peer(tls_contexts).start("UDP", "TCP", "TLS")
    yield alice, bob
    await alice.endpoint.close()
    await bob.endpoint.close()


TRANSPORTS = ["UDP", "TCP", "TLS"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_options(pair: tuple[Peer, Peer], transport: str) -> None:
    alice, bob = pair
    key = alice.endpoint.send_request(make_request("OPTIONS", bob.address(transport)), bob.address(transport))
    ok = await alice.response(200, "OPTIONS")
    assert ok.top_via.branch == key.branch
    received = await bob.request("OPTIONS")
    assert received.source.transport == transport and received.source.host == "127.0.0.1"
    via = received.request.top_via
    assert via.transport == transport and via.received == "127.0.0.1" and via.rport == received.source.port


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_invite_200_ack(pair: tuple[Peer, Peer], transport: str) -> None:
    alice, bob = pair
    offer = bytes(build_offer("127.0.0.1", 30000))
    invite = make_request("INVITE", bob.address(transport), body=offer)
    alice.endpoint.send_request(invite, bob.address(transport))
    await alice.response(180)
    ok = await alice.response(200)
    assert sdp.parse(ok.body).media[0].port == 40000 and ok.to.tag is not None
    fields = (("Max-Forwards", "70"), ("From", str(invite.from_)), ("To", str(ok.to)), ("Call-ID", invite.call_id),
              ("CSeq", "1 ACK"))  # fmt: skip
    ack = Request("ACK", invite.uri, fields)
    alice.endpoint.send_stateless(ack, bob.address(transport))
    received = await bob.request("ACK")
    assert received.transaction is None and received.request.to.tag == ok.to.tag  # the ACK for a 2xx: the TU's
    assert [e.response.status for e in alice.events if isinstance(e, ResponseReceived)].count(200) == 1


# -- raw peers ------------------------------------------------------------------------------------------------
class RawUdp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


@pytest_asyncio.fixture(loop_scope="module")
async def raw_udp() -> AsyncIterator[tuple[asyncio.DatagramTransport, RawUdp]]:
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(RawUdp, local_addr=("127.0.0.1", 0))
    yield transport, protocol
    transport.close()


async def next_message(raw: RawUdp, timeout: float = WAIT) -> Message:
    return parse(await asyncio.wait_for(raw.received.get(), timeout))


def raw_request(method: str, port: int, via_host: str, branch: str, *, call_id: str = "raw-1") -> bytes:
    return (
        f"{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via_host};rport;branch={branch}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:raw@127.0.0.1>;tag=r1\r\nTo: <sip:bob@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_received_and_rport_route_the_response_past_a_lying_via(
    raw_udp: tuple[asyncio.DatagramTransport, RawUdp],
) -> None:
    bob = await Peer().start("UDP")
    sock, raw = raw_udp
    port = sock.get_extra_info("sockname")[1]
    try:
        sock.sendto(
            raw_request("OPTIONS", port, "192.0.2.99:5999", "z9hG4bKlie"), ("127.0.0.1", bob.address("UDP").port)
        )
        ok = await next_message(raw)  # came here, not to 192.0.2.99:5999
        assert isinstance(ok, Response) and ok.status == 200
        via = (await bob.request("OPTIONS")).request.top_via
        assert (via.host, via.received, via.rport) == ("192.0.2.99", "127.0.0.1", port)
        assert (ok.top_via.received, ok.top_via.rport) == ("127.0.0.1", port)
    finally:
        await bob.endpoint.close()


async def test_malformed_datagrams_are_answered_or_dropped_and_leave_the_transaction_alone(
    raw_udp: tuple[asyncio.DatagramTransport, RawUdp],
) -> None:
    bob = await Peer(answering=False).start("UDP")
    sock, raw = raw_udp
    port = sock.get_extra_info("sockname")[1]
    target = ("127.0.0.1", bob.address("UDP").port)
    invite = raw_request("INVITE", port, f"127.0.0.1:{port}", "z9hG4bKinv1")
    try:
        sock.sendto(invite, target)
        trying = await next_message(raw)
        assert isinstance(trying, Response) and trying.status == 100
        sock.sendto(b"\x00\xffnot sip at all\r\n\r\n", target)  # no Via, not a request: dropped
        sock.sendto(b"SIP/2.0 200 OK\r\nVia: broken\r\n\r\n", target)  # a malformed response: dropped
        no_call_id = raw_request("OPTIONS", port, f"127.0.0.1:{port}", "z9hG4bKbad").replace(b"Call-ID: raw-1\r\n", b"")
        sock.sendto(no_call_id, target)
        refused = await asyncio.wait_for(raw.received.get(), WAIT)  # a 400 without a Call-ID: read as bytes
        assert refused.startswith(b"SIP/2.0 400 Missing Call-ID header\r\n") and b"branch=z9hG4bKbad" in refused
        sock.sendto(
            f"INVITE sip:bob@127.0.0.1 SIP/3.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKv\r\n\r\n".encode(),
            target,
        )
        assert (await asyncio.wait_for(raw.received.get(), WAIT)).startswith(b"SIP/2.0 505 ")
        sock.sendto(invite, target)  # the INVITE's transaction is still there: its 100 again, no new request
        again = await next_message(raw)
        assert isinstance(again, Response) and again.status == 100 and again.top_via.branch == "z9hG4bKinv1"
        await asyncio.sleep(0.1)
        assert raw.received.empty()
        assert [e.request.method for e in bob.events if isinstance(e, RequestReceived)] == ["INVITE"]
        assert len(bob.endpoint.layer.servers) == 1
    finally:
        await bob.endpoint.close()


async def test_a_tcp_stream_in_fragments_and_two_messages_in_one_segment() -> None:
    bob = await Peer().start("TCP")
    reader, writer = await asyncio.open_connection("127.0.0.1", bob.address("TCP").port)
    try:
        one = raw_request("OPTIONS", 0, "127.0.0.1:9", "z9hG4bKfrag", call_id="frag").replace(b"/UDP", b"/TCP")
        for index in range(0, len(one), 7):  # 7-byte fragments, each its own segment
            writer.write(one[index : index + 7])
            await writer.drain()
            await asyncio.sleep(0.002)
        two = b"".join(
            raw_request("OPTIONS", 0, "127.0.0.1:9", f"z9hG4bKseg{n}", call_id=f"seg{n}").replace(b"/UDP", b"/TCP")
            for n in (1, 2)
        )
        writer.write(b"\r\n\r\n" + two)  # a keep-alive ping, then two messages in one segment
        await writer.drain()
        framer = StreamFramer()
        answers: list[Response] = []
        async with asyncio.timeout(WAIT):
            while len(answers) < 3:
                answers += [item for item in framer.feed(await reader.read(4096)) if isinstance(item, Response)]
        assert [(r.status, r.call_id) for r in answers] == [(200, "frag"), (200, "seg1"), (200, "seg2")]
    finally:
        writer.close()
        await bob.endpoint.close()


async def test_limits_on_datagrams_connections_per_source_and_idle_connections(
    raw_udp: tuple[asyncio.DatagramTransport, RawUdp],
) -> None:
    bob = await Peer(limits=TransportLimits(max_datagram=600, max_connections_per_source=2, idle_timeout=0.3)).start(
        "UDP", "TCP"
    )
    sock, raw = raw_udp
    port = sock.get_extra_info("sockname")[1]
    small = raw_request("OPTIONS", port, f"127.0.0.1:{port}", "z9hG4bKsmall")
    large = small.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nX-Pad: " + b"x" * 600 + b"\r\n")
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        sock.sendto(large, ("127.0.0.1", bob.address("UDP").port))  # over the limit: dropped unread
        sock.sendto(small, ("127.0.0.1", bob.address("UDP").port))
        ok = await next_message(raw)
        assert isinstance(ok, Response) and ok.top_via.branch == "z9hG4bKsmall" and raw.received.empty()
        for _ in range(3):
            streams.append(await asyncio.open_connection("127.0.0.1", bob.address("TCP").port))
        async with asyncio.timeout(WAIT):
            assert await streams[2][0].read() == b""  # the third from the same address is closed at once
            started = asyncio.get_running_loop().time()
            assert await streams[0][0].read() == b""  # the others once idle
            assert await streams[1][0].read() == b""
        assert 0.1 < asyncio.get_running_loop().time() - started < 2.0
    finally:
        for _, writer in streams:
            writer.close()
        await bob.endpoint.close()


async def test_a_slow_sender_is_closed_though_each_byte_comes_well_inside_the_idle_timeout() -> None:
    """1,000 peers trickling a byte every few seconds must not hold connections for ever: a message begun has
    ``message_timeout`` to arrive whole, and trickled bytes are not activity."""
    bob = await Peer(limits=TransportLimits(idle_timeout=60, message_timeout=0.5)).start("TCP")
    reader, writer = await asyncio.open_connection("127.0.0.1", bob.address("TCP").port)
    request = raw_request("OPTIONS", 5060, "127.0.0.1", "z9hG4bKslow")

    async def trickle() -> None:
        for byte in request:  # one byte every 50 ms: the whole request would take over 8 s
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    trickling = asyncio.create_task(trickle())
    started = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""
        assert 0.4 < asyncio.get_running_loop().time() - started < 2.0 and not trickling.done()
    finally:
        trickling.cancel()
        writer.close()
        await bob.endpoint.close()


async def test_a_tls_handshake_never_finished_is_closed(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    bob = await Peer(tls_contexts, limits=TransportLimits(handshake_timeout=0.5)).start("TLS")
    reader, writer = await asyncio.open_connection("127.0.0.1", bob.address("TLS").port)  # TCP, then silence
    started = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        writer.close()
        await bob.endpoint.close()


# -- sipp ---------------------------------------------------------------------------------------------------------
def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sipp_uac_places_five_calls(tmp_path: Path) -> None:
    sipp = shutil.which("sipp")
    assert sipp is not None, "sipp missing: apt-get install sip-tester (scripts/system-deps.sh does)"
    uas = await Peer().start("UDP")
    try:
        process = await asyncio.create_subprocess_exec(
            sipp, "-sn", "uac", f"127.0.0.1:{uas.address('UDP').port}", "-m", "5", "-r", "5", "-nostdin",
            "-timeout", "20", "-timeout_error", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-trace_err",
            "-error_file", str(tmp_path / "errors.log"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            raise
        errors = (tmp_path / "errors.log").read_text() if (tmp_path / "errors.log").exists() else ""
        assert process.returncode == 0, output.decode(errors="replace")[-3000:] + errors[-3000:]
        methods = [e.request.method for e in uas.events if isinstance(e, RequestReceived)]
        assert methods.count("INVITE") == 5 and methods.count("ACK") == 5 and methods.count("BYE") == 5
    finally:
        await uas.endpoint.close()
