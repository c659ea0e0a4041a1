"""Outbound failover across a tenant's trunks (as Direct Routing fails over between SBCs): a call tries the trunks
carrying the number longest prefix first; a trunk that fails the call itself (503, 408, 500, 504 before any 18x)
hands it to the next, one whose keep-alive failed is tried last, and a failure from the far end (after ringing, or
486) is the call's own. The failing SBC is a callbridge SIP user agent answering as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState
from callbridge.media.rtp_endpoint import PortRange
from callbridge.pstn import trunks
from callbridge.sdk import PhoneNumberIdentifier, TeamsCallAgent
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.message import Request
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.sip.useragent_events import ACCEPT, Respond, Screening
from tests.conftest import Demo
from tests.integration.test_calling_audio import loopback_ice, until
from tests.integration.test_pstn_abuse import snapshot_has
from tests.integration.test_pstn_calls import CUSTOMER, alice, carrier, metric, phone_platform, records
from tests.support.server import free_sip_port

__all__ = ["alice", "carrier", "loopback_ice"]

FAILOVERS = 'callbridge_sip_trunk_failovers_total{trunk="primary"}'


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with phone_platform(tmp_path_factory, "aiortc", PortRange(45_500, 45_599)) as server:
        yield server


class Sbc:
    """A session border controller that answers every INVITE with ``answer(request)`` and counts them."""

    def __init__(self) -> None:
        self.invites = 0
        self.answer: Callable[[Request], Screening] = lambda request: Respond(503, "Service Unavailable")
        self.ua: UserAgent | None = None

    def screen(self, request: Request, source: Address) -> Screening:
        self.invites += 1
        return self.answer(request)


@pytest.fixture
async def primary(demo: Demo) -> AsyncIterator[Sbc]:
    """Fabrikam's trunk "primary" for +1206 (so tried before the demo's "carrier" for +), to an SBC of its own."""
    sbc, port = Sbc(), free_sip_port()
    endpoint = Endpoint(lambda event: None)
    await endpoint.listen("UDP", "127.0.0.1", port)
    sbc.ua = UserAgent(endpoint)
    sbc.ua.screen = sbc.screen
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.add_trunk(s, tenant, "primary", trunks.TrunkChanges(
        host="127.0.0.1", port=port, number_prefixes=["+1206"], allow_sources=["127.0.0.9"])))
    await snapshot_has(demo, lambda ts: any(t.name == "primary" for t in ts))
    try:
        yield sbc
    finally:
        await demo.change(lambda s: trunks.remove_trunk(s, tenant, "primary"))
        await snapshot_has(demo, lambda ts: all(t.name != "primary" for t in ts))
        await endpoint.close()


@pytest.mark.parametrize("status", [503, 408, 504])
async def test_a_trunk_failing_the_call_hands_it_to_the_next(demo: Demo, primary: Sbc, carrier: Carrier,
                                                             alice: TeamsCallAgent, status: int) -> None:
    primary.answer = lambda request: Respond(status)
    before = metric(demo, FAILOVERS) or 0.0
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert primary.invites == 1  # tried first, failed with the status
    await phone.answer()
    await call.wait_for_state("Connected")
    await phone.hang_up()
    await call.wait_for_state("Disconnected")
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
    assert phone.call is not None and record["sipCallId"] == phone.call.sip_call_id  # the trunk that carried it
    assert metric(demo, FAILOVERS) == before + 1


async def test_a_trunk_whose_keep_alive_failed_is_tried_last(demo: Demo, primary: Sbc, carrier: Carrier,
                                                             alice: TeamsCallAgent) -> None:
    assert primary.ua is not None
    await primary.ua.endpoint.close()  # the SBC is gone: its OPTIONS fail (1 s here)
    await until(lambda: metric(demo, 'callbridge_sip_trunk_up{trunk="primary"}') == 0.0, 10)
    before = metric(demo, FAILOVERS) or 0.0
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert metric(demo, FAILOVERS) == before  # straight to "carrier": "primary" was not tried first
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


@pytest.mark.parametrize(("rings", "status", "sub_code"), [(True, 503, 560503), (False, 486, 560486),
                                                          (False, 302, 560302)])
async def test_a_failure_from_the_far_end_is_the_calls_own(demo: Demo, primary: Sbc, carrier: Carrier,
                                                           alice: TeamsCallAgent, rings: bool, status: int,
                                                           sub_code: int) -> None:
    """A 503 after a 180 (the far end was reached), a 486 at once, or a redirect (not followed): no failover, the
    call ends with it."""
    assert primary.ua is not None
    primary.answer = lambda request: ACCEPT if rings else Respond(status)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    if rings:
        session = await asyncio.wait_for(primary.ua.incoming.get(), 5)
        session.ring()
        await call.wait_for_state("Ringing")
        session.decline(status)
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (status, sub_code)  # type: ignore[union-attr]
    assert carrier.phone(CUSTOMER).call is None  # the next trunk was never tried


async def test_a_trunk_on_a_transport_sip_does_not_listen_on_is_skipped(demo: Demo, primary: Sbc, carrier: Carrier,
                                                                        alice: TeamsCallAgent) -> None:
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "primary", trunks.TrunkChanges(transport="tls")))
    await snapshot_has(demo, lambda ts: any(t.name == "primary" and t.transport == "tls" for t in ts))
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)  # over "carrier": this server has no TLS listener
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_a_trunk_over_its_limits_is_passed_over(demo: Demo, primary: Sbc, carrier: Carrier,
                                                      alice: TeamsCallAgent) -> None:
    """"primary" takes one new call a second: the first call uses it (and ends with the SBC's 486), the next one
    at once goes over "carrier"."""
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.change_trunk(s, tenant, "primary", trunks.TrunkChanges(max_cps=1)))
    await snapshot_has(demo, lambda ts: any(t.name == "primary" and t.max_cps == 1 for t in ts))
    primary.answer = lambda request: Respond(486)
    first = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await first.wait_for_state("Disconnected")
    phone = carrier.phone(CUSTOMER)
    second = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert primary.invites == 1
    await second.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)
