"""One exception for every error the portal answers, rendered once at the edge as ``{error: {code, message}}``
with a sentence a person understands (the pages show ``message`` as it is)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse

from portal.observability import noted_error


@dataclass
class PortalError(Exception):
    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def sign_in_required() -> PortalError:
    return PortalError(401, "SignInRequired", "You are not signed in, or your sign-in expired. Sign in again.")


def not_found(what: str) -> PortalError:
    return PortalError(404, "NotFound", f"{what} was not found.")


def invalid(message: str) -> PortalError:
    return PortalError(400, "InvalidRequest", message)


def upstream(service: str, message: str, status: int = 502) -> PortalError:
    return PortalError(status, "UpstreamError", f"{service} answered with an error: {message}")


async def render(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PortalError)
    noted_error(exc.status, exc.code, exc.message)
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status,
                        headers={"Cache-Control": "no-store"})
