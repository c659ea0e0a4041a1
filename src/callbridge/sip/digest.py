"""Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 7616, RFC 8760), pure: no clock, no I/O.

- **Headers.** `Challenge` and `Credentials` are `callbridge.sip.digest_headers`' (re-exported here).
- **Responses.** MD5, SHA-256 and SHA-512-256, each with its ``-sess`` variant; qop ``auth`` and ``auth-int``
  (the body hashed), or none (RFC 2069). `ha1` is H(username:realm:password), what a server stores instead of
  the password; `digest_response` computes from a password, `digest_response_from_ha1` from a stored HA1.
- **Client.** `authorize(request, response, ...)` answers a 401/407 with the retry: credentials for each
  challenged realm, CSeq one higher, a new Via branch, Call-ID and From tag unchanged (RFC 3261 8.1.3.5, 22.2).
- **Server.** `DigestVerifier` issues stateless nonces (a timestamp and an HMAC of it and the realm under a
  server secret), answers an expired one with ``stale=true``, compares with `hmac.compare_digest`, refuses a
  nonce count that does not increase (bounded memory), and counts failures per source and per source+username
  in a sliding window: past the threshold the verdict is 403 until the window has passed. It never sees a
  password: HA1 values come from a lookup the trunk layer gives; ``userhash`` (RFC 7616 3.4.4) is not supported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from callbridge.sip.digest_headers import (
    HASHES,
    Challenge,
    Credentials,
    DigestError,
    canonical_algorithm,
    parse_digest_params,
    quote,
    realm_of,
)
from callbridge.sip.errors import Headers, SipParseError
from callbridge.sip.fields import MAGIC_COOKIE
from callbridge.sip.headers import split_list
from callbridge.sip.message import Request, Response
from callbridge.sip.uri import SipUri, parse_uri

__all__ = [
    "HASHES", "Challenge", "Credentials", "DigestError", "DigestVerifier", "FailureWindow", "HA1Lookup", "Outcome",
    "Verdict", "answer_challenge", "authorize", "canonical_algorithm", "digest_response", "digest_response_from_ha1",
    "ha1", "hash_name", "header_names", "parse_digest_params", "quote", "realm_of", "supported_challenges",
]

# (username, realm, algorithm without -sess) -> the stored HA1 in hex, None for an unknown user
HA1Lookup: TypeAlias = Callable[[str, str, str], str | None]

# -- the response value ---------------------------------------------------------------------------------------------


def hash_name(algorithm: str) -> str:
    """The hash an algorithm uses, by its registered name without ``-sess``: "md5-SESS" -> "MD5"."""
    return canonical_algorithm(algorithm).removesuffix("-sess")


def _hasher(algorithm: str) -> Callable[[bytes], str]:
    name = HASHES[hash_name(algorithm)]
    return lambda data: hashlib.new(name, data, usedforsecurity=False).hexdigest()  # the protocol names the hash


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password) in hex (RFC 7616 3.4.2), what a server keeps instead of the password; the same
    for an algorithm and its ``-sess`` variant. Raises `DigestError` for an unsupported algorithm."""
    return _hasher(algorithm)(f"{username}:{realm}:{password}".encode())


def digest_response_from_ha1(*, algorithm: str, ha1: str, method: str, uri: str, nonce: str,
                             qop: str | None = None, nc: str | None = None, cnonce: str | None = None,
                             body: bytes = b"") -> str:
    """The ``response`` value from a stored HA1 (RFC 7616 3.4.1-3.4.3; RFC 2617 3.2.2 without qop); for a
    ``-sess`` algorithm the session key H(HA1:nonce:cnonce) is derived here."""
    h = _hasher(algorithm)
    key = ha1.lower()
    if algorithm.upper().endswith("-SESS"):
        key = h(f"{key}:{nonce}:{cnonce}".encode())
    ha2 = h(f"{method}:{uri}".encode() + (f":{h(body)}".encode() if qop == "auth-int" else b""))
    if qop is None:
        return h(f"{key}:{nonce}:{ha2}".encode())
    return h(f"{key}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def digest_response(*, algorithm: str, username: str, realm: str, password: str, method: str, uri: str,
                    nonce: str, qop: str | None = None, nc: str | None = None, cnonce: str | None = None,
                    body: bytes = b"") -> str:
    """The ``response`` value from a password (RFC 7616 3.4.1-3.4.3; RFC 2617 3.2.2 without qop)."""
    return digest_response_from_ha1(algorithm=algorithm, ha1=ha1(username, realm, password, algorithm),
                                    method=method, uri=uri, nonce=nonce, qop=qop, nc=nc, cnonce=cnonce, body=body)


