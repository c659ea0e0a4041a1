"""openid-client (Node), a certified OpenID Connect relying party, unchanged, drives the hybrid flow
(``code id_token``, form_post) through the sign-in page: it validates the authorize endpoint's ID token (signature
from the jwks_uri, issuer, audience, nonce, and the code's c_hash), then redeems the code."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import Demo
from tests.interop.conftest import Browser, parse_form
from tests.interop.node_rp import NodeError, NodeRP

REDIRECT_URI = "http://localhost"
SCOPE = "openid profile offline_access https://graph.microsoft.com/User.Read"


def _relying_party(demo: Demo, who: str) -> dict[str, Any]:
    return {"issuer": f"{demo.base_url}/{demo.user(who)['tenant_id']}/v2.0", "clientId": demo.client_id,
            "clientSecret": demo.info["app"]["client_secret"], "redirectUri": REDIRECT_URI}


def _form_post(demo: Demo, rp: NodeRP, who: str, nonce: str, state: str) -> dict[str, str]:
    """Sign in through the pages; the fields of the form_post page that hands the answer to the app."""
    url = rp("hybridUrl", **_relying_party(demo, who), scope=SCOPE, nonce=nonce, state=state)["url"]
    user = demo.user(who)
    browser = Browser(demo)
    try:
        page = browser.submit(browser.open(url), username=user["upn"], password=user["password"])
    finally:
        browser.close()
    assert page.status_code == 200, page.text
    form = parse_form(page.text)
    assert form.action == REDIRECT_URI and form.method == "post"
    return form.fields


@pytest.mark.parametrize("who", ["megan", "nina"])
def test_hybrid_flow_validated_by_openid_client(demo: Demo, node_rp: NodeRP, who: str) -> None:
    nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(8)
    fields = _form_post(demo, node_rp, who, nonce, state)
    assert set(fields) == {"code", "id_token", "state"}
    result = node_rp("hybridCallback", **_relying_party(demo, who), params=fields, nonce=nonce, state=state)
    claims = result["idTokenClaims"]
    assert claims["nonce"] == nonce and claims["oid"] == demo.user(who)["id"]
    assert claims["tid"] == demo.user(who)["tenant_id"]
    assert result["accessToken"] and result["refreshToken"]


@pytest.mark.parametrize(("tamper", "complaint"), [("code", "c_hash"), ("nonce", "nonce")])
def test_openid_client_catches_a_swapped_code_or_nonce(demo: Demo, node_rp: NodeRP, tamper: str,
                                                      complaint: str) -> None:
    nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(8)
    fields = _form_post(demo, node_rp, "megan", nonce, state)
    if tamper == "code":
        fields["code"] = secrets.token_urlsafe(48)  # an attacker's code beside the victim's ID token
    else:
        nonce = secrets.token_urlsafe(16)
    with pytest.raises(NodeError, match=complaint):
        node_rp("hybridCallback", **_relying_party(demo, "megan"), params=fields, nonce=nonce, state=state)
