"""Picking a tenant's trunk for a number (the longest prefix among enabled trunks) and checking a source."""

from __future__ import annotations

import pytest

from callbridge.directory.errors import Invalid
from callbridge.pstn.trunks import ha1, parse_prefix, route, source_allowed
from callbridge.store.models import Trunk


def trunk(name: str, *prefixes: str, enabled: bool = True, allow: tuple[str, ...] = ()) -> Trunk:
    return Trunk(name=name, number_prefixes=list(prefixes), enabled=enabled, allow_sources=list(allow))


def test_the_longest_prefix_among_enabled_trunks_wins() -> None:
    trunks = [trunk("world", "+"), trunk("us", "+1"), trunk("seattle", "+1425"), trunk("off", "+14255", enabled=False)]
    assert route(trunks, "+14255550101").name == "seattle"  # type: ignore[union-attr]
    assert route(trunks, "+12065550100").name == "us"  # type: ignore[union-attr]
    assert route(trunks, "+442079460958").name == "world"  # type: ignore[union-attr]
    assert route(trunks[1:], "+442079460958") is None
    assert route([trunk("b", "+1"), trunk("a", "+1")], "+15550100").name == "a"  # type: ignore[union-attr]


def test_sources_are_checked_against_the_allowlist() -> None:
    t = trunk("carrier", "+", allow=("127.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"))
    assert [source_allowed(t, a) for a in ("127.0.0.1", "192.0.2.77", "2001:db8::5", "127.0.0.2", "nonsense")] == [
        True, True, True, False, False]


def test_prefixes_and_ha1() -> None:
    assert parse_prefix(" +1 425 ") == "+1425" and parse_prefix("+") == "+"
    with pytest.raises(Invalid):
        parse_prefix("+1234567890123456")
    assert ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"  # RFC 2617


def test_the_phone_networks_refusals_map_to_acs_end_reasons() -> None:
    from callbridge.calling.end_reasons import from_phone

    assert [from_phone(s).to_wire() for s in (486, 600, 404, 480, 603, 408, 503, 487)] == [
        {"code": 486, "subCode": 560486}, {"code": 486, "subCode": 560486}, {"code": 404, "subCode": 560404},
        {"code": 480, "subCode": 560480}, {"code": 603, "subCode": 560603}, {"code": 408, "subCode": 560408},
        {"code": 503, "subCode": 560503}, {"code": 487, "subCode": 0}]
    with pytest.raises(ValueError, match="not a final failure"):
        from_phone(200)
