"""The built-in carrier's virtual phones (the demo's customers) calling a test's platform over its "carrier" trunk,
on RTP ports of the test's choosing (each module its own range, so modules never share a port)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from callbridge.carrier.network import Carrier, PhoneSpec
from callbridge.demo import CUSTOMERS
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sip.transport import Address
from tests.conftest import Demo


@asynccontextmanager
async def running_carrier(demo: Demo, rtp_ports: PortRange) -> AsyncIterator[Carrier]:
    network = Carrier(Address("127.0.0.1", demo.settings.sip_port, "UDP"), port=demo.settings.carrier_port,
                      rtp_ports=rtp_ports)
    await network.start([PhoneSpec(number, name) for number, name in CUSTOMERS])
    try:
        yield network
    finally:
        await network.stop()
