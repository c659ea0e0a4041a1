"""Security headers on every response: HSTS, ``nosniff``, a referrer policy, and a Content Security Policy that
lets only the platform's own scripts and styles run. The pages' inline ``<script>`` and ``<style>`` blocks are
allowed by their SHA-256 hashes (computed here from the very files served), never by ``'unsafe-inline'``; no page
may be framed (``frame-ancestors 'none'``: sign-in pages cannot be clickjacked)."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable
from importlib import resources

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES = (  # every HTML file served with inline blocks: (package, folder, file)
    ("callbridge.identity", "templates", "base.html"),
    ("callbridge.identity", "templates", "form_post.html"),
    ("callbridge.web", "sdk", "test.html"),
    ("callbridge.carrier", "static", "carrier.html"),
)
DOCS_PATHS = ("/docs", "/redoc")  # the API explorers load their scripts from elsewhere: framing is all they forbid
_INLINE = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


def inline_hashes(html: str) -> dict[str, list[str]]:
    """``{"script": [...], "style": [...]}``: CSP hash sources of the inline blocks of one page."""
    found: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        if body.strip():
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            found[kind.lower()].append(f"'sha256-{digest}'")
    return found


@functools.cache
def content_security_policy(pages: Iterable[tuple[str, str, str]] = PAGES) -> str:
    scripts: list[str] = []
    styles: list[str] = []
    for package, folder, name in pages:
        hashes = inline_hashes((resources.files(package) / folder / name).read_text("utf-8"))
        scripts += hashes["script"]
        styles += hashes["style"]
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {' '.join(scripts)}", f"style-src 'self' {' '.join(styles)}",
        "img-src 'self' data:", "media-src 'self' blob: mediastream:", "connect-src 'self'", "object-src 'none'",
        "base-uri 'none'", "frame-ancestors 'none'"])


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts_max_age_s: int) -> None:
        self.app = app
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if hsts_max_age_s > 0:
            common.append((b"strict-transport-security", f"max-age={hsts_max_age_s}".encode()))
        self.pages = [*common, (b"content-security-policy", content_security_policy().encode())]
        self.docs = [*common, (b"content-security-policy", b"frame-ancestors 'none'")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope["path"].startswith(DOCS_PATHS) else self.pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
