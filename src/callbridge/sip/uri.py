"""SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), and every other absolute URI kept as text.

Components are kept as written (escapes included), so `str(SipUri.parse(s)) == s` for a lower-case scheme;
`param()`, `user_text` and `equivalent()` read them unescaped, as RFC 3261 19.1.4 asks.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from callbridge.sip import grammar as g
from callbridge.sip.errors import bad_request

Params = tuple[tuple[str, str | None], ...]

MAX_PARAMS: Final = 256
MAX_HOSTNAME: Final = 255  # RFC 1035 2.3.4

# RFC 3261 19.1.4: a URI with any of these parameters is not equivalent to one without.
_MUST_MATCH_PARAMS: Final = frozenset({"user", "ttl", "method", "maddr", "transport"})


def unescape(text: str) -> str:
    return unquote(text, errors="surrogateescape")


def valid_host(host: str) -> bool:
    """hostname / IPv4address / IPv6reference, checked past what the host pattern finds."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    if len(host) > MAX_HOSTNAME:
        return False
    if g.IPV4_RE.fullmatch(host):
        return all(int(octet) <= 255 for octet in host.split("."))
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(g.LABEL_RE.fullmatch(label) and not label.endswith("-") for label in labels):
        return False
    return labels[-1][0].isalpha()


def _normal_host(host: str) -> str:
    if host.startswith("["):
        return "[" + ipaddress.IPv6Address(host[1:-1]).compressed + "]"
    return host.lower()


def _parse_params(text: str) -> Params:
    """uri-parameters  =  *( ";" uri-parameter ), `text` without the leading ";"."""
    params: list[tuple[str, str | None]] = []
    parts = text.split(";")
    if len(parts) > MAX_PARAMS:
        raise bad_request("Too many URI parameters")
    for part in parts:
        name, eq, value = part.partition("=")
        if not g.PARAMCHARS_RE.fullmatch(name) or (eq and not g.PARAMCHARS_RE.fullmatch(value)):
            raise bad_request("Invalid URI parameter")
        params.append((name, value if eq else None))
    return tuple(params)


def _parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """headers  =  "?" header *( "&" header ), `text` without the "?"."""
    headers: list[tuple[str, str]] = []
    parts = text.split("&")
    if len(parts) > MAX_PARAMS:
        raise bad_request("Too many URI headers")
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq or not g.HNAME_RE.fullmatch(name) or not g.HVALUE_RE.fullmatch(value):
            raise bad_request("Invalid URI header")
        headers.append((name, value))
    return tuple(headers)


def _format_params(params: Params) -> str:
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


@dataclass(frozen=True)
class SipUri:
    """SIP-URI / SIPS-URI  =  "sip:"/"sips:" [ userinfo ] hostport uri-parameters [ headers ]."""

    host: str
    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, colon, rest = text.partition(":")
        scheme = scheme.lower()
        if not colon or scheme not in ("sip", "sips"):
            raise bad_request("Not a SIP URI")
        user, password, rest = _split_userinfo(rest)
        rest, qmark, header_text = rest.partition("?")
        hostport, semi, param_text = rest.partition(";")
        match = g.HOSTPORT_RE.fullmatch(hostport)
        if match is None or not valid_host(match["host"]):
            raise bad_request("Invalid host in SIP URI")
        port = int(match["port"]) if match["port"] else None
        if port is not None and port > 65535:
            raise bad_request("Invalid port in SIP URI")
        params = _parse_params(param_text) if semi else ()
        headers = _parse_headers(header_text) if qmark else ()
        return cls(match["host"], scheme, user, password, port, params, headers)

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = "&".join(f"{name}={value}" for name, value in self.headers)
        return f"{self.scheme}:{userinfo}{self.host}{port}{_format_params(self.params)}" + (
            f"?{headers}" if headers else ""
        )

    @property
    def user_text(self) -> str | None:
        return unescape(self.user) if self.user is not None else None

    def has_param(self, name: str) -> bool:
        return any(unescape(key).lower() == name.lower() for key, _ in self.params)

    def param(self, name: str) -> str | None:
        """The unescaped value of a URI parameter; None when absent or valueless (see `has_param`)."""
        for key, value in self.params:
            if unescape(key).lower() == name.lower():
                return unescape(value) if value is not None else None
        return None

    @property
    def transport(self) -> str | None:
        value = self.param("transport")
        return value.lower() if value else None

    def with_params(self, *params: tuple[str, str | None]) -> SipUri:
        return SipUri(self.host, self.scheme, self.user, self.password, self.port, self.params + params, self.headers)

    def equivalent(self, other: SipUri) -> bool:
        """URI comparison, RFC 3261 19.1.4 (not transitive: `;security=on` matches a URI with no `security`)."""
        if (self.scheme, self.user_text, self.password, self.port) != (
            other.scheme,
            other.user_text,
            other.password,
            other.port,
        ):
            return False
        if _normal_host(self.host) != _normal_host(other.host):
            return False
        return _params_match(_param_map(self.params), _param_map(other.params)) and _header_map(
            self.headers
        ) == _header_map(other.headers)


def _split_userinfo(rest: str) -> tuple[str | None, str | None, str]:
    """userinfo  =  ( user / telephone-subscriber ) [ ":" password ] "@" ; "@" appears at most once."""
    if "@" not in rest:
        return None, None, rest
    userinfo, _, rest = rest.partition("@")
    user, colon, password = userinfo.partition(":")
    if not g.USER_RE.fullmatch(user) or (colon and not g.PASSWORD_RE.fullmatch(password)):
        raise bad_request("Invalid user part in SIP URI")
    return user, (password if colon else None), rest


def _param_map(params: Params) -> dict[str, str | None]:
    return {unescape(name).lower(): (unescape(value) if value is not None else None) for name, value in params}


def _params_match(left: dict[str, str | None], right: dict[str, str | None]) -> bool:
    for name in _MUST_MATCH_PARAMS:
        if (name in left) != (name in right):
            return False
    for name in left.keys() & right.keys():
        a, b = left[name], right[name]
        if a is None or b is None or name == "method":
            if a != b:
                return False
        elif a.lower() != b.lower():
            return False
    return True


def _header_map(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {unescape(name).lower(): unescape(value) for name, value in headers}


@dataclass(frozen=True)
class TelUri:
    """tel URI (RFC 3966), minimal: the number as written and its parameters."""

    number: str
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> TelUri:
        scheme, _, rest = text.partition(":")
        number, semi, param_text = rest.partition(";")
        if scheme.lower() != "tel" or not g.TEL_NUMBER_RE.fullmatch(number):
            raise bad_request("Invalid tel URI")
        return cls(number, _parse_params(param_text) if semi else ())

    def __str__(self) -> str:
        return f"tel:{self.number}{_format_params(self.params)}"

    @property
    def scheme(self) -> str:
        return "tel"

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")


@dataclass(frozen=True)
class AbsoluteUri:
    """Any other absoluteURI (RFC 3261 25.1), kept as text."""

    scheme: str
    text: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        match = g.ABSOLUTE_URI_RE.fullmatch(text)
        if match is None:
            raise bad_request("Invalid URI")
        return cls(match["scheme"].lower(), text)

    def __str__(self) -> str:
        return self.text


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """SIP-URI / SIPS-URI / absoluteURI, with tel picked out of the absolute URIs."""
    scheme = text.partition(":")[0].lower()
    if scheme in ("sip", "sips"):
        return SipUri.parse(text)
    if scheme == "tel":
        return TelUri.parse(text)
    return AbsoluteUri.parse(text)
