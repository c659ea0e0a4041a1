"""SIP over the stream transports on the trunk side, on the server as `callbridge serve` runs it (uvloop): TCP,
and TLS (RFC 3261 section 26.2), where the carrier reaches callbridge on ``sip_tls_port`` (the HTTPS certificate,
checked against the local CA) and the trunk reaches the carrier over TLS too. Use cases 1 and 2 run over each,
inbound and outbound, with audio both ways, and the keep-alive OPTIONS sees the trunk up; a peer that does not
trust the certificate cannot talk to it."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator

import pytest

from callbridge.carrier.network import Carrier, PhoneSpec
from callbridge.carrier.phone import PhoneState
from callbridge.demo import CUSTOMERS
from callbridge.media.rtp_endpoint import PortRange
from callbridge.pstn import trunks
from callbridge.sdk import PhoneNumberIdentifier, TeamsCallAgent, ToneSource
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from tests.conftest import Demo
from tests.integration.test_calling_audio import collect_incoming, heard, loopback_ice, until
from tests.integration.test_pstn_abuse import snapshot_has
from tests.integration.test_pstn_calls import AGENT_HZ, CUSTOMER, PHONE_HZ, alice, phone_hears, phone_platform
from tests.integration.test_pstn_hold import trunk_up
from tests.support.server import free_sip_port

__all__ = ["alice", "loopback_ice"]

WAIT = 5.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server listening for SIP on UDP, TCP and TLS."""
    with phone_platform(tmp_path_factory, "aiortc", PortRange(45_000, 45_099),
                        sip_transports=["udp", "tcp", "tls"], sip_tls_port=free_sip_port()) as server:
        yield server


def contexts(demo: Demo) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The carrier's certificate (the local CA's, as the server's) and its trust in the local CA."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(demo.tls.cert_file, demo.tls.key_file)
    return server, ssl.create_default_context(cafile=demo.ca_file)


@pytest.fixture(params=["TCP", "TLS"])
async def carrier(demo: Demo, request: pytest.FixtureRequest) -> AsyncIterator[Carrier]:
    """The carrier on one stream transport both ways: the demo trunk is pointed at the carrier's port on it."""
    transport: str = request.param
    server, client = contexts(demo)
    port = demo.settings.sip_tls_port if transport == "TLS" else demo.settings.sip_port
    network = Carrier(Address("localhost", port, transport), transport=transport,
                      port=demo.settings.carrier_port, rtp_ports=PortRange(45_100, 45_199),
                      tls_server=server, tls_client=client)
    await network.start([PhoneSpec(number, name) for number, name in CUSTOMERS])
    tenant = demo.user("alice")["tenant_id"]
    name = transport.lower()
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "carrier", trunks.TrunkChanges(transport=name)))
    await snapshot_has(demo, lambda ts: any(t.name == "carrier" and t.transport == name for t in ts))
    yield network
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "carrier", trunks.TrunkChanges(transport="udp")))
    await network.stop()


async def test_alice_calls_a_customer(demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert phone.call is not None and phone.call.peer == demo.user("alice")["phone_number"]
    await phone.answer()
    await call.wait_for_state("Connected")
    frequency, _ = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    await phone.hang_up()
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 560000)  # type: ignore[union-attr]


async def test_a_customer_calls_alice(demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    incoming = collect_incoming(alice)
    phone = carrier.phone(CUSTOMER)
    await phone.dial(demo.user("alice")["phone_number"])
    await until(lambda: bool(incoming))
    assert incoming[0].caller_info.identifier.raw_id == f"4:{CUSTOMER}"
    call = await incoming[0].accept(audio=ToneSource(AGENT_HZ))
    await call.wait_for_state("Connected")
    await until(lambda: phone.state is PhoneState.CONNECTED)
    frequency, _ = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_the_keep_alive_sees_the_carrier_up(demo: Demo, carrier: Carrier) -> None:
    await until(lambda: trunk_up(demo) == 1.0, 10)  # OPTIONS every second here, to the carrier's port


async def test_options_over_tls_answers_and_an_untrusting_peer_gets_nothing(demo: Demo) -> None:
    server, client = contexts(demo)
    trusting = Endpoint(lambda event: None, tls_server=server, tls_client=client)
    untrusting = Endpoint(lambda event: None, tls_server=server, tls_client=ssl.create_default_context())
    for endpoint in (trusting, untrusting):
        await endpoint.listen("TLS", "127.0.0.1", 0)
    try:
        target = Address("localhost", demo.settings.sip_tls_port, "TLS")
        assert await asyncio.wait_for(UserAgent(trusting).options(target), WAIT) == 200
        # the certificate is not one the system's CAs vouch for: the handshake fails, no answer (a transport error)
        assert await asyncio.wait_for(UserAgent(untrusting).options(target), WAIT) is None
    finally:
        await trusting.close()
        await untrusting.close()
