"""``portal``: run Contoso's portal (``portal serve``), bring its database up to date (``portal migrate``), or seed
the demo's customers from callbridge's demo.json (``portal seed-demo``)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import click
import uvicorn

from portal.observability import configure_logs
from portal.settings import PortalSettings

TLS_SHUTDOWN_TIMEOUT_S = 2.0


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Contoso Calling, the vendor's web app (settings: PORTAL_* environment variables, see docs/portal.md)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


class Server(uvicorn.Server):
    """uvicorn's server with a bound on the TLS close: asyncio waits 30 s for a peer's close_notify by default, so
    one browser left open held every stop that long."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop: Any = asyncio.get_running_loop()
        create_server = loop.create_server

        async def bounded(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs.setdefault("ssl_shutdown_timeout", TLS_SHUTDOWN_TIMEOUT_S)
            return await create_server(*args, **kwargs)

        loop.create_server = bounded
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server


@main.command()
def serve() -> None:
    """Serve the portal (HTTPS when PORTAL_TLS_CERT_FILE and PORTAL_TLS_KEY_FILE are set)."""
    from portal.app import create_app

    settings = PortalSettings()
    configure_logs(settings.log_level, settings.log_format)
    tls = {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)} \
        if settings.tls_cert_file and settings.tls_key_file else {}
    options = {"host": settings.host, "port": settings.port, "log_level": settings.log_level.lower(),
               "log_config": None, "access_log": False,  # our JSON lines, and one line a request (observability)
               "proxy_headers": False, "server_header": False, **tls}
    if settings.workers > 1:  # each worker builds the app from the same PORTAL_* environment
        uvicorn.run("portal.app:create_app", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]
    else:
        Server(uvicorn.Config(create_app(settings), **options)).run()  # type: ignore[arg-type]


@main.command()
def migrate() -> None:
    """Bring the portal's database schema up to date."""
    from portal.bootstrap import build

    async def run() -> None:
        portal = build(PortalSettings())
        try:
            await portal.db.migrate()
        finally:
            await portal.close()
    asyncio.run(run())


@main.command("seed-demo")
@click.argument("demo_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def seed_demo(demo_json: Path) -> None:
    """Seed Fabrikam's customers (the carrier's virtual phones) from callbridge's demo.json, once."""
    from portal.demo import seed

    click.echo(asyncio.run(seed(PortalSettings(), demo_json)))
