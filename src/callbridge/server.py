"""Running the platform under uvicorn with TLS (the local CA's certificate unless the operator gives one)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import uvicorn
from fastapi import FastAPI

from callbridge.app import create_app
from callbridge.bootstrap import build
from callbridge.config import Settings
from callbridge.logs import configure
from callbridge.tls import TlsFiles, ensure_local_tls

log = logging.getLogger("callbridge")


def tls_files(settings: Settings) -> TlsFiles:
    if settings.tls_cert_file and settings.tls_key_file:
        return TlsFiles(settings.tls_cert_file, settings.tls_key_file, None)
    return ensure_local_tls(settings.tls_dir)


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
            "ws_per_message_deflate": False}  # per-socket zlib state: ~48 KiB an agent


def serve(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)
    tls = tls_files(settings)
    if tls.ca_file:
        log.info("local certificate authority", extra={"ca_file": str(tls.ca_file.resolve())})
    options = uvicorn_options(settings, tls)
    if settings.workers <= 1:
        uvicorn.run(create_app(settings), **options)
        return
    asyncio.run(_prepare(settings))
    for name, value in settings.model_dump(exclude_unset=True).items():  # the workers read the environment
        os.environ[f"CALLBRIDGE_{name.upper()}"] = str(value)
    uvicorn.run("callbridge.server:app_from_environment", factory=True, workers=settings.workers, **options)
