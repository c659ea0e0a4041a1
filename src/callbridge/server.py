"""Running the platform under uvicorn with TLS (the local CA's certificate unless the operator gives one)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from callbridge.app import create_app
from callbridge.bootstrap import build
from callbridge.config import Settings
from callbridge.edge.connections import edge_protocol
from callbridge.edge.websockets import EdgeWebSocket
from callbridge.logs import configure
from callbridge.tls import TlsFiles, tls_files

log = logging.getLogger("callbridge")


def app_from_environment() -> FastAPI:
    """The application of one worker process (``--workers`` > 1): settings come from the environment."""
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    return create_app(settings)


async def _prepare(settings: Settings) -> None:
    """Migrations and first signing keys, once, before any worker starts (workers must not race on them)."""
    platform = await build(settings)
    await platform.db.close()


def uvicorn_options(settings: Settings, tls: TlsFiles) -> dict[str, Any]:
    """The one set of server options: ``serve``, ``demo`` and the test suite's servers all run with these
    (uvicorn's ``auto`` loop: uvloop when installed, as it is with ``uvicorn[standard]``)."""
    return {"host": settings.host, "port": settings.https_port, "log_config": None,
            "ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file),
            "access_log": False, "proxy_headers": False, "ws_max_size": 128 * 1024,
            "ws_per_message_deflate": False,  # per-socket zlib state: ~48 KiB an agent
            "http": edge_protocol(settings),  # request-head deadline, connection caps (callbridge.edge.connections)
            "ws": EdgeWebSocket}  # shuts down sockets their peer is closing (callbridge.edge.websockets)


class EdgeServer(uvicorn.Server):
    """uvicorn's server with bounds on the TLS handshake and the TLS close: uvicorn passes neither to
    ``create_server``, so asyncio's defaults would let a client that never finishes its handshake hold a socket for
    60 s, and every stop wait 30 s for each idle keep-alive client's close_notify (a browser left open)."""

    def __init__(self, config: uvicorn.Config, handshake_timeout_s: float, shutdown_timeout_s: float) -> None:
        super().__init__(config)
        self.handshake_timeout_s = handshake_timeout_s
        self.shutdown_timeout_s = shutdown_timeout_s

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop: Any = asyncio.get_running_loop()
        create_server = loop.create_server

        async def bounded_create_server(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:  # the HTTPS listener (and SIP over TLS, started meanwhile)
                kwargs.setdefault("ssl_handshake_timeout", self.handshake_timeout_s)
                kwargs.setdefault("ssl_shutdown_timeout", self.shutdown_timeout_s)
            return await create_server(*args, **kwargs)

        loop.create_server = bounded_create_server
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server  # the loop's own method again


def edge_server(app: FastAPI, settings: Settings, tls: TlsFiles, **overrides: Any) -> EdgeServer:
    """The server ``serve`` (one worker), ``demo`` and the test suite run."""
    config = uvicorn.Config(app, **{**uvicorn_options(settings, tls), **overrides})
    return EdgeServer(config, settings.tls_handshake_timeout_s, settings.tls_shutdown_timeout_s)


def serve(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)
    tls = tls_files(settings)
    if tls.ca_file:
        log.info("local certificate authority", extra={"ca_file": str(tls.ca_file.resolve())})
    if settings.workers <= 1:
        edge_server(create_app(settings), settings, tls).run()
        return
    # each worker reads its connection limits from the environment; the handshake keeps asyncio's 60 s bound
    options = {**uvicorn_options(settings, tls), "http": "callbridge.edge.connections:EdgeProtocol"}
    asyncio.run(_prepare(settings))
    for name, value in settings.model_dump(exclude_unset=True).items():  # the workers read the environment
        os.environ[f"CALLBRIDGE_{name.upper()}"] = str(value)
    uvicorn.run("callbridge.server:app_from_environment", factory=True, workers=settings.workers, **options)
