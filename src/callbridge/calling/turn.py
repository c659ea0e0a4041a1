"""TURN credentials in coturn's shared-secret REST scheme (``use-auth-secret``): the username is
``<expiry epoch>:<identity>`` and the password base64(HMAC-SHA1(secret, username))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any


def ice_servers(urls: list[str], secret: str, identity: str, now: datetime, ttl_s: int) -> list[dict[str, Any]]:
    """The ``iceServers`` an agent may use, as WebRTC's ``RTCIceServer``; none without a configured server."""
    if not urls or not secret:
        return []
    expiry = int((now + timedelta(seconds=ttl_s)).timestamp())
    username = f"{expiry}:{identity}"
    credential = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return [{"urls": list(urls), "username": username, "credential": credential}]
