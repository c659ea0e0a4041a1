"""The browser SDK is imported by another origin's pages (the portal, on its own port): browsers fetch module
scripts in CORS mode, so callbridge serves ``/sdk/calling.js`` (and its declarations) readable by any origin, and
keeps its pages (the test page, the join page's script) same-origin."""

from __future__ import annotations

from tests.conftest import Demo


def test_the_sdk_is_readable_by_other_origins_and_the_pages_are_not(platform: Demo) -> None:
    with platform.client() as c:
        sdk = c.get("/sdk/calling.js", headers={"Origin": "https://portal.example:8444"})
        types = c.get("/sdk/calling.d.ts")
        page = c.get("/sdk/test.html", headers={"Origin": "https://portal.example:8444"})
    assert sdk.status_code == types.status_code == page.status_code == 200
    assert sdk.headers["access-control-allow-origin"] == types.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in page.headers