# -- the client -----------------------------------------------------------------------------------------------------


def answer_challenge(challenge: Challenge, *, method: str, uri: str, username: str, password: str,
                     body: bytes = b"", cnonce: str | None = None, nc: int = 1) -> Credentials:
    """Credentials answering `challenge` for a request (qop auth preferred, then auth-int, then none)."""
    canonical_algorithm(challenge.algorithm)
    qop = next((option for option in ("auth", "auth-int") if option in challenge.qop), None)
    if challenge.qop and qop is None:
        raise DigestError(f"no supported qop in {challenge.qop}")
    count = f"{nc:08x}" if qop else None
    cnonce = (cnonce or secrets.token_hex(8)) if qop else None
    response = digest_response(algorithm=challenge.algorithm, username=username, realm=challenge.realm,
                               password=password, method=method, uri=uri, nonce=challenge.nonce, qop=qop,
                               nc=count, cnonce=cnonce, body=body)
    return Credentials(username, challenge.realm, challenge.nonce, uri, response, challenge.algorithm, cnonce,
                       challenge.opaque, qop, count)


def header_names(status: int) -> tuple[str, str]:
    """(challenge header, credentials header) for a 401 or 407."""
    if status == 401:
        return "WWW-Authenticate", "Authorization"
    if status == 407:
        return "Proxy-Authenticate", "Proxy-Authorization"
    raise ValueError(f"{status} is no authentication challenge")


def supported_challenges(response: Response) -> list[Challenge]:
    """The first Digest challenge we can answer for each realm, in header order (RFC 8760 2.4: the server lists
    its preferred algorithm first)."""
    chosen: dict[str, Challenge] = {}
    for value in response.headers(header_names(response.status)[0]):
        try:
            challenge = Challenge.parse(value)
            canonical_algorithm(challenge.algorithm)
        except DigestError:
            continue
        chosen.setdefault(challenge.realm, challenge)
    return list(chosen.values())


def authorize(request: Request, response: Response, *, username: str, password: str, cnonce: str | None = None,
              branch: str | None = None) -> Request:
    """The retry of `request` answering the 401/407 `response` (RFC 3261 22.2, 22.3): credentials for every realm
    challenged (earlier ones for other realms kept), CSeq + 1, a new Via branch, the rest unchanged."""
    _, credentials_header = header_names(response.status)
    challenges = supported_challenges(response)
    if not challenges:
        raise DigestError("no Digest challenge we can answer")
    realms = {challenge.realm for challenge in challenges}
    fields = [(name, value) for name, value in request.header_fields
              if name != credentials_header or realm_of(value) not in realms]
    retry = Request(request.method, request.uri, tuple(fields), request.body)
    for challenge in challenges:
        answer = answer_challenge(challenge, method=request.method, uri=str(request.uri), username=username,
                                  password=password, body=request.body, cnonce=cnonce)
        retry = retry.with_header(credentials_header, str(answer))
    cseq = request.cseq
    return _with_branch(retry.replacing_header("CSeq", f"{cseq.number + 1} {cseq.method}"), branch)


def _with_branch(request: Request, branch: str | None) -> Request:
    """`request` with the branch of its top Via replaced (a retry is a new transaction, RFC 3261 8.1.3.5)."""
    branch = branch or MAGIC_COOKIE + secrets.token_hex(10)
    fields = list(request.header_fields)
    index = next(i for i, (name, _) in enumerate(fields) if name == "Via")
    first, *rest = split_list(fields[index][1])
    first = re.sub(r";[ \t]*branch[ \t]*=[ \t]*[^;,\s]*", "", first, flags=re.IGNORECASE) + f";branch={branch}"
    fields[index] = ("Via", ", ".join([first, *rest]))
    return Request(request.method, request.uri, tuple(fields), request.body)


# -- the server -----------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    CHALLENGE = "challenge"  # answer 401/407 with `Verdict.header_fields`
    FORBIDDEN = "forbidden"  # answer 403: too many failures


@dataclass(frozen=True)
class Verdict:
    """What `DigestVerifier.verify` decided; `reason` is for logs (the wire sees only the status)."""

    outcome: Outcome
    reason: str
    status: int | None  # None when accepted, else 401, 407 or 403
    username: str | None = None
    header_fields: Headers = ()  # the challenges to send

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


