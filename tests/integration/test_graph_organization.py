"""``/graph/v1.0/organization``: the caller's own tenant in Graph's shape, readable with ``User.Read``; another
tenant's id is not found, and an app without Organization.Read.All or Directory.Read.All is refused."""

from __future__ import annotations

from tests.conftest import TEAMS_SCOPES, Demo


def test_a_user_reads_their_own_organisation(demo: Demo) -> None:
    fabrikam = demo.tenant("Fabrikam")
    domain = demo.user("alice")["upn"].split("@")[1]
    with demo.graph("alice", ["User.Read"]) as g:
        r = g.get("/organization")
        one = g.get(f"/organization/{fabrikam['id']}", params={"$select": "displayName,verifiedDomains"})
    assert r.status_code == 200, r.text
    assert r.json()["@odata.context"] == f"{demo.base_url}/graph/v1.0/$metadata#organization"
    [org] = r.json()["value"]
    assert org["id"] == fabrikam["id"] and org["displayName"] == "Fabrikam" and org["tenantType"] == "AAD"
    assert [d["name"] for d in org["verifiedDomains"] if d["isDefault"]] == [domain]
    assert one.status_code == 200 and set(one.json()) == {"@odata.context", "displayName", "verifiedDomains"}


def test_another_tenant_is_not_found_and_a_bad_select_is_refused(demo: Demo) -> None:
    northwind = demo.tenant("Northwind")
    with demo.graph("alice") as g:
        other = g.get(f"/organization/{northwind['id']}")
        bad = g.get("/organization", params={"$select": "displayName,secret"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "Request_ResourceNotFound"
    assert "Northwind" not in other.text
    assert bad.status_code == 400 and "'secret'" in bad.json()["error"]["message"]


def test_an_app_without_a_directory_role_and_a_wrong_token_are_refused(demo: Demo) -> None:
    with demo.app_graph("Northwind") as g:  # the demo app holds User.Read.All only
        r = g.get("/organization")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    token = demo.password_token("alice", TEAMS_SCOPES)["access_token"]  # not a Graph token
    with demo.client() as c:
        refused = c.get("/graph/v1.0/organization", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
