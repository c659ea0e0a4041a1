"""Answers the edge gives before any route runs, in the shape of the route family the path belongs to: Graph's
error body under ``/graph``, ACS's under its root paths (``/identities``, ``/teamsUser/``), OAuth's JSON under the
identity provider's ``/{tenant}/...``, plain JSON elsewhere."""

from __future__ import annotations

import json
from typing import Any

from callbridge.acs import PATH_PREFIXES as ACS_PATHS
from callbridge.acs.errors import AcsError
from callbridge.graph.errors import GraphError, new_request_id
from callbridge.identity.authority import route_template
from callbridge.identity.errors import OAuthError

AADSTS_TOO_LARGE = 90020  # AADSTS90020: the request is malformed (Entra's catch-all for an unreadable request)


def refusal_body(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    """The error body a client of ``path``'s family parses."""
    if path.startswith("/graph/"):
        return GraphError(status, code, message).body(new_request_id(), None)
    if path.startswith(ACS_PATHS):
        return AcsError(status, code, message).body()
    if route_template(path).startswith("/{tenant}/"):
        return OAuthError("invalid_request", message, AADSTS_TOO_LARGE, status=status).body()
    return {"error": {"code": code, "message": message}}


def refusal_bytes(path: str, status: int, code: str, message: str) -> bytes:
    return json.dumps(refusal_body(path, status, code, message)).encode()
