"""The ``Digest`` headers of SIP authentication (RFC 3261 25.1, RFC 7616 3.3-3.4), parsed and printed; pure.

`Challenge` (WWW-Authenticate / Proxy-Authenticate) and `Credentials` (Authorization / Proxy-Authorization) read
and write ``Digest`` parameter lists: names case-insensitive, values token or quoted-string (backslash escapes),
commas inside quotes kept. Algorithm names (MD5, SHA-256, SHA-512-256 and their ``-sess`` variants) are compared
case-insensitively and kept in their registered spelling. The responses themselves are `callbridge.sip.digest`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Self

from callbridge.sip import grammar as g
from callbridge.sip.headers import unquote_string

# Algorithm name (RFC 7616 6.1, RFC 8760 2.1) -> hashlib name.
HASHES: Final = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
_BY_UPPER: Final = {name.upper(): name for base in HASHES for name in (base, f"{base}-sess")}


class DigestError(ValueError):
    """A header that is not a well-formed Digest challenge or credentials, or a challenge we cannot answer."""


def canonical_algorithm(name: str) -> str:
    """The registered spelling of an algorithm name (compared case-insensitively); raises for an unknown one."""
    try:
        return _BY_UPPER[name.upper()]
    except KeyError:
        raise DigestError(f"unsupported algorithm {name!r}") from None


# -- parameter lists ------------------------------------------------------------------------------------------------

# challenge / credentials  =  "Digest" LWS digest-param *(COMMA digest-param)
# auth-param               =  auth-param-name EQUAL ( token / quoted-string )
# (unquoted values also admit "/", "=", ":" and the like, which deployed servers put in nonces)
_SCHEME_RE: Final = re.compile(r"[ \t]*+(?P<scheme>[A-Za-z0-9\-.!%*_+`'~]++)(?:[ \t]++(?P<rest>.*)|[ \t]*+)", re.DOTALL)
_PARAM_RE: Final = re.compile(
    rf"(?:[ \t]*+,)*+[ \t]*+(?P<name>{g.TOKEN})[ \t]*+=[ \t]*+(?P<value>{g.QUOTED_STRING}|[^,\s\"]++)"
    rf"[ \t]*+(?:,|\Z)"
)
_TRAILER_RE: Final = re.compile(r"(?:[ \t]*+,)*+[ \t]*+")


def parse_digest_params(value: str) -> dict[str, str]:
    """``Digest a=1, b="x, y"`` to {"a": "1", "b": "x, y"}: names lower-cased, quoted values unescaped."""
    match = _SCHEME_RE.fullmatch(value)
    if match is None or match["scheme"].lower() != "digest":
        raise DigestError("not a Digest header")
    text, position, params = match["rest"] or "", 0, {}
    while not _TRAILER_RE.fullmatch(text, position):
        param = _PARAM_RE.match(text, position)
        if param is None:
            raise DigestError("malformed Digest parameter list")
        name, raw = param["name"].lower(), param["value"]
        if name in params:
            raise DigestError(f"Digest parameter {name} given twice")
        params[name] = unquote_string(raw) if raw.startswith('"') else raw
        position = param.end()
    return params


def quote(value: str) -> str:
    """A quoted-string holding `value` (RFC 3261 25.1: backslash before '"' and '\\')."""
    if any(char in value for char in "\r\n\0"):
        raise ValueError("a quoted-string cannot hold CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format(params: Iterable[tuple[str, str | None, bool]]) -> str:
    """``Digest name=value, ...`` from (name, value, quoted); None values are left out."""
    return "Digest " + ", ".join(f"{name}={quote(value) if quoted else value}"
                                 for name, value, quoted in params if value is not None)


def _required(params: dict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if name not in params]
    if missing:
        raise DigestError(f"Digest parameter {', '.join(missing)} missing")
    return [params.pop(name) for name in names]


@dataclass(frozen=True)
class Challenge:
    """WWW-Authenticate / Proxy-Authenticate: Digest (RFC 3261 25.1 challenge, RFC 7616 3.3)."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # parameters this module does not act on, quoted when printed

    @classmethod
    def parse(cls, value: str) -> Self:
        params = parse_digest_params(value)
        realm, nonce = _required(params, "realm", "nonce")
        algorithm = params.pop("algorithm", "MD5")
        qop = tuple(option.strip() for option in params.pop("qop", "").split(",") if option.strip())
        stale = params.pop("stale", "false").lower() == "true"
        opaque, domain = params.pop("opaque", None), params.pop("domain", None)
        return cls(realm, nonce, _BY_UPPER.get(algorithm.upper(), algorithm), qop, opaque, stale, domain,
                   tuple(params.items()))

    def __str__(self) -> str:
        return _format([
            ("realm", self.realm, True), ("domain", self.domain, True), ("nonce", self.nonce, True),
            ("opaque", self.opaque, True), ("stale", "TRUE" if self.stale else None, False),
            ("algorithm", self.algorithm, False), ("qop", ",".join(self.qop) or None, True),
            *((name, value, True) for name, value in self.extra),
        ])


@dataclass(frozen=True)
class Credentials:
    """Authorization / Proxy-Authorization: Digest (RFC 3261 25.1 credentials, RFC 7616 3.4)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None  # eight hex digits, as sent
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str) -> Self:
        params = parse_digest_params(value)
        username, realm, nonce, uri, response = _required(params, "username", "realm", "nonce", "uri", "response")
        algorithm = params.pop("algorithm", None)
        qop, nc, cnonce = params.pop("qop", None), params.pop("nc", None), params.pop("cnonce", None)
        if qop is not None and (nc is None or cnonce is None or not re.fullmatch(r"[0-9A-Fa-f]{8}", nc)):
            raise DigestError("qop needs cnonce and an eight-digit hex nc")
        algorithm = _BY_UPPER.get(algorithm.upper(), algorithm) if algorithm is not None else None
        return cls(username, realm, nonce, uri, response, algorithm, cnonce, params.pop("opaque", None), qop, nc,
                   tuple(params.items()))

    @property
    def nonce_count(self) -> int | None:
        return int(self.nc, 16) if self.nc is not None else None

    def __str__(self) -> str:
        return _format([
            ("username", self.username, True), ("realm", self.realm, True), ("nonce", self.nonce, True),
            ("uri", self.uri, True), ("response", self.response, True), ("algorithm", self.algorithm, False),
            ("cnonce", self.cnonce, True), ("opaque", self.opaque, True), ("qop", self.qop, False),
            ("nc", self.nc, False), *((name, value, True) for name, value in self.extra),
        ])


def realm_of(value: str) -> str | None:
    """The realm of a Digest header value, None when it has none or is not a well-formed Digest header."""
    try:
        return parse_digest_params(value).get("realm")
    except DigestError:
        return None
