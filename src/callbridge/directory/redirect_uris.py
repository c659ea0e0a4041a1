"""Redirect URIs: what one may be, and when a requested one is a registered one.

An authorization code goes wherever the browser takes the requested URI, so the comparison is made on what the
browser will do with it (RFC 3986 3.2: scheme, host, port), never on text: ``http://localhost:80@evil.example``
is the host ``evil.example`` with the user name ``localhost``. Anything where parsers disagree is refused before
comparing: user info, backslashes (browsers read them as ``/``), fragments, percent-encoding or non-ASCII in the
authority, white space and control characters (URL parsers drop some of them silently). Scheme and host compare
without case (RFC 3986 6.2.2.1) and an explicit default port equals none (6.2.3); the path and query compare
exactly, with an empty path as ``/``.

The one exception is RFC 8252 7.3: a registered ``http`` loopback URI (``localhost``, ``127.0.0.1``, ``[::1]``)
admits any port, as Entra does (MSAL's interactive sign-in listens on a free port); only the port may differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# RFC 3986 3.1 scheme "://" authority path-abempty ["?" query]; authority without userinfo (no "@"),
# host a reg-name of letters, digits, "-" and "." or an IP literal "[" hex digits, ":" and "." "]",
# then an optional port of digits. No "%" anywhere in the authority: an encoded host is a trick, not a name.
_URI = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?"
)
# printable ASCII without space, backslash and "#"
_ALLOWED = re.compile(r"[!-~]*")


@dataclass(frozen=True)
class RedirectTarget:
    """Where a redirect URI sends the browser, normalised for comparison."""

    scheme: str
    host: str
    port: int
    path: str
    query: str | None

    @property
    def loopback(self) -> bool:
        return self.scheme == "http" and self.host in LOOPBACK_HOSTS


def parse_redirect_uri(uri: str) -> RedirectTarget | None:
    """The URI's target, or None when it is not a plain absolute http(s) URI."""
    if not _ALLOWED.fullmatch(uri) or "\\" in uri or "#" in uri:
        return None
    match = _URI.fullmatch(uri)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if scheme not in DEFAULT_PORTS or match["host"].strip(".") == "":
        return None
    port = int(match["port"]) if match["port"] is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        return None
    return RedirectTarget(scheme, match["host"].lower(), port, match["path"] or "/", match["query"])


def same_target(requested: RedirectTarget, registered: RedirectTarget) -> bool:
    if requested == registered:
        return True
    # RFC 8252 7.3: a loopback redirect may come back on any port, and nothing else may differ.
    return registered.loopback and requested.loopback and requested.host == registered.host and \
        (requested.scheme, requested.path, requested.query) == (registered.scheme, registered.path, registered.query)


def redirect_uri_registered(uri: str, registered: list[str]) -> bool:
    """Whether ``uri`` may receive an app's codes or answers, given the app's registered URIs."""
    requested = parse_redirect_uri(uri)
    if requested is None:
        return False
    return any(target is not None and same_target(requested, target)
               for target in map(parse_redirect_uri, registered))


def same_redirect_uri(presented: str | None, used: str) -> bool:
    """Whether the ``redirect_uri`` presented when redeeming a code is the one the code was sent to
    (RFC 6749 4.1.3), port included."""
    first, second = parse_redirect_uri(presented or ""), parse_redirect_uri(used)
    return first is not None and first == second
