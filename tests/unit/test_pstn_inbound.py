"""An INVITE from the phone network judged before a session exists: the trunk it came through, the number it
calls, the user behind the number, and the trunk's limits (on a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from callbridge.pstn.inbound import InboundRoute, Refusal, TrunkLimits, called_number, judge_user, trunks_for
from callbridge.store.models import Trunk

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


def trunk(name: str, allow: list[str], digest: bool = False, **limits: int) -> Trunk:
    return Trunk(id=name, tenant_id="fabrikam", name=name, allow_sources=allow, number_prefixes=["+"],
                 inbound_ha1_md5="ab" * 16 if digest else None, max_calls=limits.get("max_calls", 100),
                 max_cps=limits.get("max_cps", 10))


def test_the_called_number_comes_from_the_request_uri_user_part() -> None:
    assert [called_number(u) for u in ("+14255550101", "14255550101;npdi", "+1-425-555-0101", "alice", "", None,
                                       "+1", "+1234567890123456")] == [
        "+14255550101", "+14255550101", "+14255550101", None, None, None, None, None]


def test_a_source_on_an_allowlist_picks_its_trunks_else_the_challenging_ones() -> None:
    carrier, sbc, open_digest = (trunk("carrier", ["127.0.0.1/32"]), trunk("sbc", ["192.0.2.0/24"]),
                                 trunk("digest", [], digest=True))
    trunks = [carrier, sbc, open_digest]
    assert trunks_for(trunks, "127.0.0.1") == [carrier]
    assert trunks_for(trunks, "192.0.2.9") == [sbc]
    assert trunks_for(trunks, "198.51.100.1") == [open_digest]
    assert trunks_for([carrier, sbc], "198.51.100.1") == []


def user(**changes: object) -> SimpleNamespace:
    values = {"id": "alice-oid", "tenant_id": "fabrikam", "display_name": "Alice Smith", "account_enabled": True,
              "enterprise_voice_enabled": True, "interop": True, "teams": True, "phone": True}
    values.update(changes)
    return SimpleNamespace(**values)


def test_the_called_user_must_be_the_trunks_tenants_and_able_to_take_phone_calls() -> None:
    t = trunk("carrier", ["127.0.0.1/32"])
    assert judge_user(user(), t, "+14255550101") == InboundRoute("carrier", "fabrikam", "+14255550101", "alice-oid",
                                                                 "Alice Smith")
    assert judge_user(None, t, "+14255550199") == Refusal(404, "Not Found")
    assert judge_user(user(tenant_id="northwind"), t, "+14255550101") == Refusal(404, "Not Found")
    assert judge_user(user(account_enabled=False), t, "+14255550101") == Refusal(480, "Temporarily Unavailable")
    for missing in ("phone", "teams", "enterprise_voice_enabled", "interop"):
        assert judge_user(user(**{missing: False}), t, "+14255550101") == Refusal(403, "Forbidden")


def test_a_trunk_over_its_rate_or_its_concurrent_calls_gets_503_with_retry_after() -> None:
    t, limits = trunk("carrier", ["127.0.0.1/32"], max_cps=2, max_calls=3), TrunkLimits()
    assert [limits.admit(t, T0) for _ in range(2)] == [None, None]
    assert limits.admit(t, T0) == Refusal(503, "Service Unavailable", retry_after=1)
    assert limits.admit(t, T0 + timedelta(seconds=1)) is None
    for _ in range(3):
        limits.opened("carrier")
    assert limits.admit(t, T0 + timedelta(seconds=10)) == Refusal(503, "Service Unavailable", retry_after=5)
    limits.closed("carrier")
    assert limits.admit(t, T0 + timedelta(seconds=10)) is None
