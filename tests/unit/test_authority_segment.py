"""Which first path segments the tenant routes take: tenants only, so they shadow no other root path."""

from __future__ import annotations

import re

import pytest

from callbridge.identity.authority import TENANT_SEGMENT

SEGMENT = re.compile(f"^{TENANT_SEGMENT}$")


@pytest.mark.parametrize("value", ["9188040d-6c67-4c5b-b112-36a304b66dad", "9188040D-6C67-4C5B-B112-36A304B66DAD",
                                   "fabrikam.example", "contoso.onmicrosoft.com", "common", "organizations",
                                   "consumers", "Common"])
def test_tenant_shapes_are_taken(value: str) -> None:
    assert SEGMENT.match(value)


@pytest.mark.parametrize("value", ["graph", "acs", "calling", "sdk", "carrier", "meet", "healthz", "metrics", "docs",
                                   "redoc", "login", "portal", "", ".example", "fabrikam.", "a..b", "9188040d",
                                   "common2", "x/y.z", "fabrikam.example/"])
def test_other_segments_are_not(value: str) -> None:
    assert not SEGMENT.match(value)
