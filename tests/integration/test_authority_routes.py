"""The authority's tenant is the first path segment (``/{tenant}/...``, as on Entra), served at the root of the
main port without shadowing the other surfaces, and ``/login/...`` is gone."""

from __future__ import annotations

import pytest

from tests.conftest import Demo

DISCOVERY = "v2.0/.well-known/openid-configuration"


def test_every_identity_route_answers_under_the_tenant_segment(demo: Demo) -> None:
    tenant = demo.tenant("Fabrikam")["id"]
    with demo.client() as c:
        doc = c.get(f"/{tenant}/{DISCOVERY}").json()
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
            assert doc[key].startswith(f"{demo.base_url}/{tenant}/"), doc[key]
        assert c.get(doc["jwks_uri"]).status_code == 200
        assert c.get(f"/{tenant}/discovery/keys").status_code == 200
        assert c.post(doc["token_endpoint"], data={}).status_code == 400
        assert c.get(doc["authorization_endpoint"]).status_code == 400  # an error page: no client
        assert c.get(f"/{tenant}/adminconsent").status_code == 400


@pytest.mark.parametrize("path", [f"/login/{{tid}}/{DISCOVERY}", "/login/{tid}/oauth2/v2.0/token",
                                  "/login/common/oauth2/v2.0/authorize", "/login/{tid}/adminconsent"])
def test_the_old_login_prefix_is_gone(demo: Demo, path: str) -> None:
    with demo.client() as c:
        r = c.request("POST" if path.endswith("token") else "GET", path.format(tid=demo.tenant("Fabrikam")["id"]))
    assert r.status_code == 404


@pytest.mark.parametrize("segment", ["graph", "acs", "calling", "sdk", "carrier", "meet", "healthz", "metrics",
                                     "docs", "portal", "nope"])
def test_other_root_paths_are_not_taken_for_tenants(demo: Demo, segment: str) -> None:
    with demo.client() as c:
        r = c.get(f"/{segment}/{DISCOVERY}")
    assert r.status_code == 404 and "invalid_tenant" not in r.text


def test_root_surfaces_still_answer(demo: Demo) -> None:
    with demo.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/graph/v1.0/me").status_code == 401
        assert c.get("/metrics").status_code == 200


@pytest.mark.parametrize("path", [DISCOVERY, "oauth2/v2.0/token"])
def test_consumers_is_refused_in_words(demo: Demo, path: str) -> None:
    with demo.client() as c:
        r = c.request("POST" if path.endswith("token") else "GET", f"/consumers/{path}", data={
            "grant_type": "client_credentials", "client_id": demo.client_id} if path.endswith("token") else None)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request" and r.json()["error_codes"] == [9002346]
    assert "/consumers" in r.json()["error_description"]
