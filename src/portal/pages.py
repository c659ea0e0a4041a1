"""The server-rendered HTML: the home shell (the pages themselves are ES modules under /static) and the few
messages of the sign-in path (an error, the onboarding result)."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

from portal.settings import PortalSettings

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/app.css"></head>"""


def content_security_policy(sdk_url: str) -> str:
    """What the home page may load and reach: its own modules, callbridge's SDK (a module script from
    callbridge's origin) and callbridge's HTTPS and WebSocket endpoints; no inline script or style at all, so an
    injected ``<script>`` never runs. The pages are written for exactly this (docs/portal-pages.md)."""
    parts = urlsplit(sdk_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    sockets = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {origin}", "style-src 'self'",
        f"connect-src 'self' {origin} {sockets}", "img-src 'self' data:", "media-src 'self' blob: mediastream:",
        "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])


def shell(settings: PortalSettings, signed_in: bool) -> HTMLResponse:
    """The home page: the SDK's address in a ``<meta name="callbridge-sdk">`` (what ``/static/calling.js``
    imports; swapping in @azure/communication-calling is that file), a JSON data block describing the routes, and
    the CSP above. No import map: an inline import map is an inline script, which the CSP refuses."""
    config = {"signedIn": signed_in, "signInUrl": "/signin", "signOutUrl": "/signout", "onboardUrl": "/onboard",
              "sdkUrl": settings.callbridge_sdk_url}
    body = f"""{_HEAD.format(title="Contoso Calling")}
<meta name="callbridge-sdk" content="{escape(settings.callbridge_sdk_url)}">
<script id="portal-config" type="application/json">{_script_json(config)}</script>
<body><main id="app">
<noscript>Contoso Calling needs JavaScript.</noscript>
{'' if signed_in else '<p><a id="signin" href="/signin">Sign in with your work account</a></p>'}
</main><script type="module" src="/static/app.js"></script></body></html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-store",
                                       "Content-Security-Policy": content_security_policy(settings.callbridge_sdk_url)})


def message(title: str, text: str, status: int = 200, link: tuple[str, str] = ("/", "Back to Contoso Calling")) \
        -> HTMLResponse:
    body = f"""{_HEAD.format(title=escape(title))}
<body><main><h1>{escape(title)}</h1><p id="message">{escape(text)}</p>
<p><a href="{escape(link[0])}">{escape(link[1])}</a></p></main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _script_json(value: object) -> str:
    """JSON safe inside a script element (no closing tag, no comment opener)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