class FailureWindow:
    """Failures per key in a sliding window, in bounded memory: a key is blocked while `threshold` failures fall
    within the last `window` seconds (failures while blocked are not counted, so the block lifts)."""

    def __init__(self, threshold: int, window: float, max_keys: int) -> None:
        self.threshold, self.window, self.max_keys = threshold, window, max_keys
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()

    def blocked(self, key: tuple[str, ...], now: float) -> bool:
        times = self._failures.get(key)
        return times is not None and len(times) >= self.threshold and now - times[0] < self.window

    def record(self, key: tuple[str, ...], now: float) -> None:
        times = self._failures.pop(key, None) or deque(maxlen=self.threshold)
        times.append(now)
        self._failures[key] = times
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def clear(self, key: tuple[str, ...]) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)


class _Refused(Exception):
    """A check that failed: a failure to count, or (`stale`) a good answer to an expired nonce."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.stale = reason, stale


@dataclass
class DigestVerifier:
    """Checks Digest credentials on requests to one realm (RFC 3261 22.4), `now` passed in (seconds on a clock
    shared by every node that checks the nonces, e.g. wall-clock time)."""

    realm: str
    secret: bytes
    proxy: bool = False  # 407 with Proxy-Authenticate instead of 401 with WWW-Authenticate
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # offered, preferred first (RFC 8760 2.4)
    nonce_lifetime: float = 300.0
    require_qop: bool = True
    max_failures: int = 5  # per source and username
    max_source_failures: int = 20  # per source, every username
    failure_window: float = 300.0
    max_tracked: int = 10_000  # nonce counts, and failure counters, kept at most
    _counts: OrderedDict[str, tuple[int, int]] = field(default_factory=OrderedDict, init=False, repr=False)
    _forgotten_until: int = field(default=-1, init=False, repr=False)  # newest issue time of a forgotten nonce
    _users: FailureWindow = field(init=False, repr=False)
    _sources: FailureWindow = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.algorithms = tuple(canonical_algorithm(name) for name in self.algorithms)
        self._users = FailureWindow(self.max_failures, self.failure_window, self.max_tracked)
        self._sources = FailureWindow(self.max_source_failures, self.failure_window, self.max_tracked)

    # -- nonces -------------------------------------------------------------------------------------------------

    def new_nonce(self, now: float) -> str:
        """Issue time (ms) and 8 random bytes, then an HMAC of both and the realm: checkable with no state."""
        issued = int(now * 1000).to_bytes(8, "big") + secrets.token_bytes(8)
        return _b64encode(issued + self._mac(issued))

    def _mac(self, issued: bytes) -> bytes:
        return hmac.new(self.secret, issued + self.realm.encode(), hashlib.sha256).digest()[:16]

    def _issued_ms(self, nonce: str, now: float) -> int:
        """When `nonce` was issued (ms); raises `_Refused` for a nonce this verifier did not make."""
        try:
            raw = _b64decode(nonce)
        except ValueError:
            raise _Refused("malformed nonce") from None
        if len(raw) != 32 or not hmac.compare_digest(raw[16:], self._mac(raw[:16])):
            raise _Refused("forged nonce")
        issued = int.from_bytes(raw[:8], "big")
        if issued > now * 1000 + 1000:
            raise _Refused("nonce from the future")
        return issued

    def challenge(self, now: float, *, stale: bool = False, reason: str = "no credentials") -> Verdict:
        """A 401/407 verdict with one challenge per algorithm, sharing a fresh nonce."""
        nonce = self.new_nonce(now)
        name = "Proxy-Authenticate" if self.proxy else "WWW-Authenticate"
        fields = tuple((name, str(Challenge(self.realm, nonce, algorithm, ("auth",), stale=stale)))
                       for algorithm in self.algorithms)
        return Verdict(Outcome.CHALLENGE, reason, 407 if self.proxy else 401, header_fields=fields)

    # -- verifying ----------------------------------------------------------------------------------------------

    def verify(self, request: Request, *, source: str, now: float, ha1_of: HA1Lookup) -> Verdict:
        """Judge the credentials for this realm on `request` from `source` (an address). `ha1_of(username, realm,
        algorithm)` gives the stored H(username:realm:password) for the hash the credentials use (its name without
        ``-sess``: "MD5", "SHA-256" or "SHA-512-256"), or None for an unknown user or one with no HA1 for it."""
        if self._sources.blocked((source,), now):
            return Verdict(Outcome.FORBIDDEN, "too many failures from this source", 403)
        try:
            credentials = self._credentials(request)
        except DigestError as err:
            self._sources.record((source,), now)
            return self.challenge(now, reason=f"malformed credentials: {err}")
        if credentials is None:
            return self.challenge(now)
        key = (source, credentials.username)
        if self._users.blocked(key, now):
            return Verdict(Outcome.FORBIDDEN, "too many failures", 403, credentials.username)
        try:
            self._check(request, credentials, now, ha1_of)
        except _Refused as refused:
            if not refused.stale:
                self._users.record(key, now)
                self._sources.record((source,), now)
            return self.challenge(now, stale=refused.stale, reason=refused.reason)
        self._users.clear(key)
        return Verdict(Outcome.ACCEPTED, "accepted", None, credentials.username)

    def _credentials(self, request: Request) -> Credentials | None:
        """The credentials for this realm (credentials for other realms belong to other proxies)."""
        for value in request.headers("Proxy-Authorization" if self.proxy else "Authorization"):
            if realm_of(value) == self.realm:
                return Credentials.parse(value)
        return None

    def _check(self, request: Request, credentials: Credentials, now: float, ha1_of: HA1Lookup) -> None:
        algorithm = credentials.algorithm or "MD5"
        if algorithm not in self.algorithms:
            raise _Refused(f"algorithm {algorithm} not offered")
        if credentials.qop not in (("auth", "auth-int") if self.require_qop else ("auth", "auth-int", None)):
            raise _Refused(f"qop {credentials.qop} not offered")
        if not _same_uri(credentials.uri, request):
            raise _Refused("digest uri does not match the Request-URI")
        issued = self._issued_ms(credentials.nonce, now)
        stored = ha1_of(credentials.username, self.realm, hash_name(algorithm))
        # an unknown user is computed against a random HA1, so it costs what a wrong password does
        expected = digest_response_from_ha1(
            algorithm=algorithm, ha1=stored if stored is not None else _random_ha1(algorithm),
            method=request.method, uri=credentials.uri, nonce=credentials.nonce, qop=credentials.qop,
            nc=credentials.nc, cnonce=credentials.cnonce, body=request.body,
        )
        if not hmac.compare_digest(expected.encode(), credentials.response.lower().encode()) or stored is None:
            raise _Refused("unknown user" if stored is None else "wrong password")
        if now * 1000 - issued > self.nonce_lifetime * 1000:
            raise _Refused("stale nonce", stale=True)
        self._count(credentials, issued, now)

    def _count(self, credentials: Credentials, issued: int, now: float) -> None:
        """Nonce-count replay protection: each nonce's count must go up (a nonce without qop is single-use).
        Counts are kept in first-use order, dropped once their nonce has expired or past `max_tracked`; a nonce
        issued no later than one dropped for room is treated as stale, so forgetting never opens a replay."""
        count = credentials.nonce_count or 1
        known = self._counts.get(credentials.nonce)
        if known is None and issued <= self._forgotten_until:
            raise _Refused("nonce no longer tracked", stale=True)
        if known is not None and count <= known[1]:
            raise _Refused("replayed nonce count")
        self._counts[credentials.nonce] = (issued, count)
        expired_before = now * 1000 - self.nonce_lifetime * 1000
        while self._counts and next(iter(self._counts.values()))[0] < expired_before:
            self._counts.popitem(last=False)
        while len(self._counts) > self.max_tracked:
            _, (forgotten, _) = self._counts.popitem(last=False)
            self._forgotten_until = max(self._forgotten_until, forgotten)

    @property
    def tracked_nonces(self) -> int:
        return len(self._counts)


def _random_ha1(algorithm: str) -> str:
    return secrets.token_hex(hashlib.new(HASHES[hash_name(algorithm)], usedforsecurity=False).digest_size)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _same_uri(digest_uri: str, request: Request) -> bool:
    """The digest-uri names the Request-URI (RFC 2617 3.2.2.5), compared as SIP URIs when both are."""
    if digest_uri == str(request.uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except SipParseError:
        return False
    return isinstance(parsed, SipUri) and isinstance(request.uri, SipUri) and parsed.equivalent(request.uri)
