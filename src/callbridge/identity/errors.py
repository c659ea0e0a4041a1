"""OAuth 2.0 errors as Entra ID returns them: ``error``, ``error_description`` with an AADSTS code, and
``error_codes``; rendered once at the edge (JSON at the token endpoint, a redirect or a page at authorize)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class OAuthError(Exception):
    status = 400

    def __init__(self, error: str, description: str, aadsts: int, *, status: int | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.aadsts = aadsts
        self.retry_after_s = retry_after_s
        if status is not None:
            self.status = status

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}

    def body(self) -> dict[str, Any]:
        trace = str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.aadsts}: {self.description} Trace ID: {trace}",
            "error_codes": [self.aadsts],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        }


def invalid_request(description: str, aadsts: int = 900144) -> OAuthError:
    return OAuthError("invalid_request", description, aadsts)


def invalid_client(description: str, aadsts: int = 7000215) -> OAuthError:
    return OAuthError("invalid_client", description, aadsts, status=401)


def invalid_grant(description: str, aadsts: int = 70000) -> OAuthError:
    return OAuthError("invalid_grant", description, aadsts)


def consent_required(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description, 65001)  # Entra answers consent_required at authorize


def unauthorized_client(description: str, aadsts: int = 700016) -> OAuthError:
    return OAuthError("unauthorized_client", description, aadsts)


def too_many_attempts(retry_after_s: int) -> OAuthError:
    return OAuthError(
        "invalid_grant",
        f"Your account is locked because of too many sign-in attempts. Try again in {retry_after_s} seconds.",
        50053,
        status=429,
        retry_after_s=retry_after_s,
    )
