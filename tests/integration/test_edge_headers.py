"""Every response carries HSTS, ``nosniff``, a referrer policy and a Content Security Policy without
``'unsafe-inline'``; each page's inline scripts and styles, as served, are allowed by their hashes; no page may be
framed. The API explorers, on in the demo, get framing protection only (their scripts come from elsewhere)."""

from __future__ import annotations

import pytest

from callbridge.edge.headers import inline_hashes
from tests.conftest import Demo


def _pages(demo: Demo) -> dict[str, str]:
    authority = demo.user("alice")["authority"].removeprefix(demo.base_url)
    query = (f"client_id={demo.client_id}&response_type=code&redirect_uri=http://localhost/cb&scope=openid"
             "&code_challenge=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq&code_challenge_method=S256")
    return {"sign-in": f"{authority}/oauth2/v2.0/authorize?{query}", "sdk test page": "/sdk/test.html",
            "message page": f"{authority}/oauth2/v2.0/authorize?client_id=unknown", "health": "/healthz",
            "graph error": "/graph/v1.0/me"}


@pytest.mark.parametrize("page", ["sign-in", "sdk test page", "message page", "health", "graph error"])
def test_security_headers_on_every_response(demo: Demo, page: str) -> None:
    with demo.client() as c:
        r = c.get(_pages(demo)[page])
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    found = inline_hashes(r.text) if r.headers["content-type"].startswith("text/html") else {}
    for kind, hashes in found.items():  # each inline block of the page as served is allowed, by its hash
        assert set(hashes) <= set(directives[f"{kind}-src"]), (page, kind)


def test_the_form_post_page_runs_only_a_script_of_its_own_address(demo: Demo) -> None:
    from callbridge.identity.pages import render

    html = render("form_post.html", action="https://app.example/cb", fields={"code": "x"}).body.decode()
    assert "onload=" not in html  # an inline handler would need 'unsafe-hashes'
    assert inline_hashes(html) == {"script": [], "style": []}  # no inline block at all
    with demo.client() as c:
        csp = c.get("/healthz").headers["content-security-policy"]
        script = c.get(f"/{demo.tenant('Fabrikam')['id']}/oauth2/v2.0/form_post.js")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert script.status_code == 200 and "submit()" in script.text


def test_the_api_explorers_get_framing_protection_only(demo: Demo) -> None:
    with demo.client() as c:
        r = c.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
