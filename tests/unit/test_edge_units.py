"""Pure parts of the HTTP edge: the connection book's caps, the body limit per path prefix."""

from __future__ import annotations

import pytest

from callbridge.edge.bodies import BodyLimits
from callbridge.edge.connections import ConnectionBook, ConnectionLimits
from callbridge.edge.refusals import refusal_body


def test_the_book_caps_each_address_and_the_total() -> None:
    book = ConnectionBook(ConnectionLimits(header_timeout_s=10, max_total=3, max_per_address=2))
    assert [book.admit("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert book.admit("10.0.0.2") and not book.admit("10.0.0.3")  # the total is reached
    book.release("10.0.0.1")
    assert book.admit("10.0.0.3") and not book.admit("10.0.0.1")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        book.release(address)
    assert book.total == 0 and not book.by_address  # nothing kept for addresses that left


async def _app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
    raise AssertionError


def test_the_longest_prefix_names_the_limit() -> None:
    limits = BodyLimits(_app, {"/identities": 10, "/identities/x": 20, "/{tenant}/": 5}, default=100)
    assert [limits.limit_for(p) for p in ("/identities", "/identities/x/:issueAccessToken", "/common/oauth2/v2.0/token",
                                          "/graph/v1.0/me")] == [10, 20, 5, 100]


@pytest.mark.parametrize("path", ["/common/oauth2/v2.0/token", "/fabrikam.example/oauth2/v2.0/authorize",
                                  "/9188040d-6c67-4c5b-b112-36a304b66dad/adminconsent",
                                  "/organizations/v2.0/.well-known/openid-configuration"])
def test_the_identity_routes_limit_follows_the_tenant_segment(path: str) -> None:
    """The identity provider's routes start with the tenant (``/{tenant}/...``): the ``/{tenant}/`` key names them."""
    limits = BodyLimits(_app, {"/identities": 10, "/{tenant}/": 5}, default=100)
    assert limits.limit_for(path) == 5
    assert refusal_body(path, 413, "RequestEntityTooLarge", "m")["error_codes"] == [90020]


@pytest.mark.parametrize("path", ["/graph/oauth2/v2.0/token", "/calling/v1/calls", "/sdk/x.js", "/healthz"])
def test_other_root_paths_are_not_the_identity_family(path: str) -> None:
    assert BodyLimits(_app, {"/{tenant}/": 5}, default=100).limit_for(path) == 100
    assert "error_codes" not in refusal_body(path, 413, "RequestEntityTooLarge", "m")


def test_refusals_speak_the_familys_language() -> None:
    graph = refusal_body("/graph/v1.0/me/events", 413, "RequestEntityTooLarge", "too large")
    assert graph["error"]["code"] == "RequestEntityTooLarge" and "request-id" in graph["error"]["innerError"]
    for acs in ("/identities", "/identities/8:acs:r_1/:issueAccessToken", "/teamsUser/:exchangeAccessToken"):
        assert refusal_body(acs, 413, "RequestEntityTooLarge", "m") == {
            "error": {"code": "RequestEntityTooLarge", "message": "m"}}
    oauth = refusal_body("/common/oauth2/v2.0/token", 413, "RequestEntityTooLarge", "m")
    assert oauth["error"] == "invalid_request" and oauth["error_codes"] == [90020]
    assert refusal_body("/carrier/api/phones", 413, "RequestEntityTooLarge", "m")["error"]["code"] == \
        "RequestEntityTooLarge"
