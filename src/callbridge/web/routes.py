"""``/sdk/calling.js`` (the browser calling SDK, an ES module), ``/sdk/calling.d.ts`` (its TypeScript declarations,
ACS's for the same subset), ``/sdk/test.html`` (a bare page that drives it), ``/sdk/join.js`` and ``/sdk/join.css``
(the meeting join page's, web/join.py): static files kept in the package, read once, served with an ETag and
revalidated on every use (the URLs carry no version, so a browser must not keep an old SDK). The SDK and its
declarations may be imported by a vendor's pages on another origin (the portal's ``/static/calling.js`` re-exports
it), which a browser allows a module script only with ``Access-Control-Allow-Origin``: these are public files,
fetched without credentials, so any origin may."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

router = APIRouter(tags=["browser SDK"])

FILES = {"calling.js": "text/javascript; charset=utf-8", "calling.d.ts": "application/typescript; charset=utf-8",
         "test.html": "text/html; charset=utf-8", "join.js": "text/javascript; charset=utf-8",
         "join.css": "text/css; charset=utf-8"}

CROSS_ORIGIN = {"calling.js", "calling.d.ts"}


@functools.cache
def _load(name: str) -> tuple[bytes, str]:
    body = (resources.files("callbridge.web") / "sdk" / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.api_route("/sdk/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def sdk_file(name: str, request: Request) -> Response:
    if name not in FILES:
        return JSONResponse({"error": {"code": "NotFound", "message": f"There is no file '{name[:64]}' here."}},
                            status_code=404)
    body, etag = _load(name)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if name in CROSS_ORIGIN:
        headers["Access-Control-Allow-Origin"] = "*"
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body if request.method == "GET" else b"", media_type=FILES[name], headers=headers)
