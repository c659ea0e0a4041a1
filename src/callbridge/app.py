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
from callbridge.carrier.network import Carrier
from callbridge.carrier.routes import attach as attach_carrier
from callbridge.carrier.routes import demo_phones
from callbridge.carrier.routes import router as carrier_router
from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.graph.routes import router as graph_router
from callbridge.graph.userinfo import router as userinfo_router
from callbridge.identity.admin_consent import router as admin_consent_router
from callbridge.identity.routes import router as identity_router
from callbridge.pstn.side import PhoneSide, start_phone_side
from callbridge.sip.transport import Address
from callbridge.web.routes import router as web_router

log = logging.getLogger("callbridge.http")


async def _phone_side(settings: Settings, platform: Platform) -> PhoneSide | None:
    if not settings.sip_enabled:
        return None
    if settings.workers > 1:  # agents and calls live in one process until the shared registry and bus exist
        log.warning("SIP is off: it runs with one worker (--workers 1)")
        return None
    return await start_phone_side(settings, platform.calling, platform.db, platform.clock)


async def _carrier(settings: Settings, phones: PhoneSide | None, app: FastAPI) -> Carrier | None:
    """The built-in carrier (a demo and test tool), calling the SIP side's UDP address; ``app.state.carrier``."""
    if not settings.carrier_enabled:
        return None
    trunk = next((a for a in phones.addresses if a.transport == "UDP"), None) if phones is not None else None
    if trunk is None:
        log.warning("the carrier is off: it calls the SIP side over UDP, which does not run here")
        return None
    if trunk.host in ("0.0.0.0", "::"):  # noqa: S104  (SIP listens everywhere: the carrier calls it on loopback)
        trunk = Address("::1" if trunk.host == "::" else "127.0.0.1", trunk.port, trunk.transport)
    carrier = Carrier(trunk, port=settings.carrier_port)
    await carrier.start(demo_phones(settings.data_dir / "demo.json"))
    attach_carrier(app, carrier)
    return carrier


async def _stop_carrier(app: FastAPI, carrier: Carrier | None) -> None:
    if carrier is not None:
        app.state.carrier_hub.close()
        await carrier.stop()


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
        carrier = await _carrier(settings, phones, app)
        gc.collect()
        gc.freeze()  # what start-up made lives for good: later collections need not walk it (shorter pauses)
        yield
        await _stop_carrier(app, carrier)
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
    app.include_router(userinfo_router)
    app.include_router(calling_router)
    app.include_router(web_router)
    if settings.carrier_enabled:  # a demo and test tool without sign-in: only where it runs
        app.include_router(carrier_router)

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
