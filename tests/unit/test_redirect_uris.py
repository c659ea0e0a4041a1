"""Which requested redirect URIs reach a registered one: only the same scheme, host, port (any port for a
registered loopback URI), path and query; every trick that makes a browser go elsewhere is refused."""

from __future__ import annotations

import pytest

from callbridge.directory.redirect_uris import parse_redirect_uri, redirect_uri_registered, same_redirect_uri

REGISTERED = ["http://localhost", "https://app.contoso.example/auth/callback", "http://127.0.0.1/cb",
              "http://[::1]/cb", "https://app.contoso.example:8443/cb?tenant=a"]


@pytest.mark.parametrize("uri", [
    "http://localhost", "http://localhost/", "http://localhost:80", "http://localhost:53412",
    "http://localhost:53412/", "HTTP://LOCALHOST:53412", "http://LocalHost:1",
    "https://app.contoso.example/auth/callback", "https://APP.contoso.example/auth/callback",
    "https://app.contoso.example:443/auth/callback", "HTTPS://app.contoso.example:0443/auth/callback",
    "http://127.0.0.1:5000/cb", "http://127.0.0.1/cb", "http://[::1]:8400/cb", "http://[::1]/cb",
    "https://app.contoso.example:8443/cb?tenant=a",
])
def test_the_registered_targets_are_admitted(uri: str) -> None:
    assert redirect_uri_registered(uri, REGISTERED)


@pytest.mark.parametrize("uri", [
    # user info: the host is what follows "@"
    "http://localhost:80@evil.example", "http://localhost@evil.example", "http://localhost:@evil.example",
    "http://user:pw@localhost", "http://localhost:80@evil.example/", "http://127.0.0.1:80@evil.example/cb",
    "http://[::1]:80@evil.example/cb", "https://app.contoso.example@evil.example/auth/callback",
    "http://localhost:80%40evil.example", "http://localhost%40evil.example", "http://localhost%2540evil.example",
    "http://%6cocalhost", "http://localhost%3A80", "http://localhost%2eevil.example",
    # backslashes: browsers read them as "/", parsers as part of the user info or host
    "http://localhost:80\\@evil.example", "http://evil.example\\@localhost", "http://localhost\\evil",
    "https://app.contoso.example\\@evil.example/auth/callback", "http:\\\\localhost",
    # another host that starts or ends like the registered one
    "http://localhost.evil.example", "http://localhost.evil.example:80", "http://evil.example?localhost",
    "http://127.0.0.1.evil.example/cb", "https://app.contoso.example.evil.example/auth/callback",
    "https://evilapp.contoso.example/auth/callback",
    # fragments
    "http://evil.example#@localhost", "http://localhost#", "https://app.contoso.example/auth/callback#x",
    # other loopback spellings are other hosts to this rule
    "http://[::ffff:127.0.0.1]/cb", "http://[0:0:0:0:0:0:0:1]/cb", "http://127.1/cb", "http://2130706433/cb",
    "http://[::1]:80@evil/cb", "http://localhost./", "http://127.0.0.1./cb", "https://app.contoso.example./auth/callback",
    # loopback port freedom is only for http loopback URIs, and only the port varies
    "https://localhost:53412", "https://app.contoso.example:8443/auth/callback", "http://localhost:53412/evil",
    "http://127.0.0.1:5000/cb/../evil", "http://[::1]:8400/cb?x=1", "http://localhost:0", "http://localhost:65536",
    "http://localhost:99999", "http://localhost:-1", "http://localhost:+80", "http://localhost: 80",
    "http://localhost:80:81",
    # path and query differences
    "https://app.contoso.example/auth/callback/../../evil", "https://app.contoso.example/auth/../auth/callback",
    "https://app.contoso.example/auth/./callback", "https://app.contoso.example/auth/%63allback",
    "https://app.contoso.example/auth/callback%2f..%2fevil", "https://app.contoso.example/auth/callback/",
    "https://app.contoso.example/AUTH/callback", "https://app.contoso.example/auth/callback?x=1",
    "https://app.contoso.example:8443/cb?tenant=b", "https://app.contoso.example:8443/cb",
    # empty or missing host, other schemes, white space and control characters
    "http://", "http:///cb", "http://:80", "http:localhost", "http:/localhost", "//localhost", "localhost",
    "javascript://localhost/%0aalert(1)", "ftp://localhost", "http://.", "http://../cb",
    "http://local host", "http://localhost\t", "http://loc\nalhost", " http://localhost", "http://localhost\x00",
    "http://lócalhost", "http://xn--lcalhost-3za", "",
])
def test_tricks_are_refused(uri: str) -> None:
    assert not redirect_uri_registered(uri, REGISTERED)


def test_an_unparseable_registered_uri_admits_nothing() -> None:
    assert not redirect_uri_registered("http://localhost:80@evil.example", ["http://localhost:80@evil.example"])


def test_redemption_needs_the_very_target_the_code_went_to() -> None:
    assert same_redirect_uri("http://localhost:53412", "http://localhost:53412")
    assert same_redirect_uri("HTTP://localhost:53412/", "http://localhost:53412")
    assert not same_redirect_uri("http://localhost:53413", "http://localhost:53412")
    assert not same_redirect_uri(None, "http://localhost:53412")
    assert not same_redirect_uri("http://localhost:53412@evil.example", "http://localhost:53412@evil.example")


def test_parsed_target() -> None:
    target = parse_redirect_uri("HTTP://[::1]:8400/cb?a=1")
    assert target is not None and (target.scheme, target.host, target.port, target.path, target.query) == (
        "http", "[::1]", 8400, "/cb", "a=1") and target.loopback
