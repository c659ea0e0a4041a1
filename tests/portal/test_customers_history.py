"""Contoso's customers per tenant (E.164 numbers, lookup by the number calling, Fabrikam never sees Northwind's)
and each user's call history, through the portal's API as the pages use it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from portal.numbers import NotE164, e164
from tests.portal.conftest import PortalBrowser


@pytest.mark.parametrize(("typed", "number"), [("+1 (206) 555-0100", "+12065550100"), ("0044 20 7946 0144",
                                                "+442079460144"), ("+49.30.1234567", "+49301234567")])
def test_numbers_as_people_type_them_become_e164(typed: str, number: str) -> None:
    assert e164(typed) == number


@pytest.mark.parametrize(("typed", "why"), [("2065550100", "start it with +"), ("+0123456789", "not a valid"),
                                            ("+1206555010012345", "not a valid"), ("+1206", "not a valid"),
                                            ("+1-206-CALL-NOW", "not a valid")])
def test_what_is_not_e164_is_refused_in_words(typed: str, why: str) -> None:
    with pytest.raises(NotE164, match=why):
        e164(typed)


def test_customers_are_created_found_changed_and_deleted(signed_in: Callable[[str], PortalBrowser]) -> None:
    alice = signed_in("alice")
    made = alice.api("POST", "/api/customers", json={"name": "Pat Kline", "company": "Litware",
                                                     "phoneNumbers": ["+1 425 555 0177"], "notes": "Prefers mail."})
    assert made.status_code == 201, made.text
    customer = made.json()
    assert customer["phoneNumbers"] == ["+14255550177"] and customer["company"] == "Litware"
    assert alice.api("GET", "/api/customers/lookup", params={"number": "+14255550177"}).json() == customer
    assert alice.api("GET", "/api/customers/lookup", params={"number": "+14255550178"}).json() is None
    for term in ("pat", "LITWARE", "555 0177"):
        found = alice.api("GET", "/api/customers", params={"search": term}).json()["value"]
        assert [c["id"] for c in found] == [customer["id"]], term
    changed = alice.api("PATCH", f"/api/customers/{customer['id']}", json={"phoneNumbers": ["+14255550179"]})
    assert changed.status_code == 200 and changed.json()["phoneNumbers"] == ["+14255550179"]
    assert changed.json()["notes"] == "Prefers mail."  # untouched fields stay
    assert alice.api("GET", "/api/customers/lookup", params={"number": "+14255550177"}).json() is None
    assert alice.api("DELETE", f"/api/customers/{customer['id']}").status_code == 204
    assert alice.api("GET", "/api/customers/lookup", params={"number": "+14255550179"}).json() is None


def test_bad_customers_are_refused_in_words(signed_in: Callable[[str], PortalBrowser]) -> None:
    alice = signed_in("alice")
    r = alice.api("POST", "/api/customers", json={"name": "No Plus", "phoneNumbers": ["4255550166"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequest"
    assert "start it with +" in r.json()["error"]["message"]
    assert alice.api("POST", "/api/customers", json={"name": " ", "phoneNumbers": []}).status_code == 400
    first = alice.api("POST", "/api/customers", json={"name": "Ann", "phoneNumbers": ["+14255550155"]})
    assert first.status_code == 201
    taken = alice.api("POST", "/api/customers", json={"name": "Bob", "phoneNumbers": ["+1 425 555 0155"]})
    assert taken.status_code == 409 and "already belongs to the customer Ann" in taken.json()["error"]["message"]
    lookup = alice.api("GET", "/api/customers/lookup", params={"number": "555"})
    assert lookup.status_code == 400 and "international number" in lookup.json()["error"]["message"]


def test_a_tenant_never_sees_another_tenants_customers(signed_in: Callable[[str], PortalBrowser]) -> None:
    alice, nina = signed_in("alice"), signed_in("nina")
    secret = alice.api("POST", "/api/customers", json={"name": "Fabrikam Only", "company": "Confidential",
                                                       "phoneNumbers": ["+14255550144"]}).json()
    assert nina.api("GET", "/api/customers", params={"search": "Fabrikam Only"}).json()["value"] == []
    assert nina.api("GET", "/api/customers/lookup", params={"number": "+14255550144"}).json() is None
    assert nina.api("PATCH", f"/api/customers/{secret['id']}", json={"name": "Taken"}).status_code == 404
    assert nina.api("DELETE", f"/api/customers/{secret['id']}").status_code == 404
    # the same number may be a customer of each tenant: Northwind's does not collide with Fabrikam's
    own = nina.api("POST", "/api/customers", json={"name": "Northwind's", "phoneNumbers": ["+14255550144"]})
    assert own.status_code == 201
    assert alice.api("GET", "/api/customers/lookup", params={"number": "+14255550144"}).json()["name"] == \
        "Fabrikam Only"


def _call(call_id: str, peer: str, started: str, ended: str, **extra: object) -> dict[str, object]:
    return {"callId": call_id, "direction": "outgoing", "peerRawId": peer, "peerName": "", "startedAt": started,
            "endedAt": ended, "endReason": {"code": 0, "subCode": 0}, **extra}


def test_history_is_newest_first_names_customers_and_is_the_users_own(
        signed_in: Callable[[str], PortalBrowser]) -> None:
    megan, nina = signed_in("megan"), signed_in("nina")
    megan.api("POST", "/api/customers", json={"name": "Rita Known", "company": "Proseware",
                                              "phoneNumbers": ["+14255550133"]})
    older = _call("call-1", "4:+14255550133", "2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z",
                  connectedAt="2026-12-01T10:00:10Z")
    newer = _call("call-2", "8:orgid:someone", "2026-12-02T09:00:00Z", "2026-12-02T09:00:30Z",
                  direction="incoming", peerName="Someone", endReason={"code": 487, "subCode": 10004})
    for body in (older, newer, older):  # recorded twice (two tabs): kept once
        assert megan.api("POST", "/api/history", json=body).status_code == 201
    calls = megan.api("GET", "/api/history").json()["value"]
    assert [c["callId"] for c in calls] == ["call-2", "call-1"]
    assert calls[0]["endReason"] == {"code": 487, "subCode": 10004} and calls[0]["customer"] is None
    assert calls[1]["customer"]["name"] == "Rita Known" and calls[1]["durationS"] == 290.0
    assert nina.api("GET", "/api/history").json()["value"] == []
    bad = megan.api("POST", "/api/history", json={**older, "direction": "sideways"})
    assert bad.status_code == 400 and "direction" in bad.json()["error"]["message"]
    backwards = megan.api("POST", "/api/history", json={**older, "endedAt": "2026-11-01T00:00:00Z"})
    assert backwards.status_code == 400 and "ended before it started" in backwards.json()["error"]["message"]


def test_the_demo_customers_are_fabrikams(signed_in: Callable[[str], PortalBrowser]) -> None:
    """Seeded as `callbridge demo` seeds them: the carrier's phones, with companies and notes, Fabrikam's only."""
    from callbridge.demo import CUSTOMERS

    alice = signed_in("alice")
    for number, described in CUSTOMERS:
        found = alice.api("GET", "/api/customers/lookup", params={"number": number}).json()
        assert f"{found['name']} ({found['company']})" == described and found["notes"]
    nina = signed_in("nina")
    assert nina.api("GET", "/api/customers/lookup", params={"number": CUSTOMERS[0][0]}).json() is None
