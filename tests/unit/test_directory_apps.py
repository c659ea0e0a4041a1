"""App registrations without a database: which redirect URIs are accepted, and how secrets are matched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callbridge.directory.apps import _digest, add_redirect_uri, secret_matches
from callbridge.directory.errors import Invalid
from callbridge.store.models import AppRegistration, ClientSecret

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _app() -> AppRegistration:
    return AppRegistration(display_name="Calling", redirect_uris=[], secrets=[])


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.fabrikam.example/auth/callback",
        "https://app.fabrikam.example:8443/cb?x=1",
        "http://localhost",
        "http://localhost:8400/callback",
        "http://127.0.0.1:5000",
    ],
)
def test_https_and_loopback_http_redirect_uris_are_accepted(uri: str) -> None:
    app = _app()
    add_redirect_uri(app, uri)
    add_redirect_uri(app, uri)
    assert app.redirect_uris == [uri]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://app.fabrikam.example/cb", "must use https"),
        ("http://localhost.evil.example/cb", "must use https"),  # only the loopback host itself
        ("http://127.0.0.1.evil.example/cb", "must use https"),
        ("http://localhost@evil.example/cb", "must use https"),
        ("https://user:pw@app.fabrikam.example/cb", "must not hold a user name"),
        ("https://app.fabrikam.example/cb#frag", "must not contain a fragment"),
        ("ftp://app.fabrikam.example/cb", "must be an absolute https URL"),
        ("/auth/callback", "must be an absolute https URL"),
        ("https://", "must be an absolute https URL"),
        ("http://localhost:99999/cb", "is not a valid URL"),
    ],
)
def test_other_redirect_uris_are_refused(uri: str, message: str) -> None:
    app = _app()
    with pytest.raises(Invalid, match=message):
        add_redirect_uri(app, uri)
    assert app.redirect_uris == []


def test_a_secret_matches_only_its_own_value_and_only_until_it_expires() -> None:
    app = _app()
    app.secrets.append(ClientSecret(hint="abc", secret_hash=_digest("abc-secret"), expires_at=NOW + timedelta(days=1)))

    assert secret_matches(app, "abc-secret", NOW)
    assert not secret_matches(app, "abc-secreT", NOW)
    assert not secret_matches(app, "", NOW)
    assert not secret_matches(app, "abc-secret", NOW + timedelta(days=1))
