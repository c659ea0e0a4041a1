"""Typed readings of the header values the stack acts on: Via, name-addr (From, To, Contact, Route,
Record-Route), CSeq, Call-ID and the scalar fields. Each `parse_*` takes one unfolded value (one list element
for list headers) and raises `SipParseError` (400) naming the header when it does not match its grammar.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Final

from callbridge.sip import grammar as g
from callbridge.sip.errors import SipParseError, bad_request
from callbridge.sip.headers import parse_generic_params, unquote_string
from callbridge.sip.uri import Params, Uri, parse_uri, valid_host

MAGIC_COOKIE: Final = "z9hG4bK"
MAX_CSEQ: Final = 2**32 - 1
# Via, name-addr and CSeq values parse to frozen values, so the parsers keep their last results: the checks of a
# message just received and the layers reading it right after share one parse. (Values are at most a header
# line long; the caches hold a bounded number of them.)
RECENT_VALUES: Final = 128


def is_rfc3261_branch(branch: str | None) -> bool:
    """True for a branch that starts with the magic cookie and has an identifier after it (RFC 3261 8.1.1.7;
    RFC 4475 3.2.1 sends the bare cookie)."""
    return branch is not None and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE)


def _param(params: Params, name: str) -> str | None:
    for key, value in params:
        if key.lower() == name:
            return value
    return None


def _has_param(params: Params, name: str) -> bool:
    return any(key.lower() == name for key, _ in params)


def _format_params(params: Params) -> str:
    return "".join(f";{key}" if value is None else f";{key}={value}" for key, value in params)


@dataclass(frozen=True)
class Via:
    """via-parm  =  sent-protocol LWS sent-by *( SEMI via-params )."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    def param(self, name: str) -> str | None:
        return _param(self.params, name.lower())

    @property
    def branch(self) -> str | None:
        return self.param("branch")

    @property
    def has_rfc3261_branch(self) -> bool:
        return is_rfc3261_branch(self.branch)

    @property
    def received(self) -> str | None:
        return self.param("received")

    @property
    def maddr(self) -> str | None:
        return self.param("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.param("ttl")
        return int(value) if value is not None else None

    @property
    def has_rport(self) -> bool:
        return _has_param(self.params, "rport")

    @property
    def rport(self) -> int | None:
        value = self.param("rport")
        return int(value) if value else None

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{_format_params(self.params)}"


@lru_cache(maxsize=RECENT_VALUES)
def parse_via(value: str) -> Via:
    match = g.VIA_PARM_RE.fullmatch(value)
    if match is None or not valid_host(match["host"]):
        raise bad_request("Invalid Via header")
    params = parse_generic_params(match["params"], "Via")
    _check_via_params(params)
    port = int(match["port"]) if match["port"] else None
    if port is not None and port > 65535:
        raise bad_request("Invalid Via header")
    protocol = f"{match['name']}/{match['version']}"
    return Via(match["transport"].upper(), match["host"], port, params, protocol)


def _check_via_params(params: Params) -> None:
    """via-ttl = "ttl" EQUAL ttl (0-255); rport [EQUAL 1*DIGIT] (RFC 3581); branch EQUAL token."""
    ttl = _param(params, "ttl")
    rport = _param(params, "rport")
    if ttl is not None and not (g.DIGITS_RE.fullmatch(ttl) and int(ttl) <= 255):
        raise bad_request("Invalid Via ttl")
    if rport is not None and not (g.DIGITS_RE.fullmatch(rport) and int(rport) <= 65535):
        raise bad_request("Invalid Via rport")
    if _has_param(params, "branch") and _param(params, "branch") is None:
        raise bad_request("Invalid Via branch")


class Wildcard(Enum):
    """Contact: * (RFC 3261 10.2.2, remove every binding)."""

    STAR = "*"


@dataclass(frozen=True)
class NameAddr:
    """name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route."""

    uri: Uri
    display_name: str | None = None
    params: Params = ()

    def param(self, name: str) -> str | None:
        value = _param(self.params, name.lower())
        return unquote_string(value) if value is not None and value.startswith('"') else value

    def has_param(self, name: str) -> bool:
        return _has_param(self.params, name.lower())

    @property
    def tag(self) -> str | None:
        return self.param("tag")

    def with_tag(self, tag: str) -> NameAddr:
        kept = tuple((key, value) for key, value in self.params if key.lower() != "tag")
        return NameAddr(self.uri, self.display_name, (*kept, ("tag", tag)))

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{_format_params(self.params)}"


@lru_cache(maxsize=RECENT_VALUES)
def parse_name_addr(value: str, what: str) -> NameAddr:
    match = g.NAME_ADDR_RE.fullmatch(value)
    if match is not None:
        display: str | None = None
        if match["quoted"] is not None:
            display = unquote_string(match["quoted"])
        elif match["tokens"].strip(" \t"):
            display = " ".join(match["tokens"].split())
        return NameAddr(_uri(match["uri"], what), display, parse_generic_params(match["params"], what))
    match = g.ADDR_SPEC_RE.fullmatch(value)
    if match is None:
        raise bad_request(f"Invalid {what} header")
    if any(char in match["uri"] for char in "?,"):
        raise bad_request(f'Invalid {what} header: a URI with "," or "?" must be in <>')
    return NameAddr(_uri(match["uri"], what), None, parse_generic_params(match["params"], what))


def _uri(text: str, what: str) -> Uri:
    try:
        return parse_uri(text)
    except SipParseError:
        raise bad_request(f"Invalid URI in {what} header") from None


def parse_contacts(values: list[str]) -> tuple[NameAddr, ...] | Wildcard:
    if values == ["*"]:
        return Wildcard.STAR
    return tuple(parse_name_addr(value, "Contact") for value in values)


@dataclass(frozen=True)
class CSeq:
    """CSeq  =  1*DIGIT LWS Method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@lru_cache(maxsize=RECENT_VALUES)
def parse_cseq(value: str) -> CSeq:
    match = g.CSEQ_RE.fullmatch(value)
    if match is None:
        raise bad_request("Invalid CSeq header")
    number = int(match["number"])
    if number > MAX_CSEQ:
        raise bad_request("CSeq number out of range")
    return CSeq(number, match["method"])


def parse_call_id(value: str) -> str:
    if not g.CALL_ID_RE.fullmatch(value):
        raise bad_request("Invalid Call-ID header")
    return value


def parse_max_forwards(value: str) -> int:
    if not g.DIGITS_RE.fullmatch(value) or int(value) > 255:
        raise bad_request("Invalid Max-Forwards header")
    return int(value)


def parse_content_length(value: str) -> int:
    if not g.DIGITS_RE.fullmatch(value):
        raise bad_request("Invalid Content-Length header")
    return int(value)


def parse_date(value: str) -> str:
    if not g.SIP_DATE_RE.fullmatch(value):
        raise bad_request("Invalid Date header")
    return value


def parse_delta_seconds(value: str) -> int | None:
    """Expires and the like: None for a value past 2**32-1 or not a number, which callers treat as absent
    (RFC 4475 3.1.2.4: use the default expiry)."""
    value = value.strip(" \t")
    if not g.DIGITS_RE.fullmatch(value) or int(value) > MAX_CSEQ:
        return None
    return int(value)
