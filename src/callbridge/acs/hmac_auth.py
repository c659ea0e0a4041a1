"""HMAC-SHA256 access-key authentication, exactly as Azure Communication Services checks it.

string-to-sign = ``VERB\\n<path?query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>``; the signature is
base64(HMAC-SHA256(base64decode(accesskey), string-to-sign)). The Python SDK signs the connection string's
endpoint as the host, path included (``localhost:8443/acs``), so both spellings of the host are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from callbridge.acs.errors import AcsError, denied

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
_PREFIX = "HMAC-SHA256 "


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path_and_query: Sequence[str]  # the raw form first, then the decoded one
    hosts: Sequence[str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""  # only ``verify`` reads it: ``verify_signature`` runs before the body is read


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def signature(key_b64: str, string_to_sign: str) -> str:
    digest = hmac.new(base64.b64decode(key_b64), string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_headers(method: str, path_and_query: str, host: str, body: bytes, key_b64: str, date: str) -> dict[str, str]:
    """The headers a client sends (used by callbridge's own clients and the tests)."""
    digest = content_hash(body)
    to_sign = f"{method.upper()}\n{path_and_query}\n{date};{host};{digest}"
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature(key_b64, to_sign)}",
    }


def verify(request: SignedRequest, keys: Iterable[str], now: datetime, max_skew_s: int) -> str:
    """Returns the key that signed the request, or raises the ACS 401."""
    key = verify_signature(request, keys, now, max_skew_s)
    check_content(request.headers, request.body)
    return key


def check_content(headers: Mapping[str, str], body: bytes) -> None:
    """The body is the one whose hash the (already verified) ``x-ms-content-sha256`` header names."""
    digest = headers.get("x-ms-content-sha256", "")
    if not hmac.compare_digest(digest.encode(), content_hash(body).encode()):  # headers may be non-ASCII
        raise denied("Request 'x-ms-content-sha256' differs from generated content hash.")


def verify_signature(request: SignedRequest, keys: Iterable[str], now: datetime, max_skew_s: int) -> str:
    """The key whose signature covers the method, path, date, host and the body's announced hash: checked before
    the body is read, so an unsigned request costs no body."""
    auth = request.headers.get("authorization", "")
    if not auth.startswith(_PREFIX):
        raise denied()
    fields = dict(part.partition("=")[::2] for part in auth[len(_PREFIX):].split("&"))
    if fields.get("SignedHeaders", "").lower() != SIGNED_HEADERS:
        raise denied(f"SignedHeaders must be '{SIGNED_HEADERS}'.")
    given_signature = fields.get("Signature", "")
    date = request.headers.get("x-ms-date") or request.headers.get("date", "")
    _check_date(date, now, max_skew_s)
    digest = request.headers.get("x-ms-content-sha256", "")
    candidates = [f"{request.method.upper()}\n{path}\n{date};{host};{digest}"
                  for path in dict.fromkeys(request.path_and_query) for host in dict.fromkeys(request.hosts)]
    for key in keys:
        for to_sign in candidates:
            if hmac.compare_digest(signature(key, to_sign).encode(), given_signature.encode()):
                return key
    raise denied("The request signature does not match any access key of this resource.")


def _check_date(date: str, now: datetime, max_skew_s: int) -> None:
    try:
        sent = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise denied("The x-ms-date header is missing or is not an RFC 1123 date.") from None
    if sent.tzinfo is None or abs((now - sent).total_seconds()) > max_skew_s:
        raise AcsError(401, "Denied", f"The request time {date} is outside the allowed clock skew of "
                       f"{max_skew_s} seconds.")
