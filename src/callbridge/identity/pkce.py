"""PKCE (RFC 7636), S256 only: ``plain`` gives no protection and Entra's public clients use S256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def valid_challenge(challenge: str) -> bool:
    return bool(_CHALLENGE.match(challenge))


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
