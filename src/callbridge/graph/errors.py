"""Graph's error body: ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``, raised deep as ``GraphError`` and rendered once by the router's handler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from callbridge.graph.odata import ODataError


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
                 "client-request-id": client_request_id or request_id}
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def new_request_id() -> str:
    return str(uuid.uuid4())


def unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": 'Bearer realm=""'})


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def user_not_found(ref: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound", f"Resource '{ref}' does not exist or one of its queried "
                      "reference-property objects are not present.")


def insufficient_privileges() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def access_denied(message: str = "Access is denied. Check credentials and try again.",
                  code: str = "ErrorAccessDenied") -> GraphError:
    return GraphError(403, code, message)


def throttled(retry_after_s: int) -> GraphError:
    return GraphError(429, "TooManyRequests", "Too many requests. Retry after the time in the Retry-After header.",
                      {"Retry-After": str(retry_after_s)})


def odata_error(exc: ODataError) -> GraphError:
    """A malformed OData option: Graph's 400 (``Request_BadRequest`` for a page size, as Graph words it)."""
    message = str(exc)
    return bad_request(message, "Request_BadRequest" if message.startswith("Invalid page size") else "BadRequest")
