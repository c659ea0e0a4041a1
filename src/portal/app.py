"""The portal's FastAPI application: pages and sign-in (portal.auth_routes), the API (portal.api_routes), the
static ES modules at /static, and two guards in front of every route: state-changing requests must come from the
portal's own origin (CSRF: SameSite=Lax cookies plus this check), and every error leaves as ``{error: {code,
message}}``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal import api_routes, auth_routes, errors
from portal.bootstrap import Adapters, Portal, build
from portal.observability import RequestLog, noted_error, start_metrics_listener, stop_metrics_listener
from portal.settings import PortalSettings

log = logging.getLogger("portal")
STATIC = Path(__file__).parent / "static"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _origin_of(request: Request) -> str | None:
    """The page's origin a browser names: ``Origin``, or else ``Referer``'s scheme and host."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin
    referer = urlsplit(request.headers.get("referer", ""))
    return f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None


def _json_error(status: int, code: str, message: str) -> JSONResponse:
    noted_error(status, code, message)
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "the request"
    text = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return _json_error(400, "InvalidRequest", f"{where}: {text}")


_HTTP_CODES = {404: ("NotFound", "There is nothing at this address."),
               405: ("MethodNotAllowed", "This address does not take that method.")}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("InvalidRequest", str(exc.detail)))
    return _json_error(exc.status_code, code, message)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return _json_error(500, "InternalError", "Something went wrong in Contoso Calling. Try again in a moment.")


async def _conflict(_request: Request, _exc: Exception) -> JSONResponse:
    return _json_error(409, "Conflict", "Someone changed the same data at the same moment: try again.")


def create_app(settings: PortalSettings | None = None, adapters: Adapters | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    portal = build(settings, adapters)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await portal.db.migrate()
        metrics = start_metrics_listener(settings.metrics_host, settings.metrics_port)
        yield
        stop_metrics_listener(metrics)
        await portal.close()

    app = FastAPI(title="Contoso Calling (portal)", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.portal = portal
    app.add_exception_handler(errors.PortalError, errors.render)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.middleware("http")(_guard(portal))
    app.include_router(auth_routes.router)
    app.include_router(api_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.add_middleware(RequestLog)
    return app


def _guard(portal: Portal) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in SAFE_METHODS and _origin_of(request) != portal.settings.origin:
            return _json_error(403, "CrossSiteRequest", "This request did not come from a Contoso Calling page, so "
                               "it was refused. Reload the page and try again.")
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
    return guard
