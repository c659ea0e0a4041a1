"""aiortc's ICE host candidates pinned to 127.0.0.1: test media never leaves the loopback interface (the machine's
other addresses are not routable from every peer here). Modules import the fixture to use it."""

from __future__ import annotations

from collections.abc import Iterator

import aioice.ice
import pytest


@pytest.fixture(scope="module", autouse=True)
def loopback_ice() -> Iterator[None]:
    saved = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    yield
    aioice.ice.get_host_addresses = saved
