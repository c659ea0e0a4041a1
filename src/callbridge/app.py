"""The HTTPS application: every wire surface of the platform on one port."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from callbridge import __version__, metrics
from callbridge.acs.routes import router as acs_router
from callbridge.bootstrap import Platform, build
from callbridge.calling.ws import router as calling_router
from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.graph.routes import router as graph_router
from callbridge.identity.admin_consent import router as admin_consent_router
from callbridge.identity.routes import router as identity_router
from callbridge.pstn.side import PhoneSide, start_phone_side
from callbridge.web.routes import router as web_router

log = logging.getLogger("callbridge.http")


async def _phone_side(settings: Settings, platform: Platform) -> PhoneSide | None:
    if not settings.sip_enabled:
        return None
    if settings.workers > 1:  # agents and calls live in one process until the shared registry and bus exist
        log.warning("SIP is off: it runs with one worker (--workers 1)")
        return None
    return await start_phone_side(settings, platform.calling, platform.db, platform.clock)


def create_app(settings: Settings, clock: Clock | None = None, platform: Platform | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ready = platform or await build(settings, clock)
        app.state.platform = ready
        app.state.identity = ready.identity
        app.state.acs = ready.acs
        app.state.graph = ready.graph
        app.state.calling = ready.calling
        await ready.calling.start()
        phones = await _phone_side(settings, ready)
        gc.collect()
        gc.freeze()  # what start-up made lives for good: later collections need not walk it (shorter pauses)
        yield
        if phones is not None:
            await phones.stop()
        await ready.calling.stop()
        if platform is None:
            await ready.db.close()

    app = FastAPI(title="callbridge", version=__version__, lifespan=lifespan)
    if platform is not None:  # already built (tests, benchmarks): usable without a lifespan
        app.state.platform, app.state.identity, app.state.acs = platform, platform.identity, platform.acs
        app.state.graph, app.state.calling = platform.graph, platform.calling
    app.add_middleware(metrics.MetricsMiddleware)
    app.include_router(identity_router)
    app.include_router(admin_consent_router)
    app.include_router(acs_router)
    app.include_router(graph_router)
    app.include_router(calling_router)
    app.include_router(web_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def prometheus() -> Response:
        return metrics.endpoint()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = str(uuid.uuid4())
        log.exception("unhandled error", extra={"incident": incident, "path": request.url.path})
        return JSONResponse({"error": {"code": "InternalServerError",
                                       "message": f"Something went wrong on our side. Incident {incident}."}},
                            status_code=500)

    return app
