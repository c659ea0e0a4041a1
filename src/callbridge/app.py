"""The HTTPS application: every wire surface of the platform on one port."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from callbridge import __version__, heap, metrics
from callbridge.acs.routes import router as acs_router
from callbridge.bootstrap import Platform, build
from callbridge.calling.conference import ConferenceMixer
from callbridge.calling.ws import router as calling_router
from callbridge.carrier.guard import Guards, is_loopback
from callbridge.carrier.network import Carrier
from callbridge.carrier.routes import attach as attach_carrier
from callbridge.carrier.routes import demo_phones
from callbridge.carrier.routes import router as carrier_router
from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.edge.bodies import BodyLimits
from callbridge.edge.headers import SecurityHeaders
from callbridge.graph.routes import router as graph_router
from callbridge.graph.userinfo import router as userinfo_router
from callbridge.heap import HeapPacer, HeapPacing
from callbridge.identity.admin_consent import router as admin_consent_router
from callbridge.identity.routes import router as identity_router
from callbridge.logs import Throttled
from callbridge.media.conference import RtpCodec
from callbridge.media.janus import running_conference
from callbridge.pstn.side import PhoneSide, start_phone_side
from callbridge.sip.transport import Address
from callbridge.web.join import router as join_router
from callbridge.web.routes import router as web_router

log = logging.getLogger("callbridge.http")
throttled = Throttled(log)  # a bug's traceback once a minute per exception type; each incident still one line


async def _phone_side(settings: Settings, platform: Platform) -> PhoneSide | None:
    if not settings.sip_enabled:
        return None
    if settings.workers > 1:  # agents and calls live in one process until the shared registry and bus exist
        log.warning("SIP is off: it runs with one worker (--workers 1)")
        return None
    return await start_phone_side(settings, platform.calling, platform.db, platform.clock)


@asynccontextmanager
async def _mixer(settings: Settings, platform: Platform) -> AsyncIterator[None]:
    """The conference mixer of group calls and meetings (Janus, run as a child process), when there is one."""
    engine = settings.conference_engine
    if engine == "auto":
        engine = "janus" if shutil.which(settings.janus_binary) else "none"
    if engine == "none":
        log.warning("no conference mixer: group calls and meetings are refused (install the Debian package janus)")
        yield
        return
    if engine != "janus":
        raise ValueError(f"conference_engine {settings.conference_engine!r}: auto, janus or none")
    async with running_conference(settings, settings.data_dir / "janus") as conference:
        codec = RtpCodec.PCMU if settings.conference_sampling_rate == 8000 else RtpCodec.OPUS
        platform.calling.use_mixer(ConferenceMixer(conference, platform.calling.heard_talking, codec))
        yield


def carrier_served(settings: Settings) -> bool:
    """Whether the built-in carrier runs here: enabled, and on a loopback address unless the operator allows more
    (it has no sign-in: anyone who reaches its API dials its phones)."""
    if not settings.carrier_enabled:
        return False
    if is_loopback(settings.host):
        return True
    if not settings.carrier_allow_remote:
        log.warning("the carrier is off: CALLBRIDGE_HOST is not a loopback address and the carrier has no sign-in "
                    "(CALLBRIDGE_CARRIER_ALLOW_REMOTE=true serves it anyway)", extra={"host": settings.host})
        return False
    log.warning("the carrier, which has no sign-in, is served on a network address: whoever reaches it drives its "
                "phones", extra={"host": settings.host})
    return True


async def _carrier(settings: Settings, phones: PhoneSide | None, app: FastAPI) -> Carrier | None:
    """The built-in carrier (a demo and test tool), calling the SIP side's UDP address; ``app.state.carrier``."""
    if not app.state.carrier_served:
        return None
    trunk = next((a for a in phones.addresses if a.transport == "UDP"), None) if phones is not None else None
    if trunk is None:
        log.warning("the carrier is off: it calls the SIP side over UDP, which does not run here")
        return None
    if trunk.host in ("0.0.0.0", "::"):  # noqa: S104  (SIP listens everywhere: the carrier calls it on loopback)
        trunk = Address("::1" if trunk.host == "::" else "127.0.0.1", trunk.port, trunk.transport)
    carrier = Carrier(trunk, port=settings.carrier_port)
    await carrier.start(demo_phones(settings.data_dir / "demo.json"))
    attach_carrier(app, carrier, Guards.of(settings))
    return carrier


async def _stop_carrier(app: FastAPI, carrier: Carrier | None) -> None:
    if carrier is not None:
        app.state.carrier_hub.close()
        await carrier.stop()


def _attach(app: FastAPI, platform: Platform) -> None:
    """The contexts routes read from ``app.state``."""
    app.state.platform, app.state.identity, app.state.acs = platform, platform.identity, platform.acs
    app.state.graph, app.state.calling, app.state.sockets = platform.graph, platform.calling, platform.sockets


def _routes(app: FastAPI, settings: Settings) -> None:
    """Every context's routes, the carrier's where it runs, and the operations endpoints."""
    for router in (identity_router, admin_consent_router, acs_router, graph_router, userinfo_router, calling_router,
                   web_router, join_router):
        app.include_router(router)
    app.state.carrier_served = carrier_served(settings)
    if app.state.carrier_served:  # a demo and test tool without sign-in: only where it runs
        app.include_router(carrier_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    if settings.metrics_enabled and settings.metrics_port == 0:  # else on its own listener (or nowhere)
        @app.get("/metrics", tags=["operations"], include_in_schema=False)
        async def prometheus() -> Response:
            return metrics.endpoint()


def create_app(settings: Settings, clock: Clock | None = None, platform: Platform | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ready = platform or await build(settings, clock)
        _attach(app, ready)
        await ready.calling.start()
        ready.sockets.start()
        async with _mixer(settings, ready):
            phones = await _phone_side(settings, ready)
            carrier = await _carrier(settings, phones, app)
            listener = metrics.start_listener(settings)
            heap.settle()  # what start-up made lives for good: later collections need not walk it (shorter pauses)
            pacer = HeapPacer(HeapPacing(settings.gc_freeze_interval_s, settings.gc_sweep_interval_s))
            pacer.start()
            yield
            pacer.stop()
            metrics.stop_listener(listener)
            await _stop_carrier(app, carrier)
            if phones is not None:
                await phones.stop()
            await ready.sockets.stop()
            await ready.calling.stop()
        if platform is None:
            await ready.db.close()

    docs = settings.api_docs_enabled  # the API explorers and the schema: on in `callbridge demo`, off by default
    app = FastAPI(title="callbridge", version=__version__, lifespan=lifespan, docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None)
    if platform is not None:  # already built (tests, benchmarks): usable without a lifespan
        _attach(app, platform)
    app.add_middleware(BodyLimits, limits=settings.http_body_limits, default=settings.http_body_limit_bytes)
    app.add_middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s)
    app.add_middleware(metrics.MetricsMiddleware)
    _routes(app, settings)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = str(uuid.uuid4())
        where = {"incident": incident, "path": request.url.path}
        if not throttled.exception("unhandled error", key=f"unhandled {type(exc).__name__}", extra=where):
            log.error("unhandled error (traceback logged before)", extra={**where, "error": type(exc).__name__})
        return JSONResponse({"error": {"code": "InternalServerError",
                                       "message": f"Something went wrong on our side. Incident {incident}."}},
                            status_code=500)

    return app
