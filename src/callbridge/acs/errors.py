"""ACS errors: ``{"error": {"code", "message", "target"?}}`` with the HTTP status, rendered once at the edge."""

from __future__ import annotations

from typing import Any


class AcsError(Exception):
    def __init__(self, status: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


def denied(message: str = "Denied by the resource provider.") -> AcsError:
    return AcsError(401, "Denied", message)


def invalid_access_token(message: str = "Provided access token is not valid.") -> AcsError:
    return AcsError(401, "InvalidAccessToken", message)


def validation(message: str, target: str) -> AcsError:
    return AcsError(400, "ValidationError", message, target)


def forbidden(message: str) -> AcsError:
    return AcsError(403, "Forbidden", message)


def not_found(message: str) -> AcsError:
    return AcsError(404, "IdentityNotFound", message)
