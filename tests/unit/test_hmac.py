"""HMAC-SHA256 access-key authentication: Microsoft's string to sign, and every refusal."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from callbridge.acs.errors import AcsError
from callbridge.acs.hmac_auth import SignedRequest, sign_headers, verify

KEY = base64.b64encode(b"k" * 64).decode()
OTHER = base64.b64encode(b"o" * 64).decode()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PATH = "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"
BODY = b'{"token": "t", "appId": "a", "userId": "u"}'


def _request(headers: dict[str, str], body: bytes = BODY, host: str = "localhost:8443") -> SignedRequest:
    return SignedRequest("POST", [PATH], [host], {k.lower(): v for k, v in headers.items()}, body)


def _date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def test_signature_made_by_the_official_sdk_policy_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.communication.identity._shared import policy
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.transport import HttpRequest

    monkeypatch.setattr(policy, "get_current_utc_time", lambda: _date(NOW))
    request = HttpRequest("POST", f"https://localhost:8443{PATH}")
    request.set_bytes_body(BODY)
    request.body = BODY.decode()
    signed = policy.HMACCredentialsPolicy("https://localhost:8443", KEY)._sign_request(
        PipelineRequest(request, PipelineContext(None)))
    assert verify(_request(dict(signed.http_request.headers)), [OTHER, KEY], NOW, 900) == KEY
    ours = sign_headers("POST", PATH, "localhost:8443", BODY, KEY, _date(NOW))
    assert ours["Authorization"] == signed.http_request.headers["Authorization"]


def test_a_host_with_a_path_is_not_the_host() -> None:
    """The endpoint is a bare origin: a host spelt with a path (the old ``/acs`` endpoint's) signs another string."""
    headers = sign_headers("POST", PATH, "localhost:8443/acs", BODY, KEY, _date(NOW))
    with pytest.raises(AcsError) as info:
        verify(_request(headers), [KEY], NOW, 900)
    assert (info.value.status, info.value.code) == (401, "Denied")


def test_wrong_key_denied() -> None:
    headers = sign_headers("POST", PATH, "localhost:8443", BODY, OTHER, _date(NOW))
    with pytest.raises(AcsError) as info:
        verify(_request(headers), [KEY], NOW, 900)
    assert (info.value.status, info.value.code) == (401, "Denied")


def test_body_changed_after_signing_denied_with_microsofts_message() -> None:
    headers = sign_headers("POST", PATH, "localhost:8443", BODY, KEY, _date(NOW))
    with pytest.raises(AcsError) as info:
        verify(_request(headers, body=BODY + b" "), [KEY], NOW, 900)
    assert info.value.message == "Request 'x-ms-content-sha256' differs from generated content hash."


def test_other_port_in_host_denied() -> None:
    headers = sign_headers("POST", PATH, "localhost:9999", BODY, KEY, _date(NOW))
    with pytest.raises(AcsError):
        verify(_request(headers), [KEY], NOW, 900)


@pytest.mark.parametrize("skew", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_stale_or_future_date_denied(skew: timedelta) -> None:
    headers = sign_headers("POST", PATH, "localhost:8443", BODY, KEY, _date(NOW + skew))
    with pytest.raises(AcsError, match="clock skew"):
        verify(_request(headers), [KEY], NOW, 900)


@pytest.mark.parametrize("auth", ["", "Bearer x", "HMAC-SHA256 Signature=abc",
                                  "HMAC-SHA256 SignedHeaders=host&Signature=abc"])
def test_malformed_authorization_denied(auth: str) -> None:
    headers = sign_headers("POST", PATH, "localhost:8443", BODY, KEY, _date(NOW))
    headers["Authorization"] = auth
    with pytest.raises(AcsError) as info:
        verify(_request(headers), [KEY], NOW, 900)
    assert info.value.status == 401


def test_garbage_date_denied() -> None:
    headers = sign_headers("POST", PATH, "localhost:8443", BODY, KEY, "yesterday")
    with pytest.raises(AcsError, match="RFC 1123"):
        verify(_request(headers), [KEY], NOW, 900)
