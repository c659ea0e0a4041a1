"""``/graph/v1.0/users`` and ``/me``: Graph's shapes, OData options, paging, scopes and tenant isolation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.conftest import TEAMS_SCOPES, Demo

EVENTUAL = {"ConsistencyLevel": "eventual"}


def _fabrikam_names(demo: Demo) -> list[str]:
    return [u["display_name"] for u in demo.tenant("Fabrikam")["users"]]


def _all_pages(client: httpx.Client, url: str, **kwargs: object) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for _ in range(100):
        r = client.get(url, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        items += r.json()["value"]
        url = r.json().get("@odata.nextLink")
        kwargs = {}  # the nextLink carries the whole query
        if not url:
            return items
    raise AssertionError("paging never ended")


def test_pages_of_ten_cover_the_tenant_exactly_once(demo: Demo) -> None:
    with demo.graph("alice") as g:
        first = g.get("/users", params={"$top": "10"}).json()
        assert len(first["value"]) == 10 and first["@odata.nextLink"].startswith(f"{demo.base_url}/graph/v1.0/users?")
        assert first["@odata.context"] == f"{demo.base_url}/graph/v1.0/$metadata#users"
        users = _all_pages(g, "/users?$top=10")
    assert sorted(u["displayName"] for u in users) == sorted(_fabrikam_names(demo))
    assert len({u["id"] for u in users}) == len(users)


def test_default_properties_are_graphs(demo: Demo) -> None:
    with demo.graph("alice") as g:
        alice = g.get(f"/users/{demo.user('alice')['id']}").json()
    assert set(alice) - {"@odata.context"} == {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
                                               "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                                               "userPrincipalName"}
    assert alice["businessPhones"] == ["+14255550101"] and alice["surname"] == "Smith"


def test_select(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.get("/users", params={"$select": "displayName,id", "$top": "3"})
    assert all(set(u) == {"displayName", "id"} for u in r.json()["value"])


@pytest.mark.parametrize("flt,expected", [
    ("startswith(displayName,'A')", lambda names: [n for n in names if n.startswith("A")]),
    ("startswith(givenName,'me')", lambda names: ["Megan Bowen"]),
    ("startswith(surname,'Sm')", lambda names: ["Alice Smith"]),
    ("startswith(mail,'lee@')", lambda names: ["Lee Gu"]),
    ("startswith(userPrincipalName,'nestor')", lambda names: ["Nestor Wilke"]),
    ("mail eq 'megan@fabrikam.example'", lambda names: ["Megan Bowen"]),
    ("userPrincipalName eq 'ALICE@fabrikam.example'", lambda names: ["Alice Smith"]),
    ("accountEnabled eq true and startswith(displayName,'Li')", lambda names: ["Lidia Holloway"]),
    ("startswith(displayName,'Meg') or startswith(displayName,'Ali')", lambda names: ["Alice Smith", "Megan Bowen"]),
    ("startswith(displayName,'%')", lambda names: []),
    ("startswith(displayName,'Nina')", lambda names: []),  # Northwind's Nina is another tenant's
])
def test_filters(demo: Demo, flt: str, expected: object) -> None:
    with demo.graph("alice") as g:
        users = _all_pages(g, "/users", params={"$filter": flt})
    assert sorted(u["displayName"] for u in users) == sorted(expected(_fabrikam_names(demo)))  # type: ignore[operator]


def test_filter_by_id(demo: Demo) -> None:
    megan = demo.user("megan")
    with demo.graph("alice") as g:
        r = g.get("/users", params={"$filter": f"id eq '{megan['id']}'"})
    assert [u["id"] for u in r.json()["value"]] == [megan["id"]]


def test_orderby_display_name(demo: Demo) -> None:
    with demo.graph("alice") as g:
        up = [u["displayName"] for u in _all_pages(g, "/users", params={"$orderby": "displayName", "$top": "7"})]
        down = [u["displayName"] for u in _all_pages(g, "/users", params={"$orderby": "displayName desc",
                                                                           "$top": "7"})]
    assert up == sorted(_fabrikam_names(demo)) and down == list(reversed(up))


@pytest.mark.parametrize("top", ["0", "1000", "abc", "-1"])
def test_page_size_out_of_range(demo: Demo, top: str) -> None:
    with demo.graph("alice") as g:
        r = g.get("/users", params={"$top": top})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."


def test_count_and_search_need_eventual_consistency(demo: Demo) -> None:
    with demo.graph("alice") as g:
        counted = g.get("/users", params={"$count": "true", "$top": "5"}, headers=EVENTUAL).json()
        found = g.get("/users", params={"$search": '"displayName:bow"', "$count": "true"}, headers=EVENTUAL).json()
        refused = g.get("/users", params={"$count": "true"})
        refused_search = g.get("/users", params={"$search": '"displayName:meg"'})
    assert counted["@odata.count"] == len(_fabrikam_names(demo)) and len(counted["value"]) == 5
    assert [u["displayName"] for u in found["value"]] == ["Megan Bowen"]
    assert refused.status_code == 400 and refused_search.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_advanced_operators_need_eventual_consistency(demo: Demo) -> None:
    with demo.graph("alice") as g:
        plain = g.get("/users", params={"$filter": "endswith(mail,'@fabrikam.example')"})
        advanced = g.get("/users", params={"$filter": "endswith(mail,'@fabrikam.example')", "$count": "true"},
                         headers=EVENTUAL)
    assert plain.status_code == 400 and plain.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert advanced.json()["@odata.count"] == len(_fabrikam_names(demo))


@pytest.mark.parametrize("flt,code", [
    ("displayName eq", "BadRequest"), ("startswith(displayName 'a')", "BadRequest"), ("((", "BadRequest"),
    ("favouriteColour eq 'blue'", "Request_BadRequest"), ("accountEnabled eq 'yes'", "Request_BadRequest"),
    ("(" * 100 + "id eq 'x'" + ")" * 100, "BadRequest"), ("id gt 'a'", "Request_UnsupportedQuery"),
])
def test_malformed_filters_are_graphs_400(demo: Demo, flt: str, code: str) -> None:
    with demo.graph("alice") as g:
        r = g.get("/users", params={"$filter": flt}, headers={"client-request-id": "abc-123"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert error["innerError"]["client-request-id"] == "abc-123" and error["innerError"]["request-id"]


def test_next_link_is_tamper_proof_and_bound_to_tenant_and_query(demo: Demo) -> None:
    with demo.graph("alice") as g:
        next_link = g.get("/users", params={"$top": "5"}).json()["@odata.nextLink"]
        token = parse_qs(urlparse(next_link).query)["$skiptoken"][0]
        tampered = g.get("/users", params={"$top": "5", "$skiptoken": token[:-2] + ("A" if token[-2] != "A" else "B")
                                           + token[-1]})
        other_query = g.get("/users", params={"$top": "6", "$skiptoken": token})
        assert g.get(next_link).status_code == 200
    with demo.graph("nina") as other_tenant:
        replayed = other_tenant.get(next_link)
    for r in (tampered, other_query, replayed):
        assert r.status_code == 400 and "skiptoken" in r.json()["error"]["message"]


def test_another_tenants_user_is_not_found(demo: Demo) -> None:
    nina = demo.user("nina")
    with demo.graph("alice") as g:
        by_id = g.get(f"/users/{nina['id']}")
        by_upn = g.get(f"/users/{nina['upn']}")
        licences = g.get(f"/users/{nina['id']}/licenseDetails")
    for r in (by_id, by_upn, licences):
        assert r.status_code == 404 and r.json()["error"]["code"] == "Request_ResourceNotFound"


def test_me_and_upn_lookup(demo: Demo) -> None:
    with demo.graph("megan", ["User.Read"]) as g:
        me = g.get("/me").json()
        others = g.get("/users")
    assert me["userPrincipalName"] == "megan@fabrikam.example"
    assert others.status_code == 403 and others.json()["error"]["code"] == "Authorization_RequestDenied"
    with demo.graph("alice") as g:
        assert g.get("/users/megan@fabrikam.example").json()["id"] == demo.user("megan")["id"]


def test_basic_scope_hides_the_full_profile_of_others(demo: Demo) -> None:
    with demo.graph("alice", ["User.ReadBasic.All"]) as g:
        megan = g.get(f"/users/{demo.user('megan')['id']}").json()
    assert megan["displayName"] == "Megan Bowen" and megan["jobTitle"] is None


def test_license_details(demo: Demo) -> None:
    with demo.graph("alice") as g:
        skus = {d["skuPartNumber"]: d["skuId"] for d in g.get("/me/licenseDetails").json()["value"]}
    assert skus == {"TEAMS1": "57ff2da0-773e-42df-b2af-ffb7a2317929", "MCOEV": "e43b5b99-8dfb-405f-9987-dc307f34bcbd"}


def test_application_token_lists_users_but_has_no_me(demo: Demo) -> None:
    with demo.app_graph("Northwind") as g:
        users = _all_pages(g, "/users")
        me = g.get("/me")
    assert sorted(u["displayName"] for u in users) == sorted(u["display_name"] for u in
                                                             demo.tenant("Northwind")["users"])
    assert me.status_code in (400, 403)


@pytest.mark.parametrize("case", ["none", "not_bearer", "communication_audience", "garbage", "expired"])
def test_bad_tokens_are_401(demo: Demo, case: str) -> None:
    import time

    token = {
        "none": "",
        "not_bearer": "Basic abc",
        "communication_audience": f"Bearer {demo.password_token('alice', TEAMS_SCOPES)['access_token']}",
        "garbage": "Bearer x.y.z",
        "expired": "Bearer " + demo.forge(demo.org_claims("alice", aud="00000003-0000-0000-c000-000000000000",
                                                          exp=int(time.time()) - 5)),
    }[case]
    with demo.client() as c:
        r = c.get("/graph/v1.0/me", headers={"Authorization": token} if token else {})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    if case == "communication_audience":
        assert r.json()["error"]["message"] == "Access token validation failure. Invalid audience."


def test_throttled_with_retry_after(demo: Demo) -> None:
    from callbridge.graph.throttle import GraphThrottle
    from callbridge.ratelimit import TokenBuckets

    graph = demo.platform.graph
    saved = graph.buckets
    graph.buckets = GraphThrottle(TokenBuckets(rate_per_s=0.01, burst=2), TokenBuckets(rate_per_s=0.01, burst=100))
    try:
        with demo.graph("megan") as g:
            statuses = [g.get("/me") for _ in range(3)]
    finally:
        graph.buckets = saved
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1 and statuses[2].json()["error"]["code"] == "TooManyRequests"


def test_unknown_segments_and_methods_get_graph_errors(demo: Demo) -> None:
    with demo.graph("alice") as g:
        unknown = g.get("/groups")
        wrong_method = g.delete("/users")
    assert unknown.status_code == 400 and unknown.json()["error"]["message"] == \
        "Resource not found for the segment 'groups'."
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["innerError"]["request-id"]
